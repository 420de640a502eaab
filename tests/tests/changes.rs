//! The change feed through HTTP: `GET /api/v1/changes` (paging, visibility, type filters, long
//! polls), GraphQL's `changes`, and the `talkChanges` subscription over `graphql-transport-ws`,
//! including writes committed by other processes on the same database.

use std::time::{Duration, Instant};

use awc::error::WsProtocolError;
use awc::ws;
use entity::change_event;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{Value, json};
use service::accounts::Role;
use service::editing::{self, TalkPatch};
use service::sea_orm::{DatabaseConnection, DbBackend, EntityTrait, QueryOrder};
use service::talks::NewTalk;

use crate::support::{TestApp, test_auth};

/// The longest any single awaited event may take to arrive.
const PATIENCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// HTTP helpers

/// A response: status, headers, JSON body (Null when none).
struct Reply {
    status: u16,
    headers: awc::http::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A request to `address` + `path`; PATCH and DELETE carry `If-Match: *`.
async fn call(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(40))
        .finish();
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let writes_existing = method == awc::http::Method::PATCH || method == awc::http::Method::DELETE;
    let mut request = client.request(method, format!("{address}{path}"));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    if writes_existing {
        request = request.insert_header(("If-Match", "*"));
    }
    let mut response = match body {
        Some(body) => request.send_json(&body).await,
        None => request.send().await,
    }
    .unwrap();
    let bytes = response.body().limit(64 * 1024 * 1024).await.unwrap();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn create(address: &str, token: &str, slug: &str) {
    let body = json!({
        "slug": slug, "title": format!("Talk {slug}"), "date": "2026-11-26",
        "body": "<p>About it<script>alert(1)</script></p>",
        "resources": [{ "title": "Slides", "url": "https://example.com/slides" }],
    });
    let reply = call(address, "POST", "/api/v1/talks", Some(token), Some(body)).await;
    assert_eq!(reply.status, 201, "create {slug}: {}", reply.body);
}

async fn publish(address: &str, token: &str, slug: &str) {
    let path = format!("/api/v1/talks/{slug}/publish");
    let reply = call(address, "POST", &path, Some(token), None).await;
    assert_eq!(reply.status, 200, "publish {slug}: {}", reply.body);
}

async fn unpublish(address: &str, token: &str, slug: &str) {
    let path = format!("/api/v1/talks/{slug}/unpublish");
    let reply = call(address, "POST", &path, Some(token), None).await;
    assert_eq!(reply.status, 200, "unpublish {slug}: {}", reply.body);
}

async fn retitle(address: &str, token: &str, slug: &str, title: &str) {
    let path = format!("/api/v1/talks/{slug}");
    let body = json!({ "title": title });
    let reply = call(address, "PATCH", &path, Some(token), Some(body)).await;
    assert_eq!(reply.status, 200, "patch {slug}: {}", reply.body);
}

async fn delete(address: &str, token: &str, slug: &str) {
    let path = format!("/api/v1/talks/{slug}");
    let reply = call(address, "DELETE", &path, Some(token), None).await;
    assert_eq!(reply.status, 204, "delete {slug}: {}", reply.body);
}

/// An editor's token.
async fn editor(app: &TestApp) -> String {
    app.user_token("editor@example.com", Role::Editor).await
}

/// One page of the feed; asserts 200.
async fn page(address: &str, token: Option<&str>, query: &str) -> Reply {
    let reply = call(
        address,
        "GET",
        &format!("/api/v1/changes?{query}"),
        token,
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "GET /changes?{query}: {}", reply.body);
    assert_eq!(reply.header("cache-control"), "private, no-store");
    reply
}

/// Every event after `after` in one page of 500 (asserted to be the whole of it).
async fn feed_after(address: &str, token: Option<&str>, after: i64, extra: &str) -> Vec<Value> {
    let reply = page(address, token, &format!("after={after}&limit=500{extra}")).await;
    assert_eq!(reply.body["has_more"], false, "{}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

/// Walks the feed two events at a time from the first, following `next_after` until
/// `has_more` is false, checking each page's cursor, `has_more` and `Link`.
async fn walk(address: &str, token: Option<&str>, extra: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    for _ in 0..100 {
        let reply = page(address, token, &format!("after={after}&limit=2{extra}")).await;
        let data = reply.body["data"].as_array().unwrap();
        assert!(data.len() <= 2, "{}", reply.body);
        let next = reply.body["next_after"].as_i64().unwrap();
        let expected_next = data.last().map_or(after, |e| e["seq"].as_i64().unwrap());
        assert_eq!(
            next, expected_next,
            "next_after is the last seq: {}",
            reply.body
        );
        events.extend(data.iter().cloned());
        let link = reply.header("link").to_owned();
        if reply.body["has_more"] == true {
            assert_eq!(data.len(), 2, "a page with more after it is full");
            assert!(link.ends_with("rel=\"next\""), "{link}");
            assert!(link.contains(&format!("after={next}")), "{link}");
            assert!(link.contains("limit=2"), "{link}");
            after = next;
        } else {
            assert_eq!(reply.body["has_more"], false, "{}", reply.body);
            assert!(link.is_empty(), "no Link on the last page: {link}");
            // Nothing beyond the end.
            let beyond = page(address, token, &format!("after={next}&limit=2{extra}")).await;
            assert_eq!(beyond.body["data"], json!([]), "{}", beyond.body);
            assert_eq!(beyond.body["next_after"], next);
            assert_eq!(beyond.body["has_more"], false);
            return events;
        }
    }
    panic!("the walk does not end");
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

fn assert_strictly_increasing(seqs: &[i64]) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "not strictly increasing: {seqs:?}"
    );
}

/// What identifies an event, as REST gives it: (seq, id, type, aggregate id, version).
type Key = (i64, String, String, String, i64);

fn rest_key(event: &Value) -> Key {
    (
        event["seq"].as_i64().unwrap(),
        event["id"].as_str().unwrap().to_owned(),
        event["type"].as_str().unwrap().to_owned(),
        event["aggregate_id"].as_str().unwrap().to_owned(),
        event["version"].as_i64().unwrap(),
    )
}

/// The same from GraphQL, where `seq` is an ID.
fn graphql_key(event: &Value) -> Key {
    (
        event["seq"].as_str().unwrap().parse().unwrap(),
        event["id"].as_str().unwrap().to_owned(),
        event["type"].as_str().unwrap().to_owned(),
        event["aggregateId"].as_str().unwrap().to_owned(),
        event["version"].as_i64().unwrap(),
    )
}

/// (slug, type) of REST events.
fn slug_types(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["data"]["talk"]["slug"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str, bool)], public_only: bool) -> Vec<(String, String)> {
    expected
        .iter()
        .filter(|(_, _, public)| *public || !public_only)
        .map(|(slug, kind, _)| ((*slug).to_owned(), (*kind).to_owned()))
        .collect()
}

/// Writes a mix of drafts and published talks through the API; returns the events expected,
/// in order, as (slug, type, public).
async fn write_mix(address: &str, token: &str) -> Vec<(&'static str, &'static str, bool)> {
    create(address, token, "a").await;
    publish(address, token, "a").await;
    create(address, token, "b").await;
    create(address, token, "c").await;
    publish(address, token, "c").await;
    retitle(address, token, "c", "C, retitled").await;
    unpublish(address, token, "c").await;
    create(address, token, "d").await;
    publish(address, token, "d").await;
    delete(address, token, "d").await;
    create(address, token, "e").await;
    delete(address, token, "e").await;
    retitle(address, token, "a", "A, retitled").await;
    vec![
        ("a", "talk.created", false),
        ("a", "talk.published", true),
        ("b", "talk.created", false),
        ("c", "talk.created", false),
        ("c", "talk.published", true),
        ("c", "talk.updated", true),
        // An unpublish is public: readers must learn the talk is gone.
        ("c", "talk.unpublished", true),
        ("d", "talk.created", false),
        ("d", "talk.published", true),
        // The delete of a published talk is public; of a draft, not.
        ("d", "talk.deleted", true),
        ("e", "talk.created", false),
        ("e", "talk.deleted", false),
        ("a", "talk.updated", true),
    ]
}

async fn stored_events(db: &DatabaseConnection) -> Vec<change_event::Model> {
    change_event::Entity::find()
        .order_by_asc(change_event::Column::Seq)
        .all(db)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Paging the REST feed

#[actix_web::test]
async fn walking_the_feed_yields_every_visible_event_once_in_seq_order() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    let expected = write_mix(&app.address, &token).await;

    // With a token: every event, each once, in seq order, as stored.
    let all = walk(&app.address, Some(&token), "").await;
    assert_eq!(slug_types(&all), pairs(&expected, false));
    assert_strictly_increasing(&seqs(&all));
    let stored = stored_events(&app.db.db).await;
    assert_eq!(seqs(&all), stored.iter().map(|e| e.seq).collect::<Vec<_>>());
    let ids: Vec<String> = stored.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        all.iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ids
    );

