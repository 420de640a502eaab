//! Property tests: exporting a talk and importing the export gives the same talk.
//!
//! * `rendered_documents_parse_back` (in memory, many cases): any valid talk, with text drawn
//!   from all of Unicode and from what YAML treats specially (quotes, colons, `---`, `#`,
//!   indicators, `null`/`yes`/numbers-as-text, newlines where the field allows them), rendered
//!   by `importer::document::render` and read by `importer::document::parse`, gives every
//!   field back exactly.
//! * `exported_talks_import_unchanged` (database, 64 cases): talks stored through the service,
//!   exported with `importer::export::export` to a folder and imported from it with
//!   `importer::import::run` as `lectern-import` does (text repair on) into another database,
//!   are equal there to the talks generated, field by field.
//!
//! Tests run on SQLite, or on PostgreSQL with `LECTERN_TEST_DATABASE_URL`.
//! `PROPTEST_CASES=N` runs N cases of each property instead of the defaults.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::PathBuf;

use importer::document::{Document, parse, render};
use importer::import::{ImportConfig, run};
use proptest::prelude::*;
use proptest::sample::select;
use service::import::{ImportOptions, import_talk, prune};
use service::talks::{NewEmbed, NewResource, NewTalk, TalkInput, TalkRecord};
use tests::TestDb;

/// Scalars YAML reads as something other than the text, unless they are quoted.
const YAML_TRICKS: &[&str] = &[
    "---",
    "...",
    "--- ",
    "- item",
    "key: value",
    "a:b",
    ": start",
    "end:",
    "# not a comment",
    "a #b",
    "&anchor",
    "*alias",
    "!tag",
    "!!str",
    "|",
    ">",
    "'single'",
    "\"double\"",
    "it's",
    "say \"hi\"",
    "%YAML",
    "@at",
    "`tick`",
    "{a: 1}",
    "[1, 2]",
    ",",
    "?",
    "? x",
    "null",
    "Null",
    "~",
    "",
    " ",
    "true",
    "False",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "0",
    "-1",
    "007",
    "0x1F",
    "0o17",
    "1e3",
    "1_000",
    "3.14",
    ".5",
    ".inf",
    "-.Inf",
    ".nan",
    "2019-10-24",
    "2019-10-24T08:00:00Z",
    "12:30",
    "<<",
    "=",
    "\\",
    "\\n",
    "\t",
    "a\tb",
    " leading",
    "trailing ",
    "«Café» — “Kafka: The Definitive Guide” ’s",
    "Øredev, Malmö 🇸🇪",
    "İstanbul'da Ağustos",
    "中文字幕，你好世界",
    "مرحبا بالعالم",
    "💬 📚 ☁️ 👨‍💻 👍🏽",
    "Zürich\u{A0}2024",
    "\u{FEFF}bom",
    "\u{200B}zero width",
    "\u{2028}line sep",
    "\u{85}nel",
];

/// Characters that matter to YAML or to the document format, and some that are plain.
fn char_of_interest() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        4 => (b' '..=b'~').prop_map(char::from),
        1 => select(vec![
            ':', '-', '#', '\'', '"', '\\', '|', '>', '&', '*', '!', '%', '@', '`', '{', '}',
            '[', ']', ',', '?', ' ', '\u{A0}', '\u{FEFF}', '\u{2028}', '\u{2029}', '\u{85}',
            'é', 'ß', 'Ğ', 'ı', '中', '😀', '\u{FE0F}', '\u{200D}', '“', '”', '’', '—',
        ]),
        1 => any::<char>(),
    ]
}

/// Text for a field: YAML tricks, arbitrary characters, and both put together.
fn line(allow_newlines: bool) -> impl Strategy<Value = String> + Clone {
    let piece = prop_oneof![
        2 => select(YAML_TRICKS).prop_map(str::to_owned),
        3 => prop::collection::vec(char_of_interest(), 0..16)
            .prop_map(|v| v.into_iter().collect::<String>()),
        1 => if allow_newlines {
            select(vec!["\n", "\r\n", "\n---\n", "\n\n", "\n  indented\n", "\n- x\n", "\r"])
        } else {
            select(vec![" ", "  ", " - ", " : ", " # ", " --- "])
        }
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..5).prop_map(move |parts| {
        let s = parts.concat();
        if allow_newlines {
            s.replace('\0', "")
        } else {
            s.chars().filter(|c| !c.is_control()).collect()
        }
    })
}

