//! Hostile input: every case gets a clear 4xx answer (a problem body over REST, an error with
//! `extensions.code` over GraphQL) or a normal result, never a 500, a hang or a crash, and the
//! server answers afterwards. The importer and the exporter stay inside their folders.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use service::accounts::Role;
use service::sea_orm::ConnectionTrait;
use tests::{TestDb, folder_with, talk_doc};

use crate::support::{Reply, TEST_SECRET, TestApp, config, import, request};

/// The most a hostile request may take before it counts as a hang.
const QUICK: Duration = Duration::from_secs(10);

/// Sends a request: `authorization` is the whole header value; `body` is (content type, bytes),
/// no `Content-Type` when the type is empty.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Reply {
    request(app, method, path, authorization, &[], body).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn json_bytes(value: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

/// POST /graphql with a JSON body, timed: a hostile query must not take long.
async fn graphql(app: &TestApp, token: Option<&str>, body: &Value) -> Reply {
    let started = Instant::now();
    let auth = token.map(bearer);
    let reply = call(app, "POST", "/graphql", auth.as_deref(), json_bytes(body)).await;
    assert!(
        started.elapsed() < QUICK,
        "the query took {:?}: {}",
        started.elapsed(),
        reply.text()
    );
    reply
}

async fn query(app: &TestApp, text: &str, variables: Value) -> Reply {
    graphql(app, None, &json!({ "query": text, "variables": variables })).await
}

/// A problem body with this status whose detail mentions `mentions` (any case).
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, mentions: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(
        reply
            .header("content-type")
            .starts_with("application/problem+json"),
        "{status}: content type {:?}: {}",
        reply.header("content-type"),
        reply.text()
    );
    assert_eq!(reply.body["status"], status, "{}", reply.text());
    assert!(
        reply.body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        reply.text()
    );
    let detail = reply.body["detail"].as_str().unwrap_or("");
    assert!(!detail.is_empty(), "{}", reply.text());
    let everything = reply.body.to_string().to_lowercase();
    assert!(
        everything.contains(&mentions.to_lowercase()),
        "the problem does not mention {mentions:?}: {}",
        reply.text()
    );
}

/// A client error: a problem body with a 4xx status.
#[track_caller]
fn assert_client_problem(reply: &Reply, what: &str) {
    assert!(
        (400..500).contains(&reply.status),
        "{what}: {} {}",
        reply.status,
        reply.text()
    );
    assert!(
        reply
            .header("content-type")
            .starts_with("application/problem+json"),
        "{what}: {}",
        reply.text()
    );
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {}",
        reply.text()
    );
}

/// A GraphQL refusal: no data, an error whose code is one of `codes`; returns its message.
#[track_caller]
fn assert_graphql_error(reply: &Reply, codes: &[&str], what: &str) -> String {
    assert!(
        reply.status == 200 || (400..500).contains(&reply.status),
        "{what}: status {}: {}",
        reply.status,
        reply.text()
    );
    let errors = reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no errors: {}", reply.text()));
    assert!(!errors.is_empty(), "{what}: {}", reply.text());
    let code = errors[0]["extensions"]["code"].as_str().unwrap_or("");
    assert!(
        codes.contains(&code),
        "{what}: code {code:?}, expected one of {codes:?}: {}",
        reply.text()
    );
    assert!(
        reply.body["data"].is_null(),
        "{what}: data with a refusal: {}",
        reply.text()
    );
    errors[0]["message"].as_str().unwrap_or("").to_owned()
}

/// The server still answers: health, a GraphQL query and a REST read.
async fn assert_alive(app: &TestApp) {
    assert_eq!(app.get("/healthz").await.0, 200, "the server is down");
    let reply = query(app, "{ talks { totalCount } }", json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.body["data"]["talks"]["totalCount"].is_number(),
        "{}",
        reply.text()
    );
    let reply = call(app, "GET", "/api/v1/talks", None, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// An app with three published talks of event "Øredev" in "Malmö, Sweden".
async fn app_with_talks() -> TestApp {
    let app = TestApp::spawn().await;
    let dir = folder_with(&[
        ("one.md", talk_doc("talk-one", "One").as_bytes()),
        ("two.md", talk_doc("talk-two", "Two").as_bytes()),
        ("three.md", talk_doc("talk-three", "Three").as_bytes()),
    ]);
    assert_eq!(import(&app.db, &[dir.path()]).await.created, 3);
    app
}

async fn stored_slugs(db: &TestDb) -> Vec<String> {
    service::talks::page_by_slug(&db.db, None, 1000)
        .await
        .expect("the talks table cannot be read")
        .into_iter()
        .map(|r| r.talk.slug)
        .collect()
}

/// Sends raw bytes over TCP (for what no HTTP client sends) and returns the status and the
/// response as text.
async fn raw_http(app: &TestApp, request: Vec<u8>) -> (u16, String) {
    let address = app
        .address
        .strip_prefix("http://")
        .expect("an http address")
        .to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("cannot connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a timeout");
        stream.write_all(&request).expect("cannot send");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
        (status, text)
    })
    .await
    .expect("the raw request panicked")
}

// ---------------------------------------------------------------------------------------------
// GraphQL: the shape of the query.

