//! What operators rely on: security headers, request ids, metrics, GraphiQL turned off, and
//! the database becoming unavailable and coming back.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use service::accounts::Role;
use service::sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
use tests::TestDb;
use tests::proxy::Proxy;
use tests::receiver::Receiver;

use crate::support::TestApp;

fn header<'a>(headers: &'a awc::http::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn new_talk(slug: &str) -> Value {
    json!({
        "slug": slug, "title": "An operations talk", "date": "2026-11-27", "event": "Conf",
        "location": "Oslo", "body": "<p>Hello</p>", "resources": [], "embeds": []
    })
}

/// A GET with headers: status, headers and the body as text.
struct Raw {
    status: u16,
    headers: awc::http::header::HeaderMap,
    body: String,
}

impl Raw {
    fn headers(&self) -> &awc::http::header::HeaderMap {
        &self.headers
    }
}

async fn raw_get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut request = awc::Client::new().get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = request.send().await.expect("request failed");
    let body = response.body().limit(16 * 1024 * 1024).await.expect("body");
    Raw {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[actix_web::test]
async fn every_response_carries_the_security_headers_and_graphiql_its_own_policy() {
    let app = TestApp::spawn().await;
    let strict = "default-src 'none'";
    for (path, accept) in [
        ("/api/v1/talks", "application/json"),
        ("/api/v1/talks/no-such-talk", "application/json"),
        ("/graphql?query=%7B__typename%7D", "application/json"),
        ("/healthz", "application/json"),
        ("/metrics", "text/plain"),
        ("/no/such/route", "text/html"),
    ] {
        let response = raw_get(&app, path, &[("Accept", accept)]).await;
        let headers = response.headers();
        assert_eq!(
            header(headers, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header(headers, "x-frame-options"), "DENY", "{path}");
        assert!(
            header(headers, "content-security-policy").starts_with(strict),
            "{path}: {:?}",
            headers.get("content-security-policy")
        );
    }
    let page = raw_get(&app, "/graphql", &[("Accept", "text/html")]).await;
    assert_eq!(page.status, 200);
    let csp = header(page.headers(), "content-security-policy").to_owned();
    // Scripts from Lectern's own origin only: no other host, no inline script.
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("http"), "{csp}");
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(page.headers(), "x-content-type-options"), "nosniff");
}

#[actix_web::test]
async fn graphiql_loads_every_file_from_this_server_and_may_keep_it_for_a_year() {
    let app = TestApp::spawn().await;
    let page = raw_get(&app, "/graphql", &[("Accept", "text/html")]).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("https://"), "{}", page.body);
    assert!(
        !page.body.contains("<script>"),
        "an inline script: {}",
        page.body
    );
    let linked: Vec<&str> = page
        .body
        .split(['"', '\''])
        .filter(|part| part.starts_with("/static/"))
        .collect();
    assert_eq!(linked.len(), 6, "{}", page.body);
    for path in linked {
        let file = raw_get(&app, path, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(file.status, 200, "{path}");
        let headers = file.headers();
        assert_eq!(
            header(headers, "cache-control"),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        let kind = if path.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(header(headers, "content-type").starts_with(kind), "{path}");
        assert_eq!(header(headers, "x-content-type-options"), "nosniff");
        let etag = header(headers, "etag").to_owned();
        assert!(path.contains(etag.trim_matches('"')), "{path}: {etag}");
        if path.ends_with("graphiql.min.js") {
            assert_eq!(header(headers, "content-encoding"), "gzip", "{path}");
        }
        // Asked again with its tag: not sent again.
        let again = raw_get(&app, path, &[("If-None-Match", &etag)]).await;
        assert_eq!(again.status, 304, "{path}");
        // Another digest is another version's file, not this one.
        let (prefix, name) = path.rsplit_once('/').unwrap();
        let (_, digest) = prefix.rsplit_once('/').unwrap();
        let wrong = path.replace(digest, "0000000000000000");
        let missing = raw_get(&app, &wrong, &[]).await;
        assert_eq!(missing.status, 404, "{wrong}");
        assert!(missing.body.contains(name), "{}", missing.body);
    }
    let outside = raw_get(&app, "/static/0000000000000000/../Cargo.toml", &[]).await;
    assert_eq!(outside.status, 404);
}

#[actix_web::test]
async fn graphiql_and_introspection_can_be_turned_off() {
    let app = TestApp::spawn_configured(TestDb::new().await, |s| s.graphiql = false).await;
    let (status, body) = app.get("/graphql").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("graphiql"), "{body}");
    // Introspection is refused with an error that says so, also through a fragment.
    for query in [
        "{ __schema { types { name } } }",
        "{ talks(first: 1) { totalCount } __type(name: \"Talk\") { fields { name } } }",
        "query { ...Root } fragment Root on Query { ... on Query { __schema { queryType { name } } } }",
    ] {
        let reply = app.graphql(query, json!({})).await;
        assert_eq!(
            reply["errors"][0]["extensions"]["code"], "NOT_SUPPORTED",
            "{query}: {reply}"
        );
        assert!(
            reply["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("introspection")),
            "{query}: {reply}"
        );
        assert!(!reply.to_string().contains("bodyHtml"), "{reply}");
    }
    // __typename is not introspection of the schema.
    let reply = app.graphql("{ __typename }", json!({})).await;
    assert_eq!(reply["data"]["__typename"], "Query", "{reply}");
    let reply = app
        .graphql("{ talks(first: 1) { edges { node { slug } } } }", json!({}))
        .await;
    assert!(reply.get("errors").is_none(), "queries still run: {reply}");

    let open = TestApp::spawn().await;
    let reply = open
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        reply["data"]["__schema"]["queryType"]["name"], "Query",
        "{reply}"
    );
}