    // The envelope: columns, and the state with its HTML sanitized.
    let first = &all[0];
    assert_eq!(first["aggregate_type"], "talk");
    assert_eq!(first["version"], 1);
    assert!(first["actor"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(first["occurred_at"].is_string());
    assert_eq!(first["aggregate_id"], first["data"]["talk"]["id"]);
    let body = first["data"]["talk"]["body"].as_str().unwrap();
    assert!(
        body.contains("About it") && !body.contains("script"),
        "{body}"
    );
    assert_eq!(first["data"]["resources"][0]["title"], "Slides");
    let a_versions: Vec<i64> = all
        .iter()
        .filter(|e| e["aggregate_id"] == first["aggregate_id"])
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert_eq!(a_versions, [1, 2, 3]);
    // The delete carries the state before it.
    let deleted_d = all
        .iter()
        .find(|e| e["type"] == "talk.deleted" && e["data"]["talk"]["slug"] == "d")
        .unwrap();
    assert_eq!(deleted_d["data"]["talk"]["status"], "published");

    // Without a token: only the public ones, still each once, in order.
    let public = walk(&app.address, None, "").await;
    assert_eq!(slug_types(&public), pairs(&expected, true));
    assert_strictly_increasing(&seqs(&public));
    let public_keys: Vec<Key> = public.iter().map(rest_key).collect();
    let from_all: Vec<Key> = all
        .iter()
        .zip(&expected)
        .filter(|(_, (_, _, p))| *p)
        .map(|(e, _)| rest_key(e))
        .collect();
    assert_eq!(public_keys, from_all);

    // Type filters, alone and with the visibility rule.
    let status_changes = walk(&app.address, None, "&types=talk.published,talk.unpublished").await;
    assert_eq!(
        slug_types(&status_changes),
        [
            ("a", "talk.published"),
            ("c", "talk.published"),
            ("c", "talk.unpublished"),
            ("d", "talk.published")
        ]
        .map(|(s, t)| (s.to_owned(), t.to_owned()))
    );
    let deletes = walk(&app.address, Some(&token), "&types=talk.deleted").await;
    assert_eq!(
        slug_types(&deletes),
        [("d", "talk.deleted"), ("e", "talk.deleted")].map(|(s, t)| (s.to_owned(), t.to_owned()))
    );
    let public_deletes = walk(&app.address, None, "&types=talk.deleted").await;
    assert_eq!(
        slug_types(&public_deletes),
        [("d".to_owned(), "talk.deleted".to_owned())]
    );
    // Every creation was of a draft.
    assert!(
        walk(&app.address, None, "&types=talk.created")
            .await
            .is_empty()
    );
    let created = walk(&app.address, Some(&token), "&types=talk.created").await;
    assert_eq!(created.len(), 5);
    assert!(created.iter().all(|e| e["type"] == "talk.created"));
    // Two types, with spaces; and every type is the same as none.
    let two = walk(
        &app.address,
        Some(&token),
        "&types=talk.updated,%20talk.deleted",
    )
    .await;
    assert_eq!(
        two.iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "talk.updated",
            "talk.deleted",
            "talk.deleted",
            "talk.updated"
        ]
    );
    let every = walk(
        &app.address,
        Some(&token),
        "&types=talk.created,talk.updated,talk.deleted,talk.published,talk.unpublished",
    )
    .await;
    assert_eq!(seqs(&every), seqs(&all));

    // `after` starts after that event, whatever its visibility.
    let after_third = feed_after(&app.address, Some(&token), seqs(&all)[2], "").await;
    assert_eq!(seqs(&after_third), seqs(&all)[3..]);
    let anon_after_third = feed_after(&app.address, None, seqs(&all)[2], "").await;
    assert_eq!(
        slug_types(&anon_after_third),
        pairs(&expected[3..], true),
        "anonymous after a draft's seq"
    );
}

#[actix_web::test]
async fn bad_feed_parameters_are_422_problems_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("wait=31", "wait"),
        ("after=-1", "after"),
        ("types=talk.bogus", "types"),
        ("types=talk.created,talk.bogus", "types"),
    ] {
        for token in [None, Some(token.as_str())] {
            let reply = call(
                &app.address,
                "GET",
                &format!("/api/v1/changes?{query}"),
                token,
                None,
            )
            .await;
            assert_eq!(reply.status, 422, "{query}: {}", reply.body);
            assert_eq!(
                reply.header("content-type"),
                "application/problem+json",
                "{query}"
            );
            assert_eq!(reply.body["status"], 422, "{query}: {}", reply.body);
            assert!(reply.body["title"].is_string() && reply.body["type"].is_string());
            let errors = reply.body["errors"].as_array().unwrap_or_else(|| {
                panic!("{query}: no errors: {}", reply.body);
            });
            assert!(
                errors.iter().any(|e| e["path"] == parameter),
                "{query}: {} is not named: {}",
                parameter,
                reply.body
            );
        }
    }
    // The limits themselves are fine.
    for query in ["limit=1", "limit=500", "wait=0", "after=0", "types="] {
        page(&app.address, None, query).await;
    }
    // A token that is not one is refused, not taken as anonymous.
    let reply = call(
        &app.address,
        "GET",
        "/api/v1/changes",
        Some("not-a-token"),
        None,
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------
// 2. Long polling

/// The `wait` of the long polls that an event ends: the longest allowed, so that a loaded
/// machine cannot make an answer that came with the event look like one that waited it out.
const LONG_WAIT_SECONDS: u64 = 30;

/// A long poll that an event ended answered well before its wait was over.
#[track_caller]
fn assert_answered_before_the_wait(elapsed: Duration) {
    assert!(
        elapsed < Duration::from_secs(LONG_WAIT_SECONDS - 5),
        "the long poll waited out its wait ({elapsed:?}) instead of answering with the event"
    );
}

#[actix_web::test]
async fn a_long_poll_answers_as_soon_as_an_event_arrives() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    create(&app.address, &token, "first").await;
    let last = feed_after(&app.address, Some(&token), 0, "").await;
    let after = *seqs(&last).last().unwrap();

    // A writer in another task, ~300 ms after the poll went out.
    let writer = {
        let (address, token) = (app.address.clone(), token.clone());
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
            create(&address, &token, "second").await;
        })
    };
    let started = Instant::now();
    let reply = page(
        &app.address,
        Some(&token),
        &format!("after={after}&wait={LONG_WAIT_SECONDS}"),
    )
    .await;
    let elapsed = started.elapsed();
    writer.await.unwrap();
    assert_answered_before_the_wait(elapsed);
    assert_eq!(
        slug_types(reply.body["data"].as_array().unwrap()),
        [("second".to_owned(), "talk.created".to_owned())],
        "{}",
        reply.body
    );
    assert!(reply.body["next_after"].as_i64().unwrap() > after);
    assert_eq!(reply.body["has_more"], false);
}

