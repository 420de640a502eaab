//! Accounts, tokens, roles and mutations, through HTTP.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use service::accounts::Role;

use crate::support::{TEST_PASSWORD, TEST_SECRET, TestApp, test_auth};

const CREATE: &str = "mutation($input: CreateTalkInput!) { createTalk(input: $input) { id slug status version createdBy updatedBy } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateTalkInput!, $v: Int!) { updateTalk(id: $id, input: $input, expectedVersion: $v) { title event location version updatedBy } }";
const PUBLISH: &str = "mutation($id: ID!) { publishTalk(id: $id) { status version } }";

fn new_talk(slug: &str) -> Value {
    json!({ "input": {
        "slug": slug, "title": "A talk", "date": "2026-11-26", "event": "Conf", "location": "Oslo",
        "body": "<p>Hello</p>",
        "resources": [{ "title": "Slides", "url": "https://example.com/slides" }],
        "embeds": [{ "kind": "video", "html": "<iframe src=\"https://www.youtube.com/embed/x\"></iframe>" }]
    }})
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

/// Claims as Lectern writes them, for forging tokens.
fn claims(sub: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": sub, "role": "admin", "iat": now, "nbf": now, "exp": now + exp_offset,
            "iss": "lectern", "aud": "lectern", "jti": uuid::Uuid::new_v4().to_string() })
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    service::accounts::find_user_by_email(&app.db.db, email)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

#[actix_web::test]
async fn an_editor_creates_a_draft_and_publishes_it() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let (status, body) = app
        .graphql_as(Some(&editor), CREATE, new_talk("new-talk"))
        .await;
    assert_eq!(status, 200);
    let talk = &body["data"]["createTalk"];
    assert_eq!(talk["status"], "DRAFT", "{body}");
    assert_eq!(talk["version"], 1);
    let editor_id = user_id(&app, "ed@example.com").await;
    assert_eq!(talk["createdBy"], editor_id.as_str());
    assert_eq!(talk["updatedBy"], editor_id.as_str());
    let id = talk["id"].as_str().unwrap().to_owned();

    // A draft: invisible without a token, visible with one (a viewer's too).
    let read = "{ talk(slug: \"new-talk\") { slug status } talks { totalCount } }";
    let anonymous = app.data(read, json!({})).await;
    assert_eq!(anonymous["talk"], Value::Null);
    assert_eq!(anonymous["talks"]["totalCount"], 0);
    let viewer = app.user_token("view@example.com", Role::Viewer).await;
    let (_, seen) = app.graphql_as(Some(&viewer), read, json!({})).await;
    assert_eq!(seen["data"]["talk"]["status"], "DRAFT", "{seen}");
    assert_eq!(seen["data"]["talks"]["totalCount"], 1);

    let (_, body) = app
        .graphql_as(Some(&editor), PUBLISH, json!({"id": id}))
        .await;
    assert_eq!(body["data"]["publishTalk"]["status"], "PUBLISHED", "{body}");
    assert_eq!(body["data"]["publishTalk"]["version"], 2);
    let anonymous = app.data(read, json!({})).await;
    assert_eq!(anonymous["talk"]["slug"], "new-talk");
}