#[actix_web::test]
async fn a_request_id_is_kept_when_sensible_and_made_otherwise() {
    let app = TestApp::spawn().await;
    let given = raw_get(&app, "/api/v1/talks", &[("X-Request-Id", "deploy-42.abc")]).await;
    assert_eq!(header(given.headers(), "x-request-id"), "deploy-42.abc");

    let made = raw_get(&app, "/api/v1/talks", &[]).await;
    let id = header(made.headers(), "x-request-id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id:?}");

    // Not echoed: it would let a caller write what it likes into the logs.
    let odd = raw_get(&app, "/api/v1/talks", &[("X-Request-Id", "a b\"{}")]).await;
    let id = header(odd.headers(), "x-request-id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id:?}");
    let long = "x".repeat(200);
    let long = raw_get(&app, "/api/v1/talks", &[("X-Request-Id", long.as_str())]).await;
    assert!(uuid::Uuid::parse_str(header(long.headers(), "x-request-id")).is_ok());
}

/// The value of a sample whose line starts with `prefix` (name and labels), if any.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.split(['{', ' ']).next() == Some(name)
                && labels
                    .iter()
                    .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(f64::max)
}

async fn scrape(app: &TestApp) -> String {
    let response = raw_get(app, "/metrics", &[]).await;
    assert_eq!(response.status, 200);
    assert!(
        header(response.headers(), "content-type").starts_with("text/plain; version=0.0.4"),
        "{:?}",
        response.headers().get("content-type")
    );
    response.body
}