#[actix_web::test]
async fn an_anonymous_long_poll_waits_past_draft_events_for_a_public_one() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    create(&app.address, &token, "seed").await;
    let after = *seqs(&feed_after(&app.address, Some(&token), 0, "").await)
        .last()
        .unwrap();

    // A draft first (invisible: the poll must go on waiting), then its publication.
    let writer = {
        let (address, token) = (app.address.clone(), token.clone());
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
            create(&address, &token, "later").await;
            publish(&address, &token, "later").await;
        })
    };
    let started = Instant::now();
    let reply = page(
        &app.address,
        None,
        &format!("after={after}&wait={LONG_WAIT_SECONDS}"),
    )
    .await;
    let elapsed = started.elapsed();
    writer.await.unwrap();
    assert_answered_before_the_wait(elapsed);
    assert_eq!(
        slug_types(reply.body["data"].as_array().unwrap()),
        [("later".to_owned(), "talk.published".to_owned())],
        "{}",
        reply.body
    );
}

#[actix_web::test]
async fn a_long_poll_with_nothing_new_ends_empty_after_its_wait() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    create(&app.address, &token, "only").await;
    let after = *seqs(&feed_after(&app.address, Some(&token), 0, "").await)
        .last()
        .unwrap();
    for token in [Some(token.as_str()), None] {
        let started = Instant::now();
        let reply = page(&app.address, token, &format!("after={after}&wait=1")).await;
        let elapsed = started.elapsed();
        // The wait is kept; the bound above it only says that the request ends.
        assert!(elapsed >= Duration::from_millis(900), "took {elapsed:?}");
        assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
        assert_eq!(reply.body["data"], json!([]), "{}", reply.body);
        assert_eq!(reply.body["next_after"], after);
        assert_eq!(reply.body["has_more"], false);
    }
    // Without `wait`, an empty page comes at once: not with an event written seconds later.
    let writer = {
        let (address, token) = (app.address.clone(), token.clone());
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_secs(5)).await;
            create(&address, &token, "later").await;
        })
    };
    let reply = page(&app.address, Some(&token), &format!("after={after}")).await;
    assert_eq!(reply.body["data"], json!([]), "{}", reply.body);
    writer.await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3. GraphQL `changes`

const CHANGES: &str = "query($after: ID, $first: Int!, $types: [ChangeType!]) {
    changes(after: $after, first: $first, types: $types) {
        events { seq id type aggregateId version actor occurredAt state }
        nextCursor hasMore
    }
}";

/// Walks `changes` two at a time from the first.
async fn graphql_walk(app: &TestApp, token: Option<&str>, types: Value) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let (status, body) = app
            .graphql_as(
                token,
                CHANGES,
                json!({"after": after, "first": 2, "types": types}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        let page = &body["data"]["changes"];
        let data = page["events"].as_array().unwrap();
        assert!(data.len() <= 2, "{body}");
        let next = page["nextCursor"].as_str().unwrap().to_owned();
        let expected_next = data.last().map_or_else(
            || after.clone().unwrap_or_else(|| "0".into()),
            |e| e["seq"].as_str().unwrap().to_owned(),
        );
        assert_eq!(next, expected_next, "{body}");
        events.extend(data.iter().cloned());
        if page["hasMore"] == true {
            assert_eq!(data.len(), 2);
            after = Some(next);
        } else {
            assert_eq!(page["hasMore"], false, "{body}");
            return events;
        }
    }
    panic!("the walk does not end");
}

#[actix_web::test]
async fn graphql_changes_pages_the_same_events_as_rest() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    write_mix(&app.address, &token).await;

    for token in [Some(token.as_str()), None] {
        let rest = walk(&app.address, token, "").await;
        let graphql = graphql_walk(&app, token, Value::Null).await;
        assert_eq!(
            graphql.iter().map(graphql_key).collect::<Vec<_>>(),
            rest.iter().map(rest_key).collect::<Vec<_>>(),
            "with token: {}",
            token.is_some()
        );
        for (g, r) in graphql.iter().zip(&rest) {
            assert_eq!(g["state"], r["data"], "the same sanitized state");
            assert_eq!(g["actor"], r["actor"]);
        }
    }
    assert_eq!(walk(&app.address, None, "").await.len(), 7);
    assert_eq!(walk(&app.address, Some(&token), "").await.len(), 13);

    // The type filter, with and without a token.
    for token in [Some(token.as_str()), None] {
        let rest = walk(&app.address, token, "&types=talk.deleted,talk.unpublished").await;
        let graphql = graphql_walk(&app, token, json!(["TALK_DELETED", "TALK_UNPUBLISHED"])).await;
        assert!(!rest.is_empty());
        assert_eq!(
            graphql.iter().map(graphql_key).collect::<Vec<_>>(),
            rest.iter().map(rest_key).collect::<Vec<_>>()
        );
    }

    // A whole page at once, from a cursor (few fields: 500 events of every field would be
    // refused as too complex).
    let rest = walk(&app.address, Some(&token), "").await;
    let third = rest[2]["seq"].as_i64().unwrap().to_string();
    let seqs_only = "query($after: ID, $first: Int!) { changes(after: $after, first: $first) { events { seq } nextCursor hasMore } }";
    let (_, body) = app
        .graphql_as(
            Some(&token),
            seqs_only,
            json!({"after": third, "first": 500}),
        )
        .await;
    let page = &body["data"]["changes"];
    assert_eq!(page["hasMore"], false, "{body}");
    assert_eq!(
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_str().unwrap().parse::<i64>().unwrap())
            .collect::<Vec<_>>(),
        seqs(&rest[3..])
    );
    // Past the end: empty, the cursor stays.
    let last = rest.last().unwrap()["seq"].as_i64().unwrap().to_string();
    let (_, body) = app
        .graphql_as(Some(&token), CHANGES, json!({"after": last, "first": 2}))
        .await;
    assert_eq!(body["data"]["changes"]["events"], json!([]), "{body}");
    assert_eq!(body["data"]["changes"]["nextCursor"], last.as_str());
    assert_eq!(body["data"]["changes"]["hasMore"], false);

    // Bad arguments are refused.
    for (variables, code) in [
        (json!({"after": "-1", "first": 2}), "BAD_USER_INPUT"),
        (json!({"after": "x", "first": 2}), "BAD_USER_INPUT"),
        (json!({"first": -1}), "BAD_USER_INPUT"),
        (json!({"first": 0}), "BAD_USER_INPUT"),
        // The same rule as REST's `limit` (1 to 500), named as GraphQL calls it.
        (json!({"first": 501}), "BAD_USER_INPUT"),
    ] {
        let (_, body) = app
            .graphql_as(Some(&token), seqs_only, variables.clone())
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], code,
            "{variables}: {body}"
        );
        assert!(body["data"].is_null(), "{variables}: {body}");
        if variables["first"] != 2 {
            assert_eq!(
                body["errors"][0]["extensions"]["fields"][0]["path"], "first",
                "{variables}: {body}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The subscription over graphql-transport-ws

/// A websocket as awc gives it.
trait Socket:
    Stream<Item = Result<ws::Frame, WsProtocolError>>
    + Sink<ws::Message, Error = WsProtocolError>
    + Unpin
{
}

impl<T> Socket for T where
    T: Stream<Item = Result<ws::Frame, WsProtocolError>>
        + Sink<ws::Message, Error = WsProtocolError>
        + Unpin
{
}

/// What the server sends.
#[derive(Debug)]
enum Incoming {
    Message(Value),
    /// A close frame's code and description, or the connection ending without one.
    Closed(Option<u16>, String),
}

const TALK_CHANGES: &str = "subscription($after: ID, $types: [ChangeType!]) {
    talkChanges(after: $after, types: $types) { seq type aggregateId version id }
}";

/// One `graphql-transport-ws` connection, with one subscription (`id` "1") on it.
struct Subscriber<S> {
    socket: S,
    /// The seq of the last event received, to check the order as events arrive.
    last: i64,
}

/// A websocket on `/graphql`, with a bearer token on the upgrade request when there is one.
async fn open(address: &str, header_token: Option<&str>) -> impl Socket {
    let mut request = awc::Client::new()
        .ws(format!("{address}/graphql"))
        .protocols(["graphql-transport-ws"]);
    if let Some(token) = header_token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let (response, socket) = request
        .connect()
        .await
        .expect("the websocket upgrade failed");
    assert_eq!(response.status().as_u16(), 101);
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws")
    );
    socket
}

