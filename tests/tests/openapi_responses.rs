//! Every operation of `openapi.yaml`, called on a running server: each response's status must
//! be one the operation declares, and its body must fit the schema declared for that status and
//! media type (`$ref`s resolved, formats checked, no member that a closed schema leaves out).
//! Each operation is called for its success and for every error status it declares, but those
//! listed in [`UNREACHED`] with the reason; an operation without such calls fails the test, so
//! a new operation cannot go unchecked.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::{Value, json};
use service::accounts::Role;

use tests::files::{MULTIPART, multipart_body};

use crate::support::{Reply, TestApp, request};

/// Declared statuses no call here reaches, with the reason.
const UNREACHED: &[(&str, u16, &str)] = &[
    (
        "login",
        501,
        "only a server configured with a public key alone answers it (tests/tests/auth.rs)",
    ),
    (
        "uploadAsset",
        503,
        "only a store that cannot be written answers it (tests/tests/assets.rs)",
    ),
];

/// More than the 2 MiB a body may have.
const TOO_LARGE: usize = 2 * 1024 * 1024 + 1;

fn contract() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).expect("openapi.yaml is not YAML")
}

/// An operation of the contract: where its item sits, and what it declares.
struct Operation {
    /// JSON pointer of the operation object.
    pointer: String,
    method: String,
    path: String,
}

/// Every operation by its `operationId`.
fn operations(contract: &Value) -> BTreeMap<String, Operation> {
    let mut operations = BTreeMap::new();
    let paths = contract["paths"]
        .as_object()
        .expect("openapi.yaml has paths");
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for (method, operation) in item {
            let Some(id) = operation.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let escaped = path.replace('~', "~0").replace('/', "~1");
            operations.insert(
                id.to_owned(),
                Operation {
                    pointer: format!("/paths/{escaped}/{method}"),
                    method: method.to_uppercase(),
                    path: path.clone(),
                },
            );
        }
    }
    operations
}

/// Follows a local `$ref` (`#/components/responses/Written`) to the object it names.
fn resolve<'a>(contract: &'a Value, pointer: &str) -> (&'a Value, String) {
    let mut pointer = pointer.to_owned();
    loop {
        let value = contract
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("openapi.yaml has nothing at {pointer}"));
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => {
                pointer = target
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{target}: only local references are followed"))
                    .to_owned();
            }
            None => return (value, pointer),
        }
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Checks responses against the contract's schemas, one compiled validator per schema.
struct Checker {
    contract: Value,
    operations: BTreeMap<String, Operation>,
    validators: HashMap<String, jsonschema::Validator>,
    /// The statuses each operation was seen to answer with.
    seen: BTreeMap<String, BTreeSet<u16>>,
    failures: Vec<String>,
}