#[actix_web::test]
async fn deeply_nested_graphql_is_refused_as_a_limit() {
    let app = TestApp::spawn().await;
    // 200 levels of introspection: the parser's own limit.
    let deep = format!(
        "{{ __type(name: \"Talk\") {{ fields {{ type {{ {} name {} }} }} }} }}",
        "ofType { ".repeat(200),
        "} ".repeat(200)
    );
    let message = assert_graphql_error(
        &query(&app, &deep, json!({})).await,
        &["LIMIT_EXCEEDED"],
        "200 levels",
    );
    assert!(
        message.contains("deep") || message.contains("recursion"),
        "{message}"
    );
    // 21 and 40 levels: the depth limit of introspection, then the recursion limit.
    for levels in [21, 40] {
        let deep = format!(
            "{{ __type(name: \"Talk\") {{ fields {{ type {{ {} name {} }} }} }} }}",
            "ofType { ".repeat(levels),
            "} ".repeat(levels)
        );
        assert_graphql_error(
            &query(&app, &deep, json!({})).await,
            &["LIMIT_EXCEEDED"],
            &format!("{levels} levels"),
        );
    }
    // 200 nested inline fragments, and a chain of 200 fragments.
    let inline = format!(
        "{{ {} __typename {} }}",
        "... on Query { ".repeat(200),
        "} ".repeat(200)
    );
    assert_graphql_error(
        &query(&app, &inline, json!({})).await,
        &["LIMIT_EXCEEDED"],
        "inline fragments",
    );
    let mut chain = String::from("{ ...F200 } fragment F0 on Query { __typename }");
    for i in 1..=200 {
        chain.push_str(&format!(
            " fragment F{i} on Query {{ __typename ...F{} }}",
            i - 1
        ));
    }
    assert_graphql_error(
        &query(&app, &chain, json!({})).await,
        &["LIMIT_EXCEEDED"],
        "a chain of fragments",
    );
    // Far deeper than any limit, as selections and as list values: refused, no crash.
    let levels = 100_000;
    let selections = format!("{}{}", "{a".repeat(levels), "}".repeat(levels));
    assert_graphql_error(
        &query(&app, &selections, json!({})).await,
        &["LIMIT_EXCEEDED", "BAD_USER_INPUT"],
        "100 000 nested selections",
    );
    let lists = format!(
        "{{ talks(first: {}1{}) {{ totalCount }} }}",
        "[".repeat(levels),
        "]".repeat(levels)
    );
    assert_graphql_error(
        &query(&app, &lists, json!({})).await,
        &["LIMIT_EXCEEDED", "BAD_USER_INPUT"],
        "100 000 nested lists",
    );
    // Deeply nested JSON variables.
    let nested_json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let body = format!(
        r#"{{"query": "query($f: TalkFilter) {{ talks(filter: $f) {{ totalCount }} }}", "variables": {{"f": {nested_json}}}}}"#
    );
    let reply = call(
        &app,
        "POST",
        "/graphql",
        None,
        Some(("application/json", body.into_bytes())),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_graphql_error(&reply, &["BAD_USER_INPUT"], "nested JSON variables");
    assert_alive(&app).await;
}

#[actix_web::test]
async fn wide_and_repetitive_graphql_is_refused_quickly() {
    let app = TestApp::spawn().await;
    // Thousands of distinct fields.
    let wide: String = (0..6000).map(|i| format!("f{i}: __typename ")).collect();
    let message = assert_graphql_error(
        &query(&app, &format!("{{ {wide} }}"), json!({})).await,
        &["LIMIT_EXCEEDED"],
        "6000 fields",
    );
    assert!(message.contains("5000"), "{message}");
    // The same alias 100 000 times.
    let same = "t: __typename ".repeat(100_000);
    assert_graphql_error(
        &query(&app, &format!("{{ {same} }}"), json!({})).await,
        &["LIMIT_EXCEEDED"],
        "one alias 100 000 times",
    );
    // 300 000 unknown fields: one error, not 300 000.
    let unknown = "x ".repeat(300_000);
    let reply = query(&app, &format!("{{ {unknown} }}"), json!({})).await;
    assert_graphql_error(&reply, &["LIMIT_EXCEEDED"], "300 000 unknown fields");
    assert!(
        reply.bytes.len() < 64 * 1024,
        "{} bytes of errors",
        reply.bytes.len()
    );
    // Fragments that double at each level: 2^30 fields once expanded.
    let mut bomb = String::from("{ ...F30 } fragment F0 on Query { __typename }");
    for i in 1..=30 {
        bomb.push_str(&format!(
            " fragment F{i} on Query {{ ...F{p} ...F{p} }}",
            p = i - 1
        ));
    }
    assert_graphql_error(
        &query(&app, &bomb, json!({})).await,
        &["LIMIT_EXCEEDED"],
        "a fragment bomb",
    );
    // 100 000 directives on one field.
    let directives = "@skip(if: false) ".repeat(100_000);
    assert_graphql_error(
        &query(&app, &format!("{{ __typename {directives} }}"), json!({})).await,
        &["LIMIT_EXCEEDED", "BAD_USER_INPUT"],
        "100 000 directives",
    );
    // Arguments out of range, given as variables: refused as the field resolves.
    let app_with = app_with_talks().await;
    for length in [json!(-1), json!(70_000), json!(i64::from(i32::MAX))] {
        let reply = query(
            &app_with,
            "query($l: Int!) { talks { nodes { excerpt(length: $l) } } }",
            json!({ "l": length }),
        )
        .await;
        let errors = reply.body["errors"].as_array().cloned().unwrap_or_default();
        assert!(!errors.is_empty(), "{length}: {}", reply.text());
        for error in errors {
            assert_eq!(
                error["extensions"]["code"],
                "BAD_USER_INPUT",
                "{length}: {}",
                reply.text()
            );
        }
    }
    // Within the limits, a wide query still runs.
    let fine: String = (0..100).map(|i| format!("f{i}: __typename ")).collect();
    let reply = query(&app, &format!("{{ {fine} }}"), json!({})).await;
    assert_eq!(reply.body["data"]["f99"], "Query", "{}", reply.text());
    assert_alive(&app).await;
}

#[actix_web::test]
async fn fragment_cycles_unknown_operations_and_batches_are_bad_input() {
    let app = TestApp::spawn().await;
    for (what, text) in [
        (
            "a cycle of two",
            "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }",
        ),
        (
            "a fragment spreading itself",
            "{ ...A } fragment A on Query { __typename ...A }",
        ),
        (
            "a cycle through inline fragments",
            "{ ...A } fragment A on Query { ... on Query { ...A } }",
        ),
        (
            "a cycle inside a field",
            "{ __type(name: \"Talk\") { ...T } } fragment T on __Type { name ofType { ...T } }",
        ),
    ] {
        let message = assert_graphql_error(
            &query(&app, text, json!({})).await,
            &["BAD_USER_INPUT", "LIMIT_EXCEEDED"],
            what,
        );
        assert!(!message.is_empty(), "{what}");
    }

    // Unknown operation names, and several operations without one.
    for (what, body) in [
        (
            "an unknown name",
            json!({ "query": "query A { __typename } query B { __typename }", "operationName": "C" }),
        ),
        (
            "a name for an anonymous query",
            json!({ "query": "{ __typename }", "operationName": "A" }),
        ),
        (
            "a name with SQL in it",
            json!({ "query": "query A { __typename }", "operationName": "A' OR 1=1 --" }),
        ),
        (
            "no name for two operations",
            json!({ "query": "query A { __typename } query B { __typename }" }),
        ),
    ] {
        let message =
            assert_graphql_error(&graphql(&app, None, &body).await, &["BAD_USER_INPUT"], what);
        assert!(
            message.to_lowercase().contains("operation"),
            "{what}: {message}"
        );
    }
    let reply = call(
        &app,
        "GET",
        "/graphql?query=query%20A%20%7B%20__typename%20%7D&operationName=Nope",
        None,
        None,
    )
    .await;
    assert_graphql_error(&reply, &["BAD_USER_INPUT"], "an unknown name over GET");

    // Batches are not accepted: a clear 400.
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]);
    let reply = graphql(&app, None, &batch).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let message = assert_graphql_error(&reply, &["BAD_USER_INPUT"], "a batch");
    assert!(message.contains("not a GraphQL request"), "{message}");
    assert_alive(&app).await;
}

#[actix_web::test]
async fn huge_variables_are_read_or_refused_with_413() {
    let app = app_with_talks().await;
    let text = "query($e: String, $types: [ChangeType!]) { talks(filter: {event: $e, search: $e}) { totalCount } changes(types: $types, first: 1) { events { seq } } }";
    // Just under the body limit: a normal (empty) answer.
    let big = "x".repeat(api::startup::MAX_BODY_BYTES - 4096);
    let reply = query(&app, text, json!({ "e": big })).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.body["data"]["talks"]["totalCount"],
        0,
        "{}",
        reply.text()
    );
    // A long list of enum values.
    let types = vec!["TALK_CREATED"; 100_000];
    let reply = query(&app, text, json!({ "e": "Øredev", "types": types })).await;
    assert!(
        reply.body["errors"].is_null()
            || reply.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT",
        "{}",
        reply.text()
    );
    // Over the limit: 413.
    let huge = "x".repeat(api::startup::MAX_BODY_BYTES + 1);
    let reply = call(
        &app,
        "POST",
        "/graphql",
        None,
        json_bytes(&json!({ "query": text, "variables": { "e": huge } })),
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_alive(&app).await;
}

