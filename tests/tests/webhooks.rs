//! Webhooks: signed deliveries in order, retries with backoff, failing endpoints and replay,
//! the attempt log, and the admin operations over GraphQL and REST.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use service::accounts::Role;
use sha2::Sha256;
use tests::receiver::{Delivery, Receiver};

use crate::support::TestApp;

const CREATE_TALK: &str =
    "mutation($input: CreateTalkInput!) { createTalk(input: $input) { id version } }";
const PUBLISH: &str = "mutation($id: ID!) { publishTalk(id: $id) { version } }";
const CREATE_WEBHOOK: &str = "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id state deliveredSeq } } }";
const WEBHOOK: &str = "query($id: ID!) { webhook(id: $id) { state deliveredSeq failedAttempts lastError attempts(first: 50) { eventSeq attempt statusCode delivered error durationMs } } }";

/// Retries after 100 ms, 200 ms…, at most `max_attempts`: a day squeezed into a test.
fn fast(max_attempts: u32) -> api::startup::EventSettings {
    api::startup::EventSettings {
        poll: Duration::from_millis(100),
        dispatch: api::dispatch::DispatchSettings {
            retry: service::webhooks::RetryPolicy {
                max_attempts,
                base: Duration::from_millis(100),
                cap: Duration::from_secs(1),
            },
            timeout: Duration::from_secs(2),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn new_talk(slug: &str) -> Value {
    json!({ "input": {
        "slug": slug, "title": "A talk", "date": "2026-11-26", "event": "Conf",
        "body": "<p>Hello<script>alert(1)</script></p>",
    }})
}

async fn create_talk(app: &TestApp, token: &str, slug: &str) -> String {
    let (_, body) = app
        .graphql_as(Some(token), CREATE_TALK, new_talk(slug))
        .await;
    body["data"]["createTalk"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn create_webhook(
    app: &TestApp,
    admin: &str,
    url: &str,
    events: &[&str],
) -> (String, String) {
    let (_, body) = app
        .graphql_as(
            Some(admin),
            CREATE_WEBHOOK,
            json!({ "input": { "url": url, "events": events } }),
        )
        .await;
    let created = &body["data"]["createWebhook"];
    (
        created["webhook"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// Checks a `Lectern-Signature` as a receiver would: HMAC-SHA256 of `t.body` with the secret.
fn verifies(secret: &str, signature: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut v1 = None;
    for part in signature.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(timestamp), Some(v1)) = (timestamp, v1) else {
        return false;
    };
    let Ok(expected) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn seqs(deliveries: &[Delivery]) -> Vec<i64> {
    deliveries
        .iter()
        .map(|d| d.json()["seq"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn deliveries_are_signed_in_order_and_carry_the_sanitized_state() {
    let app = TestApp::spawn_with_events(fast(12)).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let receiver = Receiver::start().await;
    let (_, secret) = create_webhook(&app, &admin, &receiver.url, &["talk.*"]).await;
    let id = create_talk(&app, &admin, "signed").await;
    app.graphql_as(Some(&admin), PUBLISH, json!({ "id": id }))
        .await;

    let deliveries = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    let (created, published) = (&deliveries[0], &deliveries[1]);
    assert_eq!(created.header("lectern-event-type"), "talk.created");
    assert_eq!(published.header("lectern-event-type"), "talk.published");
    assert!(seqs(&deliveries).windows(2).all(|w| w[0] < w[1]));
    for delivery in &deliveries {
        let body = delivery.json();
        assert_eq!(
            delivery.header("lectern-event-id"),
            body["id"].as_str().unwrap()
        );
        assert_eq!(delivery.header("content-type"), "application/json");
        assert_eq!(body["aggregate_id"], id.as_str());
        assert!(
            verifies(
                &secret,
                delivery.header("lectern-signature"),
                &delivery.body
            ),
            "{:?}",
            delivery.headers
        );
        // The state is served sanitized, as everywhere else.
        let html = body["data"]["talk"]["body"].as_str().unwrap();
        assert!(html.contains("Hello") && !html.contains("script"), "{html}");
    }
    assert_eq!(published.json()["version"], 2);
    assert_eq!(published.json()["data"]["talk"]["status"], "published");

    // A tampered body, or another secret, does not verify.
    let mut tampered = created.body.clone();
    let at = tampered.iter().position(|b| *b == b'2').unwrap();
    tampered[at] = b'3';
    assert!(!verifies(
        &secret,
        created.header("lectern-signature"),
        &tampered
    ));
    assert!(!verifies(
        "whsec_someone-else-entirely",
        created.header("lectern-signature"),
        &created.body
    ));

    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.deliveries().len(), 2);
}

#[actix_web::test]
async fn a_receiver_that_fails_twice_gets_the_event_three_times_then_no_more() {
    let app = TestApp::spawn_with_events(fast(12)).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let receiver = Receiver::start().await;
    receiver.refuse_next(2, 503);
    let (hook, _) = create_webhook(&app, &admin, &receiver.url, &["talk.*"]).await;
    create_talk(&app, &admin, "flaky").await;

    let deliveries = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 3);
    assert_eq!(
        deliveries.iter().map(|d| d.status).collect::<Vec<_>>(),
        [503, 503, 204]
    );
    assert!(deliveries.iter().all(|d| d.body == deliveries[0].body));
    assert_eq!(
        deliveries
            .iter()
            .map(|d| d.header("lectern-delivery-attempt"))
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.deliveries().len(),
        3,
        "delivered again after a 2xx"
    );

    // The attempt log says the same, newest first.
    let (_, body) = app
        .graphql_as(Some(&admin), WEBHOOK, json!({ "id": hook }))
        .await;
    let webhook = &body["data"]["webhook"];
    assert_eq!(webhook["state"], "ACTIVE", "{body}");
    assert_eq!(webhook["failedAttempts"], 0);
    let attempts = webhook["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{body}");
    assert_eq!(
        attempts
            .iter()
            .map(|a| (
                a["attempt"].as_i64().unwrap(),
                a["statusCode"].as_i64().unwrap(),
                a["delivered"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        [(3, 204, true), (2, 503, false), (1, 503, false)]
    );
    assert!(attempts[1]["error"].as_str().unwrap().contains("503"));
    assert_eq!(webhook["deliveredSeq"], attempts[0]["eventSeq"]);
}

#[actix_web::test]
async fn an_endpoint_is_marked_failing_after_its_last_attempt_and_replays_in_order() {
    let app = TestApp::spawn_with_events(fast(3)).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let receiver = Receiver::start().await;
    receiver.refuse_next(1000, 500);
    let (hook, _) = create_webhook(&app, &admin, &receiver.url, &["talk.*"]).await;
    create_talk(&app, &admin, "first").await;

    receiver.wait_for(3, Duration::from_secs(10)).await;
    let mut state = Value::Null;
    for _ in 0..50 {
        let (_, body) = app
            .graphql_as(Some(&admin), WEBHOOK, json!({ "id": hook }))
            .await;
        state = body["data"]["webhook"].clone();
        if state["state"] == "FAILING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["state"], "FAILING", "{state}");
    assert_eq!(state["failedAttempts"], 3);
    assert!(state["lastError"].as_str().unwrap().contains("500"));

    // Events keep coming, but nothing is sent to a failing endpoint.
    create_talk(&app, &admin, "second").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.deliveries().len(), 3);

    // The receiver is fixed; the admin replays from the first event.
    receiver.refuse_next(0, 500);
    let first_seq = receiver.deliveries()[0].json()["seq"].as_i64().unwrap();
    let (status, _, body) = app
        .send(
            "POST",
            &format!("/api/v1/webhooks/{hook}/replay"),
            Some(&admin),
            Some(json!({ "from_seq": first_seq })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "active");
    let deliveries = receiver.wait_for(5, Duration::from_secs(10)).await;
    let replayed = &deliveries[3..];
    assert_eq!(replayed.len(), 2);
    assert_eq!(replayed[0].json()["seq"].as_i64().unwrap(), first_seq);
    assert_eq!(replayed[1].header("lectern-event-type"), "talk.created");
    assert!(seqs(replayed)[0] < seqs(replayed)[1]);
}

#[actix_web::test]
async fn an_endpoint_gets_only_the_types_it_asked_for() {
    let app = TestApp::spawn_with_events(fast(12)).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let receiver = Receiver::start().await;
    create_webhook(&app, &admin, &receiver.url, &["talk.published"]).await;
    let everything = Receiver::start().await;
    create_webhook(&app, &admin, &everything.url, &["*"]).await;
    for slug in ["one", "two"] {
        let id = create_talk(&app, &admin, slug).await;
        app.graphql_as(Some(&admin), PUBLISH, json!({ "id": id }))
            .await;
    }
    let all = everything.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(all.len(), 4);
    let published = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(published.len(), 2);
    assert!(
        published
            .iter()
            .all(|d| d.header("lectern-event-type") == "talk.published")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.deliveries().len(), 2);
}

#[actix_web::test]
async fn webhooks_are_for_admins_and_inputs_are_checked() {
    let app = TestApp::spawn().await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let editor = app.user_token("editor@example.com", Role::Editor).await;
    let input = json!({ "url": "https://hooks.example.com/lectern", "events": ["talk.*"] });

    let (status, _, _) = app.send("GET", "/api/v1/webhooks", None, None).await;
    assert_eq!(status, 401);
    let (status, _, _) = app
        .send(
            "POST",
            "/api/v1/webhooks",
            Some(&editor),
            Some(input.clone()),
        )
        .await;
    assert_eq!(status, 403);
    let (_, body) = app
        .graphql_as(Some(&editor), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let (status, _, body) = app
        .send(
            "POST",
            "/api/v1/webhooks",
            Some(&admin),
            Some(json!({ "url": "ftp://x", "events": ["talk.renamed"], "secret": "short" })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["url", "events[0]", "secret"]);

    // A body is an object: an array is not read field by field.
    for (path, body) in [
        (
            "/api/v1/webhooks",
            json!(["https://hooks.example.com/a", ["talk.*"]]),
        ),
        ("/api/v1/talks", json!([])),
    ] {
        let (status, _, problem) = app.send("POST", path, Some(&admin), Some(body)).await;
        assert_eq!(status, 422, "{path}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("object"),
            "{problem}"
        );
    }
    let (status, _, problem) = app
        .send(
            "POST",
            "/api/v1/webhooks",
            Some(&admin),
            Some(json!({ "url": " https://hooks.example.com/a ", "events": ["talk.*"] })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["path"], "url");

    let (status, headers, created) = app
        .send("POST", "/api/v1/webhooks", Some(&admin), Some(input))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        headers.get("location").unwrap().to_str().unwrap(),
        format!("/api/v1/webhooks/{id}")
    );
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    // The secret is shown once.
    let (status, _, shown) = app
        .send("GET", &format!("/api/v1/webhooks/{id}"), Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    assert!(shown.get("secret").is_none(), "{shown}");

    let (status, _, paused) = app
        .send(
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            Some(&admin),
            Some(json!({ "paused": true, "description": "Site rebuild" })),
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["description"], "Site rebuild");
    // What an endpoint needs cannot be cleared; the description can.
    let (status, _, problem) = app
        .send(
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            Some(&admin),
            Some(json!({ "url": null, "events": null, "description": null })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let paths: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["url", "events"]);

    let (status, _, list) = app
        .send("GET", "/api/v1/webhooks", Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let (status, _, _) = app
        .send(
            "DELETE",
            &format!("/api/v1/webhooks/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _, _) = app
        .send("GET", &format!("/api/v1/webhooks/{id}"), Some(&admin), None)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn a_paused_endpoint_gets_what_it_missed_when_resumed() {
    let app = TestApp::spawn_with_events(fast(12)).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let receiver = Receiver::start().await;
    let (hook, _) = create_webhook(&app, &admin, &receiver.url, &["talk.*"]).await;
    let pause = |paused: bool| json!({ "id": hook, "input": { "paused": paused } });
    const UPDATE: &str = "mutation($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { state } }";
    let (_, body) = app.graphql_as(Some(&admin), UPDATE, pause(true)).await;
    assert_eq!(body["data"]["updateWebhook"]["state"], "PAUSED", "{body}");
    create_talk(&app, &admin, "while-paused").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.deliveries().is_empty());
    let (_, body) = app.graphql_as(Some(&admin), UPDATE, pause(false)).await;
    assert_eq!(body["data"]["updateWebhook"]["state"], "ACTIVE", "{body}");
    let deliveries = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].header("lectern-event-type"), "talk.created");
}

#[actix_web::test]
async fn pruning_keeps_the_events_a_webhook_has_not_been_given() {
    use service::sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn_with_events(api::startup::EventSettings {
        dispatch: api::dispatch::DispatchSettings {
            enabled: false,
            ..Default::default()
        },
        ..fast(12)
    })
    .await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    create_talk(&app, &admin, "old-delivered").await;
    let receiver = Receiver::start().await;
    create_webhook(&app, &admin, &receiver.url, &["talk.*"]).await;
    create_talk(&app, &admin, "old-undelivered").await;
    // Both events are a year old.
    let db = &app.db.db;
    let past = chrono::Utc::now() - chrono::Duration::days(365);
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE change_events SET occurred_at = $1",
        [past.into()],
    ))
    .await
    .unwrap();
    create_talk(&app, &admin, "new").await;

    let report = service::events::prune(db, chrono::Utc::now() - chrono::Duration::days(30))
        .await
        .unwrap();
    assert_eq!(
        report,
        service::events::PruneReport {
            deleted: 1,
            kept_for_webhooks: 1
        }
    );
    let (_, body) = app
        .graphql_as(Some(&admin), "{ changes { events { type } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["changes"]["events"].as_array().unwrap().len(),
        2,
        "{body}"
    );
}
