//! A talk's cover image and slides in the Studio, over HTTP: uploaded, described, replaced and
//! removed from the edit page, each checked (token, role, version, file type) before anything
//! is stored. What a browser does with it is in `browser.rs`.

use service::accounts::Role;
use service::sea_orm::{EntityTrait, PaginatorTrait};
use tests::files;

use crate::studio::{StudioClient, hidden};
use crate::support::TestApp;

async fn a_draft(app: &TestApp) -> uuid::Uuid {
    service::editing::create_talk(
        &app.db.db,
        service::talks::NewTalk {
            slug: "with-slides".into(),
            title: "A talk with slides".into(),
            date: "2024-05-02".into(),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap()
    .talk
    .id
}

async fn talk(app: &TestApp, id: uuid::Uuid) -> entity::talk::Model {
    entity::talk::Entity::find_by_id(id)
        .one(&app.db.db)
        .await
        .unwrap()
        .unwrap()
}

async fn asset(app: &TestApp, id: uuid::Uuid) -> entity::asset::Model {
    entity::asset::Entity::find_by_id(id)
        .one(&app.db.db)
        .await
        .unwrap()
        .unwrap()
}

async fn assets(app: &TestApp) -> u64 {
    entity::asset::Entity::find()
        .count(&app.db.db)
        .await
        .unwrap()
}

#[actix_web::test]
async fn an_editor_uploads_describes_replaces_and_removes_the_image_and_slides() {
    let app = TestApp::spawn().await;
    let id = a_draft(&app).await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = client.token();
    let path = format!("/studio/talks/{id}");
    let page = client.get(&path).await;
    assert!(page.body.contains("id=\"no-image\""), "{}", page.body);
    assert!(page.body.contains("id=\"no-slides\""));

    // An image, with its alt text and focal point.
    let jpeg = files::jpeg(1200, 800);
    let uploaded = client
        .post_multipart(
            &format!("{path}/image"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"1"),
                ("file", Some("cover.jpg"), &jpeg),
                ("alt", None, b"The title slide"),
                ("focal_x", None, b"0.25"),
                ("focal_y", None, b"0.75"),
            ],
        )
        .await;
    assert_eq!(uploaded.status, 303, "{}", uploaded.body);
    assert_eq!(
        uploaded.location,
        format!("/studio/talks/{id}?done=image#media")
    );
    let stored = talk(&app, id).await;
    assert_eq!(stored.version, 2);
    let image = asset(&app, stored.image_asset_id.expect("an image")).await;
    assert_eq!(image.alt.as_deref(), Some("The title slide"));
    assert_eq!((image.focal_x, image.focal_y), (Some(0.25), Some(0.75)));
    let page = client.get(&format!("{path}?done=image")).await;
    assert!(page.body.contains("The cover image is uploaded"));
    let preview = format!("/studio/assets/{}/cover.jpg?width=640", image.id);
    assert!(page.body.contains(&preview), "{}", page.body);
    assert_eq!(hidden(&page.body, "version").as_deref(), Some("2"));

    // The draft's image is served to the signed-in editor, and to no reader.
    let shown = client.get(&preview).await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.headers.get("content-type").unwrap().to_str().unwrap(),
        "image/jpeg"
    );
    let (status, _) = app.get(&format!("/assets/{}", image.id)).await;
    assert_eq!(status, 404);
    let anonymous = crate::studio::send_once(&app, "GET", &preview, &[], None).await;
    assert_eq!(anonymous.status, 303, "the Studio's copy needs a session");
    assert!(anonymous.header("location").starts_with("/studio/login"));

    // Only the description changes: no new version of the talk.
    let described = client
        .post_multipart(
            &format!("{path}/image"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"2"),
                ("file", Some(""), b""),
                ("alt", None, b"The first slide, with the title"),
                ("focal_x", None, b"0.5"),
                ("focal_y", None, b"0.4"),
            ],
        )
        .await;
    assert_eq!(described.status, 303, "{}", described.body);
    assert!(described.location.contains("done=described"));
    let image = asset(&app, image.id).await;
    assert_eq!(
        image.alt.as_deref(),
        Some("The first slide, with the title")
    );
    assert_eq!((image.focal_x, image.focal_y), (Some(0.5), Some(0.4)));
    assert_eq!(talk(&app, id).await.version, 2);

    // A PDF is not a cover image; an image is not slides: refused before anything is stored.
    let before = assets(&app).await;
    let pdf = files::pdf(3);
    let wrong = client
        .post_multipart(
            &format!("{path}/image"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"2"),
                ("file", Some("deck.pdf"), &pdf),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("upload a PDF as the slides"));
    let wrong = client
        .post_multipart(
            &format!("{path}/slides"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"2"),
                ("file", Some("cover.jpg"), &jpeg),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("the slides must be a PDF"));
    // Without the session's token: refused, nothing stored.
    let forged = client
        .post_multipart(
            &format!("{path}/slides"),
            &[("version", None, b"2"), ("file", Some("deck.pdf"), &pdf)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(assets(&app).await, before);
    assert_eq!(talk(&app, id).await.version, 2);

    // Slides: the page shows their first page and page count.
    let slides = client
        .post_multipart(
            &format!("{path}/slides"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"2"),
                ("file", Some("deck.pdf"), &pdf),
            ],
        )
        .await;
    assert_eq!(slides.status, 303, "{}", slides.body);
    let stored = talk(&app, id).await;
    let deck = stored.slides_asset_id.expect("slides");
    let page = client.get(&path).await;
    assert!(page.body.contains("3 pages"), "{}", page.body);
    let thumbnail = format!("/studio/assets/{deck}/deck.pdf?width=320&#38;format=png");
    assert!(page.body.contains(&thumbnail), "{}", page.body);
    let shown = client
        .get(&format!(
            "/studio/assets/{deck}/deck.pdf?width=320&format=png"
        ))
        .await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.headers.get("content-type").unwrap().to_str().unwrap(),
        "image/png"
    );

    // A page read before the slides were uploaded is stale: its upload is refused.
    let stale = client
        .post_multipart(
            &format!("{path}/slides"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"2"),
                ("file", Some("other.pdf"), &files::pdf(5)),
            ],
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    // Replaced from the current page.
    let replaced = client
        .post_multipart(
            &format!("{path}/slides"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"3"),
                ("file", Some("other.pdf"), &files::pdf(5)),
            ],
        )
        .await;
    assert_eq!(replaced.status, 303, "{}", replaced.body);
    assert!(client.get(&path).await.body.contains("5 pages"));

    // Removed: the talk shows none; the file stays stored.
    let removed = client
        .post(
            &format!("{path}/image/remove"),
            &[("csrf", &token), ("version", "4")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let stored = talk(&app, id).await;
    assert_eq!((stored.image_asset_id, stored.image), (None, None));
    assert_eq!(assets(&app).await, 3);
    let kinds: Vec<String> = service::events::history(&app.db.db, id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "talk.created",
            "talk.updated",
            "talk.updated",
            "talk.updated",
            "talk.updated"
        ]
    );
}

#[actix_web::test]
async fn a_viewer_sees_the_image_but_cannot_change_it() {
    let app = TestApp::spawn().await;
    let id = a_draft(&app).await;
    let mut client = StudioClient::signed_in(&app, "viewer@example.com", Role::Viewer).await;
    let token = client.token();
    let page = client.get(&format!("/studio/talks/{id}")).await;
    assert!(page.body.contains("id=\"media\""));
    assert!(!page.body.contains("id=\"image-form\""));
    let refused = client
        .post_multipart(
            &format!("/studio/talks/{id}/image"),
            &[
                ("csrf", None, token.as_bytes()),
                ("version", None, b"1"),
                ("file", Some("cover.jpg"), &files::jpeg(64, 48)),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(assets(&app).await, 0);
}
