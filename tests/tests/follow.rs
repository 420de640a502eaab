//! The other end of the log: `lectern-export --follow` keeps a folder of documents from the
//! relay's stream alone. After random edits through the REST API, the followed folder equals a
//! fresh `lectern-export` of the database, for every talk and for published talks only, and a
//! follower started again goes on from its durable consumer. Needs NATS with JetStream (see
//! `relay.rs`).

use importer::follow::{FollowSettings, Follower, documents};
use serde_json::{Value, json};
use service::accounts::Role;
use service::relay::{Relay, RelaySettings};

use crate::support::{Reply, TestApp, request};

/// A small deterministic generator (xorshift64*), seeded from `LECTERN_TEST_SEED` or the clock;
/// the seed is printed so that a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("LECTERN_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        println!("LECTERN_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let content_type = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    request(
        app,
        method,
        &format!("/api/v1{path}"),
        Some(&format!("Bearer {token}")),
        headers,
        body.map(|b| (content_type, b.to_string().into_bytes())),
    )
    .await
}

/// Abstracts and embeds that exercise the rendering: markup the served form would sanitize,
/// entities, non-ASCII text, a line break of its own kind.
const BODIES: [&str; 4] = [
    "<p>Plain <em>words</em> &amp; more.</p>",
    "<p onclick=\"x()\">Kept as written</p><script>alert(1)</script>",
    "<h2>Ærlig talt</h2>\n<ul><li>ein</li><li>zwei\u{2028}drei</li></ul>",
    "",
];

/// Random edits through the REST API: creates, changes (slug included), extras in an order of
/// their own, resources and embeds, publishing, unpublishing and deletes.
async fn random_edits(
    app: &TestApp,
    token: &str,
    rng: &mut Rng,
    count: usize,
    slugs: &mut Vec<String>,
) {
    let mut made = 0;
    while made < count {
        let choice = rng.below(9);
        if slugs.is_empty() || choice == 0 {
            let slug = format!("followed-{}", uuid::Uuid::new_v4().simple());
            let created = call(
                app,
                "POST",
                "/talks",
                token,
                &[],
                Some(json!({
                    "slug": slug, "title": format!("Talk {made}"), "date": "2026-12-06",
                    "event": "Conf", "location": "Oslo", "body": BODIES[rng.below(BODIES.len())],
                    "resources": [], "embeds": []
                })),
            )
            .await;
            assert_eq!(created.status, 201, "{}", created.text());
            slugs.push(slug);
            made += 1;
            continue;
        }
        let at = rng.below(slugs.len());
        let slug = slugs[at].clone();
        let path = format!("/talks/{slug}");
        let reply = match choice {
            1 => {
                call(app, "PATCH", &path, token, &[("If-Match", "*")], Some(json!({
                    "title": format!("Retitled {made}"), "body": BODIES[rng.below(BODIES.len())],
                    "location": if rng.below(2) == 0 { Value::Null } else { json!("Bergen") },
                })))
                .await
            }
            2 => {
                let renamed = format!("renamed-{}", uuid::Uuid::new_v4().simple());
                let reply = call(app, "PATCH", &path, token, &[("If-Match", "*")], Some(json!({ "slug": renamed }))).await;
                if reply.status == 200 {
                    slugs[at] = renamed;
                }
                reply
            }
            3 => {
                call(app, "PATCH", &path, token, &[("If-Match", "*")], Some(json!({
                    "extra": { "zeta": made, "alpha": "first written last", "middle": [1, 2] }
                })))
                .await
            }
            4 => {
                call(app, "POST", &format!("{path}/resources"), token, &[], Some(json!({
                    "title": format!("Resource {made}"), "url": format!("https://example.com/{made}"),
                    "description": "A link", "position": 0
                })))
                .await
            }
            5 => {
                call(app, "POST", &format!("{path}/embeds"), token, &[], Some(json!({
                    "kind": "twitter",
                    "html": format!("<blockquote class=\"twitter-tweet\"><p>Tweet {made}</p><script src=\"https://platform.twitter.com/widgets.js\"></script></blockquote>")
                })))
                .await
            }
            6 => call(app, "POST", &format!("{path}/publish"), token, &[], None).await,
            7 => call(app, "POST", &format!("{path}/unpublish"), token, &[], None).await,
            _ => {
                let reply = call(app, "DELETE", &path, token, &[("If-Match", "*")], None).await;
                if reply.status == 204 {
                    slugs.remove(at);
                }
                reply
            }
        };
        assert!(
            [200, 201, 204].contains(&reply.status),
            "edit {choice} of {slug}: {} {}",
            reply.status,
            reply.text()
        );
        made += 1;
    }
}