impl Checker {
    fn new() -> Self {
        let contract = contract();
        let operations = operations(&contract);
        Self {
            contract,
            operations,
            validators: HashMap::new(),
            seen: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// The validator of the schema at `pointer`, compiled against the whole document so that
    /// its `$ref`s (`#/components/schemas/…`) resolve.
    fn validator(&mut self, pointer: &str) -> &jsonschema::Validator {
        let contract = &self.contract;
        self.validators
            .entry(pointer.to_owned())
            .or_insert_with(|| {
                let mut root = contract.clone();
                let root_object = root.as_object_mut().expect("the contract is an object");
                root_object.insert(
                    "$schema".into(),
                    json!("https://json-schema.org/draft/2020-12/schema"),
                );
                // A JSON pointer in a URI fragment: `{` and `}` (of path templates) escaped.
                let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
                root_object.insert("$ref".into(), json!(format!("#{fragment}")));
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"))
            })
    }

    /// Checks one response of `operation_id` against what the contract declares for it.
    fn check(&mut self, operation_id: &str, what: &str, reply: &Reply) {
        let Some(operation) = self.operations.get(operation_id) else {
            self.failures.push(format!(
                "{what}: openapi.yaml has no operation {operation_id}"
            ));
            return;
        };
        let label = format!(
            "{operation_id} ({} {}), {what}: {}",
            operation.method, operation.path, reply.status
        );
        self.seen
            .entry(operation_id.to_owned())
            .or_default()
            .insert(reply.status);
        let declared = format!("{}/responses/{}", operation.pointer, reply.status);
        if self.contract.pointer(&declared).is_none() {
            self.failures.push(format!(
                "{label}: the status is not declared; {}",
                reply.text()
            ));
            return;
        }
        let (response, response_pointer) = resolve(&self.contract, &declared);
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            if !reply.bytes.is_empty() {
                self.failures.push(format!(
                    "{label}: no body is declared, but one came: {}",
                    reply.text()
                ));
            }
            return;
        };
        let media_type = reply
            .header("content-type")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        if !content.contains_key(&media_type) {
            self.failures.push(format!(
                "{label}: the body is {media_type:?}, not one of {:?}",
                content.keys().collect::<Vec<_>>()
            ));
            return;
        }
        let body: Value = if media_type == "application/yaml" {
            match serde_yaml_ng::from_slice(&reply.bytes) {
                Ok(body) => body,
                Err(e) => {
                    self.failures
                        .push(format!("{label}: the body is not YAML: {e}"));
                    return;
                }
            }
        } else {
            match serde_json::from_slice(&reply.bytes) {
                Ok(body) => body,
                Err(e) => {
                    self.failures
                        .push(format!("{label}: the body is not JSON: {e}"));
                    return;
                }
            }
        };
        let schema = format!("{response_pointer}/content/{}/schema", escape(&media_type));
        let errors: Vec<String> = self
            .validator(&schema)
            .iter_errors(&body)
            .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
            .collect();
        if !errors.is_empty() {
            self.failures.push(format!(
                "{label}: the body does not fit {schema}:\n    {}",
                errors.join("\n    ")
            ));
        }
    }

    /// Fails with every response that did not fit, and every operation (or declared status)
    /// that no call reached.
    fn finish(self) {
        let mut failures = self.failures;
        for (id, operation) in &self.operations {
            let seen = self.seen.get(id).cloned().unwrap_or_default();
            if !seen.iter().any(|status| (200..300).contains(status)) {
                failures.push(format!(
                    "{id} ({} {}): no call here succeeds; add one",
                    operation.method, operation.path
                ));
            }
            let responses = self
                .contract
                .pointer(&format!("{}/responses", operation.pointer))
                .and_then(Value::as_object)
                .expect("an operation has responses");
            for status in responses.keys().filter_map(|s| s.parse::<u16>().ok()) {
                let exempt = UNREACHED
                    .iter()
                    .any(|(op, unreached, _)| *op == id && *unreached == status);
                if !seen.contains(&status) && !exempt {
                    failures.push(format!(
                        "{id} ({} {}): no call here answers {status}, which it declares",
                        operation.method, operation.path
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} responses or operations do not match openapi.yaml:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// Who calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Anonymous,
    /// An `Authorization` header that holds no valid token.
    BadToken,
    Viewer,
    Editor,
    Admin,
}

/// One call: the operation it is for, and everything sent.
#[derive(Clone)]
struct Call {
    operation: &'static str,
    method: &'static str,
    /// Under `/api/v1`, with the query.
    path: String,
    who: Who,
    headers: Vec<(&'static str, String)>,
    /// Media type and bytes.
    body: Option<(&'static str, Vec<u8>)>,
}

impl Call {
    fn new(
        operation: &'static str,
        method: &'static str,
        path: impl Into<String>,
        who: Who,
    ) -> Self {
        Self {
            operation,
            method,
            path: path.into(),
            who,
            headers: Vec::new(),
            body: None,
        }
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(("application/json", body.to_string().into_bytes()));
        self
    }

    fn raw(mut self, media_type: &'static str, bytes: Vec<u8>) -> Self {
        self.body = Some((media_type, bytes));
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    fn by(mut self, who: Who) -> Self {
        self.who = who;
        self
    }

    fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

struct Run {
    app: TestApp,
    checker: Checker,
    tokens: HashMap<&'static str, String>,
}

impl Run {
    /// Sends `call`, checks the response against the contract, and that its status is
    /// `expected`; returns the response.
    async fn expect(&mut self, expected: u16, call: Call) -> Reply {
        self.expect_one_of(&[expected], call).await
    }

    /// [`Run::expect`] with a status that is one of `expected`.
    async fn expect_one_of(&mut self, expected: &[u16], call: Call) -> Reply {
        let authorization = match call.who {
            Who::Anonymous => None,
            Who::BadToken => Some("Bearer not-a-token".to_owned()),
            Who::Viewer => Some(format!("Bearer {}", self.tokens["viewer"])),
            Who::Editor => Some(format!("Bearer {}", self.tokens["editor"])),
            Who::Admin => Some(format!("Bearer {}", self.tokens["admin"])),
        };
        let headers: Vec<(&str, &str)> = call
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let reply = request(
            &self.app,
            call.method,
            &format!("/api/v1{}", call.path),
            authorization.as_deref(),
            &headers,
            call.body.clone(),
        )
        .await;
        let what = format!("{} {} as {:?}", call.method, call.path, call.who);
        if !expected.contains(&reply.status) {
            self.checker.failures.push(format!(
                "{} ({what}): expected {expected:?}, got {}: {}",
                call.operation,
                reply.status,
                reply.text()
            ));
        }
        self.checker.check(call.operation, &what, &reply);
        reply
    }

    /// The refusals every operation of this kind has, each declared one of them: a bad token
    /// (401), too weak a role (403), a path naming nothing (404), a stale `If-Match` (412), no
    /// `If-Match` where one is needed (428), and for a body, one that is not JSON (400), too
    /// large (413) or of another media type (415). `call` is the operation's successful call.
    async fn refusals(&mut self, call: &Call) {
        let declared = self.declared(call.operation);
        if declared.contains(&401) && call.operation != "login" {
            self.expect(401, call.clone().by(Who::BadToken)).await;
        }
        if declared.contains(&403) {
            let weaker = if call.who == Who::Admin {
                Who::Editor
            } else {
                Who::Viewer
            };
            self.expect(403, call.clone().by(weaker)).await;
        }
        if declared.contains(&404) && call.path.contains("/talks/") {
            let path = call.path.replacen(SLUG, "no-such-talk", 1);
            self.expect(404, call.clone().at(path)).await;
        }
        if declared.contains(&404) && call.path.starts_with("/webhooks/") {
            let mut segments: Vec<&str> = call.path.split('/').collect();
            let unknown = uuid::Uuid::new_v4().to_string();
            segments[2] = &unknown;
            self.expect(404, call.clone().at(segments.join("/"))).await;
        }
        if declared.contains(&412) {
            self.expect(412, call.clone().header("If-Match", "\"999\""))
                .await;
        }
        if declared.contains(&428) {
            self.expect(428, call.clone().without_header("If-Match"))
                .await;
        }
        if let Some((media_type, _)) = &call.body {
            let media_type = *media_type;
            if declared.contains(&400) {
                self.expect(400, call.clone().raw(media_type, b"{".to_vec()))
                    .await;
            }
            if declared.contains(&413) {
                let mut large = b"{\"a\":\"".to_vec();
                large.resize(TOO_LARGE, b'x');
                large.extend_from_slice(b"\"}");
                self.expect(413, call.clone().raw(media_type, large)).await;
            }
            if declared.contains(&415) {
                self.expect(415, call.clone().raw("text/plain", b"{}".to_vec()))
                    .await;
            }
        }
    }

    /// A read and its `If-None-Match` (304).
    async fn read(&mut self, call: Call) -> Reply {
        let reply = self.expect(200, call.clone()).await;
        if self.declared(call.operation).contains(&304) {
            let etag = reply.header("etag").to_owned();
            self.expect(304, call.header("If-None-Match", etag)).await;
        }
        reply
    }

    fn declared(&self, operation: &str) -> BTreeSet<u16> {
        let pointer = &self.checker.operations[operation].pointer;
        self.checker
            .contract
            .pointer(&format!("{pointer}/responses"))
            .and_then(Value::as_object)
            .map(|r| r.keys().filter_map(|s| s.parse().ok()).collect())
            .unwrap_or_default()
    }
}

/// The talk the calls below create and change.
const SLUG: &str = "openapi-talk";

const TWEET: &str = r#"<blockquote class="twitter-tweet"><p lang="en">Nice talk.</p>&mdash; Ada (@ada) <a href="https://twitter.com/ada/status/1">October 24, 2019</a></blockquote>"#;
const VIDEO: &str = r#"<iframe src="https://www.youtube.com/embed/x"></iframe>"#;

fn ids(talk: &Value, part: &str) -> Vec<String> {
    talk[part]
        .as_array()
        .unwrap_or_else(|| panic!("the talk has no {part}: {talk}"))
        .iter()
        .map(|item| item["id"].as_str().expect("an item has an id").to_owned())
        .collect()
}

#[actix_web::test]
async fn every_operation_answers_as_openapi_yaml_declares() {
    let app = TestApp::with_corpus().await;
    let mut tokens = HashMap::new();
    tokens.insert(
        "viewer",
        app.user_token("viewer@example.com", Role::Viewer).await,
    );
    tokens.insert(
        "editor",
        app.user_token("editor@example.com", Role::Editor).await,
    );
    tokens.insert(
        "admin",
        app.user_token("admin@example.com", Role::Admin).await,
    );
    let mut run = Run {
        app,
        checker: Checker::new(),
        tokens,
    };

    // The contract and the login.
    run.expect(
        200,
        Call::new("openapi", "GET", "/openapi.yaml", Who::Anonymous),
    )
    .await;
    let login = Call::new("login", "POST", "/auth/login", Who::Anonymous)
        .json(json!({ "email": "editor@example.com", "password": crate::support::TEST_PASSWORD }));
    run.expect(200, login.clone()).await;
    run.refusals(&login).await;
    let wrong = login
        .clone()
        .json(json!({ "email": "nobody@example.com", "password": "wrong wrong wrong" }));
    run.expect(401, wrong.clone()).await;

    // Lists and events.
    let list = Call::new(
        "listTalks",
        "GET",
        "/talks?limit=3&include=resources,embeds",
        Who::Anonymous,
    );
    let page = run.read(list.clone()).await;
    let taken = page.body["data"][0]["slug"]
        .as_str()
        .expect("a talk in the list")
        .to_owned();
    run.expect(
        200,
        list.clone().by(Who::Editor).at("/talks?q=kafka&limit=2"),
    )
    .await;
    run.refusals(&list).await;
    run.expect(400, list.clone().at("/talks?limit=many")).await;
    run.expect(422, list.clone().at("/talks?limit=0")).await;
    let events = Call::new("listEvents", "GET", "/events", Who::Anonymous);
    run.read(events.clone()).await;
    run.refusals(&events).await;

    // A talk: created, read, changed, published.
    let create = Call::new("createTalk", "POST", "/talks", Who::Editor).json(json!({
        "slug": SLUG, "title": "Contract", "date": "2026-11-26", "event": "Conf",
        "body": "<p>Checked.</p>", "extra": { "room": 3 },
        "resources": [
            { "title": "Slides", "url": "https://example.com/slides" },
            { "title": "Code", "url": "https://example.com/code", "description": "The demo" }
        ],
        "embeds": [
            { "kind": "twitter", "html": TWEET },
            { "kind": "video", "html": VIDEO }
        ]
    }));
    run.refusals(&create).await;
    run.expect(
        409,
        create
            .clone()
            .json(json!({ "slug": taken, "title": "Taken", "date": "2026-11-26" })),
    )
    .await;
    run.expect(
        422,
        create
            .clone()
            .json(json!({ "slug": "not a slug", "title": "", "date": "never" })),
    )
    .await;
    let talk = run.expect(201, create).await.body;
    let resources = ids(&talk, "resources");
    let embeds = ids(&talk, "embeds");

    let show = Call::new("getTalk", "GET", format!("/talks/{SLUG}"), Who::Editor);
    run.read(show.clone()).await;
    run.refusals(&show).await;

    let patch = Call::new("updateTalk", "PATCH", format!("/talks/{SLUG}"), Who::Editor)
        .header("If-Match", "*")
        .raw(
            "application/merge-patch+json",
            json!({ "title": "Contract, checked", "location": null })
                .to_string()
                .into_bytes(),
        );
    run.refusals(&patch).await;
    run.expect(409, patch.clone().json(json!({ "slug": taken })))
        .await;
    run.expect(422, patch.clone().json(json!({ "title": null })))
        .await;
    run.expect(200, patch).await;

    for (operation, action) in [("unpublishTalk", "unpublish"), ("publishTalk", "publish")] {
        let call = Call::new(
            operation,
            "POST",
            format!("/talks/{SLUG}/{action}"),
            Who::Editor,
        );
        run.refusals(&call).await;
        run.expect(200, call).await;
    }

    // Its resources and embeds.
    for (ops, part, items, new, invalid, patch, invalid_patch) in [
        (
            [
                "addResource",
                "reorderResources",
                "getResource",
                "updateResource",
                "deleteResource",
            ],
            "resources",
            &resources,
            json!({ "title": "Recording", "url": "https://example.com/video", "position": 0 }),
            json!({ "title": "Too far", "url": "https://example.com/x", "position": 99 }),
            json!({ "description": null }),
            json!({ "title": null }),
        ),
        (
            [
                "addEmbed",
                "reorderEmbeds",
                "getEmbed",
                "updateEmbed",
                "deleteEmbed",
            ],
            "embeds",
            &embeds,
            json!({ "kind": "video", "html": VIDEO, "position": 1 }),
            json!({ "kind": "video", "html": VIDEO, "position": 99 }),
            json!({ "kind": "youtube" }),
            json!({ "html": null }),
        ),
    ] {
        let [add_op, reorder_op, get_op, update_op, delete_op] = ops;
        let add = Call::new(add_op, "POST", format!("/talks/{SLUG}/{part}"), Who::Editor).json(new);
        run.refusals(&add).await;
        run.expect(422, add.clone().json(invalid)).await;
        let added = run.expect(201, add).await.body;
        let mut order = ids(&added, part);
        order.reverse();

        let reorder = Call::new(
            reorder_op,
            "PUT",
            format!("/talks/{SLUG}/{part}/order"),
            Who::Editor,
        )
        .json(json!({ "ids": order }));
        run.refusals(&reorder).await;
        run.expect(422, reorder.clone().json(json!({ "ids": [] })))
            .await;
        run.expect(200, reorder).await;

        let item = format!("/talks/{SLUG}/{part}/{}", items[0]);
        let show = Call::new(get_op, "GET", item.clone(), Who::Editor);
        run.read(show.clone()).await;
        run.refusals(&show).await;
        run.expect(
            404,
            show.clone()
                .at(format!("/talks/{SLUG}/{part}/{}", uuid::Uuid::new_v4())),
        )
        .await;

        let change = Call::new(update_op, "PATCH", item.clone(), Who::Editor)
            .header("If-Match", "*")
            .json(patch);
        run.refusals(&change).await;
        run.expect(422, change.clone().json(invalid_patch)).await;
        run.expect(200, change).await;

        let delete = Call::new(delete_op, "DELETE", item, Who::Editor).header("If-Match", "*");
        run.refusals(&delete).await;
        run.expect(200, delete).await;
    }

    // The change feed.
    let feed = Call::new("listChanges", "GET", "/changes?limit=5", Who::Editor);
    run.expect(200, feed.clone()).await;
    run.expect(
        200,
        feed.clone()
            .by(Who::Anonymous)
            .at("/changes?after=100&types=talk.published"),
    )
    .await;
    run.refusals(&feed).await;
    run.expect(400, feed.clone().at("/changes?limit=many"))
        .await;
    run.expect(422, feed.clone().at("/changes?limit=0")).await;

    // Webhook endpoints: one that nothing answers, so that it has failed attempts to list.
    let create = Call::new("createWebhook", "POST", "/webhooks", Who::Admin).json(json!({
        "url": "http://localhost:9/hook", "events": ["talk.*"], "description": "Contract"
    }));
    run.refusals(&create).await;
    run.expect(
        422,
        create
            .clone()
            .json(json!({ "url": "http://localhost:9/hook", "events": [] })),
    )
    .await;
    let hook = run.expect(201, create).await.body;
    let id = hook["id"].as_str().expect("a webhook has an id").to_owned();

    let list = Call::new("listWebhooks", "GET", "/webhooks", Who::Admin);
    run.expect(200, list.clone()).await;
    run.refusals(&list).await;

    let show = Call::new("getWebhook", "GET", format!("/webhooks/{id}"), Who::Admin);
    run.expect(200, show.clone()).await;
    run.refusals(&show).await;

    let replay = Call::new(
        "replayWebhook",
        "POST",
        format!("/webhooks/{id}/replay"),
        Who::Admin,
    )
    .json(json!({ "from_seq": 1 }));
    run.refusals(&replay).await;
    run.expect(422, replay.clone().json(json!({ "from_seq": 0 })))
        .await;
    run.expect(200, replay).await;

    // Wait for a failed attempt or two, so that the page of attempts has some.
    let attempts = Call::new(
        "listWebhookAttempts",
        "GET",
        format!("/webhooks/{id}/attempts?limit=1"),
        Who::Admin,
    );
    for _ in 0..100 {
        let reply = run.expect(200, attempts.clone()).await;
        if reply.body["data"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    run.refusals(&attempts).await;
    run.expect(
        400,
        attempts
            .clone()
            .at(format!("/webhooks/{id}/attempts?limit=many")),
    )
    .await;
    run.expect(
        422,
        attempts
            .clone()
            .at(format!("/webhooks/{id}/attempts?limit=0")),
    )
    .await;

    let patch = Call::new(
        "updateWebhook",
        "PATCH",
        format!("/webhooks/{id}"),
        Who::Admin,
    )
    .json(json!({ "paused": true, "description": null }));
    run.refusals(&patch).await;
    run.expect(422, patch.clone().json(json!({ "url": null })))
        .await;
    run.expect(200, patch).await;

    let delete = Call::new(
        "deleteWebhook",
        "DELETE",
        format!("/webhooks/{id}"),
        Who::Admin,
    );
    run.refusals(&delete).await;
    run.expect(204, delete).await;

    // Assets: stored, described, shown, attached and detached.
    let jpeg = tests::files::jpeg(64, 48);
    let upload = Call::new("uploadAsset", "POST", "/assets", Who::Editor).raw(
        MULTIPART,
        multipart_body(&[
            ("file", Some("cover.jpg"), &jpeg),
            ("alt", None, b"A cover"),
        ]),
    );
    for who in [Who::BadToken, Who::Viewer] {
        let status = if who == Who::BadToken { 401 } else { 403 };
        run.expect(status, upload.clone().by(who)).await;
    }
    run.expect(
        400,
        upload.clone().raw(MULTIPART, b"not multipart".to_vec()),
    )
    .await;
    let mut huge = vec![0xFF, 0xD8, 0xFF];
    huge.resize(9 * 1024 * 1024, 0);
    run.expect(
        413,
        upload.clone().raw(
            MULTIPART,
            multipart_body(&[("file", Some("huge.jpg"), &huge)]),
        ),
    )
    .await;
    run.expect(
        415,
        upload.clone().raw(
            MULTIPART,
            multipart_body(&[("file", Some("notes.txt"), b"plain words")]),
        ),
    )
    .await;
    let bomb = tests::files::png_declaring(50_000, 50_000);
    run.expect(
        422,
        upload.clone().raw(
            MULTIPART,
            multipart_body(&[("file", Some("bomb.png"), &bomb)]),
        ),
    )
    .await;
    let image = run.expect(201, upload.clone()).await.body;
    run.expect(200, upload).await;
    let image_id = image["id"].as_str().expect("an asset id").to_owned();
    let pdf = tests::files::pdf(2);
    let slides = Call::new("uploadAsset", "POST", "/assets", Who::Editor).raw(
        MULTIPART,
        multipart_body(&[("file", Some("slides.pdf"), &pdf)]),
    );
    let slides_id = run.expect(201, slides).await.body["id"]
        .as_str()
        .expect("an asset id")
        .to_owned();

    let describe = Call::new(
        "describeAsset",
        "PATCH",
        format!("/assets/{image_id}"),
        Who::Editor,
    )
    .raw(
        "application/merge-patch+json",
        json!({ "alt": "The first slide", "focal_point": { "x": 0.5, "y": 0.3 } })
            .to_string()
            .into_bytes(),
    );
    run.refusals(&describe).await;
    let nowhere = format!("/assets/{}", uuid::Uuid::new_v4());
    run.expect(404, describe.clone().at(nowhere.clone())).await;
    run.expect(
        422,
        describe
            .clone()
            .json(json!({ "focal_point": { "x": 2, "y": 0 } })),
    )
    .await;
    run.expect(200, describe).await;

    let show = Call::new(
        "showAsset",
        "GET",
        format!("/assets/{image_id}"),
        Who::Editor,
    );
    run.expect(200, show.clone()).await;
    run.refusals(&show).await;
    // Used by no published talk yet: not there for readers.
    run.expect(404, show.clone().by(Who::Anonymous)).await;
    run.expect(404, show.clone().at(nowhere)).await;

    for (attach, detach, slot, id, wrong) in [
        ("attachImage", "detachImage", "image", &image_id, &slides_id),
        (
            "attachSlides",
            "detachSlides",
            "slides",
            &slides_id,
            &image_id,
        ),
    ] {
        let call = Call::new(attach, "PUT", format!("/talks/{SLUG}/{slot}"), Who::Editor)
            .json(json!({ "asset_id": id }));
        run.refusals(&call).await;
        run.expect(422, call.clone().json(json!({ "asset_id": wrong })))
            .await;
        run.expect(200, call.clone()).await;
        let call = Call::new(
            detach,
            "DELETE",
            format!("/talks/{SLUG}/{slot}"),
            Who::Editor,
        );
        run.refusals(&call).await;
        run.expect(200, call).await;
    }

    // The talk goes last.
    let delete = Call::new(
        "deleteTalk",
        "DELETE",
        format!("/talks/{SLUG}"),
        Who::Editor,
    )
    .header("If-Match", "*");
    run.refusals(&delete).await;
    run.expect(204, delete).await;

    // Too many logins (the last, since it shuts the door for a minute).
    for _ in 0..10 {
        if run.expect_one_of(&[401, 429], wrong.clone()).await.status == 429 {
            break;
        }
    }

    run.checker.finish();
}