#[actix_web::test]
async fn metrics_count_requests_operations_pools_and_the_outbox() {
    // Retries come after 100 ms, not a minute.
    let app = TestApp::spawn_with_events(api::startup::EventSettings {
        poll: Duration::from_millis(100),
        dispatch: api::dispatch::DispatchSettings {
            retry: service::webhooks::RetryPolicy {
                max_attempts: 5,
                base: Duration::from_millis(100),
                cap: Duration::from_secs(1),
            },
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let editor = app.user_token("ops@example.com", Role::Editor).await;
    // The recorder is shared by every app of this test process: compare before and after.
    let before = scrape(&app).await;
    let talks_route = [
        ("route", "/api/v1/talks"),
        ("method", "GET"),
        ("status", "200"),
    ];
    let count =
        |text: &str| sample(text, "lectern_http_requests_total", &talks_route).unwrap_or(0.0);
    let graphql_ok = |text: &str| {
        sample(
            text,
            "lectern_graphql_operations_total",
            &[("type", "query"), ("outcome", "ok")],
        )
        .unwrap_or(0.0)
    };
    let mutations = |text: &str| {
        sample(
            text,
            "lectern_graphql_operations_total",
            &[("type", "mutation")],
        )
        .unwrap_or(0.0)
    };
    let lookups = |text: &str, outcome: &str| {
        sample(
            text,
            "lectern_response_cache_lookups_total",
            &[("outcome", outcome)],
        )
        .unwrap_or(0.0)
    };
    // The first computed (nothing is held in a new app's cache), the next two served from it.
    for _ in 0..3 {
        raw_get(&app, "/api/v1/talks", &[]).await;
    }
    let cached = scrape(&app).await;
    assert!(
        lookups(&cached, "absent") >= lookups(&before, "absent") + 1.0,
        "{cached}"
    );
    assert!(
        lookups(&cached, "hit") >= lookups(&before, "hit") + 2.0,
        "{cached}"
    );
    app.graphql("{ talks(first: 1) { edges { node { slug } } } }", json!({}))
        .await;
    let (status, _, body) = app
        .send(
            "POST",
            "/api/v1/talks",
            Some(&editor),
            Some(new_talk("metrics-talk")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.graphql_as(
        Some(&editor),
        "mutation { publishTalk(id: \"00000000-0000-0000-0000-000000000000\") { slug } }",
        json!({}),
    )
    .await;
    // The tail reads the event.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = scrape(&app).await;
    assert!(count(&after) >= count(&before) + 3.0, "{after}");
    assert!(graphql_ok(&after) >= graphql_ok(&before) + 1.0, "{after}");
    assert!(mutations(&after) >= mutations(&before) + 1.0, "{after}");
    assert!(
        after.contains("lectern_http_request_duration_seconds_bucket{"),
        "latency histograms: {after}"
    );
    assert!(
        sample(
            &after,
            "lectern_db_connections_max",
            &[("pool", "requests")]
        )
        .is_some(),
        "{after}"
    );
    assert!(
        sample(
            &after,
            "lectern_db_connections",
            &[("pool", "background"), ("state", "idle")]
        )
        .is_some(),
        "{after}"
    );
    assert_eq!(
        sample(&after, "lectern_database_up", &[]),
        Some(1.0),
        "{after}"
    );
    assert!(
        sample(&after, "lectern_outbox_last_seq", &[]).is_some_and(|seq| seq >= 1.0),
        "{after}"
    );
    assert!(
        sample(
            &after,
            "lectern_change_events_total",
            &[("type", "talk.created"), ("source", "api")]
        )
        .is_some_and(|n| n >= 1.0),
        "{after}"
    );
    assert!(
        sample(&after, "lectern_webhook_endpoints", &[("state", "active")]).is_some(),
        "{after}"
    );
    // Webhook deliveries are counted by outcome.
    let delivered = |text: &str| {
        sample(
            text,
            "lectern_webhook_deliveries_total",
            &[("outcome", "delivered")],
        )
        .unwrap_or(0.0)
    };
    let failed = |text: &str| {
        sample(
            text,
            "lectern_webhook_deliveries_total",
            &[("outcome", "failed")],
        )
        .unwrap_or(0.0)
    };
    let admin = app.user_token("ops-admin@example.com", Role::Admin).await;
    let receiver = Receiver::start().await;
    let (status, _, body) = app
        .send(
            "POST",
            "/api/v1/webhooks",
            Some(&admin),
            Some(json!({ "url": receiver.url, "events": ["talk.*"] })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    receiver.refuse_next(1, 500);
    let (status, _, body) = app
        .send(
            "POST",
            "/api/v1/talks",
            Some(&editor),
            Some(new_talk("hooked-talk")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let before_hooks = after.clone();
    let counted = eventually(Duration::from_secs(15), async || {
        let text = scrape(&app).await;
        delivered(&text) >= delivered(&before_hooks) + 1.0
            && failed(&text) >= failed(&before_hooks) + 1.0
    })
    .await;
    assert!(counted, "{}", scrape(&app).await);

    // Raw paths never become labels: one series for every talk.
    raw_get(&app, "/api/v1/talks/one-slug", &[]).await;
    raw_get(&app, "/api/v1/talks/another-slug", &[]).await;
    let text = scrape(&app).await;
    assert!(!text.contains("one-slug") && !text.contains("another-slug"));
    assert!(text.contains("route=\"/api/v1/talks/{"), "{text}");
}

/// Polls `check` until it holds or `within` passes.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The app answers 503 with a problem body, quickly, while its database is unavailable,
/// and serves again by itself once it is back.
#[actix_web::test]
async fn an_unavailable_database_answers_503_quickly_and_service_resumes_by_itself() {
    let db = TestDb::new().await;
    let wait = Duration::from_millis(800);
    match db.db.get_database_backend() {
        DbBackend::Postgres => {
            // The server is shared with other tests: cut a proxy in front of it instead.
            let mut url = url::Url::parse(&db.url).expect("URL");
            let target = format!(
                "{}:{}",
                url.host_str().expect("host"),
                url.port().unwrap_or(5432)
            )
            .parse()
            .expect("an address");
            let proxy = Proxy::start(target).await;
            url.set_port(Some(proxy.port)).expect("port");
            let proxied = url.to_string();
            let app = TestApp::spawn_configured(db, |s| {
                s.database_url = proxied;
                s.db.acquire_timeout = wait;
            })
            .await;
            outage_and_recovery(&app, || proxy.cut(), || proxy.restore()).await;
        }
        _ => {
            // SQLite is embedded: it is unavailable to a writer while another process holds
            // its write lock (a long maintenance job, say) beyond the wait.
            let holder = service::db::open(&db.url, &service::db::DbOptions::default())
                .await
                .expect("open");
            let app = TestApp::spawn_configured(db, |s| s.db.acquire_timeout = wait).await;
            let editor = app.user_token("locked@example.com", Role::Editor).await;
            let (status, _, _) = app
                .send(
                    "POST",
                    "/api/v1/talks",
                    Some(&editor),
                    Some(new_talk("before-lock")),
                )
                .await;
            assert_eq!(status, 201);
            let lock = holder.begin().await.expect("begin");
            lock.execute_unprepared("DELETE FROM talks WHERE slug = 'nothing'")
                .await
                .expect("takes the write lock");
            let started = Instant::now();
            let (status, headers, body) = app
                .send(
                    "POST",
                    "/api/v1/talks",
                    Some(&editor),
                    Some(new_talk("during-lock")),
                )
                .await;
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["type"], "urn:lectern:problem:unavailable", "{body}");
            assert_eq!(header(&headers, "retry-after"), "5");
            assert!(started.elapsed() < wait * 4, "{:?}", started.elapsed());
            // Reads go on meanwhile (WAL).
            let (status, _, _) = app.send("GET", "/api/v1/talks", None, None).await;
            assert_eq!(status, 200);
            lock.rollback().await.expect("release");
            let (status, _, body) = app
                .send(
                    "POST",
                    "/api/v1/talks",
                    Some(&editor),
                    Some(new_talk("after-lock")),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let (status, _, _) = app
                .send("GET", "/api/v1/talks/during-lock", Some(&editor), None)
                .await;
            assert_eq!(status, 404, "the refused write left nothing");
        }
    }
}

async fn outage_and_recovery(app: &TestApp, cut: impl Fn(), restore: impl Fn()) {
    let editor = app.user_token("outage@example.com", Role::Editor).await;
    let (status, _, body) = app
        .send(
            "POST",
            "/api/v1/talks",
            Some(&editor),
            Some(new_talk("before-outage")),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    cut();
    let started = Instant::now();
    let (status, _, body) = app.send("GET", "/readyz", None, None).await;
    assert_eq!(status, 503, "{body}");
    let (status, headers, body) = app
        .send("GET", "/api/v1/talks/before-outage", None, None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["type"], "urn:lectern:problem:unavailable", "{body}");
    assert_eq!(header(&headers, "content-type"), "application/problem+json");
    assert_eq!(header(&headers, "retry-after"), "5");
    let (status, _, body) = app
        .send(
            "POST",
            "/api/v1/talks",
            Some(&editor),
            Some(new_talk("during-outage")),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    let (status, reply) = app
        .graphql_as(
            None,
            "{ talk(slug: \"before-outage\") { title } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(
        reply["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{reply}"
    );
    let (status, _, _) = app.send("GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "the process itself is fine");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answers come within the wait: {:?}",
        started.elapsed()
    );

    restore();
    let back = eventually(Duration::from_secs(20), async || {
        app.send("GET", "/readyz", None, None).await.0 == 200
    })
    .await;
    assert!(back, "ready again without a restart");
    let (status, _, body) = app
        .send("GET", "/api/v1/talks/before-outage", Some(&editor), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = app
        .send(
            "POST",
            "/api/v1/talks",
            Some(&editor),
            Some(new_talk("after-outage")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = app
        .send("GET", "/api/v1/talks/during-outage", Some(&editor), None)
        .await;
    assert_eq!(status, 404, "the refused write left nothing");
}