async fn export(
    app: &TestApp,
    published_only: bool,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().expect("a folder");
    importer::export::export_selected(&app.db.db, out.path(), published_only)
        .await
        .expect("the export");
    documents(out.path()).expect("the exported documents")
}

fn assert_same(
    followed: &std::collections::BTreeMap<String, Vec<u8>>,
    exported: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    let names =
        |m: &std::collections::BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(followed), names(exported), "the same documents");
    for (name, bytes) in exported {
        assert_eq!(
            String::from_utf8_lossy(&followed[name]),
            String::from_utf8_lossy(bytes),
            "{name}"
        );
    }
}

#[actix_web::test]
async fn a_followed_folder_equals_a_fresh_export_after_random_edits() {
    let app = TestApp::with_corpus().await;
    let token = app.user_token("follower@example.com", Role::Editor).await;
    let mut rng = Rng::seeded();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let relay_settings = RelaySettings {
        url: tests::nats_url(),
        stream: format!("LECTERN_FOLLOW_{unique}"),
        subject_prefix: format!("lectern_follow_{unique}"),
        ..Default::default()
    };
    let relay = Relay::connect(app.connection.clone(), relay_settings.clone())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "this test needs NATS with JetStream at {}: {e}",
                tests::nats_url()
            )
        });
    assert!(relay.claim().await.expect("the lease"));
    let follow = |out: &std::path::Path, durable: &str, published_only: bool| FollowSettings {
        stream: relay_settings.stream.clone(),
        subject_prefix: relay_settings.subject_prefix.clone(),
        durable: durable.to_owned(),
        published_only,
        ..FollowSettings::new(tests::nats_url(), out)
    };
    let everything = tempfile::tempdir().expect("a folder");
    let published = tempfile::tempdir().expect("a folder");

    // Random edits of talks of the corpus and of new ones, relayed and followed.
    let mut slugs: Vec<String> = [
        "from-zero-to-hero-with-kafka-connect-0DQPfm",
        "from-zero-to-hero-with-kafka-connect-1MO6vK",
        "building-stream-processing-applications-for-apache-kafka-using-ksql-2jhBMt",
    ]
    .map(String::from)
    .to_vec();
    let scripted = call(
        &app,
        "POST",
        "/talks",
        &token,
        &[],
        Some(json!({
            "slug": "scripted", "title": "Scripted", "date": "2026-12-06", "body": BODIES[1],
            "resources": [], "embeds": []
        })),
    )
    .await;
    assert_eq!(scripted.status, 201, "{}", scripted.text());
    random_edits(&app, &token, &mut rng, 60, &mut slugs).await;
    while relay.relay_batch().await.expect("relayed") > 0 {}
    let mut all = Follower::open(follow(everything.path(), &format!("all-{unique}"), false))
        .await
        .expect("the follower");
    let first = all.catch_up().await.expect("followed");
    assert!(first.events > 121, "{first:?}");
    assert_same(
        &documents(everything.path()).unwrap(),
        &export(&app, false).await,
    );
    drop(all);

    // More edits; a follower started again goes on where its durable consumer stood.
    random_edits(&app, &token, &mut rng, 60, &mut slugs).await;
    while relay.relay_batch().await.expect("relayed") > 0 {}
    let mut all = Follower::open(follow(everything.path(), &format!("all-{unique}"), false))
        .await
        .expect("the follower again");
    let second = all.catch_up().await.expect("followed");
    assert!(
        second.events <= 60,
        "a restarted follower reads only what is new: {second:?}"
    );
    assert_same(
        &documents(everything.path()).unwrap(),
        &export(&app, false).await,
    );

    // Only published talks: a folder followed from the first event equals the export of them.
    let mut public = Follower::open(follow(
        published.path(),
        &format!("published-{unique}"),
        true,
    ))
    .await
    .expect("the follower");
    public.catch_up().await.expect("followed");
    let exported = export(&app, true).await;
    assert!(!exported.is_empty());
    assert_same(&documents(published.path()).unwrap(), &exported);

    // The stream carries the state as stored: the abstract as written, not sanitized.
    let js = tests::jetstream().await;
    let mut stream = js
        .get_stream(&relay_settings.stream)
        .await
        .expect("the stream");
    let last = stream.info().await.expect("info").state.last_sequence;
    let mut raw = false;
    for n in 1..=last {
        let message = stream.get_raw_message(n).await.expect("a message");
        let body: Value = serde_json::from_slice(&message.payload).expect("JSON");
        if body["data"]["talk"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("<script>alert(1)</script>"))
        {
            raw = true;
            break;
        }
    }
    assert!(raw, "an abstract with a script is in the stream as written");
    js.delete_stream(&relay_settings.stream)
        .await
        .expect("cleaned up");
}