/// Text that is not blank and has no control characters (titles, resource titles).
fn title() -> impl Strategy<Value = String> + Clone {
    (line(false), prop::collection::vec(char_of_interest(), 1..4))
        .prop_map(|(s, tail)| {
            let tail: String = tail.into_iter().filter(|c| !c.is_control()).collect();
            format!("{s}{tail}")
        })
        .prop_filter("not blank, at most 300 characters", |s| {
            !s.trim().is_empty() && s.chars().count() <= 300
        })
}

fn slug() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([A-Za-z0-9-]{0,40}[A-Za-z0-9])?"
}

/// Dates in every form the service accepts, as written.
fn date() -> impl Strategy<Value = String> {
    (
        1900u32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        0u8..7,
    )
        .prop_map(|(y, mo, d, h, mi, s, form)| match form {
            0 => format!("{y:04}-{mo:02}-{d:02}"),
            1 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"),
            2 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}"),
            3 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}", s * 7),
            4 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
            5 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+02:00"),
            _ => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}-05:30"),
        })
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "https://[a-z]{1,10}\\.(com|io|de)(/[a-zA-Z0-9_%-]{0,12}){0,3}(\\?q=[a-z0-9]{1,5}&x=y)?(#[a-z!]{1,5})?",
        "http://[a-z]{1,10}\\.[a-z]{2}/",
        "mailto:[a-z]{1,8}@example\\.com",
        " https://example\\.com/ ",
    ]
}

/// A JSON value for an unknown front-matter key, its text from `text`.
fn json_value<T>(text: T) -> impl Strategy<Value = serde_json::Value>
where
    T: Strategy<Value = String> + Clone + 'static,
{
    let leaf = prop_oneof![
        text.prop_map(serde_json::Value::from),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        select(vec![0.5f64, -2.25, 1e-7, 3.0e20, 0.1]).prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                .prop_map(|kv| { serde_json::Value::Object(kv.into_iter().collect()) }),
        ]
    })
}

const KNOWN_KEYS: &[&str] = &[
    "title",
    "slug",
    "date",
    "event",
    "location",
    "image",
    "pdf",
    "notist_id",
    "resources",
    "embeds",
];

fn extra<T>(text: T) -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>>
where
    T: Strategy<Value = String> + Clone + 'static,
{
    let key = prop_oneof![
        "[a-z_]{1,12}",
        select(vec![
            "source",
            "speakerdeck_slug",
            "with space",
            "colon:key",
            "日本",
            "'q'"
        ])
        .prop_map(str::to_owned),
    ]
    .prop_filter("not a known key", |k| !KNOWN_KEYS.contains(&k.as_str()));
    prop::collection::vec((key, json_value(text)), 0..4).prop_map(|kv| kv.into_iter().collect())
}

fn resource() -> impl Strategy<Value = NewResource> {
    (title(), url(), prop::option::of(line(true))).prop_map(|(title, url, description)| {
        NewResource {
            title,
            url,
            description,
        }
    })
}

fn embed() -> impl Strategy<Value = NewEmbed> {
    (
        prop_oneof![
            select(vec!["twitter", "notist_video", "youtube"]).prop_map(str::to_owned),
            title().prop_filter("at most 64 characters", |s| s.chars().count() <= 64),
        ],
        line(true).prop_filter("not blank", |s| !s.trim().is_empty()),
    )
        .prop_map(|(kind, html)| NewEmbed { kind, html })
}

fn notist_id() -> impl Strategy<Value = String> {
    "[!-~]{1,20}"
}

/// A valid talk, with text from `text` (a strategy for free text, newlines allowed) and
/// `title_text` (no control characters, not blank).
fn talk_with<T, U>(text: T, title_text: U) -> impl Strategy<Value = NewTalk>
where
    T: Strategy<Value = String> + Clone + 'static,
    U: Strategy<Value = String> + Clone + 'static,
{
    let resource = (title_text.clone(), url(), prop::option::of(text.clone())).prop_map(
        |(title, url, description)| NewResource {
            title,
            url,
            description,
        },
    );
    let embed = (
        select(vec!["twitter", "notist_video"]),
        text.clone()
            .prop_filter("not blank", |s| !s.trim().is_empty()),
    )
        .prop_map(|(kind, html)| NewEmbed {
            kind: kind.to_owned(),
            html,
        });
    (
        (slug(), title_text, date()),
        (
            prop::option::of(text.clone()),
            prop::option::of(text.clone()),
            prop::option::of(text.clone()),
            prop::option::of(text.clone()),
            prop::option::of(notist_id()),
        ),
        text.clone().prop_map(|s| {
            s.trim_start_matches(['\r', '\n'])
                .trim_end()
                .replace('\0', "")
        }),
        extra(text),
        prop::collection::vec(resource, 0..4),
        prop::collection::vec(embed, 0..3),
    )
        .prop_map(
            |(
                (slug, title, date),
                (event, location, image, pdf, notist_id),
                body,
                extra,
                resources,
                embeds,
            )| {
                NewTalk {
                    slug,
                    title,
                    date,
                    event,
                    location,
                    image,
                    pdf,
                    notist_id,
                    body,
                    extra,
                    resources,
                    embeds,
                }
            },
        )
        .prop_filter("valid", |t| TalkInput::parse(t.clone()).is_ok())
}

