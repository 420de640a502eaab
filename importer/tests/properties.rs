//! Property tests of the text repair (`importer::repair`, `importer::fix::repair_talk`).
//!
//! * Clean text is never touched: realistic text (Latin with diacritics, Turkish, Vietnamese,
//!   Greek, Cyrillic, CJK, Arabic, Hebrew, Hangul, emoji with their selectors, modifiers and
//!   joiners, typographic punctuation, numbers with units, HTML tags and entities) is returned
//!   as `None` (no repair), and a talk made of it comes out of `repair_talk` unchanged with no
//!   repair reported.
//! * Damaged text: clean text encoded as UTF-8 and decoded with Windows-1252 or -1254 (the
//!   undefined bytes kept or dropped): the repair finds the damage, and what it returns needs no
//!   further repair; in a damaged document, every damaged field comes back exactly as it was or
//!   is reported as a guess, never wrong in silence.
//!
//! `PROPTEST_CASES=N` runs N cases of each property instead of the defaults below.

#![allow(clippy::unwrap_used)]

use importer::fix::repair_talk;
use importer::repair::{KnownChars, repair};
use proptest::prelude::*;
use proptest::sample::select;
use service::talks::{NewEmbed, NewResource, NewTalk};
use unicode_properties::{EmojiStatus, GeneralCategory, UnicodeEmoji, UnicodeGeneralCategory};

/// Words with diacritics, as languages that write them spell them (French, German, Spanish,
/// Portuguese, Italian, Catalan, Czech, Slovak, Polish, Hungarian, Romanian, Turkish, Icelandic,
/// Danish, Norwegian, Swedish, Finnish, Croatian, Lithuanian, Latvian, Esperanto, Maltese,
/// Welsh, Vietnamese). Random strings of accented letters are not text: `ÅŸ` or `Ã®` do not
/// occur in any language, and they are exactly what mojibake looks like.
const WORDS: &[&str] = &[
    "café",
    "déjà",
    "voilà",
    "naïve",
    "cœur",
    "sœur",
    "œuvre",
    "Noël",
    "français",
    "été",
    "où",
    "à",
    "là",
    "très",
    "après",
    "garçon",
    "hôtel",
    "forêt",
    "île",
    "maïs",
    "Zürich",
    "Müller",
    "Straße",
    "größer",
    "Äpfel",
    "Öl",
    "über",
    "schön",
    "Mädchen",
    "España",
    "niño",
    "señor",
    "años",
    "está",
    "José",
    "María",
    "cómo",
    "qué",
    "¿dónde",
    "¡olé",
    "São",
    "Paulo",
    "ação",
    "coração",
    "não",
    "irmã",
    "amanhã",
    "às",
    "pão",
    "você",
    "Conceição",
    "città",
    "perché",
    "più",
    "Niccolò",
    "però",
    "Català",
    "Dvořák",
    "příliš",
    "žluťoučký",
    "kůň",
    "úpěl",
    "ďábelské",
    "ódy",
    "Škoda",
    "čaj",
    "máš",
    "víš",
    "Łódź",
    "Kraków",
    "żółć",
    "gęślą",
    "jaźń",
    "źdźbło",
    "Wrocław",
    "Gdańsk",
    "árvíztűrő",
    "tükörfúrógép",
    "őrző",
    "Ünnepség",
    "București",
    "Timișoara",
    "fără",
    "împreună",
    "ştiinţă",
    "İstanbul",
    "Ağustos",
    "çalışma",
    "Gümüşhane",
    "ılık",
    "şeker",
    "Björk",
    "Guðmundsdóttir",
    "þjóð",
    "Reykjavík",
    "Ærø",
    "Øredev",
    "Åsa",
    "blåbærsyltetøy",
    "Malmö",
    "Göteborg",
    "smörgåsbord",
    "Hämeenlinna",
    "pääsiäinen",
    "Đorđe",
    "Šibenik",
    "čovjek",
    "ćevapi",
    "Lietuvą",
    "ąžuolas",
    "Rīga",
    "ģimene",
    "ĉiuĵaŭde",
    "ŝanĝo",
    "Ħamrun",
    "Żebbuġ",
    "ċirasa",
    "Tŷ",
    "Dŵr",
    "Việt",
    "Nguyễn",
    "tiếng",
    "Đức",
    "phở",
    "NESTLÉ",
    "CAFÉ",
    "SÃO",
    "AÇÃO",
    "ÉTÉ",
    "ÎLE",
    "ÂGE",
    "Ελλάδα",
    "Москва",
    "Ağ",
    "Ærøskøbing",
    "Ōsaka",
    "Tōkyō",
    "Māori",
    "résumé",
    "Pokémon",
];

