//! A real Chromium, driven through chromedriver (Debian's `chromium` and `chromium-driver`),
//! for tests of what Lectern serves to browsers.
//!
//! The browser may reach loopback only: every other host name resolves to nothing and every
//! other address goes to a closed proxy port, so a page that needs the internet fails here as
//! it would on a machine without it.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use tempfile::TempDir;

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

/// A Chromium session; the driver (and its browser) stop when it is dropped.
pub struct Browser {
    pub client: Client,
    _driver: DriverGuard,
    _profile: TempDir,
}

fn program(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "browser tests need {} ({variable} names another): install Debian's `chromium` and \
         `chromium-driver` (`apt-get install chromium chromium-driver`; .ci/run does)",
        path.display()
    );
    path
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium through it.
    pub async fn start() -> Browser {
        let chromium = program("LECTERN_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("LECTERN_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A process group of its own: dropping the session stops the browsers it started.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let guard = DriverGuard(Some(driver));
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--window-size=1280,900".into(),
            // Loopback only: other names resolve to nothing, other addresses to a closed port.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost".into(),
            "--proxy-server=http://127.0.0.1:9".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < WAIT => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no session from chromedriver at {url}: {e}"),
            }
        };
        Browser {
            client,
            _driver: guard,
            _profile: profile,
        }
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} within {WAIT:?}: {e}"))
    }

    /// Every URL the page has loaded: itself and each resource (scripts, styles, fetches).
    pub async fn loaded_urls(&self) -> Vec<String> {
        let urls = self
            .client
            .execute(
                "return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name));",
                vec![],
            )
            .await
            .expect("the page runs a script");
        serde_json::from_value(urls).expect("a list of URLs")
    }

    /// Writes a PNG of the viewport to `path`, making its folder when it is missing.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("the screenshots' folder is made");
        }
        std::fs::write(path, png).expect("the screenshot is written");
    }

    /// Ends the session (the browser closes) and stops the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// The driver: stopped, with what it started, when dropped.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(driver) = &mut self.0 {
            stop(driver);
        }
    }
}

/// Kills the driver's process group (the driver and the browsers it started), then reaps it.
fn stop(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}