async fn send(socket: &mut impl Socket, message: Value) {
    socket
        .send(ws::Message::Text(message.to_string().into()))
        .await
        .expect("cannot send on the websocket");
}

/// The next message, answering pings; panics after [`PATIENCE`].
async fn receive(socket: &mut impl Socket) -> Incoming {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = actix_web::rt::time::timeout(left, socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing arrived within {PATIENCE:?}"));
        match frame {
            None => return Incoming::Closed(None, "the stream ended".into()),
            Some(Err(e)) => return Incoming::Closed(None, e.to_string()),
            Some(Ok(ws::Frame::Text(bytes))) => {
                let message: Value = serde_json::from_slice(&bytes).unwrap();
                if message["type"] == "ping" {
                    send(socket, json!({"type": "pong"})).await;
                    continue;
                }
                return Incoming::Message(message);
            }
            Some(Ok(ws::Frame::Close(reason))) => {
                return Incoming::Closed(
                    reason.as_ref().map(|r| u16::from(r.code)),
                    reason.and_then(|r| r.description).unwrap_or_default(),
                );
            }
            Some(Ok(ws::Frame::Ping(bytes))) => {
                socket.send(ws::Message::Pong(bytes)).await.unwrap();
            }
            Some(Ok(_)) => {}
        }
    }
}

/// A connection acknowledged after `connection_init` (with the token when there is one),
/// subscribed to `talkChanges(after, types)`.
async fn subscribe(
    address: &str,
    token: Option<&str>,
    after: Option<i64>,
    types: Option<&[&str]>,
) -> Subscriber<impl Socket> {
    subscribe_with(
        address,
        None,
        token,
        json!(after.map(|s| s.to_string())),
        types,
    )
    .await
}

/// The same, with a token on the upgrade request too, and any `after`.
async fn subscribe_with(
    address: &str,
    header_token: Option<&str>,
    token: Option<&str>,
    after: Value,
    types: Option<&[&str]>,
) -> Subscriber<impl Socket> {
    subscribe_to(
        address,
        header_token,
        token,
        TALK_CHANGES,
        json!({ "after": after, "types": types }),
    )
    .await
}