/// `POST /graphql` and `/auth/login` read their bodies as REST does: the media type and the
/// size are checked before anything runs.
#[actix_web::test]
async fn graphql_refuses_oversized_bodies_and_other_content_types_as_graphql_errors() {
    let app = TestApp::spawn().await;
    let huge = "x".repeat(api::startup::MAX_BODY_BYTES + 1);
    let reply = call(
        &app,
        "POST",
        "/graphql",
        None,
        json_bytes(&json!({ "query": "{ __typename }", "variables": { "e": huge } })),
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_graphql_error(&reply, &["LIMIT_EXCEEDED"], "an oversized body");
    let body = json!({ "query": "{ __typename }" })
        .to_string()
        .into_bytes();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let reply = call(
            &app,
            "POST",
            "/graphql",
            None,
            Some((content_type, body.clone())),
        )
        .await;
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.text());
        assert_graphql_error(&reply, &["BAD_USER_INPUT"], content_type);
    }
    let reply = call(
        &app,
        "POST",
        "/auth/login",
        None,
        Some((
            "application/json",
            vec![b' '; api::startup::MAX_BODY_BYTES + 1],
        )),
    )
    .await;
    assert_problem(&reply, 413, "larger");
}

// ---------------------------------------------------------------------------------------------
// Bodies, content types, encodings.

#[actix_web::test]
async fn malformed_bodies_and_content_types_get_problems() {
    let app = app_with_talks().await;
    let admin = bearer(&app.user_token("admin@example.com", Role::Admin).await);
    let editor = Some(admin.as_str());
    let version = call(&app, "GET", "/api/v1/talks/talk-one", editor, None)
        .await
        .body["version"]
        .as_i64()
        .expect("a version")
        .to_string();
    let if_match = [("If-Match", version.as_str())];
    let writes = [
        ("POST", "/api/v1/talks"),
        ("PATCH", "/api/v1/talks/talk-one"),
        ("POST", "/api/v1/talks/talk-one/resources"),
        ("POST", "/api/v1/talks/talk-one/embeds"),
        ("PUT", "/api/v1/talks/talk-one/resources/order"),
        ("POST", "/api/v1/webhooks"),
    ];
    for (method, path) in writes {
        let merge = method == "PATCH";
        let json_type = if merge {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        // Not JSON at all.
        for bytes in [
            &b"{not json"[..],
            b"{\"title\": ",
            b"",
            b"\xff\xfe{}",
            b"{\"title\": \"\xff\xfe\"}",
            b"{\"title\": \"\\ud800\"}",
        ] {
            let reply = request(
                &app,
                method,
                path,
                editor,
                &if_match,
                Some((json_type, bytes.to_vec())),
            )
            .await;
            assert_client_problem(&reply, &format!("{method} {path} {bytes:?}"));
            assert!(
                reply.status == 400 || reply.status == 422,
                "{method} {path} {bytes:?}: {}",
                reply.text()
            );
        }
        // JSON, but no object.
        for bytes in [&b"[]"[..], b"\"text\"", b"null", b"42"] {
            let reply = request(
                &app,
                method,
                path,
                editor,
                &if_match,
                Some((json_type, bytes.to_vec())),
            )
            .await;
            assert_client_problem(&reply, &format!("{method} {path} {bytes:?}"));
        }
        // Another content type, or none.
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "",
        ] {
            let reply = request(
                &app,
                method,
                path,
                editor,
                &if_match,
                Some((content_type, b"{\"title\": \"x\"}".to_vec())),
            )
            .await;
            assert_problem(&reply, 415, "application/");
        }
        // Too large.
        let reply = request(
            &app,
            method,
            path,
            editor,
            &if_match,
            Some((json_type, vec![b' '; api::startup::MAX_BODY_BYTES + 1])),
        )
        .await;
        assert_problem(&reply, 413, "larger than");
    }
    // Login: not JSON, and invalid UTF-8.
    for bytes in [
        &b"{not json"[..],
        b"email=a&password=b",
        b"{\"email\": \"\xff\"}",
    ] {
        let reply = call(
            &app,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(("application/json", bytes.to_vec())),
        )
        .await;
        assert_problem(&reply, 400, "email");
    }
    // GraphQL: bodies that are no GraphQL request.
    for bytes in [
        &b"{not json"[..],
        b"",
        b"null",
        b"{\"query\": 5}",
        b"{\"query\": \"{ __typename }\", \"variables\": [1]}",
        b"{\"query\": \"\xff\xfe\"}",
        b"query=%7B__typename%7D",
    ] {
        let reply = call(
            &app,
            "POST",
            "/graphql",
            None,
            Some(("application/json", bytes.to_vec())),
        )
        .await;
        assert_eq!(reply.status, 400, "{bytes:?}: {}", reply.text());
        assert_graphql_error(&reply, &["BAD_USER_INPUT"], &format!("{bytes:?}"));
    }
    // A form body is not a GraphQL request either.
    let reply = call(
        &app,
        "POST",
        "/graphql",
        None,
        Some((
            "application/x-www-form-urlencoded",
            b"query=%7B__typename%7D".to_vec(),
        )),
    )
    .await;
    assert_graphql_error(&reply, &["BAD_USER_INPUT"], "a form");
    assert_eq!(stored_slugs(&app.db).await.len(), 3);
    assert_alive(&app).await;
}

#[actix_web::test]
async fn invalid_utf8_in_paths_and_query_strings_is_harmless() {
    let app = app_with_talks().await;
    // Percent-encoded bytes that are no UTF-8.
    for path in [
        "/api/v1/talks/%FF%FE",
        "/api/v1/talks/talk-one%C0%AF",
        "/api/v1/talks/%C0%AE%C0%AE%2F%C0%AE%C0%AE%2Fetc%2Fpasswd",
        "/api/v1/talks/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/talks/%00",
        "/api/v1/webhooks/%FF",
    ] {
        let reply = call(&app, "GET", path, None, None).await;
        assert_client_problem(&reply, path);
    }
    // In a query parameter: refused, naming the parameter, never read as U+FFFD.
    for (path, name) in [
        ("/api/v1/talks?event=%FF%FE", "event"),
        ("/api/v1/talks?location=%C3%28", "location"),
        ("/api/v1/talks?q=%ED%A0%80", "q"),
        ("/api/v1/talks?limit=2&q%FF=x", "q\u{FFFD}"),
    ] {
        let reply = call(&app, "GET", path, None, None).await;
        assert_eq!(reply.status, 422, "{path}: {}", reply.text());
        assert_client_problem(&reply, path);
        assert_eq!(
            reply.body["errors"][0]["path"],
            name,
            "{path}: {}",
            reply.text()
        );
    }
    for path in [
        "/api/v1/talks?sort=%FF",
        "/api/v1/talks?cursor=%FF%FE",
        "/api/v1/talks?limit=%FF",
        "/api/v1/changes?after=%FF",
        "/api/v1/changes?types=%FF",
    ] {
        let reply = call(&app, "GET", path, None, None).await;
        assert_client_problem(&reply, path);
    }
    let reply = call(&app, "GET", "/graphql?query=%7B%FF%7D", None, None).await;
    assert_graphql_error(&reply, &["BAD_USER_INPUT"], "GET /graphql with bad bytes");
    let reply = call(
        &app,
        "GET",
        "/graphql?query=%7B__typename%7D&variables=%FF",
        None,
        None,
    )
    .await;
    assert_graphql_error(&reply, &["BAD_USER_INPUT"], "variables with bad bytes");
    // Raw bytes that are no UTF-8 in the request line: refused by the HTTP layer.
    for target in [&b"/api/v1/talks/\xff\xfe"[..], b"/api/v1/talks?event=\xff"] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let (status, text) = raw_http(&app, request).await;
        assert!(
            status == 400 || status == 404 || status == 422,
            "{target:?}: {text}"
        );
    }
    assert_eq!(stored_slugs(&app.db).await.len(), 3);
    assert_alive(&app).await;
}

