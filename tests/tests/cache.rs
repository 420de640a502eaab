//! The response cache keeps a response across writes that do not change what it read, and
//! never serves one that a committed write (by any process) changed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use entity::talk::Status;
use serde_json::json;
use service::editing::{self, TalkPatch};
use tests::{folder_with, talk_doc};

use crate::support::{TestApp, import, talk};

const ONE: &str = r#"{ talk(slug: "a") { title version } }"#;
const JSCONF: &str =
    r#"{ talks(filter: { event: "JSConf" }) { totalCount nodes { slug title version } } }"#;
const EVENTS: &str = "{ events { name talkCount } }";
const ALL: &str = "{ talks { totalCount nodes { slug title version } } }";
const NEW: &str = r#"{ talk(slug: "d") { title } }"#;
const HUNDRED: &str = "{ talks(first: 100) { totalCount nodes { slug title version } } }";

/// Runs `query`, returning its data and how many statements the app ran for it.
async fn run(app: &TestApp, statements: &AtomicUsize, query: &str) -> (serde_json::Value, usize) {
    statements.store(0, Ordering::SeqCst);
    let data = app.data(query, json!({})).await;
    (data, statements.load(Ordering::SeqCst))
}

/// `GET path` anonymously: the body and how many statements the app ran for it.
async fn get(app: &TestApp, statements: &AtomicUsize, path: &str) -> (serde_json::Value, usize) {
    statements.store(0, Ordering::SeqCst);
    let (status, body) = app.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    (
        serde_json::from_str(&body).unwrap(),
        statements.load(Ordering::SeqCst),
    )
}

/// Every cached request: each must be answered from the cache now (one statement: the
/// outbox read), with the data it had.
async fn assert_all_cached(
    app: &TestApp,
    statements: &Arc<AtomicUsize>,
    expected: &[(&str, serde_json::Value)],
) {
    for (request, data) in expected {
        let (now, count) = if request.starts_with('/') {
            get(app, statements, request).await
        } else {
            run(app, statements, request).await
        };
        assert_eq!(&now, data, "{request}");
        assert_eq!(count, 1, "{request} was computed again");
    }
}