/// A connection acknowledged after `connection_init`, subscribed with any query.
async fn subscribe_to(
    address: &str,
    header_token: Option<&str>,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Subscriber<impl Socket> {
    let mut socket = open(address, header_token).await;
    let payload = match token {
        Some(token) => json!({"Authorization": format!("Bearer {token}")}),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    match receive(&mut socket).await {
        Incoming::Message(m) if m["type"] == "connection_ack" => {}
        other => panic!("no connection_ack: {other:?}"),
    }
    send(
        &mut socket,
        json!({
            "id": "1",
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }),
    )
    .await;
    Subscriber { socket, last: 0 }
}

impl<S: Socket> Subscriber<S> {
    /// The next event; checks that its seq is past the last one's.
    async fn next(&mut self) -> Value {
        match receive(&mut self.socket).await {
            Incoming::Message(m) if m["type"] == "next" && m["id"] == "1" => {
                assert!(m["payload"].get("errors").is_none(), "{m}");
                let event = m["payload"]["data"]["talkChanges"].clone();
                let seq: i64 = event["seq"].as_str().unwrap().parse().unwrap();
                assert!(
                    seq > self.last,
                    "seq {seq} after {}: out of order or twice",
                    self.last
                );
                self.last = seq;
                event
            }
            other => panic!("expected an event: {other:?}"),
        }
    }

    /// Events until the one with seq `last` (included).
    async fn until(&mut self, last: i64) -> Vec<Value> {
        let mut events = Vec::new();
        while self.last < last {
            events.push(self.next().await);
        }
        assert_eq!(self.last, last, "the event {last} was skipped");
        events
    }
}

fn keys_graphql(events: &[Value]) -> Vec<Key> {
    events.iter().map(graphql_key).collect()
}

fn keys_rest(events: &[Value]) -> Vec<Key> {
    events.iter().map(rest_key).collect()
}

fn last_seq(events: &[Value]) -> i64 {
    events.last().unwrap()["seq"].as_i64().unwrap()
}

#[actix_web::test]
async fn a_subscription_replays_missed_events_then_follows_live_ones() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    let address = app.address.as_str();
    // Before anyone subscribes.
    create(address, &token, "a").await;
    publish(address, &token, "a").await;
    create(address, &token, "b").await;
    create(address, &token, "c").await;
    publish(address, &token, "c").await;
    let before = feed_after(address, Some(&token), 0, "").await;
    assert_eq!(before.len(), 5);
    let from = before[0]["seq"].as_i64().unwrap();

    let mut editor_sub = subscribe(address, Some(&token), Some(from), None).await;
    let mut anonymous = subscribe(address, None, Some(from), None).await;
    let mut creations = subscribe(
        address,
        Some(&token),
        Some(from),
        Some(&["TALK_CREATED", "TALK_DELETED"]),
    )
    .await;

    // The missed events come first: with them read, each subscription is following.
    let missed = editor_sub.until(last_seq(&before)).await;
    assert_eq!(keys_graphql(&missed), keys_rest(&before[1..]));
    let missed_public = anonymous.until(last_seq(&before)).await;
    assert_eq!(
        keys_graphql(&missed_public),
        keys_rest(&[before[1].clone(), before[4].clone()])
    );
    let missed_creations = creations.until(before[3]["seq"].as_i64().unwrap()).await;
    assert_eq!(keys_graphql(&missed_creations), keys_rest(&before[2..4]));

    // Live: drafts and public changes mixed, a draft last.
    publish(address, &token, "b").await;
    create(address, &token, "d").await;
    delete(address, &token, "d").await;
    retitle(address, &token, "a", "A, retitled").await;
    unpublish(address, &token, "c").await;
    create(address, &token, "e").await;

    let live = feed_after(address, Some(&token), last_seq(&before), "").await;
    assert_eq!(live.len(), 6);
    let got = editor_sub.until(last_seq(&live)).await;
    assert_eq!(keys_graphql(&got), keys_rest(&live));

    let live_public = feed_after(address, None, last_seq(&before), "").await;
    assert_eq!(
        slug_types(&live_public),
        [
            ("b", "talk.published"),
            ("a", "talk.updated"),
            ("c", "talk.unpublished")
        ]
        .map(|(s, t)| (s.to_owned(), t.to_owned()))
    );
    let got_public = anonymous.until(last_seq(&live_public)).await;
    assert_eq!(keys_graphql(&got_public), keys_rest(&live_public));

    let live_creations = feed_after(
        address,
        Some(&token),
        before[3]["seq"].as_i64().unwrap(),
        "&types=talk.created,talk.deleted",
    )
    .await;
    assert_eq!(live_creations.len(), 3, "d created and deleted, e created");
    let got_creations = creations.until(last_seq(&live_creations)).await;
    assert_eq!(keys_graphql(&got_creations), keys_rest(&live_creations));

    // A public marker: the next thing each receives, so nothing else (no draft for the
    // anonymous one, no repeat for any) came in between.
    publish(address, &token, "e").await;
    let marker = feed_after(address, Some(&token), last_seq(&live), "").await;
    assert_eq!(marker.len(), 1);
    assert_eq!(keys_graphql(&[editor_sub.next().await]), keys_rest(&marker));
    assert_eq!(keys_graphql(&[anonymous.next().await]), keys_rest(&marker));
    delete(address, &token, "b").await;
    let deleted = feed_after(address, Some(&token), last_seq(&marker), "").await;
    assert_eq!(
        keys_graphql(&[creations.next().await]),
        keys_rest(&deleted),
        "the filtered subscription skipped the publish"
    );
}

#[actix_web::test]
async fn subscribers_get_each_event_as_their_own_selection_asks() {
    // Subscribers with the same selection share one resolution of each event; those whose
    // selections differ (in fields, fragments, aliases or the variables they use) must each
    // get their own.
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    let address = app.address.as_str();
    let conditional = "subscription($full: Boolean!, $after: ID) { talkChanges(after: $after) \
        { seq version actor state @include(if: $full) } }";
    let fragment = "subscription($after: ID) { talkChanges(after: $after) { ...Head } } \
        fragment Head on ChangeEvent { seq v: version }";
    let other_fragment = "subscription($after: ID) { talkChanges(after: $after) { ...Head } } \
        fragment Head on ChangeEvent { seq type }";
    let mut subscribers = Vec::new();
    for (query, variables) in [
        (
            "subscription($after: ID) { talkChanges(after: $after) { seq version } }",
            json!({ "after": "0" }),
        ),
        (conditional, json!({ "full": true, "after": "0" })),
        (conditional, json!({ "full": false, "after": "0" })),
        (conditional, json!({ "full": true, "after": "0" })),
        (fragment, json!({ "after": "0" })),
        (other_fragment, json!({ "after": "0" })),
    ] {
        subscribers.push(subscribe_to(address, None, Some(&token), query, variables).await);
    }
    // The first event may reach a subscriber from the database or live; once every one has
    // it, the second reaches them all live, resolved once per selection.
    create(address, &token, "first").await;
    for subscriber in &mut subscribers {
        subscriber.next().await;
    }
    create(address, &token, "selected").await;
    let written = feed_after(address, Some(&token), 0, "").await;
    assert_eq!(written.len(), 2);
    let seq = last_seq(&written).to_string();
    let mut received = Vec::new();
    for subscriber in &mut subscribers {
        received.push(subscriber.next().await);
    }
    let fields = |event: &Value| {
        let mut keys: Vec<String> = event.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys.join(" ")
    };
    assert_eq!(fields(&received[0]), "seq version");
    assert_eq!(fields(&received[1]), "actor seq state version");
    assert_eq!(fields(&received[2]), "actor seq version");
    assert_eq!(fields(&received[3]), "actor seq state version");
    assert_eq!(fields(&received[4]), "seq v");
    assert_eq!(fields(&received[5]), "seq type");
    for event in &received {
        assert_eq!(event["seq"], json!(seq));
    }
    assert_eq!(received[1]["state"]["talk"]["slug"], "selected");
    assert_eq!(received[1], received[3]);
    assert_eq!(received[4]["v"], 1);
    assert_eq!(received[5]["type"], "talk.created");
}

/// A way of selecting each event, written into a subscription and into the same query.
struct Selection {
    /// Definitions of the variables the selection uses, after `$after: ID`.
    definitions: &'static str,
    fields: &'static str,
    fragments: &'static str,
    variables: Value,
}

impl Selection {
    /// `talkChanges` from the first event, under `alias` when there is one.
    fn subscription(&self, alias: Option<&str>) -> String {
        let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
        format!(
            "subscription Live($after: ID{}) {{ {alias}talkChanges(after: $after) {{ {} }} }} {}",
            self.definitions, self.fields, self.fragments
        )
    }

    /// Every event as the `changes` query resolves it, with the same selection.
    fn query(&self) -> String {
        format!(
            "query Same($after: ID{}) {{ changes(after: $after, first: 500) {{ events {{ {} }} }} }} {}",
            self.definitions, self.fields, self.fragments
        )
    }

    fn variables(&self) -> Value {
        let mut variables = self.variables.clone();
        variables["after"] = json!("0");
        variables
    }
}

/// One subscription of the test below: its connection, its id there, the alias of its field
/// and its selection.
struct Live {
    connection: usize,
    id: &'static str,
    alias: Option<&'static str>,
    selection: usize,
}

impl Live {
    fn key(&self) -> &'static str {
        self.alias.unwrap_or("talkChanges")
    }
}

/// How many events there are: for the editor, and for a reader without a token.
async fn visible(address: &str, token: &str) -> (usize, usize) {
    (
        feed_after(address, Some(token), 0, "").await.len(),
        feed_after(address, None, 0, "").await.len(),
    )
}

/// Reads the connections' messages until every subscription has `wanted` of them (by its
/// connection's audience); each is checked to be JSON, without errors, for a known id.
async fn read_until(
    sockets: &mut [impl Socket],
    subscriptions: &[Live],
    received: &mut [Vec<Value>],
    wanted: impl Fn(usize) -> usize,
) {
    for (connection, socket) in sockets.iter_mut().enumerate() {
        let mine = || {
            subscriptions
                .iter()
                .enumerate()
                .filter(move |(_, live)| live.connection == connection)
        };
        while mine().any(|(i, live)| received[i].len() < wanted(live.connection)) {
            let message = match receive(socket).await {
                Incoming::Message(m) if m["type"] == "next" => m,
                other => panic!("connection {connection}: expected an event: {other:?}"),
            };
            assert!(message["payload"].get("errors").is_none(), "{message}");
            let (i, live) = mine()
                .find(|(_, live)| message["id"] == live.id)
                .unwrap_or_else(|| panic!("connection {connection}: {message}"));
            let data = message["payload"]["data"].as_object().unwrap();
            assert_eq!(data.len(), 1, "{message}");
            received[i].push(data[live.key()].clone());
        }
    }
}