// ---------------------------------------------------------------------------------------------
// SQL injection in every filter and cursor.

const INJECTIONS: [&str; 14] = [
    "' OR 1=1 --",
    "\"; DROP TABLE talks; --",
    "'; DELETE FROM talks; --",
    "' UNION SELECT id, email, password_hash FROM users --",
    "%",
    "_",
    "%_%",
    "\\",
    "\\'",
    "\\\"",
    "\0",
    "a\0' OR 1=1 --",
    "*",
    "\u{feff}\u{202e}☃",
];

fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A cursor as the server makes them, with this key (and an order field).
fn forged_cursor(field: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        json!({ "field": field, "key": key, "id": uuid::Uuid::new_v4() })
            .to_string()
            .as_bytes(),
    )
}

#[actix_web::test]
async fn sql_injection_in_rest_parameters_finds_nothing_and_breaks_nothing() {
    let app = app_with_talks().await;
    let admin = bearer(&app.user_token("admin@example.com", Role::Admin).await);
    let webhook = call(
        &app,
        "POST",
        "/api/v1/webhooks",
        Some(&admin),
        json_bytes(&json!({ "url": "https://hooks.example.com/x", "events": ["talk.*"] })),
    )
    .await;
    assert_eq!(webhook.status, 201, "{}", webhook.text());
    let webhook = webhook.body["id"].as_str().expect("an id").to_owned();
    for value in INJECTIONS {
        let v = encoded(value);
        // Filters that compare text: nothing matches.
        for name in ["event", "location", "q"] {
            for token in [None, Some(admin.as_str())] {
                let path = format!("/api/v1/talks?{name}={v}");
                let reply = call(&app, "GET", &path, token, None).await;
                if reply.status == 200 {
                    assert_eq!(reply.body["data"], json!([]), "{path}: {}", reply.text());
                } else {
                    assert_client_problem(&reply, &path);
                }
            }
        }
        // Parameters that must parse: refused.
        let mut paths = vec![
            format!("/api/v1/talks?year={v}"),
            format!("/api/v1/talks?from={v}"),
            format!("/api/v1/talks?to={v}"),
            format!("/api/v1/talks?has_video={v}"),
            format!("/api/v1/talks?sort={v}"),
            format!("/api/v1/talks?limit={v}"),
            format!("/api/v1/talks?include={v}"),
            format!("/api/v1/talks/{v}"),
            format!("/api/v1/talks/{v}/resources/{v}"),
            format!("/api/v1/changes?after={v}"),
            format!("/api/v1/changes?limit={v}"),
            format!("/api/v1/changes?wait={v}"),
            format!("/api/v1/webhooks/{v}"),
            format!("/api/v1/webhooks/{webhook}/attempts?before={v}"),
            format!("/api/v1/webhooks/{webhook}/attempts?limit={v}"),
        ];
        paths.push(format!("/api/v1/talks?cursor={v}"));
        paths.push(format!("/api/v1/talks?q=talk&cursor={v}"));
        for path in &paths {
            let reply = call(&app, "GET", path, Some(&admin), None).await;
            assert_client_problem(&reply, path);
        }
        // Cursors the server could have made: a page (of any talks) or a refusal.
        let mut forged = Vec::new();
        for field in ["Date", "Title", "UpdatedAt", "Relevance"] {
            let cursor = forged_cursor(field, value);
            forged.push(format!("/api/v1/talks?cursor={cursor}"));
            forged.push(format!("/api/v1/talks?q=talk&cursor={cursor}"));
            forged.push(format!("/api/v1/talks?sort=title&cursor={cursor}"));
            forged.push(format!("/api/v1/talks?sort=updated_at&cursor={cursor}"));
        }
        for path in &forged {
            let reply = call(&app, "GET", path, Some(&admin), None).await;
            if reply.status == 200 {
                assert!(reply.body["data"].is_array(), "{path}: {}", reply.text());
            } else {
                assert_client_problem(&reply, path);
            }
        }
        // Change types: unknown ones are refused.
        let path = format!("/api/v1/changes?types={v}");
        let reply = call(&app, "GET", &path, Some(&admin), None).await;
        assert_client_problem(&reply, &path);
    }
    // A search cursor at the very end of the list.
    let cursor = forged_cursor("Relevance", &usize::MAX.to_string());
    let path = format!("/api/v1/talks?q=talk&cursor={cursor}");
    let reply = call(&app, "GET", &path, None, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.body["data"], json!([]), "{}", reply.text());
    assert_eq!(
        stored_slugs(&app.db).await,
        ["talk-one", "talk-three", "talk-two"]
    );
    let users = app
        .db
        .db
        .query_one_raw(service::sea_orm::Statement::from_string(
            app.db.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM users",
        ))
        .await
        .expect("the users table cannot be read")
        .expect("a row");
    assert_eq!(users.try_get::<i64>("", "n").expect("a count"), 1);
    assert_alive(&app).await;
}

