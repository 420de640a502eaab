//! Assets through HTTP: uploads, a talk's image and slides, serving with caching headers and
//! ranges, transforms, who may read what, and every kind of bad file.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use service::accounts::Role;
use tests::files;

use crate::support::{Reply, TestApp, request};

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> Reply {
    let authorization = token.map(|token| format!("Bearer {token}"));
    request(app, method, path, authorization.as_deref(), headers, body).await
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> Reply {
    upload_with(app, token, &[("file", Some(name), bytes)]).await
}

async fn upload_with(app: &TestApp, token: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Reply {
    let (content_type, body) = files::multipart(parts);
    call(
        app,
        "POST",
        "/api/v1/assets",
        Some(token),
        &[],
        Some((&content_type, body)),
    )
    .await
}

async fn new_talk(app: &TestApp, token: &str, slug: &str) {
    let talk = json!({ "slug": slug, "title": "A talk with slides", "date": "2026-12-01" });
    let reply = call(
        app,
        "POST",
        "/api/v1/talks",
        Some(token),
        &[],
        Some(("application/json", talk.to_string().into_bytes())),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

async fn attach(app: &TestApp, token: &str, slug: &str, slot: &str, asset: &str) -> Reply {
    call(
        app,
        "PUT",
        &format!("/api/v1/talks/{slug}/{slot}"),
        Some(token),
        &[],
        Some((
            "application/json",
            json!({ "asset_id": asset }).to_string().into_bytes(),
        )),
    )
    .await
}

async fn publish(app: &TestApp, token: &str, slug: &str, to: &str) {
    let reply = call(
        app,
        "POST",
        &format!("/api/v1/talks/{slug}/{to}"),
        Some(token),
        &[],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

fn assert_problem(reply: &Reply, status: u16, says: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(says),
        "the problem should say {says:?}: {}",
        reply.body
    );
}

/// Every file under the app's asset folder.
fn stored_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![app.db.assets_dir()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

async fn asset_rows(app: &TestApp) -> u64 {
    use service::sea_orm::{EntityTrait, PaginatorTrait};
    entity::asset::Entity::find()
        .count(&app.db.db)
        .await
        .expect("count assets")
}

fn decoded(reply: &Reply) -> image::DynamicImage {
    image::load_from_memory(&reply.bytes).unwrap_or_else(|e| panic!("not an image: {e}"))
}

#[actix_web::test]
async fn an_image_is_stored_once_served_immutable_and_readable_once_its_talk_is_published() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let bytes = files::jpeg(640, 480);
    let first = upload(&app, &editor, "Cover Photo.jpg", &bytes).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let asset = &first.body;
    assert_eq!(asset["media_type"], "image/jpeg");
    assert_eq!(asset["filename"], "Cover-Photo.jpg");
    assert_eq!(
        (asset["width"].clone(), asset["height"].clone()),
        (json!(640), json!(480))
    );
    assert_eq!(asset["size"], bytes.len());
    let id = asset["id"].as_str().expect("an id").to_owned();
    let url = asset["url"].as_str().expect("a url").to_owned();
    assert_eq!(url, format!("/assets/{id}/Cover-Photo.jpg"));
    assert_eq!(first.header("location"), format!("/api/v1/assets/{id}"));

    // The same bytes again, under another name: the same asset, stored once.
    let again = upload(&app, &editor, "copy.jpg", &bytes).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(stored_files(&app).len(), 1, "{:?}", stored_files(&app));

    // Attached to a draft: only staff read it.
    new_talk(&app, &editor, "with-cover").await;
    let attached = attach(&app, &editor, "with-cover", "image", &id).await;
    assert_eq!(attached.status, 200, "{}", attached.body);
    assert_eq!(attached.body["image_url"], url.as_str());
    let anonymous = call(&app, "GET", &url, None, &[], None).await;
    assert_problem(&anonymous, 404, "no such");
    let staff = call(&app, "GET", &url, Some(&editor), &[], None).await;
    assert_eq!(staff.status, 200);
    assert_eq!(staff.header("cache-control"), "private, no-cache");

    publish(&app, &editor, "with-cover", "publish").await;
    for path in [url.clone(), format!("/assets/{id}")] {
        let served = call(&app, "GET", &path, None, &[], None).await;
        assert_eq!(served.status, 200, "{path}");
        assert_eq!(served.bytes, bytes);
        assert_eq!(served.header("content-type"), "image/jpeg");
        assert_eq!(
            served.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(served.header("x-content-type-options"), "nosniff");
        assert_eq!(
            served.header("etag"),
            format!("\"{}\"", asset["sha256"].as_str().unwrap_or_default())
        );
        let etag = served.header("etag").to_owned();
        let revalidated = call(&app, "GET", &path, None, &[("If-None-Match", &etag)], None).await;
        assert_eq!(revalidated.status, 304);
        assert!(revalidated.bytes.is_empty());
    }
    let head = call(&app, "HEAD", &url, None, &[], None).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), bytes.len().to_string());

    // Readers' answers come from the response cache the second time, the same bytes and
    // headers; a transform's too.
    let small = format!("{url}?width=320");
    for path in [url.clone(), small.clone()] {
        let first = call(&app, "GET", &path, None, &[], None).await;
        let second = call(&app, "GET", &path, None, &[], None).await;
        assert_eq!((first.status, second.status), (200, 200), "{path}");
        assert_eq!(first.bytes, second.bytes);
        for name in ["content-type", "etag", "cache-control", "content-length"] {
            assert_eq!(first.header(name), second.header(name), "{name}");
        }
    }

    // Unpublished: hidden from readers again, at once, cached or not.
    publish(&app, &editor, "with-cover", "unpublish").await;
    assert_eq!(call(&app, "GET", &url, None, &[], None).await.status, 404);
    assert_eq!(call(&app, "GET", &small, None, &[], None).await.status, 404);
    // Published again, then shown no more: hidden too.
    publish(&app, &editor, "with-cover", "publish").await;
    assert_eq!(call(&app, "GET", &small, None, &[], None).await.status, 200);
    let detached = call(
        &app,
        "DELETE",
        "/api/v1/talks/with-cover/image",
        Some(&editor),
        &[],
        None,
    )
    .await;
    assert_eq!(detached.status, 200, "{}", detached.body);
    assert_eq!(call(&app, "GET", &small, None, &[], None).await.status, 404);
}

#[actix_web::test]
async fn slides_are_a_pdf_with_pages_a_first_page_and_byte_ranges() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let pdf = files::pdf(3);
    let uploaded = upload(&app, &editor, "deck.pdf", &pdf).await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    assert_eq!(uploaded.body["media_type"], "application/pdf");
    assert_eq!(uploaded.body["pages"], 3);
    let id = uploaded.body["id"].as_str().expect("an id").to_owned();
    let url = uploaded.body["url"].as_str().expect("a url").to_owned();

    new_talk(&app, &editor, "with-slides").await;
    // A PDF is no image, and an image is no slides.
    let wrong = attach(&app, &editor, "with-slides", "image", &id).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert_eq!(wrong.body["errors"][0]["path"], "asset_id");
    let attached = attach(&app, &editor, "with-slides", "slides", &id).await;
    assert_eq!(attached.status, 200, "{}", attached.body);
    publish(&app, &editor, "with-slides", "publish").await;

    let whole = call(&app, "GET", &url, None, &[], None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.bytes, pdf);
    assert_eq!(whole.header("content-type"), "application/pdf");
    assert_eq!(
        whole.header("content-disposition"),
        "inline; filename=\"deck.pdf\""
    );
    assert_eq!(whole.header("accept-ranges"), "bytes");

    let part = call(&app, "GET", &url, None, &[("Range", "bytes=100-199")], None).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, pdf[100..200]);
    assert_eq!(
        part.header("content-range"),
        format!("bytes 100-199/{}", pdf.len())
    );
    let tail = call(&app, "GET", &url, None, &[("Range", "bytes=-10")], None).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.bytes, pdf[pdf.len() - 10..]);
    let beyond = call(
        &app,
        "GET",
        &url,
        None,
        &[("Range", "bytes=99999999-")],
        None,
    )
    .await;
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range"),
        format!("bytes */{}", pdf.len())
    );

    // The first page, as an image, and smaller.
    let page = call(&app, "GET", &format!("{url}?format=png"), None, &[], None).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.header("content-type"), "image/png");
    let image = decoded(&page);
    assert_eq!((image.width(), image.height()), (1280, 720));
    let small = call(
        &app,
        "GET",
        &format!("{url}?width=320&format=webp"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(small.header("content-type"), "image/webp");
    let image = decoded(&small);
    assert_eq!((image.width(), image.height()), (320, 180));
    // Blue, as the first page is.
    let [r, g, b, _] = image.to_rgba8().get_pixel(20, 20).0;
    assert!(b > 150 && r < 100 && g < 150, "{r} {g} {b}");
}

#[actix_web::test]
async fn transforms_come_from_the_allowed_set_are_made_once_and_crop_around_the_focal_point() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let bytes = files::jpeg(1200, 900);
    // The red square of the test image is around (0.81, 0.42).
    let uploaded = upload_with(
        &app,
        &editor,
        &[
            ("file", Some("photo.jpg"), &bytes),
            ("alt", None, b"A red square on a gradient"),
            ("focal_x", None, b"0.81"),
            ("focal_y", None, b"0.42"),
        ],
    )
    .await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    assert_eq!(uploaded.body["alt"], "A red square on a gradient");
    assert_eq!(
        uploaded.body["focal_point"],
        json!({ "x": 0.81, "y": 0.42 })
    );
    let url = uploaded.body["url"].as_str().expect("a url").to_owned();
    let get = |query: &str| {
        let path = format!("{url}?{query}");
        let app = &app;
        let editor = editor.clone();
        async move { call(app, "GET", &path, Some(&editor), &[], None).await }
    };

    let wide = get("width=320").await;
    assert_eq!(wide.status, 200, "{}", wide.text());
    assert_eq!(wide.header("content-type"), "image/jpeg");
    let image = decoded(&wide);
    assert_eq!((image.width(), image.height()), (320, 240));

    let square = get("width=320&height=320&fit=cover&format=webp").await;
    assert_eq!(square.header("content-type"), "image/webp");
    let image = decoded(&square).to_rgba8();
    assert_eq!((image.width(), image.height()), (320, 320));
    // The crop is the right-hand 900 × 900 of the image: the square is in it.
    let red = image
        .pixels()
        .filter(|p| p.0[0] > 230 && p.0[1] < 80)
        .count();
    assert!(red > 1000, "{red} red pixels");
    let centred = {
        let reply = call(
            &app,
            "PATCH",
            &format!(
                "/api/v1/assets/{}",
                uploaded.body["id"].as_str().unwrap_or_default()
            ),
            Some(&editor),
            &[],
            Some((
                "application/merge-patch+json",
                json!({ "focal_point": { "x": 0.0, "y": 0.5 } })
                    .to_string()
                    .into_bytes(),
            )),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        get("width=320&height=320&fit=cover&format=webp").await
    };
    let image = decoded(&centred).to_rgba8();
    let red = image
        .pixels()
        .filter(|p| p.0[0] > 230 && p.0[1] < 80)
        .count();
    assert_eq!(red, 0, "a crop of the left-hand side shows no red");

    let contained = get("width=320&height=320&fit=contain&format=png").await;
    let image = decoded(&contained);
    assert_eq!((image.width(), image.height()), (320, 320));
    let preset = get("preset=thumbnail").await;
    let image = decoded(&preset);
    assert_eq!((image.width(), image.height()), (320, 180));

    // Made once: the same bytes, and one stored variant per distinct transform.
    let again = get("width=320").await;
    assert_eq!(again.header("etag"), wide.header("etag"));
    use service::sea_orm::{EntityTrait, PaginatorTrait};
    let variants = entity::asset_variant::Entity::find()
        .count(&app.db.db)
        .await
        .expect("count");
    assert_eq!(variants, 5);

    for (query, parameter) in [
        ("width=333", "width"),
        ("width=100000", "width"),
        ("height=-5", "height"),
        ("fit=fill", "fit"),
        ("format=tiff", "format"),
        ("quality=81", "quality"),
        ("preset=enormous", "preset"),
        ("colour=red", "colour"),
    ] {
        let refused = get(query).await;
        assert_problem(&refused, 400, parameter);
    }
}

#[actix_web::test]
async fn attaching_names_the_asset_and_links_follow_the_paths() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    new_talk(&app, &editor, "linked").await;
    let missing = attach(
        &app,
        &editor,
        "linked",
        "image",
        &uuid::Uuid::now_v7().to_string(),
    )
    .await;
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert_eq!(missing.body["errors"][0]["path"], "asset_id");

    // A path that names an asset that does not exist is refused, with the field's path.
    let patch = json!({ "image": format!("/assets/{}/x.jpg", uuid::Uuid::now_v7()) });
    let reply = call(
        &app,
        "PATCH",
        "/api/v1/talks/linked",
        Some(&editor),
        &[("If-Match", "\"1\"")],
        Some((
            "application/merge-patch+json",
            patch.to_string().into_bytes(),
        )),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["path"], "image");

    // A resource that points at an asset links it; readers see it once the talk is published.
    let png = files::png(200, 100);
    let uploaded = upload(&app, &editor, "handout.png", &png).await;
    let url = uploaded.body["url"].as_str().expect("a url").to_owned();
    let reply = call(
        &app,
        "POST",
        "/api/v1/talks/linked/resources",
        Some(&editor),
        &[],
        Some((
            "application/json",
            json!({ "title": "Handout", "url": url })
                .to_string()
                .into_bytes(),
        )),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(call(&app, "GET", &url, None, &[], None).await.status, 404);
    publish(&app, &editor, "linked", "publish").await;
    assert_eq!(call(&app, "GET", &url, None, &[], None).await.status, 200);

    // Detaching keeps the asset, and the talk's events carry the link.
    let detached = call(
        &app,
        "DELETE",
        "/api/v1/talks/linked/image",
        Some(&editor),
        &[],
        None,
    )
    .await;
    assert_eq!(detached.status, 200, "{}", detached.body);
    let feed = call(
        &app,
        "GET",
        "/api/v1/changes?limit=100",
        Some(&editor),
        &[],
        None,
    )
    .await;
    let events = feed.body["data"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"asset.created"), "{types:?}");
    let linked = events.iter().any(|e| {
        e["data"]["resources"][0]["asset_id"].as_str() == uploaded.body["id"].as_str()
            || e["payload"]["resources"][0]["asset_id"].as_str() == uploaded.body["id"].as_str()
    });
    assert!(linked, "{}", Value::Array(events.clone()));
}

