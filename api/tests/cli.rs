//! The `lectern` binary.

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn lectern_migrate_prepares_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fresh.db").display()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("is up to date"));
    assert!(dir.path().join("fresh.db").exists());
    // Again, on the migrated database.
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn lectern_migrate_exits_2_when_the_database_cannot_be_reached() {
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args([
            "migrate",
            "--database-url",
            "postgres://lectern:hunter2@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot migrate") && !stderr.contains("hunter2"),
        "{stderr}"
    );
}

/// Reads the child's stderr until the "listening" line; returns the bound address.
fn bound_address(stderr: std::process::ChildStderr) -> String {
    bound_address_and_log(stderr).0
}

/// The bound address, and every line the child writes to stderr from then on.
fn bound_address_and_log(
    stderr: std::process::ChildStderr,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::BufRead;
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut lines = std::io::BufReader::new(stderr).lines();
    for line in lines.by_ref().map_while(Result::ok).take(100) {
        log.lock().unwrap().push(line.clone());
        if !line.contains("listening") {
            continue;
        }
        // A JSON line (`"address":"…"`) or a human one (`address=…`).
        let address = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(json) => json["address"].as_str().map(str::to_owned),
            Err(_) => line.find("address=").map(|at| {
                line[at + "address=".len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                    .collect()
            }),
        };
        if let Some(address) = address {
            // Keep draining stderr so the child never blocks on a full pipe.
            let kept = log.clone();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    kept.lock().unwrap().push(line);
                }
            });
            return (address, log);
        }
    }
    panic!("the server never said where it listens");
}

#[actix_web::test]
async fn lectern_serves_on_a_free_port_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("serve.db").display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .env("LECTERN_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let address = bound_address(child.stderr.take().unwrap());
    assert!(
        address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
        "{address}"
    );
    let client = awc::Client::new();
    let health = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = client
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    tests::terminate_gracefully(&mut child);
}

