//! Assets through GraphQL: uploads by the GraphQL multipart request spec, a talk's `image` and
//! `slides` with URLs of transforms from the allowed set, and attaching, detaching and
//! describing assets.

use serde_json::{Value, json};
use service::accounts::Role;
use tests::files;

use crate::support::{Reply, TestApp, request};

const UPLOAD: &str = "mutation ($file: Upload!, $alt: String, $focal: FocalPointInput) {
    uploadAsset(file: $file, alt: $alt, focalPoint: $focal) {
        id mediaType filename size sha256 width height pages alt focalPoint { x y } url
    }
}";

/// Sends `file` to `uploadAsset` as the multipart request spec says.
async fn upload(
    app: &TestApp,
    token: Option<&str>,
    name: &str,
    bytes: &[u8],
    variables: Value,
) -> Reply {
    let mut variables = variables;
    variables["file"] = Value::Null;
    let operations = json!({ "query": UPLOAD, "variables": variables }).to_string();
    let map = json!({ "0": ["variables.file"] }).to_string();
    let (content_type, body) = files::multipart(&[
        ("operations", None, operations.as_bytes()),
        ("map", None, map.as_bytes()),
        ("0", Some(name), bytes),
    ]);
    let authorization = token.map(|t| format!("Bearer {t}"));
    request(
        app,
        "POST",
        "/graphql",
        authorization.as_deref(),
        &[],
        Some((&content_type, body)),
    )
    .await
}