/// Any valid talk: arbitrary text everywhere.
fn any_talk() -> impl Strategy<Value = NewTalk> {
    (
        talk_with(line(true), title()),
        prop::collection::vec(resource(), 0..3),
        prop::collection::vec(embed(), 0..2),
    )
        .prop_map(|(mut talk, resources, embeds)| {
            talk.resources.extend(resources);
            talk.embeds.extend(embeds);
            talk
        })
        .prop_filter("valid", |t| TalkInput::parse(t.clone()).is_ok())
}

/// Clean prose as talks have it (what the text repair must leave alone): words of several
/// scripts, typographic punctuation, emoji, HTML, mixed with the YAML tricks.
fn prose(allow_newlines: bool) -> impl Strategy<Value = String> + Clone {
    let word = prop_oneof![
        3 => "[a-zA-Z]{1,10}",
        // Real words: random strings of accented letters (`Çš`) are what mojibake looks like.
        2 => select(vec![
            "café", "déjà", "voilà", "cœur", "Zürich", "Straße", "Öl", "señor", "año", "São",
            "coração", "não", "Dvořák", "příliš", "máš", "Łódź", "żółć", "İstanbul", "çalışma",
            "Guðmundsdóttir", "Øredev", "Malmö", "Tiếng", "NESTLÉ", "ÉTÉ", "naïve", "résumé",
        ])
        .prop_map(str::to_owned),
        1 => "[α-ω]{1,8}|[а-я]{1,8}|[一-龥]{1,4}|[ぁ-ゖ]{1,4}",
        1 => select(vec!["💬", "📚", "☁️", "🎉", "🚀", "👍🏽", "👨‍💻", "❤️", "🇩🇪", "✅"])
            .prop_map(str::to_owned),
        1 => select(vec!["“", "”", "‘", "’", "«", "»", "—", "–", "…", "•", "€", "©", "®", "™",
                          "&amp;", "<p>", "</p>", "<a href=\"https://x.io/?a=1&b=2\">", "</a>"])
            .prop_map(str::to_owned),
        1 => select(YAML_TRICKS)
            .prop_filter("printable", |s| !s.chars().any(char::is_control))
            .prop_map(str::to_owned),
    ];
    let sep = if allow_newlines {
        select(vec![
            " ", " ", " ", ", ", ": ", "\n", "\n\n", " - ", "\u{A0}",
        ])
    } else {
        select(vec![" ", " ", " ", ", ", ": ", " - ", "\u{A0}"])
    };
    prop::collection::vec((word, sep), 1..12).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, s)| format!("{w}{s}"))
            .collect::<String>()
    })
}

fn prose_title() -> impl Strategy<Value = String> + Clone {
    prose(false).prop_filter("not blank, at most 300 characters", |s| {
        !s.trim().is_empty() && s.chars().count() <= 300
    })
}

/// A stored talk as `render` takes it.
fn record_of(talk: &NewTalk) -> TalkRecord {
    let id = uuid::Uuid::nil();
    let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    TalkRecord {
        talk: entity::talk::Model {
            id,
            slug: talk.slug.clone(),
            title: talk.title.clone(),
            date: talk.date.clone(),
            event: talk.event.clone(),
            location: talk.location.clone(),
            image: talk.image.clone(),
            pdf: talk.pdf.clone(),
            notist_id: talk.notist_id.clone(),
            body: talk.body.clone(),
            status: entity::talk::Status::Published,
            version: 1,
            created_at: now,
            updated_at: now,
            extra: serde_json::Value::Object(talk.extra.clone()),
            origin: entity::talk::Origin::Import,
            import_hash: None,
            imported_version: None,
            search_text: String::new(),
            created_by: None,
            updated_by: None,
            body_html: String::new(),
            body_text: String::new(),
            excerpt: String::new(),
            image_asset_id: None,
            slides_asset_id: None,
        },
        resources: (0..)
            .zip(&talk.resources)
            .map(|(position, r)| entity::resource::Model {
                id,
                talk_id: id,
                position,
                title: r.title.clone(),
                url: r.url.clone(),
                description: r.description.clone(),
                asset_id: None,
            })
            .collect(),
        embeds: (0..)
            .zip(&talk.embeds)
            .map(|(position, e)| entity::embed::Model {
                id,
                talk_id: id,
                position,
                kind: e.kind.clone(),
                html: e.html.clone(),
                safe_html: String::new(),
                tweet: None,
                video: None,
            })
            .collect(),
    }
}

