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
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stderr).lines();
    for line in lines.by_ref().map_while(Result::ok).take(100) {
        if line.contains("listening")
            && let Some(at) = line.find("address=")
        {
            let rest = &line[at + "address=".len()..];
            let address: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                .collect();
            // Keep draining stderr so the child never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return address;
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

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "exit after SIGTERM: {exit}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
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
