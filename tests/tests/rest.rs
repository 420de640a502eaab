//! The REST API under /api/v1, through HTTP.

use serde_json::{Value, json};
use service::accounts::Role;
use service::sea_orm::EntityTrait;
use uuid::Uuid;

use crate::support::{Reply, TestApp, request};

/// A request to `/api/v1{path}`, with the token as a bearer.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> Reply {
    let authorization = token.map(|token| format!("Bearer {token}"));
    request(
        app,
        method,
        &format!("/api/v1{path}"),
        authorization.as_deref(),
        headers,
        body,
    )
    .await
}

fn json_body(value: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

fn new_talk(slug: &str) -> Value {
    json!({
        "slug": slug, "title": "A REST talk", "date": "2026-11-26", "event": "Conf", "location": "Oslo",
        "body": "<p>Hello <script>alert(1)</script></p>",
        "resources": [{ "title": "Slides", "url": "https://example.com/slides" }],
        "embeds": [{ "kind": "video", "html": "<iframe src=\"https://www.youtube.com/embed/x\"></iframe>" }]
    })
}

fn assert_problem(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        "application/problem+json",
        "{}",
        reply.body
    );
    assert_eq!(reply.body["status"], status);
    assert!(
        reply.body["title"].is_string()
            && reply.body["detail"].is_string()
            && reply.body["type"].is_string()
    );
}

#[actix_web::test]
async fn walking_the_list_follows_link_headers_and_returns_every_talk_once_in_order() {
    let app = TestApp::with_corpus().await;
    let mut slugs = Vec::new();
    let mut path = "/talks?limit=25".to_owned();
    let mut pages = 0;
    loop {
        let reply = call(&app, "GET", &path, None, &[], None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        pages += 1;
        for talk in reply.body["data"].as_array().unwrap() {
            slugs.push(talk["slug"].as_str().unwrap().to_owned());
            assert!(talk.get("resources").is_none(), "not included unless asked");
        }
        let link = reply.header("link").to_owned();
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => {
                assert!(link.ends_with("rel=\"next\""), "{link}");
                assert!(link.contains(&format!("cursor={cursor}")), "{link}");
                let next = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .trim_start_matches("/api/v1")
                    .to_owned();
                assert!(next.contains("limit=25"), "{next}");
                path = next;
            }
            None => {
                assert!(link.is_empty(), "no Link on the last page: {link}");
                break;
            }
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(slugs.len(), 121);
    let unique: std::collections::HashSet<_> = slugs.iter().collect();
    assert_eq!(unique.len(), 121);
    // The same order as GraphQL's default (newest first).
    let first = app
        .data(
            "{ talks(first: 100) { pageInfo { endCursor } nodes { slug } } }",
            json!({}),
        )
        .await;
    let after = first["talks"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .data(
            "query($a: String) { talks(first: 100, after: $a) { nodes { slug } } }",
            json!({"a": after}),
        )
        .await;
    let graphql: Vec<String> = [first, rest]
        .iter()
        .flat_map(|page| page["talks"]["nodes"].as_array().unwrap().clone())
        .map(|n| n["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slugs, graphql);

    // Filters, sort and include.
    let reply = call(
        &app,
        "GET",
        "/talks?q=kafka&sort=date&limit=100&include=resources,embeds",
        None,
        &[],
        None,
    )
    .await;
    let data = reply.body["data"].as_array().unwrap();
    assert!(data.len() > 10);
    let dates: Vec<&str> = data.iter().map(|t| t["date"].as_str().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    assert!(
        data.iter()
            .all(|t| t["resources"].is_array() && t["embeds"].is_array())
    );
    let reply = call(
        &app,
        "GET",
        "/talks?location=Malm%C3%B6%2C%20Sweden&year=2019",
        None,
        &[],
        None,
    )
    .await;
    assert!(
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["location"] == "Malmö, Sweden")
    );
}

#[actix_web::test]
async fn a_talk_reads_the_same_over_rest_and_graphql() {
    let app = TestApp::with_corpus().await;
    let graphql = app
        .data(
            "{ talks(first: 3) { nodes { id slug title date event location notistId imageUrl pdfUrl bodyHtml bodyText excerpt status version createdAt updatedAt extra
               resources { id title url description assetId } embeds { id kind html tweet { url author handle text date } video { src provider } } } } }",
            json!({}),
        )
        .await;
    for node in graphql["talks"]["nodes"].as_array().unwrap() {
        let slug = node["slug"].as_str().unwrap();
        let reply = call(&app, "GET", &format!("/talks/{slug}"), None, &[], None).await;
        assert_eq!(reply.status, 200);
        let talk = &reply.body;
        for (rest, gql) in [
            ("id", "id"),
            ("slug", "slug"),
            ("title", "title"),
            ("date", "date"),
            ("event", "event"),
            ("location", "location"),
            ("notist_id", "notistId"),
            ("image_url", "imageUrl"),
            ("pdf_url", "pdfUrl"),
            ("body_html", "bodyHtml"),
            ("body_text", "bodyText"),
            ("excerpt", "excerpt"),
            ("version", "version"),
            ("created_at", "createdAt"),
            ("updated_at", "updatedAt"),
            ("extra", "extra"),
        ] {
            assert_eq!(talk[rest], node[gql], "{slug}: {rest}");
        }
        assert_eq!(
            talk["status"],
            node["status"].as_str().unwrap().to_lowercase()
        );
        let resources: Vec<Value> = node["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let asset = r.as_object_mut().unwrap().remove("assetId").unwrap();
                r["asset_id"] = asset;
                r
            })
            .collect();
        assert_eq!(talk["resources"], Value::Array(resources), "{slug}");
        assert_eq!(talk["embeds"], node["embeds"], "{slug}");
    }
}

#[actix_web::test]
async fn etags_give_304_and_anonymous_reads_are_publicly_cacheable() {
    let app = TestApp::with_corpus().await;
    let list = call(&app, "GET", "/talks", None, &[], None).await;
    let etag = list.header("etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    assert!(list.header("cache-control").starts_with("public"));
    let again = call(
        &app,
        "GET",
        "/talks",
        None,
        &[("If-None-Match", &etag)],
        None,
    )
    .await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), etag);

    let slug = list.body["data"][0]["slug"].as_str().unwrap().to_owned();
    let one = call(&app, "GET", &format!("/talks/{slug}"), None, &[], None).await;
    let etag = one.header("etag").to_owned();
    let again = call(
        &app,
        "GET",
        &format!("/talks/{slug}"),
        None,
        &[("If-None-Match", &etag)],
        None,
    )
    .await;
    assert_eq!(again.status, 304);
    let other = call(
        &app,
        "GET",
        &format!("/talks/{slug}"),
        None,
        &[("If-None-Match", "\"something-else\"")],
        None,
    )
    .await;
    assert_eq!(other.status, 200);

    // With a token: private.
    let viewer = app.user_token("v@example.com", Role::Viewer).await;
    let private = call(&app, "GET", "/talks", Some(&viewer), &[], None).await;
    assert_eq!(private.header("cache-control"), "private, no-store");
    let events = call(&app, "GET", "/events", None, &[], None).await;
    assert_eq!(events.status, 200);
    assert!(
        events
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["talk_count"].as_i64().unwrap() > 1)
    );
}