/// Every field of a talk as the document gives it, for comparison.
fn fields_of_new(t: &NewTalk) -> serde_json::Value {
    serde_json::json!({
        "slug": t.slug, "title": t.title, "date": t.date, "event": t.event,
        "location": t.location, "image": t.image, "pdf": t.pdf, "notist_id": t.notist_id,
        "body": t.body, "extra": t.extra,
        "resources": t.resources.iter().map(|r| serde_json::json!([r.title, r.url, r.description])).collect::<Vec<_>>(),
        "embeds": t.embeds.iter().map(|e| serde_json::json!([e.kind, e.html])).collect::<Vec<_>>(),
    })
}

fn fields_of_record(r: &TalkRecord) -> serde_json::Value {
    let t = &r.talk;
    serde_json::json!({
        "slug": t.slug, "title": t.title, "date": t.date, "event": t.event,
        "location": t.location, "image": t.image, "pdf": t.pdf, "notist_id": t.notist_id,
        "body": t.body, "extra": t.extra,
        "resources": r.resources.iter().map(|r| serde_json::json!([r.title, r.url, r.description])).collect::<Vec<_>>(),
        "embeds": r.embeds.iter().map(|e| serde_json::json!([e.kind, e.html])).collect::<Vec<_>>(),
    })
}

proptest! {
    #![proptest_config(tests::proptest_config(1024))]

    /// A rendered document parses back to the same talk, field by field.
    #[test]
    fn rendered_documents_parse_back(talk in any_talk()) {
        let text = render(&record_of(&talk));
        let parsed = match parse(&text, "fallback") {
            Ok(Document::Talk(parsed)) => parsed,
            Ok(Document::NotATalk(reason)) => {
                return Err(TestCaseError::fail(format!("not a talk ({reason}):\n{text}")));
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}:\n{text}"))),
        };
        prop_assert_eq!(fields_of_new(&parsed), fields_of_new(&talk), "document:\n{}", text);
        // And the document is what the service accepts.
        prop_assert!(TalkInput::parse(*parsed).is_ok());
    }
}

/// Source and copy databases for the database round trip, shared by its cases.
struct Databases {
    rt: tokio::runtime::Runtime,
    source: TestDb,
    copy: TestDb,
}