async fn gql(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = app.graphql_as(Some(token), query, variables).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn ok(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = gql(app, token, query, variables).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// The path and query of a URL the API gave, to fetch it from the test server.
fn fetchable(url: &str) -> &str {
    url
}

fn decoded(reply: &Reply) -> image::DynamicImage {
    image::load_from_memory(&reply.bytes).expect("an image")
}

const TALK: &str = "query ($slug: String!) {
    talk(slug: $slug) {
        id version imageUrl pdfUrl
        image { assetId url width height alt focalPoint { x y } fromSlides
                small: url(width: 320, format: WEBP) card: url(preset: \"card\") }
        slides { assetId url pages thumbnail(width: 320) }
    }
}";

#[actix_web::test]
async fn uploads_attach_and_a_talk_shows_its_image_and_slides() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;

    // No token, no upload; and nothing stored.
    let jpeg = files::jpeg(1200, 900);
    let anonymous = upload(&app, None, "cover.jpg", &jpeg, json!({})).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert_eq!(
        code(&anonymous.body),
        "UNAUTHENTICATED",
        "{}",
        anonymous.body
    );

    let image = upload(
        &app,
        Some(&editor),
        "cover.jpg",
        &jpeg,
        json!({ "alt": "The stage", "focal": { "x": 0.25, "y": 0.5 } }),
    )
    .await;
    assert_eq!(image.status, 200, "{}", image.text());
    assert!(image.body.get("errors").is_none(), "{}", image.body);
    let image = &image.body["data"]["uploadAsset"];
    assert_eq!(image["mediaType"], "image/jpeg");
    assert_eq!(
        (image["width"].clone(), image["height"].clone()),
        (json!(1200), json!(900))
    );
    assert_eq!(image["alt"], "The stage");
    assert_eq!(image["focalPoint"], json!({ "x": 0.25, "y": 0.5 }));
    let image_id = image["id"].as_str().expect("an id").to_owned();
    assert_eq!(image["url"], format!("/assets/{image_id}/cover.jpg"));

    let pdf = files::pdf(4);
    let slides = upload(&app, Some(&editor), "deck.pdf", &pdf, json!({})).await;
    assert!(slides.body.get("errors").is_none(), "{}", slides.body);
    let slides = &slides.body["data"]["uploadAsset"];
    assert_eq!(slides["mediaType"], "application/pdf");
    assert_eq!(slides["pages"], 4);
    let slides_id = slides["id"].as_str().expect("an id").to_owned();

    let created = ok(
        &app,
        &editor,
        "mutation { createTalk(input: { slug: \"gql-assets\", title: \"Assets\", date: \"2026-12-01\" }) { id version } }",
        json!({}),
    )
    .await;
    let talk_id = created["createTalk"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // The wrong kind in each place is refused, naming the argument.
    let wrong = gql(
        &app,
        &editor,
        "mutation ($t: ID!, $a: ID!) { attachSlides(talkId: $t, assetId: $a) { id } }",
        json!({ "t": talk_id, "a": image_id }),
    )
    .await;
    assert_eq!(code(&wrong), "BAD_USER_INPUT", "{wrong}");
    assert!(wrong.to_string().contains("assetId"), "{wrong}");

    // Slides only: the image is their first page.
    let attached = ok(
        &app,
        &editor,
        "mutation ($t: ID!, $a: ID!) { attachSlides(talkId: $t, assetId: $a, expectedVersion: 1) { version pdfUrl } }",
        json!({ "t": talk_id, "a": slides_id }),
    )
    .await;
    assert_eq!(attached["attachSlides"]["version"], 2);
    let talk = ok(&app, &editor, TALK, json!({ "slug": "gql-assets" })).await["talk"].clone();
    assert_eq!(talk["slides"]["assetId"], slides_id.as_str());
    assert_eq!(talk["slides"]["pages"], 4);
    assert_eq!(
        talk["slides"]["url"],
        format!("/assets/{slides_id}/deck.pdf")
    );
    let thumbnail = talk["slides"]["thumbnail"]
        .as_str()
        .expect("a thumbnail")
        .to_owned();
    assert_eq!(
        thumbnail,
        format!("/assets/{slides_id}/deck.pdf?width=320&format=png")
    );
    assert_eq!(talk["image"]["fromSlides"], true);
    assert_eq!(talk["image"]["assetId"], slides_id.as_str());
    assert_eq!(
        (
            talk["image"]["width"].clone(),
            talk["image"]["height"].clone()
        ),
        (json!(1280), json!(720))
    );
    let page = request(
        &app,
        "GET",
        fetchable(&thumbnail),
        Some(&format!("Bearer {editor}")),
        &[],
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.header("content-type"), "image/png");
    assert_eq!(decoded(&page).width(), 320);

    // Its own image wins.
    ok(
        &app,
        &editor,
        "mutation ($t: ID!, $a: ID!) { attachImage(talkId: $t, assetId: $a) { version } }",
        json!({ "t": talk_id, "a": image_id }),
    )
    .await;
    let talk = ok(&app, &editor, TALK, json!({ "slug": "gql-assets" })).await["talk"].clone();
    let shown = &talk["image"];
    assert_eq!(shown["fromSlides"], false);
    assert_eq!(shown["assetId"], image_id.as_str());
    assert_eq!(shown["alt"], "The stage");
    assert_eq!(shown["url"], format!("/assets/{image_id}/cover.jpg"));
    assert_eq!(talk["imageUrl"], format!("/assets/{image_id}/cover.jpg"));
    let small = shown["small"].as_str().expect("a url");
    assert_eq!(
        small,
        format!("/assets/{image_id}/cover.jpg?width=320&format=webp")
    );
    assert_eq!(
        shown["card"],
        format!("/assets/{image_id}/cover.jpg?preset=card")
    );
    let served = request(
        &app,
        "GET",
        small,
        Some(&format!("Bearer {editor}")),
        &[],
        None,
    )
    .await;
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(served.header("content-type"), "image/webp");
    assert_eq!(decoded(&served).width(), 320);

    // A size outside the configured set is refused, naming the argument.
    let refused = gql(
        &app,
        &editor,
        "query { talk(slug: \"gql-assets\") { image { url(width: 333) } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("width"),
        "{refused}"
    );
    let preset = gql(
        &app,
        &editor,
        "query { talk(slug: \"gql-assets\") { image { url(preset: \"poster\") } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&preset), "BAD_USER_INPUT", "{preset}");

    // Readers see the asset once the talk is published.
    let asset_query = "query ($id: ID!) { asset(id: $id) { id alt } }";
    let hidden = app.data(asset_query, json!({ "id": image_id })).await;
    assert_eq!(hidden["asset"], Value::Null);
    ok(
        &app,
        &editor,
        "mutation ($t: ID!) { publishTalk(id: $t) { version } }",
        json!({ "t": talk_id }),
    )
    .await;
    let shown = app.data(asset_query, json!({ "id": image_id })).await;
    assert_eq!(shown["asset"]["alt"], "The stage");

    // Described: the alt text changes, the focal point is cleared.
    let described = ok(
        &app,
        &editor,
        "mutation ($id: ID!) { describeAsset(id: $id, alt: \"Stage, wide\", focalPoint: null) { alt focalPoint { x } } }",
        json!({ "id": image_id }),
    )
    .await;
    assert_eq!(
        described["describeAsset"],
        json!({ "alt": "Stage, wide", "focalPoint": null })
    );

    // Detached, the first page of the slides is the image again; and a stale version fails.
    let stale = gql(
        &app,
        &editor,
        "mutation ($t: ID!) { detachImage(talkId: $t, expectedVersion: 1) { version } }",
        json!({ "t": talk_id }),
    )
    .await;
    assert_eq!(code(&stale), "CONFLICT", "{stale}");
    ok(
        &app,
        &editor,
        "mutation ($t: ID!) { detachImage(talkId: $t) { version } }",
        json!({ "t": talk_id }),
    )
    .await;
    let talk = app.data(TALK, json!({ "slug": "gql-assets" })).await["talk"].clone();
    assert_eq!(talk["image"]["fromSlides"], true);
    assert_eq!(talk["imageUrl"], Value::Null);
    ok(
        &app,
        &editor,
        "mutation ($t: ID!) { detachSlides(talkId: $t) { version } }",
        json!({ "t": talk_id }),
    )
    .await;
    let talk = app.data(TALK, json!({ "slug": "gql-assets" })).await["talk"].clone();
    assert_eq!(
        (talk["image"].clone(), talk["slides"].clone()),
        (Value::Null, Value::Null)
    );

    // Each upload, attach and detach is an event: two uploads, one described, four talk edits.
    let events = ok(
        &app,
        &editor,
        "query { changes(first: 100) { events { type aggregateType } } }",
        json!({}),
    )
    .await;
    let kinds: Vec<String> = events["changes"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "asset.created").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "asset.updated").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "talk.updated").count(),
        4,
        "{kinds:?}"
    );
}

#[actix_web::test]
async fn a_path_that_names_no_asset_is_shown_as_it_is_and_bad_uploads_say_why() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    ok(
        &app,
        &editor,
        "mutation { createTalk(input: { slug: \"site-paths\", title: \"Paths\", date: \"2026-12-01\",
            image: \"/images/A4pLsH/slide_000.jpg\", pdf: \"/pdfs/A4pLsH.pdf\" }) { id } }",
        json!({}),
    )
    .await;
    let talk = ok(&app, &editor, TALK, json!({ "slug": "site-paths" })).await["talk"].clone();
    assert_eq!(talk["image"]["assetId"], Value::Null);
    assert_eq!(talk["image"]["url"], "/images/A4pLsH/slide_000.jpg");
    assert_eq!(talk["image"]["small"], "/images/A4pLsH/slide_000.jpg");
    assert_eq!(talk["slides"]["url"], "/pdfs/A4pLsH.pdf");
    assert_eq!(talk["slides"]["thumbnail"], Value::Null);

    // Bytes that are no accepted type.
    let text = upload(
        &app,
        Some(&editor),
        "notes.jpg",
        b"just some words, not a JPEG",
        json!({}),
    )
    .await;
    assert_eq!(code(&text.body), "BAD_USER_INPUT", "{}", text.body);
    // A decompression bomb, refused from its header.
    let bomb = upload(
        &app,
        Some(&editor),
        "bomb.png",
        &files::png_declaring(50_000, 50_000),
        json!({}),
    )
    .await;
    assert_eq!(code(&bomb.body), "BAD_USER_INPUT", "{}", bomb.body);
    assert!(bomb.body.to_string().contains("50000"), "{}", bomb.body);
    // Larger than the limit (8 MiB in tests): refused while it streams in.
    let mut huge = files::jpeg(16, 16);
    huge.resize(9 * 1024 * 1024, 0);
    let large = upload(&app, Some(&editor), "huge.jpg", &huge, json!({})).await;
    assert_eq!(large.status, 413, "{}", large.text());
    assert_eq!(code(&large.body), "LIMIT_EXCEEDED", "{}", large.body);
    // A viewer may not upload.
    let viewer = app.user_token("viewer@example.com", Role::Viewer).await;
    let refused = upload(
        &app,
        Some(&viewer),
        "cover.jpg",
        &files::jpeg(10, 10),
        json!({}),
    )
    .await;
    assert_eq!(code(&refused.body), "FORBIDDEN", "{}", refused.body);

    let stored = ok(
        &app,
        &editor,
        "query { changes(first: 100) { events { type } } }",
        json!({}),
    )
    .await;
    assert!(
        !stored.to_string().contains("asset.created"),
        "nothing refused is stored: {stored}"
    );
}
