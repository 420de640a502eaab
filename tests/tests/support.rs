//! Shared shortcuts for the test modules.

use std::path::{Path, PathBuf};

use importer::import::{ImportConfig, Summary, run};
use service::talks::TalkRecord;
use tests::TestDb;

pub fn config(paths: &[&Path]) -> ImportConfig {
    ImportConfig {
        paths: paths
            .iter()
            .map(|p| p.to_path_buf())
            .collect::<Vec<PathBuf>>(),
        dry_run: false,
        repair: true,
        force: false,
        prune: false,
        max_bytes: importer::document::DEFAULT_MAX_BYTES,
        progress: false,
        assets: None,
    }
}

pub async fn import(db: &TestDb, paths: &[&Path]) -> Summary {
    run(&db.db, &config(paths))
        .await
        .expect("the import run failed as a whole")
}

pub async fn import_with(db: &TestDb, config: ImportConfig) -> Summary {
    run(&db.db, &config)
        .await
        .expect("the import run failed as a whole")
}

pub async fn talk(db: &TestDb, slug: &str) -> TalkRecord {
    service::talks::find_by_slug(&db.db, slug)
        .await
        .expect("query failed")
        .unwrap_or_else(|| panic!("talk {slug} is not stored"))
}

/// `record` as readers are served it: each embed's markup as written left out.
pub fn unwritten(mut record: TalkRecord) -> TalkRecord {
    for embed in &mut record.embeds {
        embed.html.clear();
    }
    record
}

pub async fn all_talks(db: &TestDb) -> Vec<TalkRecord> {
    service::talks::page_by_slug(&db.db, None, 10_000)
        .await
        .expect("query failed")
}

/// The content of a talk as the document gives it: every field but ids and timestamps.
pub fn content(record: &TalkRecord) -> serde_json::Value {
    let t = &record.talk;
    serde_json::json!({
        "slug": t.slug, "title": t.title, "date": t.date, "event": t.event, "location": t.location,
        "image": t.image, "pdf": t.pdf, "notist_id": t.notist_id, "body": t.body, "extra": t.extra,
        "status": t.status,
        "resources": record.resources.iter().map(|r| serde_json::json!([r.position, r.title, r.url, r.description])).collect::<Vec<_>>(),
        "embeds": record.embeds.iter().map(|e| serde_json::json!([e.position, e.kind, e.html])).collect::<Vec<_>>(),
    })
}