/// A Latin-script word: a real word with diacritics, or ASCII letters; in lower case,
/// capitalized or in capitals.
fn latin_word() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        2 => select(WORDS).prop_map(str::to_owned),
        1 => "[a-zA-Z]{1,10}",
    ];
    (word, 0..4u8).prop_map(|(word, case)| match case {
        0 => word.to_lowercase(),
        1 => {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        }
        // Known limit: a word in capitals that ends in `Ã` (`IRMÃ`), then a non-breaking space
        // or `’` and a letter, reads as the mojibake of `à` or `Ò` (`Ã\u{A0}`, `Ã’`).
        2 if !word.ends_with('ã') => word.to_uppercase(),
        _ => word,
    })
}

/// A word of another script: letters of one block, in the block's own order of magnitude.
fn other_word() -> impl Strategy<Value = String> {
    let letters = |from: u32, to: u32, len: std::ops::Range<usize>| {
        prop::collection::vec(
            (from..=to).prop_filter_map("a letter", |u| {
                char::from_u32(u).filter(|c| {
                    matches!(
                        c.general_category(),
                        GeneralCategory::LowercaseLetter
                            | GeneralCategory::UppercaseLetter
                            | GeneralCategory::OtherLetter
                    )
                })
            }),
            len,
        )
        .prop_map(|v| v.into_iter().collect::<String>())
    };
    prop_oneof![
        letters(0x0391, 0x03C9, 1..10), // Greek
        letters(0x0410, 0x044F, 1..10), // Cyrillic
        letters(0x4E00, 0x9FFF, 1..6),  // CJK ideographs
        letters(0x3041, 0x30FA, 1..6),  // kana
        letters(0xAC00, 0xD7A3, 1..5),  // Hangul
        letters(0x0621, 0x064A, 1..8),  // Arabic
        letters(0x05D0, 0x05EA, 1..8),  // Hebrew
        letters(0x0E01, 0x0E2E, 1..8),  // Thai
        letters(0x0915, 0x0939, 1..8),  // Devanagari
    ]
}

/// One emoji: a pictograph, maybe with a variation selector or a skin tone, or a ZWJ sequence.
fn emoji() -> impl Strategy<Value = String> {
    let pictograph = prop_oneof![
        0x1F300u32..=0x1F64F,
        0x1F680u32..=0x1F6FF,
        0x1F900u32..=0x1F9FF,
        0x2600u32..=0x27BF,
        0x1FA70u32..=0x1FAFF,
    ]
    .prop_filter_map("an emoji", |u| {
        char::from_u32(u).filter(|c| c.is_emoji_char() && !c.is_emoji_component())
    });
    let single = (pictograph, 0..4u8, 0x1F3FBu32..=0x1F3FF).prop_map(|(c, extra, tone)| {
        let mut s = c.to_string();
        match extra {
            1 => s.push('\u{FE0F}'),
            2 if matches!(
                c.emoji_status(),
                EmojiStatus::EmojiModifierBase | EmojiStatus::EmojiPresentationAndModifierBase
            ) =>
            {
                s.extend(char::from_u32(tone))
            }
            _ => {}
        }
        s
    });
    prop_oneof![
        4 => single.clone(),
        1 => prop::collection::vec(single, 2..4).prop_map(|parts| parts.join("\u{200D}")),
        1 => select(vec!["👨‍💻", "👩‍🔬", "🏳️‍🌈", "🇩🇪", "🇬🇧", "❤️", "☁️", "☝️", "👍🏽", "1️⃣", "#️⃣"])
            .prop_map(str::to_owned),
    ]
}

/// Punctuation, symbols and numbers as they stand between words.
fn symbol() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "—", "–", "-", "…", "•", "·", "|", "/", "&", "+", "©", "®", "€", "£", "¥", "§", "¶",
            "°", "±", "×", "÷", "→", "←", "↔", "✓", "½", "¼", "¾", "¹", "²", "³", "µ", "¬", "¤",
            "¦", "¨", "¯", "´", "¸", "‰", "†", "‡", "′", "″", "№", "™", "¢", ":", ";", "!", "?",
            "¡", "¿", "(", ")", "[", "]", "*", "#", "@", "%", "=", "<", ">",
        ])
        .prop_map(str::to_owned),
        (
            0u32..100_000,
            select(vec![
                "", "%", " €", "€", " £", "°C", " km²", "½", "×", "º", "ª", "e", "²", "³"
            ])
        )
            .prop_map(|(n, unit)| format!("{n}{unit}")),
    ]
}