#[actix_web::test]
async fn sql_injection_in_graphql_arguments_finds_nothing_and_breaks_nothing() {
    let app = app_with_talks().await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let talks = "query($v: String, $f: TalkFilter, $o: TalkOrder) { talks(first: 5, after: $v, filter: $f, orderBy: $o) { totalCount edges { node { slug } } } }";
    let backwards = "query($v: String) { talks(last: 5, before: $v) { totalCount } }";
    for value in INJECTIONS {
        for token in [None, Some(admin.as_str())] {
            // Filters that compare text: nothing matches.
            for filter in [
                json!({ "event": value }),
                json!({ "location": value }),
                json!({ "search": value }),
                json!({ "event": value, "location": value, "search": value }),
            ] {
                let reply = graphql(
                    &app,
                    token,
                    &json!({ "query": talks, "variables": { "f": filter } }),
                )
                .await;
                if reply.body["errors"].is_null() {
                    assert_eq!(
                        reply.body["data"]["talks"]["edges"],
                        json!([]),
                        "{filter}: {}",
                        reply.text()
                    );
                } else {
                    assert_graphql_error(&reply, &["BAD_USER_INPUT"], &filter.to_string());
                }
            }
            // Dates and years must parse; cursors must be cursors.
            for filter in [
                json!({ "from": value }),
                json!({ "to": value }),
                json!({ "year": value }),
            ] {
                let reply = graphql(
                    &app,
                    token,
                    &json!({ "query": talks, "variables": { "f": filter } }),
                )
                .await;
                assert_graphql_error(&reply, &["BAD_USER_INPUT"], &filter.to_string());
            }
            let mut cursors = vec![value.to_owned()];
            for field in ["Date", "Title", "UpdatedAt", "Relevance"] {
                cursors.push(forged_cursor(field, value));
            }
            // Cursors once, anonymously: the token changes no cursor's reading.
            let cursors = if token.is_none() { cursors } else { Vec::new() };
            for cursor in &cursors {
                for (text, variables) in [
                    (talks, json!({ "v": cursor })),
                    (talks, json!({ "v": cursor, "o": { "field": "TITLE" } })),
                    (
                        talks,
                        json!({ "v": cursor, "o": { "field": "UPDATED_AT" } }),
                    ),
                    (talks, json!({ "v": cursor, "f": { "search": "talk" } })),
                    (backwards, json!({ "v": cursor })),
                ] {
                    let reply = graphql(
                        &app,
                        token,
                        &json!({ "query": text, "variables": variables }),
                    )
                    .await;
                    // A cursor the server could have made reads a page.
                    if cursor != value && reply.body["errors"].is_null() {
                        assert!(
                            reply.body["data"]["talks"]["totalCount"].is_number(),
                            "{variables}: {}",
                            reply.text()
                        );
                    } else {
                        assert_graphql_error(&reply, &["BAD_USER_INPUT"], &variables.to_string());
                    }
                }
            }
            // One talk by slug or id.
            let reply = graphql(
                &app,
                token,
                &json!({ "query": "query($v: String) { talk(slug: $v) { slug } }", "variables": { "v": value } }),
            )
            .await;
            if reply.body["errors"].is_null() {
                assert_eq!(reply.body["data"]["talk"], Value::Null, "{}", reply.text());
            } else {
                assert_graphql_error(&reply, &["BAD_USER_INPUT"], "talk(slug)");
            }
            let reply = graphql(
                &app,
                token,
                &json!({ "query": "query($v: ID) { talk(id: $v) { slug } }", "variables": { "v": value } }),
            )
            .await;
            assert_graphql_error(&reply, &["BAD_USER_INPUT"], "talk(id)");
        }
        // The change feed and webhooks (admin).
        for (text, variables) in [
            (
                "query($v: ID) { changes(after: $v) { events { seq } } }",
                json!({ "v": value }),
            ),
            (
                "query($v: ID!) { webhook(id: $v) { url } }",
                json!({ "v": value }),
            ),
        ] {
            let reply = graphql(
                &app,
                Some(&admin),
                &json!({ "query": text, "variables": variables }),
            )
            .await;
            if reply.body["errors"].is_null() {
                let data = &reply.body["data"];
                assert!(
                    data["webhook"].is_null()
                        && data["changes"]["events"]
                            .as_array()
                            .is_none_or(Vec::is_empty),
                    "{text}: {}",
                    reply.text()
                );
            } else {
                assert_graphql_error(&reply, &["BAD_USER_INPUT", "NOT_FOUND"], text);
            }
        }
    }
    // Logging in with it (a few: logins are rate limited).
    for value in ["a\0@example.com", "' OR 1=1 --@example.com", "\0"] {
        let reply = graphql(
            &app,
            None,
            &json!({ "query": "mutation($v: String!) { login(email: $v, password: $v) { accessToken } }", "variables": { "v": value } }),
        )
        .await;
        assert_graphql_error(&reply, &["UNAUTHENTICATED"], "login");
        let reply = call(
            &app,
            "POST",
            "/auth/login",
            None,
            json_bytes(&json!({ "email": value, "password": value })),
        )
        .await;
        assert_client_problem(&reply, "login");
    }
    assert_eq!(
        stored_slugs(&app.db).await,
        ["talk-one", "talk-three", "talk-two"]
    );
    assert_alive(&app).await;
}

// ---------------------------------------------------------------------------------------------
// HTML and scripts in every text field.

const SCRIPT_TITLE: &str = "<script>alert('title')</script> & \"quotes\"";
const SCRIPT_BODY: &str = concat!(
    "<p onclick=\"steal()\">Hello<script>alert(1)</script></p>",
    "<img src=x onerror=alert(2)><IMG SRC=x ONERROR=alert(3)>",
    "<a href=\"javascript:alert(4)\">a</a><a href=\"JaVaScRiPt:alert(5)\">b</a>",
    "<a href=\"&#106;avascript:alert(6)\">c</a><a href=\" javascript:alert(7)\">d</a>",
    "<svg><script>alert(8)</script></svg><math><mtext><table><mglyph><style><img src=x onerror=alert(9)>",
    "<iframe src=\"javascript:alert(10)\"></iframe><iframe srcdoc=\"<script>alert(11)</script>\"></iframe>",
    "<form action=\"javascript:alert(12)\"><button formaction=\"javascript:alert(13)\">x</button></form>",
    "<object data=\"javascript:alert(14)\"></object><embed src=\"javascript:alert(15)\">",
    "<div style=\"background:url(javascript:alert(16))\">s</div><base href=\"javascript:alert(17)//\">",
);
const SCRIPT_EMBEDS: [&str; 5] = [
    "<script>alert(1)</script><iframe src=\"https://www.youtube.com/embed/x\" onload=\"alert(2)\"></iframe>",
    "<iframe src=\"javascript://www.youtube.com/%0Aalert(3)\"></iframe>",
    "<iframe src=\"JAVASCRIPT:alert(4)\"></iframe><img src=x onerror=alert(5)>",
    "<blockquote class=\"twitter-tweet\"><p>Hi<script>alert(6)</script></p>&mdash; Eve (@eve) <a href=\"javascript:alert('/status/1')\">May 1, 2024</a></blockquote>",
    "<blockquote class=\"twitter-tweet\" onmouseover=\"alert(7)\"><p>Hi</p>&mdash; Eve (@eve) <a href=\"https://twitter.com/eve/status/1\" onclick=\"alert(8)\">May 1, 2024</a></blockquote><script src=\"https://platform.twitter.com/widgets.js\"></script>",
];

fn hostile_talk(slug: &str) -> Value {
    json!({
        "slug": slug,
        "title": SCRIPT_TITLE,
        "date": "2024-05-02",
        "event": "<img src=x onerror=alert('event')>",
        "location": "<a href=\"javascript:alert('location')\">Malmö</a>",
        "body": SCRIPT_BODY,
        "image": "javascript:alert('image')",
        "pdf": " JavaScript:alert('pdf')",
        "resources": [{
            "title": "<script>alert('resource')</script>",
            "url": "https://example.com/slides",
            "description": "<img src=x onerror=alert('description')>",
        }],
        "embeds": SCRIPT_EMBEDS.iter().map(|html| json!({ "kind": "video", "html": html })).collect::<Vec<_>>(),
    })
}

/// Fails when served HTML or a served URL could run a script.
#[track_caller]
fn assert_inert(what: &str, served: &str) {
    let lower = served.to_lowercase();
    for bad in [
        "<script",
        "onerror=",
        "onload=",
        "onclick=",
        "onmouseover=",
        "javascript:",
    ] {
        assert!(!lower.contains(bad), "{what}: {bad} survived in {served}");
    }
}