#[actix_web::test]
async fn bad_files_are_refused_with_a_reason_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    let viewer = app.user_token("viewer@example.com", Role::Viewer).await;
    let jpeg = files::jpeg(300, 200);
    let png = files::png(300, 200);

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "slides.pdf",
            png.clone(),
            422,
            "named `slides.pdf` but its bytes are a PNG image",
        ),
        (
            "photo.jpg",
            jpeg[..jpeg.len() / 2].to_vec(),
            422,
            "JPEG image",
        ),
        (
            "diagram.png",
            png[..png.len() * 2 / 3].to_vec(),
            422,
            "PNG image that is damaged",
        ),
        (
            "bomb.png",
            files::png_declaring(50_000, 50_000),
            422,
            "declares 50000 × 50000 pixels",
        ),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x</script></svg>".to_vec(),
            415,
            "SVG",
        ),
        (
            "notes.txt",
            b"just some text, not a picture".to_vec(),
            415,
            "must be JPEG, PNG, WebP, GIF or PDF",
        ),
        ("empty.png", Vec::new(), 415, "empty"),
        (
            "broken.pdf",
            b"%PDF-1.4\nthis is not a PDF at all".to_vec(),
            422,
            "PDF document that cannot be read",
        ),
    ];
    for (name, bytes, status, says) in cases {
        let started = Instant::now();
        let reply = upload(&app, &editor, name, &bytes).await;
        assert_problem(&reply, status, says);
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
    }

    // A PDF whose first page poppler would take minutes over: refused at the time limit.
    let started = Instant::now();
    let slow = upload(&app, &editor, "slow.pdf", &files::slow_pdf()).await;
    assert_problem(&slow, 422, "could not be read within 2000 ms");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Larger than the limit (8 MiB in tests): refused by its Content-Length, and refused
    // while streaming when it has none.
    let big = vec![0xFFu8; 9 * 1024 * 1024];
    let mut oversized = files::jpeg(64, 64);
    oversized.extend_from_slice(&big);
    let reply = upload(&app, &editor, "huge.jpg", &oversized).await;
    assert_problem(&reply, 413, "larger than the limit of 8388608 bytes");
    let (content_type, body) = files::multipart(&[("file", Some("huge.jpg"), &oversized)]);
    let chunks: Vec<Result<actix_web::web::Bytes, std::io::Error>> = body
        .chunks(64 * 1024)
        .map(|c| Ok(actix_web::web::Bytes::copy_from_slice(c)))
        .collect();
    let mut response = awc::Client::new()
        .post(format!("{}/api/v1/assets", app.address))
        .insert_header(("Authorization", format!("Bearer {editor}")))
        .insert_header(("Content-Type", content_type))
        .send_stream(futures_util::stream::iter(chunks))
        .await
        .expect("the request is answered");
    assert_eq!(response.status().as_u16(), 413);
    let problem: Value = response.json().await.expect("a problem body");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("limit")
    );

    // Not for readers, nor anonymous callers; a field that is no part of an upload.
    assert_eq!(upload(&app, &viewer, "a.png", &png).await.status, 403);
    let (content_type, body) = files::multipart(&[("file", Some("a.png"), &png)]);
    let anonymous = call(
        &app,
        "POST",
        "/api/v1/assets",
        None,
        &[],
        Some((&content_type, body)),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    let unknown = upload_with(
        &app,
        &editor,
        &[("file", Some("a.png"), &png), ("owner", None, b"me")],
    )
    .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(unknown.body["errors"][0]["path"], "owner");
    let focal = upload_with(
        &app,
        &editor,
        &[
            ("file", Some("a.png"), &png),
            ("focal_x", None, b"2"),
            ("focal_y", None, b"0"),
        ],
    )
    .await;
    assert_eq!(focal.status, 422, "{}", focal.body);
    assert_eq!(focal.body["errors"][0]["path"], "focal_point.x");
    let none = upload_with(&app, &editor, &[("alt", None, b"no file")]).await;
    assert_eq!(none.status, 422, "{}", none.body);
    assert_eq!(none.body["errors"][0]["path"], "file");

    assert_eq!(asset_rows(&app).await, 0);
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
}

#[actix_web::test]
async fn a_store_that_cannot_be_written_answers_503_and_keeps_nothing() {
    let app = TestApp::spawn().await;
    let editor = app.user_token("ed@example.com", Role::Editor).await;
    // The folder of bytes becomes a plain file: nothing can be written under it.
    let folder = app.db.assets_dir();
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::write(&folder, b"not a folder").expect("write a file where the folder was");
    let refused = upload(&app, &editor, "cover.jpg", &files::jpeg(64, 48)).await;
    assert_problem(&refused, 503, "could not be stored");
    assert_eq!(refused.body["type"], "urn:lectern:problem:unavailable");
    assert_eq!(refused.header("retry-after"), "5");
    assert_eq!(asset_rows(&app).await, 0);
}