#[actix_web::test]
async fn writes_leave_cached_responses_they_do_not_change_and_refresh_those_they_do() {
    let (app, statements) = TestApp::spawn_counting().await;
    let jsconf = talk_doc("c", "Third").replace("Øredev", "JSConf");
    let dir = folder_with(&[
        ("a.md", talk_doc("a", "First").as_bytes()),
        ("b.md", talk_doc("b", "Second").as_bytes()),
        ("c.md", jsconf.as_bytes()),
    ]);
    import(&app.db, &[dir.path()]).await;
    // Writes below go through the test's own connection, as another process's would.
    let db = &app.db.db;

    let mut cached = Vec::new();
    for request in [
        ONE,
        JSCONF,
        EVENTS,
        NEW,
        "/api/v1/talks/a",
        "/api/v1/events",
    ] {
        let (data, first) = if request.starts_with('/') {
            get(&app, &statements, request).await
        } else {
            run(&app, &statements, request).await
        };
        assert!(
            first > 1,
            "{request}: computed at first ({first} statements)"
        );
        cached.push((request, data));
    }
    assert_all_cached(&app, &statements, &cached).await;
    let (all, _) = run(&app, &statements, ALL).await;
    assert_eq!(all["talks"]["totalCount"], 3);

    // Another talk's title: no cached response above read it, but the list of all did.
    let b = talk(&app.db, "b").await;
    editing::update_talk(
        db,
        b.talk.id,
        TalkPatch {
            title: Some("Second, renamed".into()),
            ..Default::default()
        },
        b.talk.version,
        "tester",
    )
    .await
    .unwrap();
    assert_all_cached(&app, &statements, &cached).await;
    let (all, count) = run(&app, &statements, ALL).await;
    assert!(count > 1, "the list holding b was served from the cache");
    assert!(all.to_string().contains("Second, renamed"), "{all}");

    // b moves to JSConf: the filtered list and the events change, a's page does not.
    let b = talk(&app.db, "b").await;
    editing::update_talk(
        db,
        b.talk.id,
        TalkPatch {
            event: Some(Some("JSConf".into())),
            ..Default::default()
        },
        b.talk.version,
        "tester",
    )
    .await
    .unwrap();
    let (listed, count) = run(&app, &statements, JSCONF).await;
    assert!(count > 1);
    assert_eq!(listed["talks"]["totalCount"], 2, "{listed}");
    let (events, count) = run(&app, &statements, EVENTS).await;
    assert!(count > 1);
    assert!(events.to_string().contains(r#""talkCount":2"#), "{events}");
    let (_, count) = get(&app, &statements, "/api/v1/events").await;
    assert!(count > 1);
    let unchanged: Vec<_> = cached
        .iter()
        .filter(|(r, _)| [ONE, NEW, "/api/v1/talks/a"].contains(r))
        .cloned()
        .collect();
    assert_all_cached(&app, &statements, &unchanged).await;

    // a itself changes: its GraphQL and REST pages show it at once.
    let a = talk(&app.db, "a").await;
    editing::update_talk(
        db,
        a.talk.id,
        TalkPatch {
            title: Some("First, renamed".into()),
            ..Default::default()
        },
        a.talk.version,
        "tester",
    )
    .await
    .unwrap();
    let (one, count) = run(&app, &statements, ONE).await;
    assert!(count > 1);
    assert_eq!(one["talk"]["title"], "First, renamed");
    let (rest, count) = get(&app, &statements, "/api/v1/talks/a").await;
    assert!(count > 1);
    assert_eq!(rest["title"], "First, renamed");

    // c is unpublished: it leaves the filtered list, whose count drops.
    let c = talk(&app.db, "c").await;
    editing::set_status(db, c.talk.id, Status::Draft, "tester")
        .await
        .unwrap();
    let (listed, _) = run(&app, &statements, JSCONF).await;
    assert_eq!(listed["talks"]["totalCount"], 1, "{listed}");

    // A talk created and published at a slug that was looked up and not found.
    let (none, _) = run(&app, &statements, NEW).await;
    assert_eq!(none["talk"], json!(null));
    let d = editing::create_talk(
        db,
        service::talks::NewTalk {
            slug: "d".into(),
            title: "Fourth".into(),
            date: "2024-06-01".into(),
            body: "<p>New.</p>".into(),
            ..Default::default()
        },
        "tester",
    )
    .await
    .unwrap();
    let (draft, _) = run(&app, &statements, NEW).await;
    assert_eq!(draft["talk"], json!(null), "a draft is not for readers");
    editing::set_status(db, d.talk.id, Status::Published, "tester")
        .await
        .unwrap();
    let (published, _) = run(&app, &statements, NEW).await;
    assert_eq!(published["talk"]["title"], "Fourth");
}

#[actix_web::test]
async fn concurrent_requests_for_one_missing_response_compute_it_once() {
    let (app, statements) = TestApp::spawn_counting().await;
    // Enough talks for a computation to last while the other requests arrive.
    let docs: Vec<(String, String)> = (0..100)
        .map(|n| {
            let slug = if n == 0 {
                "a".to_owned()
            } else {
                format!("t{n}")
            };
            (format!("{slug}.md"), talk_doc(&slug, &format!("Talk {n}")))
        })
        .collect();
    let files: Vec<(&str, &[u8])> = docs
        .iter()
        .map(|(name, doc)| (name.as_str(), doc.as_bytes()))
        .collect();
    let dir = folder_with(&files);
    import(&app.db, &[dir.path()]).await;
    let (_, once) = run(&app, &statements, HUNDRED).await;
    assert!(once > 1, "computed at first ({once} statements)");

    // A write the list read: the next requests for it miss, all at once.
    let a = talk(&app.db, "a").await;
    editing::update_talk(
        &app.db.db,
        a.talk.id,
        TalkPatch {
            title: Some("First, renamed".into()),
            ..Default::default()
        },
        a.talk.version,
        "tester",
    )
    .await
    .unwrap();
    statements.store(0, Ordering::SeqCst);
    let answers =
        futures_util::future::join_all((0..16).map(|_| app.data(HUNDRED, json!({})))).await;
    let ran = statements.load(Ordering::SeqCst);
    for answer in &answers {
        assert!(answer.to_string().contains("First, renamed"), "{answer}");
    }
    // One computation, and at most one outbox read for each request; computed by each, the
    // list would take 16 times its statements.
    assert!(
        ran <= once + 16,
        "16 concurrent misses ran {ran} statements, one computation {once}"
    );
}

/// Texts whose words the databases might split or fold otherwise than the cache's rule does.
const TRICKY: &[&str] = &[
    "x86_64 and C++ beside C# on Node.js and .NET",
    "Write to a@b.com or see http://example.com/path/to?x=1",
    "Version v1.2.3 of pi, 3.14, and abc123def",
    "foo_bar, foo-bar and don't",
    "“Smart” quotes — an em dash… and emoji🚀rocket",
    "Ørsted in Straße, Łódź, ﬁne Москва and 東京",
    "Cafe\u{301} and nai\u{308}ve with combining marks",
    "MiXeD CaSe WORDS and numbers 2024",
    "Marks inside words: ab\u{20DD}cd, soft foo\u{AD}baz, joined one\u{200D}two",
];

/// The searches tried: every word of every talk's title and some that the rule leaves to the
/// database (operators, quotes, punctuation, letters beyond ASCII).
fn searches(titles: &[String]) -> Vec<String> {
    let mut searches: Vec<String> = titles
        .iter()
        .flat_map(|title| {
            title
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.len() > 1)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    searches.extend(
        [
            "x86",
            "64",
            "x86_64",
            "c",
            "net",
            "node js",
            "a b com",
            "example",
            "path",
            "v1",
            "2 3",
            "14",
            "abc123def",
            "abc",
            "foo bar",
            "foo_bar",
            "don t",
            "dont",
            "smart",
            "dash",
            "emoji",
            "rocket",
            "orsted",
            "strasse",
            "lodz",
            "fine",
            "cafe",
            "naive",
            "mixed case",
            "WORDS",
            "2024",
            "abcd",
            "ab",
            "foobaz",
            "baz",
            "onetwo",
            "two",
            "rust or kafka",
            "-rust",
            "\"event sourcing\"",
            "Malmö",
            "Malmo",
            "kafka!",
            "zzzznotaword",
        ]
        .map(str::to_owned),
    );
    searches.sort();
    searches.dedup();
    searches
}

#[actix_web::test]
async fn a_search_rules_out_only_talks_the_database_does_not_find() {
    use service::listing::{self, PageRequest, TalkFilter, TalkOrder};
    use service::reads::{Advance, ChangeLog};

    let db = tests::TestDb::new().await;
    let mut log = ChangeLog::load(&db.db).await.unwrap();
    import(&db, &[&tests::corpus_talks()]).await;
    for (n, text) in TRICKY.iter().enumerate() {
        let talk = editing::create_talk(
            &db.db,
            service::talks::NewTalk {
                slug: format!("tricky-{n}"),
                title: format!("Tricky {n}: {}", text.chars().take(12).collect::<String>()),
                date: "2024-06-01".into(),
                event: Some(text.to_string()),
                body: format!("<p>{text}</p><ul><li>{text}</li></ul>"),
                ..Default::default()
            },
            "tester",
        )
        .await
        .unwrap();
        editing::set_status(&db.db, talk.talk.id, Status::Published, "tester")
            .await
            .unwrap();
    }
    // The facts as the events tell them, and as the table does.
    assert!(matches!(
        log.advance(&db.db).await.unwrap(),
        Advance::Changes(_)
    ));
    let table = ChangeLog::load(&db.db).await.unwrap();
    let talks = crate::support::all_talks(&db).await;
    assert_eq!(talks.len(), 121 + TRICKY.len());
    for record in &talks {
        let id = record.talk.id;
        let (from_events, from_table) = (log.facts(&id).unwrap(), table.facts(&id).unwrap());
        assert_eq!(
            from_events.abstract_words, from_table.abstract_words,
            "{}: the abstract's words differ between the events and the table",
            record.talk.slug
        );
    }

    let titles: Vec<String> = talks.iter().map(|r| r.talk.title.clone()).collect();
    let (mut found, mut ruled_out) = (0, 0);
    for terms in searches(&titles) {
        let filter = TalkFilter {
            search: Some(terms.clone()),
            ..Default::default()
        };
        let order = TalkOrder::chosen(None, &filter);
        let mut matches = std::collections::HashSet::new();
        let mut after = None;
        loop {
            let page = listing::list(
                &db.db,
                &filter,
                order,
                &PageRequest {
                    first: Some(100),
                    after,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            matches.extend(page.talks.iter().map(|t| t.id));
            after = listing::cursors(order, &page).last().cloned();
            if !page.has_next_page {
                break;
            }
        }
        for record in &talks {
            let id = record.talk.id;
            for facts in [log.facts(&id).unwrap(), table.facts(&id).unwrap()] {
                let admits = filter.admits(facts);
                if matches.contains(&id) {
                    found += 1;
                    assert_ne!(
                        admits,
                        Some(false),
                        "a search for {terms:?} finds {} but the cache rules it out",
                        record.talk.slug
                    );
                } else if admits == Some(false) {
                    ruled_out += 1;
                }
            }
        }
    }
    // The rule is not vacuous: it rules out most pairs of a search and a talk it does not find.
    assert!(found > 0);
    assert!(
        ruled_out > found,
        "ruled out {ruled_out} pairs, found {found}"
    );
}

/// Applies `patch` to the talk at `slug` through the test's own connection, as another process
/// would write.
async fn edit(app: &TestApp, slug: &str, patch: TalkPatch) {
    let stored = talk(&app.db, slug).await;
    editing::update_talk(
        &app.db.db,
        stored.talk.id,
        patch,
        stored.talk.version,
        "tester",
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn a_cached_search_survives_writes_to_talks_it_cannot_find() {
    const RUST: &str =
        r#"{ talks(filter: { search: "rust" }) { totalCount nodes { slug title } } }"#;
    let (app, statements) = TestApp::spawn_counting().await;
    // An event and a location of ASCII letters: the rule can tell these talks' words apart.
    let doc = |slug: &str, title: &str| {
        talk_doc(slug, title)
            .replace("Øredev", "Oredev")
            .replace("Malmö", "Malmo")
    };
    let (a, b, c) = (
        doc("a", "Rust in production"),
        doc("b", "Event sourcing"),
        doc("c", "Streams"),
    );
    let dir = folder_with(&[
        ("a.md", a.as_bytes()),
        ("b.md", b.as_bytes()),
        ("c.md", c.as_bytes()),
    ]);
    import(&app.db, &[dir.path()]).await;
    let (first, count) = run(&app, &statements, RUST).await;
    assert!(count > 1);
    assert_eq!(first["talks"]["totalCount"], 1, "{first}");
    assert_all_cached(&app, &statements, &[(RUST, first.clone())]).await;

    // b's title changes, and still holds no "rust": the search stays cached.
    edit(
        &app,
        "b",
        TalkPatch {
            title: Some("Event sourcing, renamed".into()),
            ..Default::default()
        },
    )
    .await;
    assert_all_cached(&app, &statements, &[(RUST, first.clone())]).await;

    // c's abstract gains the word: the search is computed again and finds it.
    edit(
        &app,
        "c",
        TalkPatch {
            body: Some("<p>Streams, in <em>Rust</em>.</p>".into()),
            ..Default::default()
        },
    )
    .await;
    let (second, count) = run(&app, &statements, RUST).await;
    assert!(count > 1, "the search was served from the cache");
    assert_eq!(second["talks"]["totalCount"], 2, "{second}");

    // And loses it again: computed again, without c.
    edit(
        &app,
        "c",
        TalkPatch {
            body: Some("<p>Streams.</p>".into()),
            ..Default::default()
        },
    )
    .await;
    let (third, count) = run(&app, &statements, RUST).await;
    assert!(count > 1, "the search was served from the cache");
    assert_eq!(third, first);
}