#[actix_web::test]
async fn html_in_text_fields_is_kept_as_text_and_served_sanitized() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let auth = bearer(&editor);
    // Written over REST and over GraphQL.
    let reply = call(
        &app,
        "POST",
        "/api/v1/talks",
        Some(&auth),
        json_bytes(&hostile_talk("rest-hostile")),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let mut input = hostile_talk("graphql-hostile");
    input["embeds"] = json!(
        SCRIPT_EMBEDS
            .iter()
            .map(|html| json!({ "kind": "video", "html": html }))
            .collect::<Vec<_>>()
    );
    let reply = graphql(
        &app,
        Some(&editor),
        &json!({
            "query": "mutation($input: CreateTalkInput!) { createTalk(input: $input) { id } }",
            "variables": { "input": input },
        }),
    )
    .await;
    assert!(reply.body["errors"].is_null(), "{}", reply.text());
    // A resource and an embed added later, and a patched body.
    let reply = call(
        &app,
        "POST",
        "/api/v1/talks/rest-hostile/resources",
        Some(&auth),
        json_bytes(&json!({ "title": "<svg onload=alert(1)>", "url": "https://example.com/r", "description": "<script>x</script>" })),
    )
    .await;
    assert!(
        reply.status == 200 || reply.status == 201,
        "{}",
        reply.text()
    );
    let reply = call(
        &app,
        "POST",
        "/api/v1/talks/rest-hostile/embeds",
        Some(&auth),
        json_bytes(&json!({ "kind": "<b>video</b>", "html": "<iframe src=\"https://player.vimeo.com/video/1\" onload=\"alert(1)\"></iframe><script>alert(2)</script>" })),
    )
    .await;
    assert!(
        reply.status == 200 || reply.status == 201,
        "{}",
        reply.text()
    );
    for slug in ["rest-hostile", "graphql-hostile"] {
        let reply = call(
            &app,
            "GET",
            &format!("/api/v1/talks/{slug}"),
            Some(&auth),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let talk = &reply.body;
        // Plain text is stored and served as given.
        assert_eq!(talk["title"], SCRIPT_TITLE);
        assert_eq!(talk["event"], "<img src=x onerror=alert('event')>");
        assert_eq!(
            talk["location"],
            "<a href=\"javascript:alert('location')\">Malmö</a>"
        );
        assert_eq!(
            talk["resources"][0]["title"],
            "<script>alert('resource')</script>"
        );
        assert_eq!(
            talk["resources"][0]["description"],
            "<img src=x onerror=alert('description')>"
        );
        // HTML is served sanitized, and URLs taken from embeds are not scripts.
        let html = talk["body_html"].as_str().expect("body_html");
        assert_inert(&format!("{slug} body_html"), html);
        assert!(html.contains("Hello"), "{html}");
        assert_inert(&format!("{slug} image_url"), &talk["image_url"].to_string());
        assert_inert(&format!("{slug} pdf_url"), &talk["pdf_url"].to_string());
        for (i, embed) in talk["embeds"]
            .as_array()
            .expect("embeds")
            .iter()
            .enumerate()
        {
            assert_inert(
                &format!("{slug} embed {i} html"),
                embed["html"].as_str().unwrap_or(""),
            );
            assert_inert(
                &format!("{slug} embed {i} video"),
                &embed["video"].to_string(),
            );
            assert_inert(
                &format!("{slug} embed {i} tweet url"),
                &embed["tweet"]["url"].to_string(),
            );
        }
        assert!(
            talk["embeds"][0]["html"]
                .as_str()
                .is_some_and(|h| h.contains("https://www.youtube.com/embed/x")),
            "{}",
            talk["embeds"][0]
        );
        let data = graphql(
            &app,
            Some(&editor),
            &json!({
                "query": "query($s: String) { talk(slug: $s) { title event location imageUrl pdfUrl bodyHtml resources { title description } embeds { html video { src } tweet { url } } } }",
                "variables": { "s": slug },
            }),
        )
        .await;
        let talk = &data.body["data"]["talk"];
        assert_eq!(talk["title"], SCRIPT_TITLE, "{}", data.text());
        assert_eq!(talk["event"], "<img src=x onerror=alert('event')>");
        assert_eq!(
            talk["resources"][0]["title"],
            "<script>alert('resource')</script>"
        );
        assert_inert(
            &format!("{slug} bodyHtml"),
            talk["bodyHtml"].as_str().unwrap_or(""),
        );
        assert_inert(&format!("{slug} imageUrl"), &talk["imageUrl"].to_string());
        assert_inert(&format!("{slug} pdfUrl"), &talk["pdfUrl"].to_string());
        for (i, embed) in talk["embeds"]
            .as_array()
            .expect("embeds")
            .iter()
            .enumerate()
        {
            assert_inert(
                &format!("{slug} embed {i} html"),
                embed["html"].as_str().unwrap_or(""),
            );
            assert_inert(
                &format!("{slug} embed {i} video"),
                &embed["video"].to_string(),
            );
            assert_inert(
                &format!("{slug} embed {i} tweet"),
                &embed["tweet"].to_string(),
            );
        }
    }
    // The list serves the same.
    let reply = call(
        &app,
        "GET",
        "/api/v1/talks?include=embeds",
        Some(&auth),
        None,
    )
    .await;
    for talk in reply.body["data"].as_array().expect("a list") {
        assert_inert("list body_html", talk["body_html"].as_str().unwrap_or(""));
        for embed in talk["embeds"].as_array().expect("embeds") {
            assert_inert("list embed", &embed.to_string().replace("\\\"", "\""));
        }
    }
    assert_alive(&app).await;
}

#[actix_web::test]
async fn nul_characters_in_writes_are_refused_by_field() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let create = "mutation($input: CreateTalkInput!) { createTalk(input: $input) { id } }";
    let base = json!({ "slug": "nul-talk", "title": "A talk", "date": "2024-01-01" });
    for (field, value) in [
        ("event", json!("Conf\u{0}")),
        ("location", json!("Oslo\u{0}")),
        ("body", json!("<p>a\u{0}b</p>")),
        ("image", json!("/img\u{0}.png")),
        ("notistId", json!("id\u{0}")),
        ("extra", json!({ "k\u{0}": "v", "v": "a\u{0}" })),
        (
            "resources",
            json!([{ "title": "T\u{0}", "url": "https://example.com", "description": "d\u{0}" }]),
        ),
        (
            "embeds",
            json!([{ "kind": "video\u{0}", "html": "<p>\u{0}</p>" }]),
        ),
    ] {
        let mut input = base.clone();
        input[field] = value;
        let reply = graphql(
            &app,
            Some(&editor),
            &json!({ "query": create, "variables": { "input": input } }),
        )
        .await;
        assert_graphql_error(&reply, &["BAD_USER_INPUT"], field);
        let fields = reply.body["errors"][0]["extensions"]["fields"].to_string();
        assert!(
            fields.contains("NUL") || fields.contains("visible ASCII"),
            "{field}: {}",
            reply.text()
        );
    }
    assert!(stored_slugs(&app.db).await.is_empty());
    // Resources and embeds added one at a time, and a talk's update.
    let reply = graphql(
        &app,
        Some(&editor),
        &json!({ "query": create, "variables": { "input": base } }),
    )
    .await;
    let id = reply.body["data"]["createTalk"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", reply.text()))
        .to_owned();
    for (what, text, variables) in [
        (
            "addResource",
            "mutation($id: ID!, $input: ResourceInput!) { addResource(talkId: $id, input: $input) { id } }",
            json!({ "id": id, "input": { "title": "a\u{0}", "url": "https://example.com", "description": "\u{0}" } }),
        ),
        (
            "addEmbed",
            "mutation($id: ID!, $input: EmbedInput!) { addEmbed(talkId: $id, input: $input) { id } }",
            json!({ "id": id, "input": { "kind": "video", "html": "<p>\u{0}</p>" } }),
        ),
        (
            "updateTalk",
            "mutation($id: ID!, $input: UpdateTalkInput!) { updateTalk(id: $id, input: $input, expectedVersion: 1) { id } }",
            json!({ "id": id, "input": { "location": "\u{0}" } }),
        ),
    ] {
        let reply = graphql(
            &app,
            Some(&editor),
            &json!({ "query": text, "variables": variables }),
        )
        .await;
        assert_graphql_error(&reply, &["BAD_USER_INPUT"], what);
        let fields = reply.body["errors"][0]["extensions"]["fields"].to_string();
        assert!(fields.contains("NUL"), "{what}: {}", reply.text());
    }
    assert_alive(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Tokens.

const OTHER_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOPZAYTxUmOmlSChFO54EkcK2aJDJkNVs9DPI8FRyxJm\n-----END PRIVATE KEY-----\n";
const OTHER_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAXRTP7gtC/zn2+MiWnkomS+S5e77tC4kvJPS38MZCNRw=\n-----END PUBLIC KEY-----\n";

fn claims(sub: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": sub, "role": "admin", "iat": now, "nbf": now, "exp": now + exp_offset,
            "iss": "lectern", "aud": "lectern", "jti": uuid::Uuid::new_v4().to_string() })
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("a token")
}

/// Every malformed `Authorization` value is a 401 over REST and GraphQL, never a 500.
async fn assert_refused(app: &TestApp, what: &str, authorization: &str) {
    let reply = call(app, "GET", "/api/v1/talks", Some(authorization), None).await;
    assert_problem(&reply, 401, "");
    assert!(
        reply.header("www-authenticate").starts_with("Bearer"),
        "{what}"
    );
    let reply = call(
        app,
        "POST",
        "/graphql",
        Some(authorization),
        json_bytes(&json!({ "query": "{ talks { totalCount } }" })),
    )
    .await;
    assert_eq!(reply.status, 401, "{what}: {}", reply.text());
    assert_graphql_error(&reply, &["UNAUTHENTICATED"], what);
    let reply = call(
        app,
        "POST",
        "/api/v1/talks",
        Some(authorization),
        json_bytes(&json!({ "slug": "x", "title": "x", "date": "2024-01-01" })),
    )
    .await;
    assert_problem(&reply, 401, "");
}

#[actix_web::test]
async fn malformed_tokens_are_refused_with_401() {
    let app = TestApp::spawn().await;
    app.user_token("admin@example.com", Role::Admin).await;
    let id = service::accounts::find_user_by_email(&app.db.db, "admin@example.com")
        .await
        .expect("a query")
        .expect("the admin")
        .id
        .to_string();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let payload = b64(claims(&id, 600).to_string().as_bytes());
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    let none_lower = format!("{}.{payload}.", b64(br#"{"alg":"None"}"#));
    let good = hs256(&claims(&id, 600), TEST_SECRET.as_bytes());
    let (good_head, good_rest) = good.split_once('.').expect("three parts");
    let mut with_nul = claims(&id, 600);
    with_nul["sub"] = json!("\u{0}");
    with_nul["email"] = json!("admin\u{0}@example.com");
    let mut machine = claims("token:' OR 1=1 --", 600);
    machine["jti"] = json!("\u{0}");
    let mut huge_claims = claims(&id, -3600);
    huge_claims["pad"] = json!("x".repeat(40_000));
    let eddsa = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &claims(&id, 600),
        &EncodingKey::from_ed_pem(OTHER_PRIVATE_KEY.as_bytes()).expect("a key"),
    )
    .expect("a token");
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("Bearer alone", "Bearer".into()),
        ("Bearer and a space", "Bearer ".into()),
        ("Bearer and spaces", "Bearer      ".into()),
        ("another scheme", "Basic YWRtaW46YWRtaW4=".into()),
        ("the token without a scheme", good.clone()),
        ("Bearer twice", format!("Bearer Bearer {good}")),
        ("garbage", "Bearer garbage".into()),
        ("three dots", "Bearer ...".into()),
        ("two dots", "Bearer ..".into()),
        ("four parts", format!("Bearer {good}.{good_rest}")),
        ("not base64", "Bearer !!!.@@@.###".into()),
        (
            "a header that is not JSON",
            format!("Bearer {}.{payload}.x", b64(b"not json")),
        ),
        (
            "a header that is a JSON array",
            format!("Bearer {}.{payload}.x", b64(b"[1,2]")),
        ),
        (
            "an unknown algorithm",
            format!("Bearer {}.{payload}.x", b64(br#"{"alg":"XX999"}"#)),
        ),
        ("alg none", bearer(&none)),
        ("alg None", bearer(&none_lower)),
        (
            "another header on a good token",
            format!("Bearer {}.{good_rest}", b64(br#"{"alg":"HS512"}"#)),
        ),
        (
            "a good header with garbage",
            format!("Bearer {good_head}.e30.AAAA"),
        ),
        (
            "another secret",
            bearer(&hs256(
                &claims(&id, 600),
                b"another-secret-that-is-long-enough-0000000000",
            )),
        ),
        ("an empty secret", bearer(&hs256(&claims(&id, 600), b""))),
        ("EdDSA with a key unknown here", bearer(&eddsa)),
        (
            "expired",
            bearer(&hs256(&claims(&id, -3600), TEST_SECRET.as_bytes())),
        ),
        ("not yet valid", {
            let mut c = claims(&id, 7200);
            c["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
            bearer(&hs256(&c, TEST_SECRET.as_bytes()))
        }),
        (
            "NUL in the subject and email",
            bearer(&hs256(&with_nul, TEST_SECRET.as_bytes())),
        ),
        (
            "a machine subject with SQL",
            bearer(&hs256(&machine, TEST_SECRET.as_bytes())),
        ),
        (
            "huge expired claims",
            bearer(&hs256(&huge_claims, TEST_SECRET.as_bytes())),
        ),
        (
            "64 KiB of garbage",
            format!("Bearer {}", "A".repeat(64 * 1024)),
        ),
        (
            "64 KiB with dots",
            format!(
                "Bearer {}.{}.{}",
                "A".repeat(21_000),
                "B".repeat(21_000),
                "C".repeat(21_000)
            ),
        ),
    ];
    for (what, authorization) in &cases {
        assert_refused(&app, what, authorization).await;
    }
    // Bytes no client library sends: not UTF-8, control characters.
    for value in [
        &b"Bearer \xff\xfe\xfd"[..],
        b"Bearer a\x01b.c.d",
        b"\xc3\x28",
    ] {
        let mut request = b"GET /api/v1/talks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: ".to_vec();
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n\r\n");
        let (status, text) = raw_http(&app, request).await;
        assert!(status == 401 || status == 400, "{value:?}: {text}");
        if status == 401 {
            assert!(text.contains("application/problem+json"), "{text}");
        }
    }
    // A header larger than the server reads: 431, then the server still answers.
    let reply = call(
        &app,
        "GET",
        "/api/v1/talks",
        Some(&format!("Bearer {}", "A".repeat(200 * 1024))),
        None,
    )
    .await;
    assert!(
        reply.status == 431 || reply.status == 400,
        "{}",
        reply.status
    );
    // The good token still works.
    let reply = graphql(
        &app,
        Some(&good),
        &json!({ "query": "{ users { email } }" }),
    )
    .await;
    assert_eq!(
        reply.body["data"]["users"][0]["email"],
        "admin@example.com",
        "{}",
        reply.text()
    );
    assert_alive(&app).await;
}

#[actix_web::test]
async fn with_key_files_hs256_tokens_are_refused() {
    let dir = tempfile::tempdir().expect("a folder");
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    std::fs::write(&private, OTHER_PRIVATE_KEY).expect("a key file");
    std::fs::write(&public, OTHER_PUBLIC_KEY).expect("a key file");
    let app = TestApp::spawn_with_auth(api::auth::AuthSettings {
        private_key: Some(private.display().to_string()),
        public_key: Some(public.display().to_string()),
        ..Default::default()
    })
    .await;
    let token = app.user_token("ed@example.com", Role::Editor).await;
    let id = service::accounts::find_user_by_email(&app.db.db, "ed@example.com")
        .await
        .expect("a query")
        .expect("the editor")
        .id
        .to_string();
    // HS256, keyed with a secret, with the public key's bytes, and with nothing.
    for (what, secret) in [
        ("a secret", TEST_SECRET.as_bytes()),
        ("the public key", OTHER_PUBLIC_KEY.as_bytes()),
        ("an empty key", &b""[..]),
    ] {
        assert_refused(&app, what, &bearer(&hs256(&claims(&id, 600), secret))).await;
    }
    let payload = URL_SAFE_NO_PAD.encode(claims(&id, 600).to_string().as_bytes());
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#)
    );
    assert_refused(&app, "alg none", &bearer(&none)).await;
    // The issued token works.
    let reply = call(&app, "GET", "/api/v1/talks", Some(&bearer(&token)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

// ---------------------------------------------------------------------------------------------
// The importer and the exporter stay in their folders.

fn failure<'a>(summary: &'a importer::import::Summary, file: &str) -> &'a str {
    summary
        .problems
        .iter()
        .find(|p| p.path.ends_with(file) && p.outcome == importer::import::Outcome::Failed)
        .and_then(|p| p.message.as_deref())
        .unwrap_or_else(|| panic!("{file} did not fail: {:#?}", summary.problems))
}

fn doc_with_slug(slug_yaml: &str) -> String {
    format!("---\ntitle: \"Hostile\"\nslug: {slug_yaml}\ndate: 2024-05-02\n---\n\n<p>x</p>\n")
}

#[tokio::test]
async fn the_import_refuses_slugs_and_file_names_that_are_paths() {
    let db = TestDb::new().await;
    let no_slug = "---\ntitle: \"From the file name\"\ndate: 2024-05-02\n---\n\n<p>x</p>\n";
    let cases = [
        ("dotdot.md", doc_with_slug("\"../../etc/passwd\"")),
        ("twodots.md", doc_with_slug("\"..\"")),
        ("onedot.md", doc_with_slug("\".\"")),
        ("absolute.md", doc_with_slug("\"/etc/passwd\"")),
        ("windows.md", doc_with_slug("\"C:\\\\Windows\\\\x\"")),
        ("forward-slash.md", doc_with_slug("\"a/b\"")),
        ("backslash.md", doc_with_slug("\"..\\\\..\\\\x\"")),
        ("nul.md", doc_with_slug("\"a\\0b\"")),
        ("newline.md", doc_with_slug("\"a\\nb\"")),
        ("encoded.md", doc_with_slug("\"..%2F..%2Fx\"")),
        ("tilde.md", doc_with_slug("\"~/x\"")),
        ("list.md", doc_with_slug("[\"..\", \"x\"]")),
        ("...md", no_slug.to_owned()),
        ("a b.md", no_slug.to_owned()),
        ("nul-event.md", "---\ntitle: \"NUL\"\nslug: \"nul-event\"\ndate: 2024-05-02\nevent: \"a\\0b\"\n---\n\n<p>x</p>\n".to_owned()),
        ("nul-resource.md", "---\ntitle: \"NUL\"\nslug: \"nul-resource\"\ndate: 2024-05-02\nresources:\n  - title: \"a\\0b\"\n    url: \"https://example.com\"\n---\n\n<p>x</p>\n".to_owned()),
    ];
    let mut files: Vec<(&str, &[u8])> = cases.iter().map(|(n, d)| (*n, d.as_bytes())).collect();
    let good = talk_doc("good-talk", "Good");
    files.push(("good.md", good.as_bytes()));
    let dir = folder_with(&files);
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"\xff\xfe.md");
        std::fs::write(dir.path().join(name), no_slug).expect("a file");
    }
    let summary = importer::import::run(&db.db, &config(&[dir.path()]))
        .await
        .expect("the run must report bad documents, not fail as a whole");
    assert_eq!(summary.created, 1, "{:#?}", summary.problems);
    for (file, _) in &cases {
        let message = failure(&summary, file);
        assert!(!message.is_empty(), "{file}");
    }
    for (file, word) in [
        ("dotdot.md", "slug"),
        ("absolute.md", "slug"),
        ("forward-slash.md", "'/'"),
        ("twodots.md", "only ASCII"),
        ("backslash.md", "slug"),
        ("nul.md", "slug"),
        ("...md", "only ASCII"),
        ("nul-event.md", "NUL"),
        ("nul-resource.md", "NUL"),
    ] {
        let message = failure(&summary, file);
        assert!(message.contains(word), "{file}: {message}");
    }
    #[cfg(unix)]
    assert!(
        summary
            .problems
            .iter()
            .any(|p| p.path.contains('\u{fffd}') && p.outcome == importer::import::Outcome::Failed),
        "{:#?}",
        summary.problems
    );
    assert_eq!(stored_slugs(&db).await, ["good-talk"]);
}

#[tokio::test]
async fn the_export_never_writes_outside_its_folder() {
    let db = TestDb::new().await;
    let dir = folder_with(&[
        ("a.md", talk_doc("talk-a", "A").as_bytes()),
        ("b.md", talk_doc("talk-b", "B").as_bytes()),
    ]);
    assert_eq!(import(&db, &[dir.path()]).await.created, 2);
    let root = tempfile::tempdir().expect("a folder");
    let out = root.path().join("out");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&outside).expect("a folder");
    // Slugs that no validation lets in, written straight into the database.
    let escape_to = outside.join("absolute");
    for slug in [
        "../outside/escaped".to_owned(),
        "../../escaped".to_owned(),
        escape_to.display().to_string(),
        "sub/dir".to_owned(),
        "..".to_owned(),
        String::new(),
    ] {
        db.db
            .execute_raw(service::sea_orm::Statement::from_sql_and_values(
                db.db.get_database_backend(),
                match db.db.get_database_backend() {
                    service::sea_orm::DbBackend::Postgres => {
                        "UPDATE talks SET slug = $1 WHERE slug = 'talk-a'"
                    }
                    _ => "UPDATE talks SET slug = ? WHERE slug = 'talk-a'",
                },
                [slug.clone().into()],
            ))
            .await
            .expect("the slug is set");
        let error = importer::export::export(&db.db, &out)
            .await
            .expect_err("an unsafe slug must stop the export");
        let message = error.to_string();
        assert!(message.contains("slug"), "{slug:?}: {message}");
        assert!(
            std::fs::read_dir(&outside)
                .expect("a folder")
                .next()
                .is_none(),
            "{slug:?}: a file was written outside the output folder"
        );
        assert!(!root.path().join("escaped.md").exists(), "{slug:?}");
        assert!(
            !root
                .path()
                .parent()
                .expect("a parent")
                .join("escaped.md")
                .exists(),
            "{slug:?}"
        );
        db.db
            .execute_raw(service::sea_orm::Statement::from_sql_and_values(
                db.db.get_database_backend(),
                match db.db.get_database_backend() {
                    service::sea_orm::DbBackend::Postgres => {
                        "UPDATE talks SET slug = 'talk-a' WHERE slug = $1"
                    }
                    _ => "UPDATE talks SET slug = 'talk-a' WHERE slug = ?",
                },
                [slug.into()],
            ))
            .await
            .expect("the slug is put back");
    }
    // A file of the output folder that links outside is not written through.
    #[cfg(unix)]
    {
        let target = outside.join("target.md");
        std::fs::write(&target, "untouched").expect("a file");
        std::fs::create_dir_all(&out).expect("a folder");
        let link = out.join("talk-b.md");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("a link");
        let error = importer::export::export(&db.db, &out)
            .await
            .expect_err("a link must stop the export");
        assert!(error.to_string().contains("talk-b.md"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&target).expect("the target"),
            "untouched"
        );
        std::fs::remove_file(&link).expect("the link is removed");
    }
    // With sane slugs, the export writes its two files, and only there.
    assert_eq!(
        importer::export::export(&db.db, &out)
            .await
            .expect("an export"),
        2
    );
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("a folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["talk-a.md", "talk-b.md"]);
}