#[actix_web::test]
async fn editing_takes_if_match_and_refuses_stale_versions() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let created = call(
        &app,
        "POST",
        "/talks",
        Some(&editor),
        &[],
        json_body(new_talk("rest-talk")),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("location"), "/api/v1/talks/rest-talk");
    assert_eq!(created.body["status"], "draft");
    assert!(
        !created.body["body_html"]
            .as_str()
            .unwrap()
            .contains("script")
    );
    let etag = created.header("etag").to_owned();

    // A draft: not there for readers without a token.
    assert_problem(
        &call(&app, "GET", "/talks/rest-talk", None, &[], None).await,
        404,
    );

    // PATCH without If-Match: 428; with a stale one: 412 and nothing changes.
    let patch = Some((
        "application/merge-patch+json",
        br#"{"title": "Patched", "event": null}"#.to_vec(),
    ));
    assert_problem(
        &call(
            &app,
            "PATCH",
            "/talks/rest-talk",
            Some(&editor),
            &[],
            patch.clone(),
        )
        .await,
        428,
    );
    let stale = call(
        &app,
        "PATCH",
        "/talks/rest-talk",
        Some(&editor),
        &[("If-Match", "\"00000000-0000-0000-0000-000000000000.1\"")],
        patch.clone(),
    )
    .await;
    assert_problem(&stale, 412);
    let patched = call(
        &app,
        "PATCH",
        "/talks/rest-talk",
        Some(&editor),
        &[("If-Match", &etag)],
        patch.clone(),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["title"], "Patched");
    assert_eq!(patched.body["event"], Value::Null);
    assert_eq!(patched.body["location"], "Oslo");
    assert_eq!(patched.body["version"], 2);
    let new_etag = patched.header("etag").to_owned();
    assert_ne!(new_etag, etag);
    // The old ETag is stale now.
    let again = call(
        &app,
        "PATCH",
        "/talks/rest-talk",
        Some(&editor),
        &[("If-Match", &etag)],
        Some(("application/json", br#"{"title": "Lost"}"#.to_vec())),
    )
    .await;
    assert_problem(&again, 412);
    assert_eq!(again.body["current_version"], 2);
    // The conflict names the current ETag, as a failed If-Match does.
    assert_eq!(again.header("etag"), new_etag);
    let read = call(&app, "GET", "/talks/rest-talk", Some(&editor), &[], None).await;
    assert_eq!(read.body["title"], "Patched");
    // The bare version works as If-Match too.
    let by_version = call(
        &app,
        "PATCH",
        "/talks/rest-talk",
        Some(&editor),
        &[("If-Match", "2")],
        Some(("application/json", br#"{"location": "Bergen"}"#.to_vec())),
    )
    .await;
    assert_eq!(by_version.status, 200, "{}", by_version.body);

    // Publish, then readers see it.
    let published = call(
        &app,
        "POST",
        "/talks/rest-talk/publish",
        Some(&editor),
        &[],
        None,
    )
    .await;
    assert_eq!(published.body["status"], "published", "{}", published.body);
    assert_eq!(
        call(&app, "GET", "/talks/rest-talk", None, &[], None)
            .await
            .status,
        200
    );
    let unpublished = call(
        &app,
        "POST",
        "/talks/rest-talk/unpublish",
        Some(&editor),
        &[("If-Match", "1")],
        None,
    )
    .await;
    assert_problem(&unpublished, 412);
    assert_eq!(unpublished.header("etag"), published.header("etag"));

    // Delete: If-Match required, then gone.
    assert_problem(
        &call(&app, "DELETE", "/talks/rest-talk", Some(&editor), &[], None).await,
        428,
    );
    let current = published.header("etag").to_owned();
    let deleted = call(
        &app,
        "DELETE",
        "/talks/rest-talk",
        Some(&editor),
        &[("If-Match", &current)],
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_problem(
        &call(&app, "GET", "/talks/rest-talk", Some(&editor), &[], None).await,
        404,
    );
}

#[actix_web::test]
async fn resources_and_embeds_have_their_own_routes() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    call(
        &app,
        "POST",
        "/talks",
        Some(&editor),
        &[],
        json_body(new_talk("parts")),
    )
    .await;
    let added = call(
        &app,
        "POST",
        "/talks/parts/resources",
        Some(&editor),
        &[],
        json_body(json!({"title": "Code", "url": "https://example.com/code", "position": 0})),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let location = added.header("location").to_owned();
    let code_id = added.body["resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(location, format!("/api/v1/talks/parts/resources/{code_id}"));
    let etag = added.header("etag").to_owned();
    // Location names the new resource: it reads as the talk lists it, with the talk's ETag.
    let bearer = format!("Bearer {editor}");
    let item = request(&app, "GET", &location, Some(&bearer), &[], None).await;
    assert_eq!(item.status, 200, "{}", item.body);
    assert_eq!(item.body, added.body["resources"][0]);
    assert_eq!(item.header("etag"), etag);
    let unchanged = request(
        &app,
        "GET",
        &location,
        Some(&bearer),
        &[("If-None-Match", &etag)],
        None,
    )
    .await;
    assert_eq!(unchanged.status, 304);
    // Not there for readers without a token while the talk is a draft, nor for an id the
    // talk does not hold.
    assert_problem(&request(&app, "GET", &location, None, &[], None).await, 404);
    let elsewhere = format!("/talks/parts/resources/{}", uuid::Uuid::nil());
    assert_problem(
        &call(&app, "GET", &elsewhere, Some(&editor), &[], None).await,
        404,
    );
    let patched = call(
        &app,
        "PATCH",
        &format!("/talks/parts/resources/{code_id}"),
        Some(&editor),
        &[("If-Match", &etag)],
        json_body(json!({"description": "The code"})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["resources"][0]["description"], "The code");
    assert_eq!(patched.body["resources"][0]["title"], "Code");
    let ids: Vec<Value> = patched.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    let reordered = call(
        &app,
        "PUT",
        "/talks/parts/resources/order",
        Some(&editor),
        &[],
        json_body(json!({"ids": [ids[1], ids[0]]})),
    )
    .await;
    assert_eq!(
        reordered.body["resources"][1]["id"], ids[0],
        "{}",
        reordered.body
    );
    let bad_order = call(
        &app,
        "PUT",
        "/talks/parts/resources/order",
        Some(&editor),
        &[],
        json_body(json!({"ids": [ids[1]]})),
    )
    .await;
    assert_problem(&bad_order, 422);
    let etag = reordered.header("etag").to_owned();
    let removed = call(
        &app,
        "DELETE",
        &format!("/talks/parts/resources/{code_id}"),
        Some(&editor),
        &[("If-Match", &etag)],
        None,
    )
    .await;
    assert_eq!(
        removed.body["resources"].as_array().unwrap().len(),
        1,
        "{}",
        removed.body
    );
    assert_problem(
        &call(
            &app,
            "DELETE",
            &format!("/talks/parts/resources/{code_id}"),
            Some(&editor),
            &[("If-Match", "*")],
            None,
        )
        .await,
        404,
    );

    let embed = call(&app, "POST", "/talks/parts/embeds", Some(&editor), &[], json_body(json!({"kind": "tweet", "html": "<blockquote class=\"twitter-tweet\"><p>Hi</p></blockquote>"}))).await;
    assert_eq!(embed.status, 201, "{}", embed.body);
    let tweet_id = embed.body["embeds"][1]["id"].as_str().unwrap().to_owned();
    let tweet = call(
        &app,
        "GET",
        &format!("/talks/parts/embeds/{tweet_id}"),
        Some(&editor),
        &[],
        None,
    )
    .await;
    assert_eq!(tweet.status, 200, "{}", tweet.body);
    assert_eq!(tweet.body, embed.body["embeds"][1]);
    let etag = embed.header("etag").to_owned();
    let bad = call(
        &app,
        "PATCH",
        &format!("/talks/parts/embeds/{tweet_id}"),
        Some(&editor),
        &[("If-Match", &etag)],
        json_body(json!({"kind": ""})),
    )
    .await;
    assert_problem(&bad, 422);
    assert_eq!(bad.body["errors"][0]["path"], "kind");
    // A change of the kind alone keeps the markup as written, which readers are never served.
    let kind = call(
        &app,
        "PATCH",
        &format!("/talks/parts/embeds/{tweet_id}"),
        Some(&editor),
        &[("If-Match", &etag)],
        json_body(json!({"kind": "video"})),
    )
    .await;
    assert_eq!(kind.status, 200, "{}", kind.body);
    let stored = entity::embed::Entity::find_by_id(Uuid::parse_str(&tweet_id).unwrap())
        .one(&app.db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.kind.as_str(), stored.html.as_str()),
        (
            "video",
            "<blockquote class=\"twitter-tweet\"><p>Hi</p></blockquote>"
        )
    );
    let etag = kind.header("etag").to_owned();
    let gone = call(
        &app,
        "DELETE",
        &format!("/talks/parts/embeds/{tweet_id}"),
        Some(&editor),
        &[("If-Match", &etag)],
        None,
    )
    .await;
    assert_eq!(
        gone.body["embeds"].as_array().unwrap().len(),
        1,
        "{}",
        gone.body
    );
}

#[actix_web::test]
async fn every_error_is_a_problem_with_the_right_status() {
    let app = TestApp::with_corpus().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let viewer = app.user_token("v@example.com", Role::Viewer).await;
    // 400: bad parameters and bodies that are not JSON.
    for path in [
        "/talks?limit=0",
        "/talks?limit=101",
        "/talks?limit=x",
        "/talks?sort=size",
        "/talks?from=yesterday",
        "/talks?cursor=nope",
        "/talks?include=speakers",
        "/talks?has_video=maybe",
    ] {
        let reply = call(&app, "GET", path, None, &[], None).await;
        assert!(
            reply.status == 400 || reply.status == 422,
            "{path}: {}",
            reply.status
        );
        assert_eq!(
            reply.header("content-type"),
            "application/problem+json",
            "{path}"
        );
    }
    assert_problem(
        &call(
            &app,
            "POST",
            "/talks",
            Some(&editor),
            &[],
            Some(("application/json", b"{not json".to_vec())),
        )
        .await,
        400,
    );
    // 401 with a challenge, 403 for a role too low.
    let bad = call(&app, "GET", "/talks", Some("not.a.token"), &[], None).await;
    assert_problem(&bad, 401);
    assert!(bad.header("www-authenticate").starts_with("Bearer"));
    assert_problem(
        &call(&app, "POST", "/talks", None, &[], json_body(new_talk("x"))).await,
        401,
    );
    assert_problem(
        &call(
            &app,
            "POST",
            "/talks",
            Some(&viewer),
            &[],
            json_body(new_talk("x")),
        )
        .await,
        403,
    );
    // 404 for unknown talks and routes; 405 with Allow for a known route and another method.
    assert_problem(
        &call(&app, "GET", "/talks/no-such-talk", None, &[], None).await,
        404,
    );
    assert_problem(
        &call(&app, "GET", "/nothing/here", None, &[], None).await,
        404,
    );
    let not_allowed = call(&app, "DELETE", "/talks", Some(&editor), &[], None).await;
    assert_problem(&not_allowed, 405);
    assert_eq!(not_allowed.header("allow"), "GET, HEAD, POST");
    // HEAD answers as GET would, without the body.
    let got = call(&app, "GET", "/talks", None, &[], None).await;
    let head = call(&app, "HEAD", "/talks", None, &[], None).await;
    assert_eq!(head.status, 200);
    assert!(head.bytes.is_empty(), "a HEAD response with a body");
    assert_eq!(head.header("etag"), got.header("etag"));
    assert_eq!(head.header("content-type"), got.header("content-type"));
    // 409: a slug taken.
    call(
        &app,
        "POST",
        "/talks",
        Some(&editor),
        &[],
        json_body(new_talk("taken")),
    )
    .await;
    assert_problem(
        &call(
            &app,
            "POST",
            "/talks",
            Some(&editor),
            &[],
            json_body(new_talk("taken")),
        )
        .await,
        409,
    );
    // 413, 415.
    let huge = vec![b' '; api::startup::MAX_BODY_BYTES + 10];
    assert_problem(
        &call(
            &app,
            "POST",
            "/talks",
            Some(&editor),
            &[],
            Some(("application/json", huge)),
        )
        .await,
        413,
    );
    assert_problem(
        &call(
            &app,
            "POST",
            "/talks",
            Some(&editor),
            &[],
            Some(("text/plain", b"{}".to_vec())),
        )
        .await,
        415,
    );
    // 422: every field problem listed; unknown fields refused.
    let invalid = call(
        &app,
        "POST",
        "/talks",
        Some(&editor),
        &[],
        json_body(json!({"slug": "bad slug", "title": "", "date": "never"})),
    )
    .await;
    assert_problem(&invalid, 422);
    let paths: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for path in ["slug", "title", "date"] {
        assert!(paths.contains(&path), "{path}: {}", invalid.body);
    }
    let mut unknown = new_talk("unknown-field");
    unknown["speaker"] = json!("Ada");
    let reply = call(
        &app,
        "POST",
        "/talks",
        Some(&editor),
        &[],
        json_body(unknown),
    )
    .await;
    assert_problem(&reply, 422);
    assert!(
        reply.body["detail"].as_str().unwrap().contains("speaker"),
        "{}",
        reply.body
    );
    // 429 on the login alias.
    let mut last = 0;
    for _ in 0..6 {
        last = call(
            &app,
            "POST",
            "/auth/login",
            None,
            &[],
            json_body(json!({"email": "ed@example.com", "password": "wrong wrong wrong"})),
        )
        .await
        .status;
    }
    assert_eq!(last, 429);
    // The contract is served.
    let client = awc::Client::new();
    let mut response = client
        .get(format!("{}/api/v1/openapi.yaml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.body().await.unwrap();
    assert!(String::from_utf8_lossy(&text).contains("openapi:"));
}

#[actix_web::test]
async fn browsers_may_call_from_the_configured_origins_only() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            call(
                app,
                "OPTIONS",
                "/talks/x",
                None,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "PATCH"),
                    (
                        "Access-Control-Request-Headers",
                        "authorization, if-match, content-type",
                    ),
                ],
                None,
            )
            .await
        }
    };
    let allowed = preflight("https://site.example.com").await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://site.example.com"
    );
    assert!(
        allowed
            .header("access-control-allow-methods")
            .contains("PATCH")
    );
    let refused = preflight("https://evil.example.com").await;
    assert!(refused.header("access-control-allow-origin").is_empty());
    let read = call(
        &app,
        "GET",
        "/talks",
        None,
        &[("Origin", "https://site.example.com")],
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.header("access-control-allow-origin"),
        "https://site.example.com"
    );
    assert!(
        read.header("access-control-expose-headers")
            .to_lowercase()
            .contains("etag")
    );
}

/// The field paths of a validation problem's `errors`.
fn error_paths(reply: &Reply) -> Vec<&str> {
    reply.body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["path"].as_str()).collect())
        .unwrap_or_default()
}