#[actix_web::test]
async fn every_subscription_message_is_the_json_a_fresh_resolution_gives() {
    // Messages are spliced from JSON text written once per event and selection. Whatever the
    // selection (fields, aliases, fragments, directives), however many subscriptions share it
    // on a connection or across connections, and whatever the titles hold, each message
    // carries exactly what the `changes` query resolves for the same event and selection.
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    let address = app.address.as_str();

    // A title cannot hold the NUL a placeholder starts with; these are as close as one gets.
    let nul = json!({ "slug": "nul", "title": "\u{0}lectern-splice-0-0", "date": "2026-11-26" });
    let refused = call(address, "POST", "/api/v1/talks", Some(&token), Some(nul)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let lookalikes = [
        "\\u0000lectern-splice-0123456789abcdef0123456789abcdef-0",
        "\"\\u0000lectern-splice-0123456789abcdef0123456789abcdef-1\"",
        "\\\"\\u0000lectern-splice-\\\" and \\\\u0000lectern-splice-2",
    ];

    // Events from before the subscriptions: they reach them from the database.
    create(address, &token, "early").await;
    retitle(address, &token, "early", lookalikes[0]).await;
    publish(address, &token, "early").await;

    let selections = [
        Selection {
            definitions: "",
            fields: "seq version type state",
            fragments: "",
            variables: json!({}),
        },
        Selection {
            definitions: "",
            fields: "...Head n: seq ... on ChangeEvent { kind: type __typename }",
            fragments: "fragment Head on ChangeEvent { seq id aggregateId state v: version }",
            variables: json!({}),
        },
        Selection {
            definitions: ", $full: Boolean!",
            fields: "seq actor occurredAt state @include(if: $full) type @skip(if: $full)",
            fragments: "",
            variables: json!({ "full": true }),
        },
        Selection {
            definitions: ", $full: Boolean!",
            fields: "seq actor occurredAt state @include(if: $full) type @skip(if: $full)",
            fragments: "",
            variables: json!({ "full": false }),
        },
    ];
    // Connections 0, 1 and 3 with the editor's token, 2 without.
    let tokens = [Some(token.as_str()), Some(&token), None, Some(&token)];
    let subscriptions = [
        (0, "1", None, 0),
        (0, "2", Some("live"), 0),
        (0, "3", None, 1),
        (1, "1", None, 0),
        (1, "2", Some("full"), 2),
        (1, "3", Some("partial"), 3),
        (2, "1", None, 0),
        (2, "2", Some("head"), 1),
        (3, "1", None, 2),
        (3, "2", None, 1),
    ]
    .map(|(connection, id, alias, selection)| Live {
        connection,
        id,
        alias,
        selection,
    });
    let mut sockets = Vec::new();
    for token in tokens {
        let mut socket = open(address, None).await;
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        match receive(&mut socket).await {
            Incoming::Message(m) if m["type"] == "connection_ack" => {}
            other => panic!("no connection_ack: {other:?}"),
        }
        sockets.push(socket);
    }
    for live in &subscriptions {
        let selection = &selections[live.selection];
        send(
            &mut sockets[live.connection],
            json!({
                "id": live.id,
                "type": "subscribe",
                "payload": {
                    "query": selection.subscription(live.alias),
                    "variables": selection.variables(),
                },
            }),
        )
        .await;
    }
    let mut received = vec![Vec::new(); subscriptions.len()];
    let (all, public) = visible(address, &token).await;
    assert_eq!((all, public), (3, 1));
    let wanted = |all, public| {
        move |connection: usize| {
            if tokens[connection].is_some() {
                all
            } else {
                public
            }
        }
    };
    read_until(
        &mut sockets,
        &subscriptions,
        &mut received,
        wanted(all, public),
    )
    .await;

    // Live events, drafts and public ones, with titles like placeholders.
    create(address, &token, "late").await;
    retitle(address, &token, "late", lookalikes[1]).await;
    publish(address, &token, "late").await;
    retitle(address, &token, "early", lookalikes[2]).await;
    retitle(address, &token, "late", "Plain again").await;
    unpublish(address, &token, "early").await;
    create(address, &token, "gone").await;
    delete(address, &token, "gone").await;
    delete(address, &token, "late").await;
    let (all, public) = visible(address, &token).await;
    assert_eq!((all, public), (12, 6));
    read_until(
        &mut sockets,
        &subscriptions,
        &mut received,
        wanted(all, public),
    )
    .await;

    for (live, got) in subscriptions.iter().zip(&received) {
        let selection = &selections[live.selection];
        let (status, body) = app
            .graphql_as(
                tokens[live.connection],
                &selection.query(),
                selection.variables(),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        let expected = body["data"]["changes"]["events"].as_array().unwrap();
        assert_eq!(got.len(), expected.len());
        for (got, expected) in got.iter().zip(expected) {
            // Compared as text: the order of the fields counts too.
            assert_eq!(
                got.to_string(),
                expected.to_string(),
                "connection {}, subscription {}",
                live.connection,
                live.id
            );
        }
    }
    let titles: Vec<&str> = received[0]
        .iter()
        .filter_map(|event| event["state"]["talk"]["title"].as_str())
        .collect();
    for lookalike in lookalikes {
        assert!(titles.contains(&lookalike), "{titles:?}");
    }
}

#[actix_web::test]
async fn a_subscription_opened_while_writes_commit_has_no_gap_and_no_repeat() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    create(&app.address, &token, "t0").await;
    let writer = {
        let (address, token) = (app.address.clone(), token.clone());
        actix_web::rt::spawn(async move {
            for i in 1..=15 {
                let slug = format!("t{i}");
                create(&address, &token, &slug).await;
                if i % 3 == 0 {
                    publish(&address, &token, &slug).await;
                }
            }
        })
    };
    // Subscribed from the first event while the writer goes on.
    let mut subscribers = Vec::new();
    for _ in 0..3 {
        subscribers.push(subscribe(&app.address, Some(&token), Some(0), None).await);
    }
    let mut anonymous = subscribe(&app.address, None, Some(0), None).await;
    writer.await.unwrap();

    let all = feed_after(&app.address, Some(&token), 0, "").await;
    assert_eq!(all.len(), 21);
    for subscriber in &mut subscribers {
        let got = subscriber.until(last_seq(&all)).await;
        assert_eq!(keys_graphql(&got), keys_rest(&all));
    }
    let public = feed_after(&app.address, None, 0, "").await;
    assert_eq!(public.len(), 5);
    let got = anonymous.until(last_seq(&public)).await;
    assert_eq!(keys_graphql(&got), keys_rest(&public));

    // Nothing more was pending: the next event is the next write.
    publish(&app.address, &token, "t1").await;
    let marker = feed_after(&app.address, Some(&token), last_seq(&all), "").await;
    for subscriber in &mut subscribers {
        assert_eq!(keys_graphql(&[subscriber.next().await]), keys_rest(&marker));
    }
    assert_eq!(keys_graphql(&[anonymous.next().await]), keys_rest(&marker));
}

/// The upgrade request of a websocket on `/graphql`, sent as plain HTTP so that a refusal's
/// status, headers and body can be read.
async fn upgrade_request(app: &TestApp, token: &str) -> crate::support::Reply {
    crate::support::request(
        app,
        "GET",
        "/graphql",
        Some(&format!("Bearer {token}")),
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Protocol", "graphql-transport-ws"),
        ],
        None,
    )
    .await
}

