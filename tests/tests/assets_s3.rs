//! Assets in S3-compatible object storage: the same uploads, serving and transforms against a
//! real S3 API, `moto` in server mode (`pip install 'moto[server]'`). `.ci/run` starts one and
//! names it in `LECTERN_TEST_S3_ENDPOINT`; without that variable the test starts its own on a
//! free loopback port (from `/var/tmp/lectern-moto`, where `.ci/run` installs it, or `PATH`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use service::accounts::Role;
use tests::{TestDb, files};

use crate::support::{Reply, TestApp, request, test_assets};

/// The `moto_server` to run: `LECTERN_TEST_MOTO_SERVER`, else the one `.ci/run` installs,
/// else the one on `PATH`.
fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("LECTERN_TEST_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let installed = PathBuf::from("/var/tmp/lectern-moto/bin/moto_server");
    if installed.is_file() {
        return installed;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("moto_server"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "this test needs moto_server, a local S3 endpoint: \
                 python3 -m venv /var/tmp/lectern-moto && \
                 /var/tmp/lectern-moto/bin/pip install 'moto[server]' \
                 (or set LECTERN_TEST_MOTO_SERVER to its path)"
            )
        })
}

/// An S3 endpoint with a bucket of this test's own; the emulator the test started, if it did,
/// is stopped when this is dropped.
struct S3 {
    child: Option<Child>,
    endpoint: String,
    bucket: String,
}

impl Drop for S3 {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn start_s3() -> S3 {
    let bucket = format!("lectern-test-{}", uuid::Uuid::new_v4().simple());
    let s3 = match std::env::var("LECTERN_TEST_S3_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => S3 {
            child: None,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            bucket,
        },
        _ => {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(moto_server())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto_server does not start");
            S3 {
                child: Some(child),
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket,
            }
        }
    };
    let client = awc::Client::default();
    let started = Instant::now();
    loop {
        if let Ok(response) = client
            .put(format!("{}/{}", s3.endpoint, s3.bucket))
            .send()
            .await
            && response.status().is_success()
        {
            return s3;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the S3 endpoint {} did not make a bucket within 30 s",
            s3.endpoint
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Reply {
    let authorization = token.map(|token| format!("Bearer {token}"));
    request(app, method, path, authorization.as_deref(), &[], body).await
}

/// The keys of the objects in the emulator's bucket (its XML listing, read for `<Key>`).
async fn listed(s3: &S3) -> Vec<String> {
    let mut response = awc::Client::default()
        .get(format!("{}/{}?list-type=2", s3.endpoint, s3.bucket))
        .send()
        .await
        .expect("the bucket lists");
    let body = response.body().await.expect("a listing");
    let text = String::from_utf8_lossy(&body);
    text.split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn uploads_transforms_and_slides_live_in_s3() {
    let s3 = start_s3().await;
    let db = TestDb::new().await;
    let local = db.assets_dir();
    let mut assets = test_assets(&db);
    assets.store = Some(format!("s3://{}/site", s3.bucket));
    assets.s3_options = [
        ("aws_endpoint", s3.endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let app = TestApp::spawn_configured(db, |settings| settings.assets = assets).await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;

    let jpeg = files::jpeg(1200, 800);
    let (content_type, body) = files::multipart(&[("file", Some("cover.jpg"), &jpeg)]);
    let uploaded = call(
        &app,
        "POST",
        "/api/v1/assets",
        Some(&editor),
        Some((&content_type, body)),
    )
    .await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let hash = uploaded.body["sha256"]
        .as_str()
        .expect("a sha256")
        .to_owned();
    let keys = listed(&s3).await;
    assert!(
        keys.contains(&format!("site/{}/{hash}", &hash[..2])),
        "{keys:?}"
    );
    assert!(!local.exists(), "nothing is written to the local folder");

    // Served from the bucket, and a variant is rendered once and stored there too.
    let url = uploaded.body["url"].as_str().expect("a url").to_owned();
    let whole = call(&app, "GET", &url, Some(&editor), None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.bytes, jpeg);
    let small = call(
        &app,
        "GET",
        &format!("{url}?width=400&format=webp"),
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(small.status, 200);
    assert_eq!(small.header("content-type"), "image/webp");
    let decoded = image::load_from_memory(&small.bytes).expect("a WebP image");
    assert_eq!((decoded.width(), decoded.height()), (400, 267));
    assert_eq!(listed(&s3).await.len(), 2);

    // Slides: the PDF and its first page, both in the bucket; a range read from it.
    let pdf = files::pdf(3);
    let (content_type, body) = files::multipart(&[("file", Some("deck.pdf"), &pdf)]);
    let slides = call(
        &app,
        "POST",
        "/api/v1/assets",
        Some(&editor),
        Some((&content_type, body)),
    )
    .await;
    assert_eq!(slides.status, 201, "{}", slides.body);
    assert_eq!(slides.body["pages"], 3);
    assert_eq!(listed(&s3).await.len(), 4);
    let url = slides.body["url"].as_str().expect("a url").to_owned();
    let authorization = format!("Bearer {editor}");
    let part = request(
        &app,
        "GET",
        &url,
        Some(&authorization),
        &[("Range", "bytes=10-19")],
        None,
    )
    .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, pdf[10..20]);
}
