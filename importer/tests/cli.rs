//! The binaries as a deploy pipeline runs them: arguments, output and exit status.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use tests::{TestDb, corpus_talks, folder_with, talk_doc};

fn bin(name: &str) -> &'static str {
    match name {
        "lectern-import" => env!("CARGO_BIN_EXE_lectern-import"),
        _ => env!("CARGO_BIN_EXE_lectern-export"),
    }
}

fn run(name: &str, db: &TestDb, args: &[&str]) -> Output {
    Command::new(bin(name))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("cannot start the binary")
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[tokio::test]
async fn lectern_import_prints_a_summary_and_exits_0_when_all_went_well() {
    let db = TestDb::new().await;
    let corpus = corpus_talks();
    let output = run("lectern-import", &db, &[corpus.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("created 121, updated 0, unchanged 0, skipped 3, conflicts 0, failed 0, pruned 0, repairs 0, guesses 0 in "),
        "{stdout}"
    );
    assert!(
        stdout.contains("skipped  ") && stdout.contains("bio.md: no date: not a talk"),
        "{stdout}"
    );

    let output = run(
        "lectern-import",
        &db,
        &["--format", "json", corpus.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0));
    let summary = json(&output);
    assert_eq!(summary["unchanged"], 121);
    assert_eq!(summary["skipped"], 3);
    assert!(summary["elapsed"].is_u64());
}

#[tokio::test]
async fn lectern_import_exits_1_when_a_document_fails_and_names_it_on_stderr() {
    let db = TestDb::new().await;
    let dir = folder_with(&[
        ("good.md", talk_doc("good", "Good").as_bytes()),
        (
            "bad.md",
            b"---\ntitle: \"x\"\ndate: 2020-01-01\nevent: [\n---\n",
        ),
    ]);
    let output = run(
        "lectern-import",
        &db,
        &["--format", "json", dir.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.md: line "), "{stderr}");
    let summary = json(&output);
    assert_eq!(
        (summary["created"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn lectern_import_exits_2_for_usage_and_connection_errors() {
    let db = TestDb::new().await;
    assert_eq!(
        run("lectern-import", &db, &[]).status.code(),
        Some(2),
        "no PATH is a usage error"
    );
    assert_eq!(
        run("lectern-import", &db, &["--bogus", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(
        run("lectern-import", &db, &["/no/such/path"]).status.code(),
        Some(2)
    );
    let output = Command::new(bin("lectern-import"))
        .args([
            "--database-url",
            "postgres://nobody:secret@127.0.0.1:1/none",
            ".",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot open database"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "the password was printed: {stderr}"
    );
}

#[tokio::test]
async fn lectern_export_writes_what_lectern_import_reads() {
    let db = TestDb::new().await;
    let dir = folder_with(&[
        ("a.md", talk_doc("a", "A").as_bytes()),
        ("b.md", talk_doc("b", "B").as_bytes()),
    ]);
    assert_eq!(
        run("lectern-import", &db, &[dir.path().to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let out = tempfile::tempdir().unwrap();
    let output = run(
        "lectern-export",
        &db,
        &["--out", out.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("exported 2 talks"));
    let copy = TestDb::new().await;
    let output = run(
        "lectern-import",
        &copy,
        &["--format", "json", out.path().to_str().unwrap()],
    );
    assert_eq!(json(&output)["created"], 2);
}

#[tokio::test]
async fn lectern_import_dry_run_writes_nothing() {
    let db = TestDb::new().await;
    let corpus = corpus_talks();
    let output = run(
        "lectern-import",
        &db,
        &["--dry-run", corpus.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("dry run (nothing written): created 121")
    );
    assert_eq!(service::talks::count(&db.db).await.unwrap(), 0);
}

/// A talk whose location lost a byte to the damage (`Ş` is C5 9E; Windows-1254 leaves 0x9E
/// undefined, so `A.Ş.` arrives as `A.Å.`), and whose title shows the damage for certain.
fn damaged_doc_with_a_lost_byte() -> Vec<u8> {
    let clean = talk_doc("guess", "We’ll meet at Doğuş Bilişim A.Ş.");
    let bytes: Vec<u8> = clean
        .bytes()
        .filter(|b| ![0x81, 0x8D, 0x8E, 0x8F, 0x90, 0x9D, 0x9E].contains(b))
        .collect();
    encoding_rs::WINDOWS_1254
        .decode_without_bom_handling(&bytes)
        .0
        .into_owned()
        .into_bytes()
}

#[tokio::test]
async fn lectern_import_reports_a_guessed_repair_with_its_document_and_field() {
    let db = TestDb::new().await;
    let dir = folder_with(&[("guess.md", &damaged_doc_with_a_lost_byte())]);
    let output = run("lectern-import", &db, &[dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("(guess)"))
        .unwrap_or_else(|| panic!("no guess reported: {stdout}"));
    assert!(line.contains("guess.md title: "), "{line}");
    assert!(line.contains("guessed: "), "{line}");
    // The body repeats the title (`<p>About …</p>`): it is a guess too.
    assert!(stdout.contains(", guesses 2 in "), "{stdout}");

    let output = run(
        "lectern-import",
        &db,
        &[
            "--format",
            "json",
            "--dry-run",
            dir.path().to_str().unwrap(),
        ],
    );
    let summary = json(&output);
    assert_eq!(summary["guesses"], 2);
    let repairs = summary["repairs"].as_array().unwrap();
    let guessed: Vec<_> = repairs.iter().filter(|r| r["guess"] == true).collect();
    assert_eq!(
        guessed
            .iter()
            .map(|r| r["field"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["title", "body"],
        "{repairs:#?}"
    );
    for r in guessed {
        assert!(r["path"].as_str().unwrap().ends_with("guess.md"));
        assert!(!r["guesses"].as_array().unwrap().is_empty());
    }
    // The event and the location (`Øredev`, `Malmö`) lost no byte: certain repairs.
    assert!(
        repairs
            .iter()
            .any(|r| r["field"] == "event" && r["guess"] == false)
    );
}

#[tokio::test]
async fn lectern_import_on_guess_fail_fails_the_document_exits_1_and_names_the_field() {
    let db = TestDb::new().await;
    let dir = folder_with(&[
        ("guess.md", &damaged_doc_with_a_lost_byte()),
        ("good.md", talk_doc("good", "Good").as_bytes()),
    ]);
    let output = run(
        "lectern-import",
        &db,
        &[
            "--on-guess=fail",
            "--format",
            "json",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "guess.md: not imported (--on-guess=fail): the repair of title, body is a guess"
        ),
        "{stderr}"
    );
    let summary = json(&output);
    assert_eq!(
        (summary["created"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(service::talks::count(&db.db).await.unwrap(), 1);
    assert!(
        service::talks::find_by_slug(&db.db, "guess")
            .await
            .unwrap()
            .is_none()
    );

    // Reported (the default), the same document is imported.
    let output = run(
        "lectern-import",
        &db,
        &["--on-guess", "report", dir.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(service::talks::count(&db.db).await.unwrap(), 2);
}

/// `lectern-export --follow`: exit 2 naming NATS or the stream when it cannot start; with
/// `--once`, the folder caught up and a summary; without it, documents written as talks change,
/// until SIGTERM, then exit 0.
#[tokio::test]
async fn lectern_export_follows_the_stream_and_names_what_stops_it() {
    let db = TestDb::new().await;
    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_str().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("nats://127.0.0.1:{free}");
    let output = run(
        "lectern-export",
        &db,
        &["--follow", &unreachable, "--out", out_path, "--once"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach NATS at"), "{stderr}");

    let unique = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!("LECTERN_CLI_{unique}");
    let prefix = format!("lectern_cli_{unique}");
    let follow = |extra: &[&str]| {
        let mut args = vec![
            "--follow",
            "",
            "--stream",
            &stream,
            "--subject-prefix",
            &prefix,
            "--out",
            out_path,
        ];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let mut args = follow(&["--once"]);
    args[1] = tests::nats_url();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run("lectern-export", &db, &argv);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&stream),
        "names the missing stream: {stderr}"
    );

    // Two talks relayed, followed once.
    let import = run("lectern-import", &db, &[corpus_talks().to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(0));
    let relay = service::relay::Relay::connect(
        db.db.clone(),
        service::relay::RelaySettings {
            url: tests::nats_url(),
            stream: stream.clone(),
            subject_prefix: prefix.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "this test needs NATS with JetStream at {}: {e}",
            tests::nats_url()
        )
    });
    assert!(relay.claim().await.unwrap());
    while relay.relay_batch().await.unwrap() > 0 {}
    let output = run("lectern-export", &db, &argv);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("121 events: wrote 121 documents, removed 0"),
        "{stdout}"
    );
    assert_eq!(importer::follow::documents(out.path()).unwrap().len(), 121);

    // Following: a new talk's document appears, then SIGTERM ends it with exit 0.
    let mut args = follow(&[]);
    args[1] = tests::nats_url();
    let mut child = Command::new(bin("lectern-export"))
        .args(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::fs::write(out.path().join("ignored.txt"), "not a document; left alone").unwrap();
    let new = tempfile::tempdir().unwrap();
    std::fs::write(new.path().join("new.md"), talk_doc("followed-live", "Live")).unwrap();
    let import = run("lectern-import", &db, &[new.path().to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(0));
    while relay.relay_batch().await.unwrap() > 0 {}
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !out.path().join("followed-live.md").exists() {
        assert!(child.try_wait().unwrap().is_none(), "the follower stopped");
        assert!(
            std::time::Instant::now() < deadline,
            "the new talk's document did not appear within 15 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    tests::terminate_gracefully(&mut child);
    assert!(out.path().join("ignored.txt").exists());
    let jetstream = tests::jetstream().await;
    jetstream.delete_stream(&stream).await.unwrap();
}