impl Databases {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (source, copy) = rt.block_on(async { (TestDb::new().await, TestDb::new().await) });
        Self { rt, source, copy }
    }

    /// Stores `talks` in the source, exports it, imports the export into the copy and returns
    /// the copy's talks in slug order. Both databases are emptied first.
    fn round_trip(&self, talks: &[NewTalk]) -> Result<Vec<TalkRecord>, String> {
        self.rt.block_on(async {
            let options = ImportOptions {
                force: true,
                dry_run: false,
            };
            for db in [&self.source, &self.copy] {
                prune(&db.db, &HashSet::new(), options)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            for talk in talks {
                let input = TalkInput::parse(talk.clone()).map_err(|e| e.to_string())?;
                import_talk(&self.source.db, &input, options)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let out = tempfile::tempdir().map_err(|e| e.to_string())?;
            let written = importer::export::export(&self.source.db, out.path())
                .await
                .map_err(|e| e.to_string())?;
            if written != talks.len() {
                return Err(format!(
                    "{written} documents written for {} talks",
                    talks.len()
                ));
            }
            let config = ImportConfig {
                paths: vec![PathBuf::from(out.path())],
                dry_run: false,
                repair: true,
                force: false,
                prune: false,
                max_bytes: importer::document::DEFAULT_MAX_BYTES,
                progress: false,
                assets: None,
            };
            let summary = run(&self.copy.db, &config)
                .await
                .map_err(|e| e.to_string())?;
            if summary.created != talks.len() || !summary.repairs.is_empty() {
                let docs: Vec<String> = std::fs::read_dir(out.path())
                    .map(|rd| {
                        rd.flatten()
                            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                return Err(format!(
                    "import: {summary:#?}\ndocuments:\n{}",
                    docs.join("\n")
                ));
            }
            service::talks::page_by_slug(&self.copy.db, None, 1000)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// `s` without U+0080..U+00FF and the other characters Windows-1252/1254 give bytes 0x80..0xFF.
fn without_code_page_chars(s: &str) -> String {
    const SPECIALS: &str = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸĞğİıŞş";
    s.chars()
        .filter(|&c| !('\u{80}'..='\u{FF}').contains(&c) && !SPECIALS.contains(c))
        .collect()
}

/// One to four talks with distinct slugs and distinct `notist_id`s.
fn talks() -> impl Strategy<Value = Vec<NewTalk>> {
    prop::collection::vec(
        prop_oneof![
            talk_with(prose(true), prose_title()),
            // Arbitrary text, without the characters that Windows-1252 and -1254 decode bytes
            // >= 0x80 to: the repair looks at nothing else, so this text is never its business.
            talk_with(
                line(true).prop_map(|s| without_code_page_chars(&s)),
                title()
                    .prop_map(|s| without_code_page_chars(&s))
                    .prop_filter("not blank", |s| !s.trim().is_empty()),
            ),
        ],
        1..5,
    )
    .prop_map(|mut talks| {
        let mut slugs = HashSet::new();
        let mut ids = HashSet::new();
        talks.retain(|t| {
            slugs.insert(t.slug.to_ascii_lowercase())
                && t.notist_id.as_ref().is_none_or(|id| ids.insert(id.clone()))
        });
        talks
    })
}

#[test]
fn exported_talks_import_unchanged() {
    let dbs = Databases::new();
    let mut runner = proptest::test_runner::TestRunner::new(tests::proptest_config(64));
    let result = runner.run(&talks(), |talks| {
        let stored = dbs.round_trip(&talks).map_err(TestCaseError::fail)?;
        let mut want: Vec<&NewTalk> = talks.iter().collect();
        want.sort_by(|a, b| a.slug.cmp(&b.slug));
        let got: Vec<_> = stored.iter().map(fields_of_record).collect();
        let want: Vec<_> = want.into_iter().map(fields_of_new).collect();
        prop_assert_eq!(got, want);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Found by `rendered_documents_parse_back`: the YAML emitter ended the front matter with the
/// U+2028 of a block scalar instead of '\n', which glued the closing `---` to that line.
#[test]
fn a_line_separator_ending_the_front_matter_keeps_the_closing_line() {
    let talk = NewTalk {
        slug: "0".into(),
        title: "!".into(),
        date: "1900-01-01".into(),
        embeds: vec![NewEmbed {
            kind: "twitter".into(),
            html: "\n---\n\u{2028}".into(),
        }],
        ..NewTalk::default()
    };
    let text = render(&record_of(&talk));
    let Ok(Document::Talk(parsed)) = parse(&text, "fallback") else {
        panic!("not read back:\n{text}");
    };
    assert_eq!(parsed.embeds[0].html, "\n---\n\u{2028}", "{text}");
}

/// A field ending in a Unicode line break (U+2028, U+2029, U+0085), anywhere in the front
/// matter (a known key, a resource, an embed, `extra`, a key of `extra`), reads back as it was,
/// with nothing added.
#[test]
fn fields_ending_in_a_unicode_line_break_read_back_exactly() {
    for end in ['\u{2028}', '\u{2029}', '\u{85}'] {
        let text = |base: &str| format!("{base}{end}");
        let mut extra = serde_json::Map::new();
        extra.insert("note".into(), serde_json::Value::String(text("a note")));
        extra.insert(text("key"), serde_json::json!([text("x"), 1]));
        let talk = NewTalk {
            slug: "ends".into(),
            title: text("A title"),
            date: "2024-01-01".into(),
            event: Some(text("line one\nline two")),
            resources: vec![NewResource {
                title: text("slides"),
                url: "https://example.com/s".into(),
                description: Some(text("\"quoted\" \\ back")),
            }],
            embeds: vec![NewEmbed {
                kind: "twitter".into(),
                html: text("<p>x</p>\n"),
            }],
            extra,
            ..NewTalk::default()
        };
        let rendered = render(&record_of(&talk));
        let Ok(Document::Talk(parsed)) = parse(&rendered, "fallback") else {
            panic!("not read back:\n{rendered}");
        };
        assert_eq!(parsed.title, talk.title, "{rendered}");
        assert_eq!(parsed.event, talk.event, "{rendered}");
        assert_eq!(
            format!("{:?}{:?}", parsed.resources, parsed.embeds),
            format!("{:?}{:?}", talk.resources, talk.embeds),
            "{rendered}"
        );
        assert_eq!(parsed.extra, talk.extra, "{rendered}");
    }
}
