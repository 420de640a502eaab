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