/// A query sent over a websocket meets the same checks as over HTTP, with the same codes: the
/// depth limit, parsing, validation (variables included), the choice of operation. Each
/// refusal is an error of that subscription, which completes; the connection stays open.
#[actix_web::test]
async fn queries_over_a_websocket_are_checked_and_coded_as_over_http() {
    let app = TestApp::spawn().await;
    let too_deep = format!(
        "{{ __type(name: \"Talk\") {{ fields {{ type {{ {} name {} }} }} }} }}",
        "ofType { ".repeat(21),
        "} ".repeat(21)
    );
    let cases = [
        (
            too_deep.as_str(),
            json!({}),
            "LIMIT_EXCEEDED",
            "nested too deep",
        ),
        (
            "subscription { talkChanges { noSuchField } }",
            json!({}),
            "BAD_USER_INPUT",
            "noSuchField",
        ),
        (
            "query A { __typename } query B { __typename }",
            json!({}),
            "BAD_USER_INPUT",
            "operationName",
        ),
        (
            "subscription { talkChanges(",
            json!({}),
            "BAD_USER_INPUT",
            "",
        ),
        (
            "subscription($types: [ChangeType!]) { talkChanges(types: $types) { seq } }",
            json!({ "types": ["NO_SUCH_TYPE"] }),
            "BAD_USER_INPUT",
            "NO_SUCH_TYPE",
        ),
    ];
    for (query, variables, code, words) in cases {
        let mut refused = subscribe_to(&app.address, None, None, query, variables).await;
        match receive(&mut refused.socket).await {
            Incoming::Message(m) if m["type"] == "next" && m["id"] == "1" => {
                let error = &m["payload"]["errors"][0];
                assert_eq!(error["extensions"]["code"], code, "{query}: {m}");
                let message = error["message"].as_str().unwrap_or_default();
                assert!(message.contains(words), "{query}: {m}");
            }
            other => panic!("{query}: {other:?}"),
        }
        match receive(&mut refused.socket).await {
            Incoming::Message(m) if m["type"] == "complete" && m["id"] == "1" => {}
            other => panic!("{query}: not completed: {other:?}"),
        }
        let typename = json!({"query": "{ __typename }"});
        send(
            &mut refused.socket,
            json!({"id": "2", "type": "subscribe", "payload": typename}),
        )
        .await;
        match receive(&mut refused.socket).await {
            Incoming::Message(m) if m["type"] == "next" && m["id"] == "2" => {
                assert_eq!(m["payload"]["data"]["__typename"], "Query", "{query}: {m}");
            }
            other => panic!("{query}: the connection did not go on: {other:?}"),
        }
    }
    // Subscriptions that pass the checks are served as ever.
    let mut good = subscribe(&app.address, None, Some(0), None).await;
    let token = editor(&app).await;
    create(&app.address, &token, "checked").await;
    publish(&app.address, &token, "checked").await;
    assert_eq!(good.next().await["type"], "talk.published");
}