#[actix_web::test]
async fn an_integer_written_with_a_zero_fraction_is_read_as_that_integer() {
    let app = TestApp::with_corpus().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    call(
        &app,
        "POST",
        "/talks",
        Some(&editor),
        &[],
        json_body(new_talk("whole")),
    )
    .await;
    // In a body: `position` first, then last.
    for (position, index) in [(json!(0.0), 0), (json!(2e0), 2)] {
        let added = call(
            &app,
            "POST",
            "/talks/whole/resources",
            Some(&editor),
            &[],
            json_body(json!({
                "title": format!("At {position}"), "url": "https://example.com/x", "position": position
            })),
        )
        .await;
        assert_eq!(added.status, 201, "{}", added.body);
        assert_eq!(
            added.body["resources"][index]["title"],
            format!("At {position}"),
            "{}",
            added.body
        );
    }
    let hook = call(
        &app,
        "POST",
        "/webhooks",
        Some(&admin),
        &[],
        json_body(json!({"url": "https://hooks.example.com/a", "events": ["talk.*"]})),
    )
    .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let replayed = call(
        &app,
        "POST",
        &format!("/webhooks/{}/replay", hook.body["id"].as_str().unwrap()),
        Some(&admin),
        &[],
        json_body(json!({"from_seq": 3.0})),
    )
    .await;
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert_eq!(replayed.body["delivered_seq"], 2, "{}", replayed.body);
    // In a query parameter.
    let page = call(&app, "GET", "/talks?limit=2.0", None, &[], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2);
    let feed = call(&app, "GET", "/changes?limit=1e0", None, &[], None).await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert_eq!(feed.body["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn an_integer_with_a_fraction_or_out_of_range_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let admin = app.user_token("admin@example.com", Role::Admin).await;
    call(
        &app,
        "POST",
        "/talks",
        Some(&editor),
        &[],
        json_body(new_talk("fractions")),
    )
    .await;
    for position in [
        json!(0.5),
        json!(1473.5),
        json!(3e10),
        json!(-3e10),
        json!(1e300),
    ] {
        let refused = call(
            &app,
            "POST",
            "/talks/fractions/embeds",
            Some(&editor),
            &[],
            json_body(json!({"kind": "video", "html": "<p>x</p>", "position": position})),
        )
        .await;
        assert_problem(&refused, 422);
        assert_eq!(error_paths(&refused), ["position"], "{}", refused.body);
        assert!(
            refused.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("position")),
            "{}",
            refused.body
        );
    }
    let hook = call(
        &app,
        "POST",
        "/webhooks",
        Some(&admin),
        &[],
        json_body(json!({"url": "https://hooks.example.com/a", "events": ["talk.*"]})),
    )
    .await;
    let replay = format!("/webhooks/{}/replay", hook.body["id"].as_str().unwrap());
    for from_seq in [json!(1.5), json!(1e19), json!("1")] {
        let refused = call(
            &app,
            "POST",
            &replay,
            Some(&admin),
            &[],
            json_body(json!({ "from_seq": from_seq })),
        )
        .await;
        assert_problem(&refused, 422);
        assert_eq!(error_paths(&refused), ["from_seq"], "{}", refused.body);
    }
    // A query parameter of the wrong type is a bad request (400), as for any other.
    for query in ["limit=2.5", "limit=1e300", "year=2019.5", "limit=NaN"] {
        let refused = call(&app, "GET", &format!("/talks?{query}"), None, &[], None).await;
        assert_problem(&refused, 400);
    }
}