/// Runs `lectern` on a database with extra environment; returns the exit code, stdout, stderr.
fn lectern(url: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("LECTERN_PASSWORD")
        .env_remove("LECTERN_JWT_SECRET")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn users_and_machine_tokens_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let password = [("LECTERN_PASSWORD", "a long enough password")];

    let (code, out, err) = lectern(
        &url,
        &[
            "user",
            "add",
            "--email",
            "Ed@Example.com",
            "--role",
            "editor",
        ],
        &password,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ed@example.com (editor)"), "{out}");
    // Taken (whatever the case), a bad email, a short password, an unknown role.
    let (code, _, err) = lectern(
        &url,
        &[
            "user",
            "add",
            "--email",
            "ED@example.com",
            "--role",
            "admin",
        ],
        &password,
    );
    assert_eq!(code, 1);
    assert!(err.contains("email is already taken"), "{err}");
    let (code, _, err) = lectern(
        &url,
        &["user", "add", "--email", "nobody", "--role", "viewer"],
        &[("LECTERN_PASSWORD", "short")],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("email: is not an email address")
            && err.contains("password: must be at least 12"),
        "{err}"
    );
    let (code, _, err) = lectern(
        &url,
        &["user", "add", "--email", "x@example.com", "--role", "owner"],
        &password,
    );
    assert_eq!(code, 2, "{err}");

    let (code, out, _) = lectern(&url, &["user", "list"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("editor") && out.contains("enabled") && out.contains("ed@example.com"),
        "{out}"
    );
    let (code, out, _) = lectern(&url, &["user", "disable", "--email", "ed@example.com"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("disabled"), "{out}");
    let (code, _, err) = lectern(
        &url,
        &["user", "disable", "--email", "who@example.com"],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = lectern(
        &url,
        &["user", "passwd", "--email", "ed@example.com"],
        &[("LECTERN_PASSWORD", "another long password")],
    );
    assert_eq!(code, 0, "{err}");

    // A machine token: printed once on stdout, recorded, listed, revoked.
    let (code, token, err) = lectern(
        &url,
        &[
            "token", "issue", "--name", "deploy", "--role", "editor", "--ttl", "90d",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "{token}");
    assert!(err.contains("generated a signing secret"), "{err}");
    let (_, out, _) = lectern(&url, &["token", "list"], &[]);
    assert!(out.contains("deploy") && out.contains("active"), "{out}");
    let jti = out
        .lines()
        .find(|line| line.contains("deploy"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (code, out, _) = lectern(&url, &["token", "revoke", &jti], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("revoked"), "{out}");
    let (_, out, _) = lectern(&url, &["token", "list"], &[]);
    assert!(out.contains("revoked"), "{out}");
    let (code, _, _) = lectern(
        &url,
        &[
            "token", "issue", "--name", "x", "--role", "editor", "--ttl", "soon",
        ],
        &[],
    );
    assert_eq!(code, 2);
}

#[test]
fn a_short_jwt_secret_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let (code, _, err) = lectern(
        &url,
        &["serve", "--addr", "127.0.0.1:0"],
        &[("LECTERN_JWT_SECRET", "too-short")],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("at least 32 bytes") && !err.contains("too-short"),
        "{err}"
    );
}

#[test]
fn lectern_config_prints_the_layers_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lectern.toml");
    std::fs::write(
        &file,
        "cache_mb = 7\naddr = \"127.0.0.1:7000\"\ngraphiql = false\n",
    )
    .unwrap();
    let secret = "a-signing-secret-that-is-long-enough-0123456789";
    let url = "postgres://lectern:hunter2@127.0.0.1:5432/lectern";
    let config = file.to_str().unwrap();
    let (code, out, err) = lectern(
        url,
        &["--config", config, "config", "--addr", "127.0.0.1:7001"],
        &[
            ("LECTERN_JWT_SECRET", secret),
            ("LECTERN_OUTBOX_POLL", "1s"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cache_mb = 7"), "from the file: {out}");
    assert!(
        out.contains("outbox_poll = \"1s\""),
        "from the environment: {out}"
    );
    assert!(
        out.contains("addr = \"127.0.0.1:7001\""),
        "from the flag: {out}"
    );
    assert!(out.contains("graphiql = false"), "{out}");
    assert!(out.contains("jwt_secret = \"*****\""), "{out}");
    assert!(!out.contains(secret) && !out.contains("hunter2"), "{out}");
    assert!(!err.contains(secret) && !err.contains("hunter2"), "{err}");
}

#[test]
fn an_invalid_configuration_stops_the_start_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let (code, _, err) = lectern(&url, &["serve"], &[("LECTERN_CACHE_MB", "lots")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cache_mb"), "{err}");
    let (code, _, err) = lectern(&url, &["serve"], &[("LECTERN_WEBHOOK_TIMEOUT", "soon")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("webhook_timeout"), "{err}");

    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "cache_mb = 1\nlisten = \"0.0.0.0:80\"\n").unwrap();
    let (code, _, err) = lectern(&url, &["--config", file.to_str().unwrap(), "serve"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("listen") && err.contains("bad.toml"), "{err}");
    assert!(!dir.path().join("c.db").exists(), "nothing was started");
}

#[test]
fn a_backup_is_restored_whole_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let password = [("LECTERN_PASSWORD", "a long enough password")];
    let add = |email: &str| {
        let (code, _, err) = lectern(
            &url,
            &["user", "add", "--email", email, "--role", "editor"],
            &password,
        );
        assert_eq!(code, 0, "{err}");
    };
    add("kept@example.com");
    let backup = dir.path().join("backup.db");
    let (code, out, err) = lectern(&url, &["backup", "--out", backup.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backed up"), "{out}");
    add("after-backup@example.com");

    // Never over a file, never over a database without --force.
    let (code, _, err) = lectern(&url, &["backup", "--out", backup.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = lectern(&url, &["restore", "--from", backup.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "this is not a database").unwrap();
    let (code, _, err) = lectern(
        &url,
        &["restore", "--force", "--from", junk.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not a Lectern backup"), "{err}");
    let (_, users, _) = lectern(&url, &["user", "list"], &[]);
    assert!(
        users.contains("after-backup@example.com"),
        "a refused restore changes nothing"
    );

    let (code, out, err) = lectern(
        &url,
        &["restore", "--force", "--from", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("restored"), "{out}");
    let (code, users, err) = lectern(&url, &["user", "list"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(users.contains("kept@example.com"), "{users}");
    assert!(!users.contains("after-backup@example.com"), "{users}");

    let (code, _, err) = lectern(
        "postgres://lectern:hunter2@127.0.0.1:5432/lectern",
        &[
            "backup",
            "--out",
            dir.path().join("pg.dump").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("pg_dump") && !err.contains("hunter2"), "{err}");
}

#[actix_web::test]
async fn json_logs_give_one_line_per_request_with_its_id_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .env("LECTERN_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", &url)
        .env("LECTERN_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .env_remove("LECTERN_JWT_SECRET")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (address, log) = bound_address_and_log(child.stderr.take().unwrap());
    let client = awc::Client::new();
    let listed = client
        .get(format!("http://{address}/api/v1/talks"))
        .insert_header(("X-Request-Id", "trace-me-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status().as_u16(), 200);
    let password = "hunter2-is-not-my-password";
    let refused = client
        .post(format!("http://{address}/auth/login"))
        .send_json(&serde_json::json!({ "email": "who@example.com", "password": password }))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZQ";
    let bad = client
        .get(format!("http://{address}/api/v1/talks"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        let found = log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["request_id"] == "trace-me-1");
        if let Some(line) = found {
            break line;
        }
        assert!(std::time::Instant::now() < deadline, "no request line");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(line["message"], "request", "{line}");
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["route"], "/api/v1/talks", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["latency_ms"].as_f64().is_some(), "{line}");
    assert!(
        line["level"].is_string() && line["timestamp"].is_string(),
        "{line}"
    );

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let all = log.lock().unwrap().join("\n");
    assert!(
        all.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every line is JSON: {all}"
    );
    assert!(all.contains("\"route\":\"/auth/login\""), "{all}");
    assert!(!all.contains(password), "a password was logged: {all}");
    assert!(!all.contains(token), "a token was logged: {all}");
}

#[actix_web::test]
async fn assets_gc_removes_what_no_talk_shows_once_it_is_old_enough() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("site.db").display());
    let db = service::db::connect(&url).await.unwrap();
    // Where `lectern` keeps the bytes of this database when nothing else is configured.
    let folder = dir.path().join("site-assets");
    assert_eq!(service::assets::default_dir(&url), folder);
    let store = service::assets::Assets::new(
        service::assets::Blobs::local(&folder).unwrap(),
        service::assets::AssetSettings::default(),
    );
    let upload = |name: &str, bytes: Vec<u8>| service::assets::Upload {
        filename: name.into(),
        bytes: bytes.into(),
        alt: None,
        focal: None,
    };
    let shown = store
        .store(&db, upload("cover.png", tests::files::png(40, 30)), "test")
        .await
        .unwrap()
        .asset()
        .clone();
    let unused = store
        .store(&db, upload("other.jpg", tests::files::jpeg(40, 30)), "test")
        .await
        .unwrap()
        .asset()
        .clone();
    service::editing::create_talk(
        &db,
        service::talks::NewTalk {
            slug: "shown".into(),
            title: "A talk with a cover".into(),
            date: "2024-05-02".into(),
            image: Some(service::assets::url_of(&shown)),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap();
    let blob = |hash: &str| folder.join(&hash[..2]).join(hash);
    assert!(blob(&unused.hash).exists() && blob(&shown.hash).exists());

    // By default only assets older than 30 days go: nothing yet.
    let (code, out, err) = lectern(&url, &["assets", "gc"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("removed 0 unused assets"), "{out}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (code, out, err) = lectern(
        &url,
        &["assets", "gc", "--older-than", "1s", "--dry-run"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("would remove asset {}", unused.id)),
        "{out}"
    );
    assert!(!out.contains(&shown.id.to_string()), "{out}");
    assert!(blob(&unused.hash).exists(), "a dry run removes nothing");

    let (code, out, err) = lectern(&url, &["assets", "gc", "--older-than", "1s"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("removed asset {}", unused.id)),
        "{out}"
    );
    assert!(out.contains("removed 1 unused assets"), "{out}");
    assert!(!blob(&unused.hash).exists());
    assert!(blob(&shown.hash).exists(), "the talk's image stays");
    assert!(
        service::assets::find(&db, unused.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        service::assets::find(&db, shown.id)
            .await
            .unwrap()
            .is_some()
    );

    let (code, _, err) = lectern(&url, &["assets", "gc", "--older-than", "soon"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("not a duration"), "{err}");
}

#[actix_web::test]
async fn lectern_relay_publishes_the_outbox_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("relay.db").display()
    );
    let db = service::db::connect(&url).await.unwrap();
    for slug in ["one", "two"] {
        service::editing::create_talk(
            &db,
            service::talks::NewTalk {
                slug: slug.into(),
                title: format!("Talk {slug}"),
                date: "2024-05-02".into(),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    }
    let last = service::events::last_seq(&db).await.unwrap();
    let nats = tests::nats_url();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!("LECTERN_CLI_{unique}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(["relay", "--to", &nats, "--stream", &stream])
        .args(["--subject-prefix", &format!("lectern_cli_{unique}")])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while service::relay::Relay::position(&db, &stream)
        .await
        .unwrap_or(0)
        < last
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay did not publish the outbox within 20 s (is NATS with JetStream running at {nats}?)"
        );
        assert!(child.try_wait().unwrap().is_none(), "lectern relay stopped");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tests::terminate_gracefully(&mut child);
    let jetstream = tests::jetstream().await;
    let mut published = jetstream.get_stream(&stream).await.unwrap();
    assert_eq!(published.info().await.unwrap().state.messages, 2);
    jetstream.delete_stream(&stream).await.unwrap();
}