/// What may stick to the end of a word.
fn suffix() -> impl Strategy<Value = &'static str> {
    select(vec![
        "", "", "", "", "", ",", ".", ":", ";", "!", "?", "…", "’s", "’", "'s", "™", "®", ")", "—",
        "–",
    ])
}

/// A word with what may stick to it.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        // `™` and `®` follow names, here names that end in an ASCII letter: `â™”` is the
        // mojibake of `♔`, `Ã®` that of `î` (names such as `NESTLÉ™` are in the unit tests).
        8 => (latin_word(), suffix()).prop_map(|(w, s)| {
            if !w.ends_with(|c: char| c.is_ascii_alphabetic()) && matches!(s, "™" | "®") {
                w
            } else {
                format!("{w}{s}")
            }
        }),
        3 => (other_word(), select(vec!["", "", ",", "，", "。", "、", "!", "?", "؟", "·"]))
            .prop_map(|(w, s)| format!("{w}{s}")),
        2 => emoji(),
        2 => symbol(),
    ]
}

/// A run of tokens, separated as text separates them.
fn phrase() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            token(),
            select(vec![
                " ", " ", " ", " ", "\u{A0}", "\n", ", ", " – ", " — ", "\u{202F}",
            ]),
        ),
        1..10,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(t, sep)| format!("{t}{sep}"))
            .collect::<String>()
            .trim_end()
            .to_owned()
    })
}

/// A phrase, maybe quoted or marked up.
fn piece() -> impl Strategy<Value = String> {
    (phrase(), 0..12u8).prop_map(|(p, how)| match how {
        0 => format!("“{p}”"),
        1 => format!("‘{p}’"),
        2 => format!("«\u{A0}{p}\u{A0}»"),
        3 => format!("„{p}“"),
        4 => format!("\"{p}\""),
        5 => format!("<p>{p}</p>"),
        6 => format!("<a href=\"https://example.com/a?b=c&amp;d=e\">{p}</a>"),
        7 => format!("<em>{p}</em> &mdash; &amp; &#39;"),
        8 => format!("({p})"),
        _ => p,
    })
}

/// Realistic clean text: one or more pieces.
fn clean_text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..5).prop_map(|pieces| pieces.join(" "))
}

/// `s` as a converter damages it: UTF-8 bytes decoded with `enc`; the bytes the code page
/// leaves undefined are kept as C1 controls (as encoding_rs decodes them).
fn damage(s: &str, enc: &'static encoding_rs::Encoding) -> String {
    enc.decode_without_bom_handling(s.as_bytes()).0.into_owned()
}

fn talk_of(texts: &[String]) -> NewTalk {
    let text = |i: usize| texts[i % texts.len()].clone();
    let mut extra = serde_json::Map::new();
    extra.insert(
        "aliases".into(),
        serde_json::json!([text(7), {"name": text(8)}]),
    );
    NewTalk {
        slug: "a-talk".into(),
        title: text(0),
        date: "2024-05-01".into(),
        event: Some(text(1)),
        location: Some(text(2)),
        body: text(3),
        resources: vec![NewResource {
            title: text(4),
            url: "https://example.com/".into(),
            description: Some(text(5)),
        }],
        embeds: vec![NewEmbed {
            kind: "twitter".into(),
            html: text(6),
        }],
        extra,
        ..NewTalk::default()
    }
}

proptest! {
    #![proptest_config(tests::proptest_config(2048))]

    /// Clean text is returned as it is: no repair at all.
    #[test]
    fn clean_text_is_left_alone(text in clean_text()) {
        prop_assert_eq!(repair(&text), None, "clean text changed: {:?}", text);
    }

    /// Each line of clean text on its own is left alone too (the repair sees less context).
    #[test]
    fn clean_lines_are_left_alone(text in clean_text()) {
        for line in text.lines() {
            prop_assert_eq!(repair(line), None, "clean line changed: {:?}", line);
        }
    }
}

proptest! {
    #![proptest_config(tests::proptest_config(256))]

    /// Every text field of a clean talk comes out of `repair_talk` unchanged, with no repair.
    #[test]
    fn clean_talk_is_left_alone(texts in prop::collection::vec(clean_text(), 1..10)) {
        let mut talk = talk_of(&texts);
        let before = format!("{talk:?}");
        let mut known = KnownChars::default();
        for t in &texts {
            known.observe(t);
        }
        for known in [KnownChars::default(), known] {
            let repairs = repair_talk(&mut talk, &known);
            prop_assert!(repairs.is_empty(), "repairs reported: {:?}", repairs);
            prop_assert_eq!(format!("{talk:?}"), before.clone());
        }
    }
}

