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
