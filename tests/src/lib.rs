//! Helpers for Lectern's black-box tests: a fresh database per test, the shared corpus, and
//! documents to import; and, in `bench`, what the benchmark drivers in `examples/` share.
//!
//! Tests run on SQLite by default. With `LECTERN_TEST_DATABASE_URL=postgres://…` each test gets
//! its own PostgreSQL database, named by a UUID, created on that server and dropped afterwards.

#![allow(clippy::unwrap_used)]

pub mod bench;
pub mod browser;
pub mod files;
pub mod proxy;
pub mod receiver;

use std::path::{Path, PathBuf};

use service::sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tempfile::TempDir;

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub db: DatabaseConnection,
    _dir: Option<TempDir>,
    /// A folder of the test's own, for asset bytes.
    files: TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A new, empty, migrated database.
    pub async fn new() -> TestDb {
        match std::env::var("LECTERN_TEST_DATABASE_URL") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("lectern_test_{}", uuid::Uuid::new_v4().simple());
                let server = Database::connect(&admin)
                    .await
                    .expect("cannot reach the PostgreSQL test server");
                server
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("cannot create a test database");
                server.close().await.ok();
                let mut url =
                    url::Url::parse(&admin).expect("LECTERN_TEST_DATABASE_URL is not a URL");
                url.set_path(&name);
                let url = url.to_string();
                let db = service::db::connect(&url)
                    .await
                    .expect("cannot open the test database");
                TestDb {
                    url,
                    db,
                    _dir: None,
                    files: tempfile::tempdir().expect("cannot create a temporary folder"),
                    postgres: Some((admin, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("cannot create a temporary folder");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("lectern.db").display()
                );
                let db = service::db::connect(&url)
                    .await
                    .expect("cannot open the test database");
                TestDb {
                    url,
                    db,
                    _dir: Some(dir),
                    files: tempfile::tempdir().expect("cannot create a temporary folder"),
                    postgres: None,
                }
            }
        }
    }
}

impl TestDb {
    /// The folder where this test's asset bytes are kept.
    pub fn assets_dir(&self) -> PathBuf {
        self.files.path().join("assets")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Dropping runs outside the test's runtime, on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(server) = Database::connect(&admin).await {
                    let _ = server
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = server.close().await;
                }
            });
        })
        .join();
    }
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The shared corpus (`LECTERN_CORPUS`, else `../shared/corpus` beside the workspace).
/// Panics with a plain message when it is absent: tests that need it cannot pass without it.
pub fn corpus() -> PathBuf {
    let dir = std::env::var_os("LECTERN_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus"));
    assert!(
        dir.join("talks").is_dir(),
        "the talk corpus is absent: expected {}/talks (set LECTERN_CORPUS to the folder that holds talks/ and seed/)",
        dir.display()
    );
    dir
}

/// The corpus of 124 talk documents.
pub fn corpus_talks() -> PathBuf {
    corpus().join("talks")
}

/// Writes `files` (name, bytes) into a new temporary folder.
pub fn folder_with(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }
    dir
}

/// A small, valid talk document.
pub fn talk_doc(slug: &str, title: &str) -> String {
    format!(
        "---\ntitle: \"{title}\"\nslug: \"{slug}\"\ndate: 2024-05-02T09:30:00\nevent: \"Øredev\"\nlocation: \"Malmö, Sweden\"\n\
         resources:\n  - title: \"Slides\"\n    url: \"https://example.com/{slug}\"\n    description: \"The deck\"\n\
         embeds:\n  - type: \"notist_video\"\n    html: |\n      <iframe src=\"https://example.com/v/{slug}\"></iframe>\n\
         aliases:\n  - /old/{slug}\n---\n\n<p>About {title}.</p>\n"
    )
}

/// The configuration of every property test: `PROPTEST_CASES` cases when set, else `default`,
/// drawn from a fixed seed unless `PROPTEST_RNG_SEED` names another, so that every run (CI's
/// included) checks the same inputs. Another seed, or more cases, explores further.
pub fn proptest_config(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let mut config = proptest::test_runner::Config::with_cases(cases);
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x001E_C7E2);
    }
    config
}

/// Sends SIGTERM to a child process (a server, a relay, a follower) and checks that it exits
/// with success within 15 s, as a process manager stopping it would expect.
pub fn terminate_gracefully(child: &mut std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("cannot run kill");
    assert!(status.success(), "kill -TERM failed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(exit) = child.try_wait().expect("cannot wait for the child") {
            assert!(exit.success(), "exit after SIGTERM: {exit}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The NATS server with JetStream that the relay's tests use: `LECTERN_TEST_NATS_URL`, else
/// `nats://127.0.0.1:4222` (`.ci/run` starts it there when it is down).
pub fn nats_url() -> String {
    std::env::var("LECTERN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A JetStream context on [`nats_url`], or a panic that says how to provide one.
pub async fn jetstream() -> async_nats::jetstream::Context {
    let client = async_nats::connect(nats_url()).await.unwrap_or_else(|e| {
        panic!(
            "this test needs NATS with JetStream at {} ({e}); start it with \
             `nats-server -js` or set LECTERN_TEST_NATS_URL",
            nats_url()
        )
    });
    async_nats::jetstream::new(client)
}