/// `damage`, with the bytes the code page leaves undefined dropped when `drop` is set.
fn damage_maybe_dropping(s: &str, turkish: bool, drop: bool) -> String {
    let enc = if turkish {
        encoding_rs::WINDOWS_1254
    } else {
        encoding_rs::WINDOWS_1252
    };
    let mut damaged = damage(s, enc);
    if drop {
        damaged.retain(|c| {
            !matches!(
                c,
                '\u{81}' | '\u{8D}' | '\u{8E}' | '\u{8F}' | '\u{90}' | '\u{9D}' | '\u{9E}'
            )
        });
    }
    damaged
}

/// The text fields of a talk made by [`talk_of`], by path.
fn fields_of(talk: &NewTalk) -> Vec<(String, String)> {
    let mut out = vec![
        ("title".to_owned(), talk.title.clone()),
        ("event".to_owned(), talk.event.clone().unwrap_or_default()),
        (
            "location".to_owned(),
            talk.location.clone().unwrap_or_default(),
        ),
        ("body".to_owned(), talk.body.clone()),
        (
            "resources[0].title".to_owned(),
            talk.resources[0].title.clone(),
        ),
        (
            "resources[0].description".to_owned(),
            talk.resources[0].description.clone().unwrap_or_default(),
        ),
        ("embeds[0].html".to_owned(), talk.embeds[0].html.clone()),
    ];
    let aliases = &talk.extra["aliases"];
    out.push((
        "extra.aliases[0]".to_owned(),
        aliases[0].as_str().unwrap_or_default().to_owned(),
    ));
    out.push((
        "extra.aliases[1].name".to_owned(),
        aliases[1]["name"].as_str().unwrap_or_default().to_owned(),
    ));
    out
}

proptest! {
    #![proptest_config(tests::proptest_config(1024))]

    /// The repair finds damage that shows (here a typographic apostrophe among the text), and
    /// what it makes of the damaged text (encoded as UTF-8, decoded with Windows-1252 or -1254,
    /// the undefined bytes kept as C1 controls or dropped) needs no further repair.
    #[test]
    fn repaired_damage_needs_no_more_repair(
        text in clean_text(),
        turkish in any::<bool>(),
        drop in any::<bool>(),
    ) {
        let text = format!("{text} we’ll see");
        let damaged = damage_maybe_dropping(&text, turkish, drop);
        let once = repair(&damaged);
        prop_assert!(once.is_some(), "damage not found in {:?}", damaged);
        let once = once.unwrap();
        prop_assert!(!once.repairs.is_empty());
        prop_assert_eq!(repair(&once.text), None, "damaged {:?} -> {:?}", damaged, once.text);
    }
}

proptest! {
    #![proptest_config(tests::proptest_config(512))]

    /// A document damaged as a whole, as a converter damages a file: every field that the damage
    /// changed comes back exactly as it was, or is reported as a guess; a field it did not change
    /// is neither changed nor reported. The damage shows in the title (`’`), as it shows in any
    /// document with typographic punctuation; a document whose only damage is, say, `Ã` for
    /// `Í` cannot be told from clean text.
    #[test]
    fn damaged_fields_come_back_exactly_or_are_reported_as_guesses(
        mut texts in prop::collection::vec(clean_text(), 1..6),
        turkish in any::<bool>(),
        drop in any::<bool>(),
    ) {
        texts[0] = format!("We’ll see: {}", texts[0]);
        let clean = talk_of(&texts);
        let damaged_texts: Vec<String> =
            texts.iter().map(|t| damage_maybe_dropping(t, turkish, drop)).collect();
        let mut talk = talk_of(&damaged_texts);
        let before = fields_of(&talk);
        let reports = repair_talk(&mut talk, &KnownChars::default());
        for (((path, want), (_, was)), (_, got)) in
            fields_of(&clean).iter().zip(&before).zip(&fields_of(&talk))
        {
            let report = reports.iter().find(|r| &r.field == path);
            if want == was {
                prop_assert_eq!(got, want, "undamaged field {} changed", path);
                prop_assert!(report.is_none(), "undamaged field {} reported: {:?}", path, report);
            } else {
                prop_assert!(
                    got == want || report.is_some_and(|r| r.guess),
                    "{} wrong without a report:\n  damaged {:?}\n  got     {:?}\n  want    {:?}\n  report  {:?}",
                    path, was, got, want, report
                );
            }
        }
    }
}