/// The real application on a free port, with a database of its own.
pub struct TestApp {
    pub address: String,
    pub db: TestDb,
    /// The app's own connection pool (the test's is `db.db`, as another process's would be).
    pub connection: service::sea_orm::DatabaseConnection,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(None).await
    }

    pub async fn spawn_with(asset_base_url: Option<String>) -> TestApp {
        let db = TestDb::new().await;
        let connection = service::db::connect(&db.url)
            .await
            .expect("cannot open the test database");
        Self::start(db, connection, asset_base_url, test_auth()).await
    }

    /// The app with these token settings.
    pub async fn spawn_with_auth(auth: api::auth::AuthSettings) -> TestApp {
        let db = TestDb::new().await;
        let connection = service::db::connect(&db.url)
            .await
            .expect("cannot open the test database");
        Self::start(db, connection, None, auth).await
    }

    /// The app with these event settings (a fast retry policy, say).
    pub async fn spawn_with_events(events: api::startup::EventSettings) -> TestApp {
        let db = TestDb::new().await;
        let connection = service::db::connect(&db.url)
            .await
            .expect("cannot open the test database");
        Self::start_with(db, connection, None, None, test_auth(), events).await
    }

    /// The app on a connection that counts the SQL statements it runs.
    pub async fn spawn_counting() -> (TestApp, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let db = TestDb::new().await;
        let mut connection = service::db::connect(&db.url)
            .await
            .expect("cannot open the test database");
        let statements = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = statements.clone();
        connection.set_metric_callback(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        // The cache's outbox reads, on their own connection, are counted too.
        let mut freshness = service::db::open(
            &db.url,
            &service::db::DbOptions {
                max_connections: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("cannot open the test database");
        let counter = statements.clone();
        freshness.set_metric_callback(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        (
            // Counting the requests' statements only: no outbox polling, no dispatcher.
            Self::start_with(
                db,
                connection,
                Some(freshness),
                None,
                test_auth(),
                api::startup::EventSettings {
                    poll: std::time::Duration::from_secs(3600),
                    dispatch: api::dispatch::DispatchSettings {
                        enabled: false,
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await,
            statements,
        )
    }

    /// The app built from settings of the test's choosing (its database URL and pool
    /// options included), opening its own pool as `lectern serve` does.
    pub async fn spawn_configured(
        db: TestDb,
        configure: impl FnOnce(&mut api::startup::Settings),
    ) -> TestApp {
        let mut settings = api::startup::Settings {
            addr: "127.0.0.1:0".into(),
            database_url: db.url.clone(),
            auth: test_auth(),
            assets: test_assets(&db),
            ..Default::default()
        };
        configure(&mut settings);
        let app = api::startup::Application::build(settings)
            .await
            .expect("the app does not start");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let connection = db.db.clone();
        TestApp {
            address,
            db,
            connection,
        }
    }

    async fn start(
        db: TestDb,
        connection: service::sea_orm::DatabaseConnection,
        asset_base_url: Option<String>,
        auth: api::auth::AuthSettings,
    ) -> TestApp {
        Self::start_with(
            db,
            connection,
            None,
            asset_base_url,
            auth,
            api::startup::EventSettings::default(),
        )
        .await
    }

    async fn start_with(
        db: TestDb,
        connection: service::sea_orm::DatabaseConnection,
        freshness: Option<service::sea_orm::DatabaseConnection>,
        asset_base_url: Option<String>,
        auth: api::auth::AuthSettings,
        events: api::startup::EventSettings,
    ) -> TestApp {
        let settings = api::startup::Settings {
            addr: "127.0.0.1:0".into(),
            database_url: db.url.clone(),
            asset_base_url,
            cache_bytes: 32 * 1024 * 1024,
            cors_origins: vec!["https://site.example.com".into()],
            auth,
            events,
            assets: test_assets(&db),
            ..Default::default()
        };
        let app = match freshness {
            Some(freshness) => {
                api::startup::Application::build_on(settings, connection.clone(), Some(freshness))
                    .await
            }
            None => api::startup::Application::build_with(settings, connection.clone()).await,
        }
        .expect("the app does not start");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            address,
            db,
            connection,
        }
    }

    /// The app with the corpus imported.
    pub async fn with_corpus() -> TestApp {
        let app = Self::spawn().await;
        let summary = import(&app.db, &[&tests::corpus_talks()]).await;
        assert_eq!(summary.created, 121);
        app
    }

    /// Runs a GraphQL query; returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        self.graphql_body(serde_json::json!({ "query": query, "variables": variables }))
            .await
    }

    /// Runs the operation `name` of a GraphQL document; returns the whole response body.
    pub async fn graphql_named(
        &self,
        query: &str,
        name: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        self.graphql_body(
            serde_json::json!({ "query": query, "operationName": name, "variables": variables }),
        )
        .await
    }

    async fn graphql_body(&self, body: serde_json::Value) -> serde_json::Value {
        let mut response = awc::Client::new()
            .post(format!("{}/graphql", self.address))
            .send_json(&body)
            .await
            .expect("request failed");
        assert_eq!(response.status().as_u16(), 200);
        response
            .json()
            .limit(64 * 1024 * 1024)
            .await
            .expect("response is not JSON")
    }

    /// Runs a query that must succeed; returns its `data`.
    pub async fn data(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "errors: {body:#}");
        body["data"].clone()
    }

    /// The first error's code.
    pub async fn error_code(&self, query: &str, variables: serde_json::Value) -> String {
        let body = self.graphql(query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {body:#}"))
            .to_owned()
    }

    /// Sends a request with an optional bearer token and JSON body; returns the status, the
    /// headers and the JSON body (Null when there is none).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, awc::http::header::HeaderMap, serde_json::Value) {
        let client = awc::Client::new();
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = client.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        }
        .expect("request failed");
        let bytes = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .expect("no body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (response.status().as_u16(), response.headers().clone(), json)
    }

    /// Runs GraphQL with a bearer token; returns the status and the body.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let (status, _, body) = self
            .send(
                "POST",
                "/graphql",
                token,
                Some(serde_json::json!({ "query": query, "variables": variables })),
            )
            .await;
        (status, body)
    }

    /// Adds a user straight into the database and logs in over HTTP; returns the token.
    pub async fn user_token(&self, email: &str, role: service::accounts::Role) -> String {
        service::accounts::add_user(&self.db.db, email, TEST_PASSWORD, role)
            .await
            .expect("cannot add the user");
        self.login(email, TEST_PASSWORD).await
    }

    /// Logs in over HTTP; returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, _, body) = self
            .send(
                "POST",
                "/auth/login",
                None,
                Some(serde_json::json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["accessToken"].as_str().expect("a token").to_owned()
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut response = awc::Client::new()
            .get(format!("{}{path}", self.address))
            .insert_header(("Accept", "text/html"))
            .send()
            .await
            .expect("request failed");
        let body = response
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .expect("no body");
        (
            response.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        )
    }
}

/// The HS256 secret of test apps.
pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
/// The password of test users.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// The asset store of a test: a folder of its own, and a PDF time limit short enough for the
/// test of a PDF that never finishes rendering.
pub fn test_assets(db: &TestDb) -> api::startup::AssetConfig {
    api::startup::AssetConfig {
        dir: Some(db.assets_dir()),
        rules: service::assets::AssetSettings {
            pdf_timeout: std::time::Duration::from_secs(2),
            max_bytes: 8 * 1024 * 1024,
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn test_auth() -> api::auth::AuthSettings {
    api::auth::AuthSettings {
        secret: Some(TEST_SECRET.into()),
        ..Default::default()
    }
}

/// A response: status, headers, raw body and the body as JSON (Null when it is not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub bytes: Vec<u8>,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        text.chars().take(600).collect()
    }
}

/// Sends a request to `path` on `app`: `authorization` is the whole header value; `body` is
/// (content type, bytes), no `Content-Type` when the type is empty.
pub async fn request(
    app: &TestApp,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> Reply {
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .finish();
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = client.request(method, format!("{}{path}", app.address));
    if let Some(value) = authorization {
        request = request.insert_header(("Authorization", value));
    }
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = match body {
        Some((content_type, bytes)) => {
            if !content_type.is_empty() {
                request = request.insert_header(("Content-Type", content_type));
            }
            request.send_body(bytes).await
        }
        None => request.send().await,
    }
    .unwrap_or_else(|e| panic!("{path}: request failed: {e}"));
    let bytes = response
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .expect("no body")
        .to_vec();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        bytes,
    }
}