/// A valid token that cannot be checked because the database is unavailable is an outage, not
/// a bad token: the upgrade is refused with 503 and `SERVICE_UNAVAILABLE`, and a
/// `connection_init` closes with 1013 (try again later); a bad token is still `UNAUTHENTICATED`.
#[actix_web::test]
async fn an_outage_while_checking_a_websocket_token_is_service_unavailable() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;

    let bad = upgrade_request(&app, "not-a-token").await;
    assert_eq!(bad.status, 401, "{}", bad.text());
    assert_eq!(
        bad.body["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert!(bad.header("www-authenticate").starts_with("Bearer "));

    // The app's own pool, closed: every query fails as when the database is down.
    app.connection.close_by_ref().await.expect("close the pool");

    let refused = upgrade_request(&app, &token).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE",
        "{}",
        refused.text()
    );
    assert_eq!(refused.header("retry-after"), "5");
    assert_eq!(refused.header("www-authenticate"), "");

    // Without a token on the upgrade request, the connection opens; its init names the token.
    let mut socket = open(&app.address, None).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    match receive(&mut socket).await {
        Incoming::Closed(Some(code), reason) => {
            assert_eq!(code, 1013, "closed with {code} {reason}");
            assert!(reason.starts_with("SERVICE_UNAVAILABLE: "), "{reason}");
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[actix_web::test]
async fn a_bad_token_in_connection_init_is_refused() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    create(&app.address, &token, "draft").await;

    for payload in [
        json!({"Authorization": "Bearer not-a-token"}),
        json!({"token": "not-a-token"}),
        // A token signed with another key.
        json!({"Authorization": format!("Bearer {}x", token)}),
    ] {
        let mut socket = open(&app.address, None).await;
        send(
            &mut socket,
            json!({"type": "connection_init", "payload": payload}),
        )
        .await;
        match receive(&mut socket).await {
            // async-graphql closes a graphql-transport-ws connection whose init is refused
            // with 1002; the protocol's own code for it is 4403.
            Incoming::Closed(Some(code), reason) => {
                assert!(
                    code == 4403 || code == 1002,
                    "{payload}: closed with {code} {reason}"
                );
                assert!(
                    reason.starts_with("UNAUTHENTICATED: ") && reason.len() > 17,
                    "{payload}: the close says why: {reason}"
                );
            }
            other => panic!("{payload}: not refused: {other:?}"),
        }
        let _ = socket
            .send(ws::Message::Text(
                json!({"id": "1", "type": "subscribe", "payload": {"query": TALK_CHANGES, "variables": {"after": "0"}}})
                    .to_string()
                    .into(),
            ))
            .await;
        // Nothing follows the refusal but the end of the connection.
        match actix_web::rt::time::timeout(PATIENCE, socket.next()).await {
            Ok(None | Some(Err(_)) | Some(Ok(ws::Frame::Close(_)))) => {}
            Ok(Some(Ok(frame))) => panic!("{payload}: after the refusal: {frame:?}"),
            Err(_) => panic!("{payload}: the refused connection stays open"),
        }
    }

    // A bad token on the upgrade request itself refuses the upgrade.
    let refused = awc::Client::new()
        .ws(format!("{}/graphql", app.address))
        .protocols(["graphql-transport-ws"])
        .header("Authorization", "Bearer not-a-token")
        .connect()
        .await;
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status.as_u16(), 401);
        }
        Err(e) => panic!("refused otherwise: {e}"),
        Ok((response, _)) => panic!("upgraded: {}", response.status()),
    }

    // Without the subprotocol: 400.
    let plain = awc::Client::new()
        .ws(format!("{}/graphql", app.address))
        .connect()
        .await;
    match plain {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status.as_u16(), 400);
        }
        Err(e) => panic!("refused otherwise: {e}"),
        Ok((response, _)) => panic!("upgraded: {}", response.status()),
    }

    // The good token, in connection_init or on the upgrade request, sees the draft.
    publish(&app.address, &token, "draft").await;
    let mut editor_sub = subscribe(&app.address, Some(&token), Some(0), None).await;
    assert_eq!(editor_sub.next().await["type"], "talk.created");
    let mut by_header = subscribe_with(&app.address, Some(&token), None, json!("0"), None).await;
    assert_eq!(by_header.next().await["type"], "talk.created");
    let mut anonymous = subscribe(&app.address, None, Some(0), None).await;
    assert_eq!(anonymous.next().await["type"], "talk.published");

    // A cursor that is not a seq is an error of the subscription, not of the connection.
    for after in [json!("-1"), json!("x")] {
        let mut bad = subscribe_with(&app.address, None, Some(&token), after.clone(), None).await;
        // async-graphql sends a resolver's error as a `next` with errors, then `complete`.
        match receive(&mut bad.socket).await {
            Incoming::Message(m) if m["type"] == "next" && m["id"] == "1" => {
                let error = &m["payload"]["errors"][0];
                assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{m}");
                assert_eq!(error["extensions"]["fields"][0]["path"], "after", "{m}");
            }
            other => panic!("{after}: {other:?}"),
        }
        match receive(&mut bad.socket).await {
            Incoming::Message(m) if m["type"] == "complete" && m["id"] == "1" => {}
            other => panic!("{after}: not completed: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Writes of other processes

/// The app, reading the outbox when told of nothing every 250 ms on SQLite (the only way it
/// learns of other processes' writes there) and never within a test on PostgreSQL (where
/// only the database's notification can tell it).
async fn spawn_for_other_processes() -> TestApp {
    let db = tests::TestDb::new().await;
    let poll = match db.db.get_database_backend() {
        DbBackend::Postgres => Duration::from_secs(3600),
        _ => Duration::from_millis(250),
    };
    let connection = service::db::connect(&db.url)
        .await
        .expect("cannot open the test database");
    let settings = api::startup::Settings {
        addr: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        asset_base_url: None,
        cache_bytes: 32 * 1024 * 1024,
        cors_origins: Vec::new(),
        auth: test_auth(),
        events: api::startup::EventSettings {
            poll,
            ..Default::default()
        },
        ..Default::default()
    };
    let app = api::startup::Application::build_with(settings, connection.clone())
        .await
        .expect("the app does not start");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        connection,
    }
}

fn new_talk(slug: &str) -> NewTalk {
    NewTalk {
        slug: slug.into(),
        title: format!("Talk {slug}"),
        date: "2026-11-26".into(),
        body: "<p>Elsewhere</p>".into(),
        ..Default::default()
    }
}

/// Another process's writes: a talk created, published and retitled.
async fn other_process_writes(db: DatabaseConnection, slug: &'static str, publish: bool) {
    let record = editing::create_talk(&db, new_talk(slug), "elsewhere")
        .await
        .unwrap();
    let id = record.talk.id;
    let mut version = record.talk.version;
    if publish {
        version = editing::set_status(&db, id, entity::talk::Status::Published, "elsewhere")
            .await
            .unwrap()
            .talk
            .version;
    }
    let patch = TalkPatch {
        title: Some(format!("Talk {slug}, retitled")),
        ..Default::default()
    };
    editing::update_talk(&db, id, patch, version, "elsewhere")
        .await
        .unwrap();
}

#[actix_web::test]
async fn writes_of_other_processes_reach_subscribers_and_long_polls() {
    let app = spawn_for_other_processes().await;
    let token = editor(&app).await;
    create(&app.address, &token, "here").await;
    publish(&app.address, &token, "here").await;
    let before = feed_after(&app.address, Some(&token), 0, "").await;
    let mark = last_seq(&before);

    let mut editor_sub = subscribe(&app.address, Some(&token), Some(0), None).await;
    let mut anonymous = subscribe(&app.address, None, Some(0), None).await;
    // Following once the events so far are in.
    assert_eq!(
        keys_graphql(&editor_sub.until(mark).await),
        keys_rest(&before)
    );
    assert_eq!(
        keys_graphql(&anonymous.until(mark).await),
        keys_rest(&before[1..])
    );

    // A long poll waiting while the writes are made.
    let long_poll = {
        let (address, token) = (app.address.clone(), token.clone());
        actix_web::rt::spawn(async move {
            let started = Instant::now();
            let reply = page(
                &address,
                Some(&token),
                &format!("after={mark}&wait={LONG_WAIT_SECONDS}"),
            )
            .await;
            (started.elapsed(), reply.body)
        })
    };
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;

    // Two other processes: the test's own pool and one more, writing at the same time.
    let second = service::db::connect(&app.db.url).await.unwrap();
    let one = actix_web::rt::spawn(other_process_writes(app.db.db.clone(), "x", true));
    let two = actix_web::rt::spawn(other_process_writes(second, "y", false));
    one.await.unwrap();
    two.await.unwrap();

    let (elapsed, body) = long_poll.await.unwrap();
    assert_answered_before_the_wait(elapsed);
    let first = body["data"].as_array().unwrap();
    assert!(!first.is_empty(), "{body}");
    assert!(first.iter().all(|e| e["actor"] == "elsewhere"), "{body}");

    let written = feed_after(&app.address, Some(&token), mark, "").await;
    assert_eq!(written.len(), 5, "x: 3, y: 2");
    assert!(written.iter().all(|e| e["actor"] == "elsewhere"));
    let got = editor_sub.until(last_seq(&written)).await;
    assert_eq!(keys_graphql(&got), keys_rest(&written));

    let public = feed_after(&app.address, None, mark, "").await;
    assert_eq!(
        slug_types(&public),
        [("x", "talk.published"), ("x", "talk.updated")].map(|(s, t)| (s.to_owned(), t.to_owned()))
    );
    let got = anonymous.until(last_seq(&public)).await;
    assert_eq!(keys_graphql(&got), keys_rest(&public));

    // One more, alone, after both are idle: it arrives too, and nothing before it.
    let record = editing::create_talk(&app.db.db, new_talk("z"), "elsewhere")
        .await
        .unwrap();
    editing::set_status(
        &app.db.db,
        record.talk.id,
        entity::talk::Status::Published,
        "elsewhere",
    )
    .await
    .unwrap();
    let last = feed_after(&app.address, Some(&token), last_seq(&written), "").await;
    assert_eq!(last.len(), 2);
    assert_eq!(
        keys_graphql(&editor_sub.until(last_seq(&last)).await),
        keys_rest(&last)
    );
    assert_eq!(
        keys_graphql(&[anonymous.next().await]),
        keys_rest(&last[1..])
    );
}

// ---------------------------------------------------------------------------------------------
// Pruning

#[actix_web::test]
async fn a_cursor_held_across_a_prune_of_every_event_still_sees_new_ones() {
    let app = TestApp::spawn().await;
    let token = editor(&app).await;
    create(&app.address, &token, "old").await;
    publish(&app.address, &token, "old").await;
    let before = feed_after(&app.address, Some(&token), 0, "").await;
    let cursor = last_seq(&before);

    // Every event is old enough to go.
    let report = service::events::prune(
        &app.db.db,
        chrono::Utc::now() + chrono::Duration::seconds(60),
    )
    .await
    .unwrap();
    assert_eq!(report.deleted, 2);
    assert!(
        feed_after(&app.address, Some(&token), 0, "")
            .await
            .is_empty()
    );
    assert_eq!(service::events::last_seq(&app.db.db).await.unwrap(), 0);

    // A new event is numbered past every one given out before: a reader at `cursor` gets it.
    create(&app.address, &token, "new").await;
    let after = feed_after(&app.address, Some(&token), cursor, "").await;
    assert_eq!(
        slug_types(&after),
        [("new".to_owned(), "talk.created".to_owned())],
        "seqs were given out again after the prune"
    );
    assert!(last_seq(&after) > cursor);
}

#[actix_web::test]
async fn a_subscription_ends_when_its_account_is_disabled() {
    let app = TestApp::spawn_with_events(api::startup::EventSettings {
        token_recheck: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let token = editor(&app).await;
    let mut subscriber = subscribe(&app.address, Some(&token), None, None).await;
    create(&app.address, &token, "before-disabling").await;
    let event = subscriber.next().await;
    assert_eq!(event["type"], "talk.created");

    service::accounts::set_disabled(&app.db.db, "editor@example.com", true)
        .await
        .unwrap();
    // The next check refuses the token: an error, and the subscription is over.
    let refusal = loop {
        match receive(&mut subscriber.socket).await {
            Incoming::Message(m) if m["type"] == "next" && m["payload"].get("errors").is_some() => {
                break m;
            }
            Incoming::Message(m) if m["type"] == "next" => continue,
            other => panic!("expected the refusal: {other:?}"),
        }
    };
    assert_eq!(
        refusal["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refusal}"
    );
    match receive(&mut subscriber.socket).await {
        Incoming::Message(m) => assert_eq!(m["type"], "complete", "{m}"),
        other => panic!("expected complete: {other:?}"),
    }
}