#[actix_web::test]
async fn login_fails_alike_for_an_unknown_email_and_a_wrong_password() {
    let app = TestApp::spawn().await;
    app.user_token("known@example.com", Role::Editor).await;
    let attempt = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let (status, headers, body) = app
                .send(
                    "POST",
                    "/auth/login",
                    None,
                    Some(json!({ "email": email, "password": password })),
                )
                .await;
            (status, headers, body, started.elapsed())
        }
    };
    let (s1, h1, unknown, t1) = attempt("nobody@example.com", TEST_PASSWORD).await;
    let (s2, h2, wrong, t2) = attempt("known@example.com", "not the password at all").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(unknown, wrong);
    assert_eq!(unknown["detail"], "wrong email or password");
    for headers in [h1, h2] {
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/problem+json"
        );
        assert!(
            headers
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // Both verify a password hash: the unknown email is not answered much faster.
    assert!(
        t1.as_secs_f64() > t2.as_secs_f64() / 4.0,
        "unknown email {t1:?}, wrong password {t2:?}"
    );
    // The same through GraphQL.
    let (_, body) = app
        .graphql_as(
            None,
            "mutation { login(email: \"nobody@example.com\", password: \"whatever-it-is\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // A good login gives a bearer token with its lifetime.
    let (status, _, body) = app
        .send(
            "POST",
            "/auth/login",
            None,
            Some(json!({ "email": "KNOWN@example.com", "password": TEST_PASSWORD })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
}

#[actix_web::test]
async fn logins_are_rate_limited_per_email() {
    let app = TestApp::spawn().await;
    app.user_token("target@example.com", Role::Editor).await; // one login
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, headers, _) = app
            .send(
                "POST",
                "/auth/login",
                None,
                Some(json!({ "email": "target@example.com", "password": "wrong password!!" })),
            )
            .await;
        statuses.push(status);
        if status == 429 {
            let retry: u64 = headers
                .get("retry-after")
                .unwrap()
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry));
        }
    }
    // Five per minute: the login above and four failures pass, then 429.
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    // Even the right password waits now, and GraphQL says so too.
    let (status, body) = app
        .graphql_as(
            None,
            &format!(
                "mutation {{ login(email: \"target@example.com\", password: \"{TEST_PASSWORD}\") {{ accessToken }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    // Another email is not held back.
    app.user_token("other@example.com", Role::Editor).await;
}

#[actix_web::test]
async fn bad_tokens_are_refused_with_401() {
    let app = TestApp::spawn().await;
    app.user_token("admin@example.com", Role::Admin).await;
    let id = user_id(&app, "admin@example.com").await;
    let good = sign(&claims(&id, 600), TEST_SECRET);
    let (status, body) = app
        .graphql_as(Some(&good), "{ users { email } }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["users"][0]["email"], "admin@example.com");

    let mut wrong_aud = claims(&id, 600);
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims(&id, 600);
    wrong_iss["iss"] = json!("someone-else");
    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&id, 600).to_string());
    let alg_none = format!("{header_none}.{payload}.");
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(&id, 600),
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    let unknown_user = sign(&claims(&uuid::Uuid::new_v4().to_string(), 600), TEST_SECRET);
    for (what, token) in [
        ("expired", sign(&claims(&id, -3600), TEST_SECRET)),
        (
            "wrong signature",
            sign(
                &claims(&id, 600),
                "another-secret-that-is-long-enough-000000",
            ),
        ),
        ("alg none", alg_none),
        ("another algorithm", hs512),
        ("wrong audience", sign(&wrong_aud, TEST_SECRET)),
        ("wrong issuer", sign(&wrong_iss, TEST_SECRET)),
        ("unknown user", unknown_user),
        ("garbage", "not.a.token".into()),
    ] {
        let (status, headers, body) = app
            .send(
                "POST",
                "/graphql",
                Some(&token),
                Some(json!({ "query": "{ talks { totalCount } }" })),
            )
            .await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(code(&body), "UNAUTHENTICATED", "{what}: {body}");
        assert!(headers.contains_key("www-authenticate"), "{what}");
    }

    // A disabled user's token is refused at once.
    service::accounts::set_disabled(&app.db.db, "admin@example.com", true)
        .await
        .unwrap();
    let (status, _) = app
        .graphql_as(Some(&good), "{ users { email } }", json!({}))
        .await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn each_role_may_do_its_part_only() {
    let app = TestApp::spawn().await;
    let viewer = app.user_token("viewer@example.com", Role::Viewer).await;
    let editor = app.user_token("editor@example.com", Role::Editor).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let create_user = "mutation { createUser(email: \"new@example.com\", password: \"long enough password\", role: EDITOR) { email role } }";

    // Anonymous: no writes.
    let (_, body) = app.graphql_as(None, CREATE, new_talk("a")).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // Viewer: reads drafts, writes nothing.
    let (_, body) = app.graphql_as(Some(&viewer), CREATE, new_talk("a")).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    // Editor: writes content, manages no one.
    let (_, body) = app.graphql_as(Some(&editor), CREATE, new_talk("a")).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = app.graphql_as(Some(&editor), create_user, json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .graphql_as(Some(&editor), "{ users { email } }", json!({}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    // Admin: everything.
    let (_, body) = app.graphql_as(Some(&admin), create_user, json!({})).await;
    assert_eq!(body["data"]["createUser"]["role"], "EDITOR", "{body}");
    let (_, body) = app.graphql_as(Some(&admin), CREATE, new_talk("b")).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = app
        .graphql_as(Some(&admin), "{ users { email } }", json!({}))
        .await;
    assert_eq!(body["data"]["users"].as_array().unwrap().len(), 4);
    // Disabling through GraphQL refuses the editor's token at once.
    let editor_id = user_id(&app, "editor@example.com").await;
    let (_, body) = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { disableUser(id: $id) { disabled } }",
            json!({"id": editor_id}),
        )
        .await;
    assert_eq!(body["data"]["disableUser"]["disabled"], true, "{body}");
    let (status, _) = app.graphql_as(Some(&editor), CREATE, new_talk("c")).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn machine_tokens_work_until_revoked() {
    let app = TestApp::spawn().await;
    let authority = api::auth::Authority::new(&test_auth(), app.db.db.clone())
        .await
        .unwrap();
    let (token, record) = authority
        .issue_machine_token("deploy", Role::Editor, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    let (_, body) = app
        .graphql_as(Some(&token), CREATE, new_talk("by-token"))
        .await;
    let created_by = body["data"]["createTalk"]["createdBy"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(created_by, format!("token:{}", record.jti), "{body}");
    // Revoked through GraphQL by an admin: refused at once.
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    let (_, body) = app
        .graphql_as(
            Some(&admin),
            "mutation($jti: ID!) { revokeToken(jti: $jti) { revokedAt } }",
            json!({"jti": record.jti.to_string()}),
        )
        .await;
    assert!(
        body["data"]["revokeToken"]["revokedAt"].is_string(),
        "{body}"
    );
    let (status, body) = app
        .graphql_as(Some(&token), CREATE, new_talk("again"))
        .await;
    assert_eq!(status, 401, "{body}");
}

#[actix_web::test]
async fn an_update_changes_only_what_it_names() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let (_, body) = app
        .graphql_as(Some(&editor), CREATE, new_talk("partial"))
        .await;
    let id = body["data"]["createTalk"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Only the title: the rest stays.
    let (_, body) = app
        .graphql_as(
            Some(&editor),
            UPDATE,
            json!({"id": id, "v": 1, "input": {"title": "New title"}}),
        )
        .await;
    let talk = &body["data"]["updateTalk"];
    assert_eq!(talk["title"], "New title", "{body}");
    assert_eq!(talk["event"], "Conf");
    assert_eq!(talk["location"], "Oslo");
    assert_eq!(talk["version"], 2);
    // null clears an optional field.
    let (_, body) = app
        .graphql_as(
            Some(&editor),
            UPDATE,
            json!({"id": id, "v": 2, "input": {"event": null}}),
        )
        .await;
    assert_eq!(body["data"]["updateTalk"]["event"], Value::Null, "{body}");
    assert_eq!(body["data"]["updateTalk"]["location"], "Oslo");
    // A required field cannot be cleared; bad values are named, all at once.
    let (_, body) = app
        .graphql_as(
            Some(&editor),
            UPDATE,
            json!({"id": id, "v": 3, "input": {"title": null}}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["path"],
        "title"
    );
    let (_, body) = app
        .graphql_as(
            Some(&editor),
            UPDATE,
            json!({"id": id, "v": 3, "input": {"slug": "not a slug", "date": "someday"}}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let paths: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"slug") && paths.contains(&"date"), "{body}");
    // A stale version is a conflict that names the current one; nothing changed.
    let (_, body) = app
        .graphql_as(
            Some(&editor),
            UPDATE,
            json!({"id": id, "v": 1, "input": {"title": "Lost"}}),
        )
        .await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["currentVersion"], 3);
}

#[actix_web::test]
async fn twenty_concurrent_updates_of_one_version_give_one_success() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let (_, body) = app
        .graphql_as(Some(&editor), CREATE, new_talk("race"))
        .await;
    let id = body["data"]["createTalk"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let updates = (0..20).map(|i| {
        app.graphql_as(
            Some(&editor),
            UPDATE,
            json!({"id": id, "v": 1, "input": {"title": format!("Title {i}")}}),
        )
    });
    let results = futures_util::future::join_all(updates).await;
    let successes = results
        .iter()
        .filter(|(_, body)| body.get("errors").is_none())
        .count();
    let conflicts = results
        .iter()
        .filter(|(_, body)| code(body) == "CONFLICT")
        .count();
    assert_eq!((successes, conflicts), (1, 19), "{results:?}");
    let read = "query($id: ID) { talk(id: $id) { version } }";
    let (_, body) = app.graphql_as(Some(&editor), read, json!({"id": id})).await;
    assert_eq!(body["data"]["talk"]["version"], 2);
}

#[actix_web::test]
async fn invalid_talks_name_every_problem() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let input = json!({ "input": {
        "slug": "bad slug!", "title": "", "date": "2026-13-45",
        "resources": [{ "title": "x", "url": "javascript:alert(1)" }],
        "embeds": [{ "kind": "", "html": "<p>x</p>" }]
    }});
    let (_, body) = app.graphql_as(Some(&editor), CREATE, input).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let paths: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for expected in [
        "slug",
        "title",
        "date",
        "resources[0].url",
        "embeds[0].kind",
    ] {
        assert!(paths.contains(&expected), "{expected} missing: {body}");
    }
    // A taken slug.
    app.graphql_as(Some(&editor), CREATE, new_talk("taken"))
        .await;
    let (_, body) = app
        .graphql_as(Some(&editor), CREATE, new_talk("taken"))
        .await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
}

#[actix_web::test]
async fn a_short_secret_is_refused_and_a_generated_one_is_kept() {
    let db = tests::TestDb::new().await;
    let connection = service::db::connect(&db.url).await.unwrap();
    let short = api::auth::AuthSettings {
        secret: Some("too short".into()),
        ..Default::default()
    };
    let error = api::auth::Authority::new(&short, connection.clone())
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("at least 32 bytes"), "{error}");
    // No key configured: a secret is generated once; a second authority (another process,
    // the CLI) uses the same one, so its tokens verify.
    let first = api::auth::Authority::new(&Default::default(), connection.clone())
        .await
        .unwrap();
    let second = api::auth::Authority::new(&Default::default(), connection.clone())
        .await
        .unwrap();
    let (token, _) = first
        .issue_machine_token("ci", Role::Viewer, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(
        second.verify(&token).await.unwrap(),
        api::auth::Viewer::Machine {
            role: Role::Viewer,
            ..
        }
    ));
}

#[actix_web::test]
async fn resources_and_embeds_are_edited_in_place_and_order() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let (_, body) = app
        .graphql_as(Some(&editor), CREATE, new_talk("parts"))
        .await;
    let id = body["data"]["createTalk"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fields = "version resources { id title url } embeds { id kind }";
    let run = |query: String, variables: Value| {
        let app = &app;
        let editor = editor.clone();
        async move {
            let (_, body) = app.graphql_as(Some(&editor), &query, variables).await;
            body
        }
    };

    // Added first, then at the end.
    let add = format!(
        "mutation($t: ID!, $r: ResourceInput!, $p: Int) {{ addResource(talkId: $t, input: $r, position: $p) {{ {fields} }} }}"
    );
    let body = run(
        add.clone(),
        json!({"t": id, "p": 0, "r": {"title": "Code", "url": "https://example.com/code"}}),
    )
    .await;
    let talk = &body["data"]["addResource"];
    assert_eq!(talk["resources"][0]["title"], "Code", "{body}");
    assert_eq!(talk["resources"][1]["title"], "Slides");
    assert_eq!(talk["version"], 2);
    let body = run(
        add.clone(),
        json!({"t": id, "r": {"title": "Notes", "url": "https://example.com/notes"}}),
    )
    .await;
    let titles: Vec<&str> = body["data"]["addResource"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Code", "Slides", "Notes"]);
    let ids: Vec<String> = body["data"]["addResource"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    // An API link must be absolute http(s).
    let body = run(
        add,
        json!({"t": id, "r": {"title": "Bad", "url": "mailto:x@example.com"}}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["fields"][0]["path"], "url");

    // Changed, reordered (a wrong set of ids is refused), removed.
    let body = run(
        format!("mutation($id: ID!, $r: ResourceInput!) {{ updateResource(id: $id, input: $r) {{ {fields} }} }}"),
        json!({"id": ids[1], "r": {"title": "Slides (PDF)", "url": "https://example.com/slides.pdf"}}),
    )
    .await;
    assert_eq!(
        body["data"]["updateResource"]["resources"][1]["title"], "Slides (PDF)",
        "{body}"
    );
    let reorder = format!(
        "mutation($t: ID!, $ids: [ID!]!) {{ reorderResources(talkId: $t, ids: $ids) {{ {fields} }} }}"
    );
    let body = run(reorder.clone(), json!({"t": id, "ids": [ids[2], ids[0]]})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = run(reorder, json!({"t": id, "ids": [ids[2], ids[0], ids[1]]})).await;
    let order: Vec<&str> = body["data"]["reorderResources"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [ids[2].as_str(), ids[0].as_str(), ids[1].as_str()],
        "{body}"
    );
    let body = run(
        format!("mutation($id: ID!) {{ removeResource(id: $id) {{ {fields} }} }}"),
        json!({"id": ids[0]}),
    )
    .await;
    assert_eq!(
        body["data"]["removeResource"]["resources"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{body}"
    );

    // Embeds alike.
    let body = run(
        format!("mutation($t: ID!, $e: EmbedInput!) {{ addEmbed(talkId: $t, input: $e, position: 0) {{ {fields} }} }}"),
        json!({"t": id, "e": {"kind": "tweet", "html": "<blockquote class=\"twitter-tweet\"><p>Hi</p></blockquote>"}}),
    )
    .await;
    let embeds = body["data"]["addEmbed"]["embeds"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(embeds[0]["kind"], "tweet", "{body}");
    let body = run(
        format!("mutation($id: ID!, $e: EmbedInput!) {{ updateEmbed(id: $id, input: $e) {{ {fields} }} }}"),
        json!({"id": embeds[0]["id"], "e": {"kind": "", "html": "<p>x</p>"}}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = run(
        format!("mutation($t: ID!, $ids: [ID!]!) {{ reorderEmbeds(talkId: $t, ids: $ids) {{ {fields} }} }}"),
        json!({"t": id, "ids": [embeds[1]["id"], embeds[0]["id"]]}),
    )
    .await;
    assert_eq!(
        body["data"]["reorderEmbeds"]["embeds"][0]["kind"], "video",
        "{body}"
    );
    let body = run(
        format!("mutation($id: ID!) {{ removeEmbed(id: $id) {{ {fields} }} }}"),
        json!({"id": embeds[0]["id"]}),
    )
    .await;
    let talk = &body["data"]["removeEmbed"];
    assert_eq!(talk["embeds"].as_array().unwrap().len(), 1, "{body}");
    let version = talk["version"].as_i64().unwrap();
    assert_eq!(version, 9, "every change adds one to the version: {body}");

    // Deleted, with the version it was read at.
    let delete = "mutation($id: ID!, $v: Int!) { deleteTalk(id: $id, expectedVersion: $v) }";
    let body = run(delete.into(), json!({"id": id, "v": version - 1})).await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    let body = run(delete.into(), json!({"id": id, "v": version})).await;
    assert_eq!(body["data"]["deleteTalk"], id.as_str(), "{body}");
    let body = run(
        "query($id: ID) { talk(id: $id) { id } }".into(),
        json!({"id": id}),
    )
    .await;
    assert_eq!(body["data"]["talk"], Value::Null);
}

fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "openssl {args:?}");
}

/// A private and a public key in PEM files: `ed25519` or `rsa`.
fn key_pair(dir: &std::path::Path, kind: &str) -> (String, String) {
    let private = dir.join(format!("{kind}.pem")).display().to_string();
    let public = dir.join(format!("{kind}.pub.pem")).display().to_string();
    match kind {
        "ed25519" => openssl(&["genpkey", "-algorithm", "ed25519", "-out", &private]),
        _ => openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &private,
        ]),
    }
    openssl(&["pkey", "-in", &private, "-pubout", "-out", &public]);
    (private, public)
}

#[actix_web::test]
async fn with_key_files_only_their_algorithm_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, algorithm) in [("ed25519", "EdDSA"), ("rsa", "RS256")] {
        let (private, public) = key_pair(dir.path(), kind);
        let app = TestApp::spawn_with_auth(api::auth::AuthSettings {
            private_key: Some(private),
            public_key: Some(public.clone()),
            ..Default::default()
        })
        .await;
        let editor = app.user_token("ed@example.com", Role::Editor).await;
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(editor.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], algorithm);
        let (_, body) = app
            .graphql_as(Some(&editor), CREATE, new_talk("signed"))
            .await;
        assert!(body.get("errors").is_none(), "{kind}: {body}");
        // An HS256 token, even one keyed with the public key's own bytes, is refused.
        let id = user_id(&app, "ed@example.com").await;
        let public_pem = std::fs::read_to_string(&public).unwrap();
        for secret in [TEST_SECRET, public_pem.as_str()] {
            let forged = sign(&claims(&id, 600), secret);
            let (status, body) = app
                .graphql_as(Some(&forged), CREATE, new_talk("forged"))
                .await;
            assert_eq!(status, 401, "{kind}: {body}");
        }
    }
}

#[actix_web::test]
async fn with_only_a_public_key_another_issuers_tokens_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path(), "ed25519");
    let app = TestApp::spawn_with_auth(api::auth::AuthSettings {
        public_key: Some(public),
        issuer: "https://id.example.com".into(),
        audience: "talks".into(),
        ..Default::default()
    })
    .await;
    service::accounts::add_user(&app.db.db, "ed@example.com", TEST_PASSWORD, Role::Editor)
        .await
        .unwrap();
    let key = EncodingKey::from_ed_pem(&std::fs::read(&private).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    // The identity provider names the user by an email claim.
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &json!({ "sub": "idp|12345", "email": "ED@example.com", "role": "viewer", "iat": now,
                 "nbf": now, "exp": now + 600, "iss": "https://id.example.com", "aud": "talks",
                 "jti": "idp-token-1" }),
        &key,
    )
    .unwrap();
    // The account's role counts, not the token's.
    let (_, body) = app
        .graphql_as(Some(&token), CREATE, new_talk("from-idp"))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // This server issues nothing: logins say so plainly.
    let (status, _, body) = app
        .send(
            "POST",
            "/auth/login",
            None,
            Some(json!({ "email": "ed@example.com", "password": TEST_PASSWORD })),
        )
        .await;
    assert_eq!(status, 501, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("only verifies"),
        "{body}"
    );
}

#[actix_web::test]
async fn logins_are_rate_limited_per_client_address() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for i in 0..11 {
        let (status, _, _) = app
            .send(
                "POST",
                "/auth/login",
                None,
                Some(json!({ "email": format!("guess{i}@example.com"), "password": "a guess, wrong" })),
            )
            .await;
        statuses.push(status);
    }
    // Ten a minute from one address, whatever the emails.
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
}
