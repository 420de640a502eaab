//! Webhook delivery across server processes: a server killed in the middle of a backoff
//! delivers after it is restarted, and two servers on one database deliver each event once.
//! Runs on SQLite, and on PostgreSQL when LECTERN_TEST_DATABASE_URL names one.

#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use service::talks::NewTalk;
use tests::TestDb;
use tests::receiver::Receiver;

/// A `lectern` server on a free port, retrying failed deliveries after `backoff`.
fn serve(url: &str, backoff: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lectern"))
        .env("LECTERN_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", url)
        .env(
            "LECTERN_JWT_SECRET",
            "delivery-test-secret-0123456789abcdefgh",
        )
        .env("LECTERN_WEBHOOK_BACKOFF", backoff)
        .env("LECTERN_OUTBOX_POLL", "50ms")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Registers a webhook with the CLI; returns its secret.
fn add_webhook(url: &str, receiver: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(["webhook", "add", "--url", receiver, "--events", "talk.*"])
        .env("DATABASE_URL", url)
        .env_remove("LECTERN_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A write made by another process than the servers.
async fn write(db: &TestDb, slug: &str) -> i32 {
    let record = service::editing::create_talk(
        &db.db,
        NewTalk {
            slug: slug.into(),
            title: format!("Talk {slug}"),
            date: "2026-11-27".into(),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap();
    record.talk.version
}

fn kill(child: &mut Child, signal: &str) {
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[actix_web::test]
async fn a_server_killed_during_a_backoff_delivers_after_it_restarts() {
    let db = TestDb::new().await;
    let receiver = Receiver::start().await;
    receiver.refuse_next(1, 500);
    let secret = add_webhook(&db.url, &receiver.url);
    assert!(secret.starts_with("whsec_"), "{secret}");
    let mut server = serve(&db.url, "3s");
    write(&db, "killed").await;

    // The first attempt fails; the next one is due 3 s (±25%) later.
    let first = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].status, 500);
    // Mid-backoff: the failed attempt is recorded, the retry not yet due.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let hooks = service::webhooks::list(&db.db).await.unwrap();
        if hooks[0].attempt == 1 && hooks[0].lease_owner.is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the failure is never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(&mut server, "-KILL");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(receiver.deliveries().len(), 1, "delivered by a dead server");

    let mut restarted = serve(&db.url, "3s");
    let deliveries = receiver.wait_for(2, Duration::from_secs(15)).await;
    kill(&mut restarted, "-TERM");
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[1].status, 204);
    assert_eq!(deliveries[1].header("lectern-delivery-attempt"), "2");
    assert_eq!(deliveries[0].body, deliveries[1].body);
}

#[actix_web::test]
async fn two_servers_on_one_database_deliver_each_event_once() {
    const WRITES: usize = 30;
    let db = TestDb::new().await;
    let receiver = Receiver::start().await;
    add_webhook(&db.url, &receiver.url);
    let mut servers = [serve(&db.url, "1s"), serve(&db.url, "1s")];
    // Let both start (and migrate) before the writes begin.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for i in 0..WRITES {
        write(&db, &format!("talk-{i}")).await;
        if i % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let deliveries = receiver.wait_for(WRITES, Duration::from_secs(30)).await;
    // Anything delivered twice would arrive by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deliveries_after = receiver.deliveries();
    for server in &mut servers {
        kill(server, "-TERM");
    }
    assert_eq!(deliveries.len(), WRITES);
    assert_eq!(
        deliveries_after.len(),
        WRITES,
        "an event was delivered twice"
    );
    let seqs: Vec<i64> = deliveries_after
        .iter()
        .map(|d| d.json()["seq"].as_i64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seqs:?}"
    );
}

/// Runs `lectern` with `args` on `url`; returns the exit code, stdout and stderr.
fn lectern(url: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("LECTERN_WEBHOOK_SECRET")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn webhooks_and_the_outbox_are_managed_from_the_command_line() {
    let db = TestDb::new().await;
    write(&db, "before").await;
    let (code, _, stderr) = lectern(
        &db.url,
        &[
            "webhook",
            "add",
            "--url",
            "ftp://nowhere",
            "--events",
            "talk.renamed",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("url: must be an http:// or https:// URL") && stderr.contains("events[0]"),
        "{stderr}"
    );
    let (code, secret, stderr) = lectern(
        &db.url,
        &[
            "webhook",
            "add",
            "--url",
            "https://hooks.example.com/x",
            "--events",
            "talk.published,talk.deleted",
            "--secret",
            "a-secret-of-enough-length",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(secret.trim(), "a-secret-of-enough-length");
    let id = stderr
        .lines()
        .find_map(|line| line.strip_prefix("added webhook "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{stderr}"))
        .to_owned();
    let (code, list, _) = lectern(&db.url, &["webhook", "list"]);
    assert_eq!(code, 0);
    assert!(
        list.contains(&id)
            && list.contains("talk.published,talk.deleted")
            && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains("a-secret-of-enough-length"), "{list}");
    let (code, paused, _) = lectern(&db.url, &["webhook", "pause", &id]);
    assert_eq!(code, 0);
    assert!(paused.contains("paused"), "{paused}");
    let (code, _, stderr) = lectern(&db.url, &["webhook", "replay", &id, "--from-seq", "0"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, attempts, _) = lectern(&db.url, &["webhook", "attempts", &id]);
    assert_eq!(code, 0);
    assert_eq!(attempts.lines().count(), 1, "{attempts}");

    let (code, _, stderr) = lectern(&db.url, &["events", "prune", "--older-than", "soon"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, pruned, stderr) = lectern(&db.url, &["events", "prune", "--older-than", "30d"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(pruned.starts_with("deleted 0 events"), "{pruned}");
    let (code, _, _) = lectern(&db.url, &["webhook", "remove", &id]);
    assert_eq!(code, 0);
    let (code, _, stderr) = lectern(&db.url, &["webhook", "remove", &id]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no webhook"), "{stderr}");
}
