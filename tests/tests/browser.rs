//! What Lectern serves to browsers, in a real Chromium that can reach loopback only.

use tests::browser::Browser;

use crate::support::TestApp;

#[actix_web::test]
async fn graphiql_renders_its_schema_documentation_with_no_network_but_loopback() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{}/graphql", app.address))
        .await
        .unwrap();
    browser.wait_for(".graphiql-container").await;
    // The documentation explorer, opened as a reader would, lists the root query's fields,
    // which GraphiQL read from this server's schema.
    browser
        .wait_for(r#"button[aria-label="Show Documentation Explorer"]"#)
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name")
        .await
        .click()
        .await
        .unwrap();
    let fields = browser
        .wait_for(".graphiql-doc-explorer-content")
        .await
        .text()
        .await
        .unwrap();
    for field in ["talks", "talk", "events"] {
        assert!(
            fields.split_whitespace().any(|w| w.starts_with(field)),
            "the explorer shows no field {field}: {fields}"
        );
    }
    // The example query runs against this server (the page may connect to its own origin).
    browser
        .wait_for(".graphiql-execute-button")
        .await
        .click()
        .await
        .unwrap();
    let answer = browser
        .client
        .wait()
        .at_most(tests::browser::WAIT)
        .for_element(fantoccini::Locator::XPath(
            "//section[contains(@class, 'result-window')][contains(., 'totalCount')]",
        ))
        .await
        .expect("the result of the example query")
        .text()
        .await
        .unwrap();
    assert!(answer.contains("\"totalCount\": 0"), "{answer}");
    let shot = std::env::temp_dir().join("lectern-graphiql.png");
    browser.screenshot(&shot).await;
    // Everything the page loaded came from this server.
    let urls = browser.loaded_urls().await;
    assert!(urls.len() >= 7, "{urls:?}");
    for url in &urls {
        assert!(
            url.starts_with(&format!("{}/", app.address)),
            "{url} is not this server's"
        );
    }
    browser.close().await;
}

// ------------------------------------------------------------------------------------------
// Lectern Studio.

use fantoccini::Locator;
use service::accounts::Role;

use crate::support::TEST_PASSWORD;

/// Signs in through the form, as a person would, and waits for the list.
async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    browser
        .client
        .goto(&format!("{}/studio/login", app.address))
        .await
        .unwrap();
    submit_sign_in(browser, email).await;
    browser.wait_for("table.talks").await;
}

/// Fills in the sign-in form on screen and sends it.
async fn submit_sign_in(browser: &Browser, email: &str) {
    browser
        .wait_for("#email")
        .await
        .send_keys(email)
        .await
        .unwrap();
    browser
        .wait_for("#password")
        .await
        .send_keys(TEST_PASSWORD)
        .await
        .unwrap();
    browser
        .wait_for("form button.primary")
        .await
        .click()
        .await
        .unwrap();
}

async fn add_user(app: &TestApp, email: &str, role: Role) {
    service::accounts::add_user(&app.db.db, email, TEST_PASSWORD, role)
        .await
        .unwrap();
}

/// Sets a field's value and tells the page, as typing would.
async fn set_value(browser: &Browser, css: &str, value: &str) {
    browser.wait_for(css).await;
    browser
        .client
        .execute(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
             e.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![css.into(), value.into()],
        )
        .await
        .unwrap();
}

/// A field's value now (read by a script, so that a page being replaced reads as empty).
async fn value_of(browser: &Browser, css: &str) -> String {
    browser.wait_for(css).await;
    let value = browser
        .client
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.value : '';",
            vec![css.into()],
        )
        .await
        .unwrap_or_default();
    value.as_str().unwrap_or_default().to_owned()
}

/// Waits until the field at `css` holds `value`.
async fn wait_for_value(browser: &Browser, css: &str, value: &str) {
    let started = std::time::Instant::now();
    while value_of(browser, css).await != value {
        assert!(
            started.elapsed() < tests::browser::WAIT,
            "{css} never held {value:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Opens a path of the app.
async fn goto(browser: &Browser, app: &TestApp, path: &str) {
    browser
        .client
        .goto(&format!("{}{path}", app.address))
        .await
        .unwrap();
}

/// Waits until the element at `css` holds `text`.
async fn wait_for_text(browser: &Browser, css: &str, text: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        if let Ok(element) = browser.client.find(Locator::Css(css)).await
            && let Ok(shown) = element.text().await
            && shown.contains(text)
        {
            return shown;
        }
        assert!(
            started.elapsed() < tests::browser::WAIT,
            "{css} never showed {text:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn a_talk(app: &TestApp, slug: &str, title: &str) -> uuid::Uuid {
    service::editing::create_talk(
        &app.db.db,
        service::talks::NewTalk {
            slug: slug.into(),
            title: title.into(),
            date: "2024-05-02".into(),
            body: "<p>The first abstract.</p>".into(),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap()
    .talk
    .id
}

/// Where a screenshot of the Studio goes: `LECTERN_SCREENSHOTS` (README's pictures are made
/// with `LECTERN_SCREENSHOTS=docs`), else the temporary folder.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("LECTERN_SCREENSHOTS")
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    dir.join(format!("studio-{name}.png"))
}

#[actix_web::test]
async fn an_editor_signs_in_creates_a_talk_publishes_it_and_signs_out() {
    let app = TestApp::with_corpus().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    browser
        .wait_for(r#"a[href="/studio/talks/new"]"#)
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for("#title")
        .await
        .send_keys("Events carry state")
        .await
        .unwrap();
    browser
        .wait_for("#slug")
        .await
        .send_keys("events-carry-state")
        .await
        .unwrap();
    browser
        .wait_for("#date")
        .await
        .send_keys("2024-05-02")
        .await
        .unwrap();
    browser
        .wait_for("#body")
        .await
        .send_keys("<p>Notification <strong>and</strong> state.</p>")
        .await
        .unwrap();
    // The live preview, as readers are served it.
    wait_for_text(&browser, "#preview strong", "and").await;

    // A resource, added from the keyboard: the new row's first field has the focus.
    browser
        .wait_for(r#"[id="resources.add"]"#)
        .await
        .send_keys("\u{E007}")
        .await
        .unwrap();
    browser.wait_for(r#"[id="resources[0].title"]"#).await;
    let focused = browser
        .client
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "resources[0].title");
    // The text typed before the row was added is still there.
    assert_eq!(value_of(&browser, "#title").await, "Events carry state");
    browser
        .wait_for(r#"[id="resources[0].title"]"#)
        .await
        .send_keys("Slides")
        .await
        .unwrap();
    browser
        .wait_for(r#"[id="resources[0].url"]"#)
        .await
        .send_keys("https://example.com/slides")
        .await
        .unwrap();
    browser.wait_for("#save").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "Saved as version 1").await;
    wait_for_text(&browser, "#status", "Draft").await;
    browser.screenshot(&screenshot_path("editor")).await;

    browser.wait_for("#publish").await.click().await.unwrap();
    wait_for_text(&browser, "#status", "Published").await;
    let stored = service::talks::find_by_slug(&app.db.db, "events-carry-state")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.talk.status, entity::talk::Status::Published);
    assert_eq!(stored.resources.len(), 1);
    assert_eq!(stored.resources[0].url, "https://example.com/slides");

    browser
        .wait_for(r#"a[href="/studio/talks"]"#)
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "#count", "122 talks").await;
    browser.screenshot(&screenshot_path("list")).await;
    // Sorted by last change, the new talk comes first.
    browser
        .wait_for("#sort")
        .await
        .select_by_value("updated")
        .await
        .unwrap();
    wait_for_text(
        &browser,
        "table.talks tbody tr:first-child",
        "Events carry state",
    )
    .await;

    // Signing out: back to the sign-in page, and the list asks for it again.
    browser
        .wait_for("nav form button.link")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_for("#email").await;
    browser
        .client
        .goto(&format!("{}/studio/talks", app.address))
        .await
        .unwrap();
    browser.wait_for("#email").await;
    for url in browser.loaded_urls().await {
        assert!(url.starts_with(&format!("{}/", app.address)), "{url}");
    }
    browser.close().await;
}

#[actix_web::test]
async fn a_validation_message_appears_at_its_field() {
    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    browser
        .client
        .goto(&format!("{}/studio/talks/new", app.address))
        .await
        .unwrap();
    browser
        .wait_for("#title")
        .await
        .send_keys("T")
        .await
        .unwrap();
    browser
        .wait_for("#slug")
        .await
        .send_keys("t")
        .await
        .unwrap();
    browser
        .wait_for("#date")
        .await
        .send_keys("yesterday")
        .await
        .unwrap();
    browser.wait_for("#save").await.click().await.unwrap();
    let message = wait_for_text(&browser, "#date-error", "ISO 8601").await;
    assert!(message.contains("\"yesterday\""), "{message}");
    let date = browser.wait_for("#date").await;
    assert_eq!(
        date.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(
        date.prop("value").await.unwrap().as_deref(),
        Some("yesterday")
    );
    assert_eq!(value_of(&browser, "#title").await, "T");
    browser.close().await;
}

#[actix_web::test]
async fn two_editors_on_one_talk_lose_nothing_and_the_second_sees_the_difference() {
    let app = TestApp::spawn().await;
    add_user(&app, "alice@example.com", Role::Editor).await;
    add_user(&app, "bob@example.com", Role::Editor).await;
    let id = a_talk(&app, "shared", "Shared talk").await;
    let page = format!("{}/studio/talks/{id}", app.address);
    let (alice, bob) = tokio::join!(Browser::start(), Browser::start());
    sign_in(&alice, &app, "alice@example.com").await;
    sign_in(&bob, &app, "bob@example.com").await;
    alice.client.goto(&page).await.unwrap();
    bob.client.goto(&page).await.unwrap();
    alice.wait_for("#title").await;
    bob.wait_for("#title").await;

    set_value(&alice, "#title", "Alice's better title").await;
    alice.wait_for("#save").await.click().await.unwrap();
    wait_for_text(&alice, "#notice", "Saved as version 2").await;
    // Bob's page says so while he is still typing.
    let saved_at = std::time::Instant::now();
    wait_for_text(&bob, "#live-notice", "alice@example.com saved version 2").await;
    eprintln!(
        "live notice shown {:?} after Alice's save was shown",
        saved_at.elapsed()
    );

    set_value(&bob, "#body", "<p>Bob rewrote the abstract.</p>").await;
    bob.wait_for("#save").await.click().await.unwrap();
    let conflict = wait_for_text(&bob, "#conflict", "alice@example.com saved version 2").await;
    assert!(conflict.contains("Alice's better title"), "{conflict}");
    // Bob's text is still on his screen, and his page says which version he read.
    assert_eq!(
        value_of(&bob, "#body").await,
        "<p>Bob rewrote the abstract.</p>"
    );
    assert_eq!(value_of(&bob, "#title").await, "Shared talk");
    bob.screenshot(&screenshot_path("conflict")).await;
    let stored = service::talks::find_by_id(&app.db.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.talk.version, 2);
    assert_eq!(stored.talk.title, "Alice's better title");

    // Bob takes Alice's title into his form, then saves his over theirs: version 3.
    set_value(&bob, "#title", "Alice's better title").await;
    bob.wait_for("#save-mine").await.click().await.unwrap();
    wait_for_text(&bob, "#notice", "Saved as version 3").await;
    let stored = service::talks::find_by_id(&app.db.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.talk.title, "Alice's better title");
    assert_eq!(stored.talk.body, "<p>Bob rewrote the abstract.</p>");
    alice.close().await;
    bob.close().await;
}

#[actix_web::test]
async fn an_abstract_with_scripts_is_previewed_without_running_anything() {
    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "hostile", "Hostile abstract").await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    let hostile = "<script>window.lecternFlag = 1</script>\
        <img src=\"/nothing.png\" onerror=\"window.lecternFlag = 2\">\
        <a href=\"javascript:window.lecternFlag = 3\">link</a><b>kept</b>";
    set_value(&browser, "#body", hostile).await;
    wait_for_text(&browser, "#preview b", "kept").await;
    let flag = |browser: &Browser| {
        let client = browser.client.clone();
        async move {
            client
                .execute("return typeof window.lecternFlag;", vec![])
                .await
                .unwrap()
        }
    };
    // Give a handler every chance: the image's load has failed by the time this reads.
    browser
        .client
        .execute(
            "const done = arguments[0]; const img = document.querySelector('#preview img'); \
             if (!img || img.complete) done(); else { img.addEventListener('error', () => done()); \
             img.addEventListener('load', () => done()); }",
            vec![],
        )
        .await
        .ok();
    assert_eq!(flag(&browser).await, "undefined");
    let preview = browser.wait_for("#preview").await.html(true).await.unwrap();
    assert!(
        !preview.contains("onerror") && !preview.contains("<script"),
        "{preview}"
    );
    assert!(!preview.contains("javascript:"), "{preview}");
    // Saved and shown again by the server: still nothing runs.
    browser.wait_for("#save").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "Saved as version 2").await;
    wait_for_text(&browser, "#preview b", "kept").await;
    assert_eq!(flag(&browser).await, "undefined");
    browser.close().await;
}

#[actix_web::test]
async fn unsaved_changes_are_kept_in_the_browser_and_offered_back() {
    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "kept", "Kept talk").await;
    let page = format!("{}/studio/talks/{id}", app.address);
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    browser.client.goto(&page).await.unwrap();
    browser
        .wait_for("#title")
        .await
        .send_keys(" (draft in progress)")
        .await
        .unwrap();
    // Another tab of the same browser, as after the first was closed.
    let tab = browser.client.new_window(true).await.unwrap();
    browser.client.switch_to_window(tab.handle).await.unwrap();
    browser.client.goto(&page).await.unwrap();
    browser.wait_for("#draft-banner:not([hidden])").await;
    assert_eq!(value_of(&browser, "#title").await, "Kept talk");
    browser
        .wait_for("[data-draft-restore]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_value(&browser, "#title", "Kept talk (draft in progress)").await;
    browser.wait_for("#save").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "Saved as version 2").await;
    let kept = browser
        .client
        .execute(
            "return localStorage.getItem(arguments[0]);",
            vec![format!("lectern-draft:{id}").into()],
        )
        .await
        .unwrap();
    assert_eq!(kept, serde_json::Value::Null, "a saved draft is forgotten");
    let stored = service::talks::find_by_id(&app.db.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.talk.title, "Kept talk (draft in progress)");
    browser.close().await;
}

#[actix_web::test]
async fn history_shows_the_difference_of_a_version_and_restores_it() {
    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "told", "The first title").await;
    let stored = service::talks::find_by_id(&app.db.db, id)
        .await
        .unwrap()
        .unwrap();
    service::editing::update_talk(
        &app.db.db,
        id,
        service::editing::TalkPatch {
            title: Some("A later title".into()),
            body: Some("<p>A later abstract.</p>".into()),
            ..Default::default()
        },
        stored.talk.version,
        "importer",
    )
    .await
    .unwrap();
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    browser.wait_for("#history").await.click().await.unwrap();
    wait_for_text(&browser, "#history-table", "importer").await;
    browser.screenshot(&screenshot_path("history")).await;
    browser.wait_for("#compare-1").await.click().await.unwrap();
    let diff = wait_for_text(&browser, "#version-diff", "The first title").await;
    assert!(
        diff.contains("A later title") && diff.contains("body"),
        "{diff}"
    );
    browser.wait_for("#restore").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "Saved as version 3").await;
    assert_eq!(value_of(&browser, "#title").await, "The first title");
    browser.close().await;
}

#[actix_web::test]
async fn an_expired_session_signs_in_again_and_the_unsaved_form_comes_back() {
    let db = tests::TestDb::new().await;
    let app = TestApp::spawn_configured(db, |settings| {
        settings.studio.idle = std::time::Duration::from_secs(2);
    })
    .await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "slow", "Slow edit").await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    set_value(&browser, "#body", "<p>Written over a long lunch.</p>").await;
    // Longer than the session may idle.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    browser.wait_for("#save").await.click().await.unwrap();
    submit_sign_in(&browser, "ed@example.com").await;
    // Back on the talk, which offers the text that was not saved.
    browser.wait_for("#draft-banner:not([hidden])").await;
    browser
        .wait_for("[data-draft-restore]")
        .await
        .click()
        .await
        .unwrap();
    wait_for_value(&browser, "#body", "<p>Written over a long lunch.</p>").await;
    browser.wait_for("#save").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "Saved as version 2").await;
    browser.close().await;
}

#[actix_web::test]
async fn a_form_with_a_stale_csrf_token_is_refused_and_says_so() {
    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "guarded", "Guarded").await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    set_value(&browser, "#title", "Forged").await;
    browser
        .client
        .execute(
            "document.querySelector('#talk-form input[name=csrf]').value = 'stale';",
            vec![],
        )
        .await
        .unwrap();
    browser.wait_for("#save").await.click().await.unwrap();
    wait_for_text(&browser, "#error-message", "security token is stale").await;
    wait_for_text(&browser, "#error-message", "nothing was changed").await;
    let stored = service::talks::find_by_id(&app.db.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.talk.version, stored.talk.title.as_str()),
        (1, "Guarded")
    );
    browser.close().await;
}

#[actix_web::test]
async fn a_viewer_reads_a_draft_but_cannot_change_it() {
    let app = TestApp::spawn().await;
    add_user(&app, "vi@example.com", Role::Viewer).await;
    let id = a_talk(&app, "look", "Look but do not touch").await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "vi@example.com").await;
    wait_for_text(&browser, "table.talks", "Look but do not touch").await;
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    wait_for_text(
        &browser,
        "#read-only",
        "may read drafts but not change them",
    )
    .await;
    assert!(browser.client.find(Locator::Css("#save")).await.is_err());
    assert!(browser.client.find(Locator::Css("#publish")).await.is_err());
    // The form is there, disabled; submitting it anyway is refused by the server.
    browser
        .client
        .execute(
            "const f = document.getElementById('talk-form'); \
             f.querySelector('fieldset').disabled = false; \
             f.querySelector('#title').value = 'Changed by a viewer'; f.submit();",
            vec![],
        )
        .await
        .unwrap();
    wait_for_text(&browser, "#error-message", "needs the editor role").await;
    let stored = service::talks::find_by_id(&app.db.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.talk.version, 1);
    browser.close().await;
}

#[actix_web::test]
async fn every_field_is_labelled_and_the_pages_fit_a_phone() {
    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "small", "A talk on a small screen").await;
    let browser = Browser::start().await;
    browser.client.set_window_size(375, 812).await.unwrap();
    sign_in(&browser, &app, "ed@example.com").await;
    for path in [
        "/studio/talks".to_owned(),
        format!("/studio/talks/{id}"),
        format!("/studio/talks/{id}/history"),
        "/studio/talks/new".to_owned(),
    ] {
        browser
            .client
            .goto(&format!("{}{path}", app.address))
            .await
            .unwrap();
        browser.wait_for("main h1").await;
        let unlabelled = browser
            .client
            .execute(
                "return Array.from(document.querySelectorAll('input, select, textarea'))\
                 .filter(e => e.type !== 'hidden')\
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')\
                   && !e.getAttribute('aria-labelledby'))\
                 .map(e => e.name || e.id);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unlabelled, serde_json::json!([]), "{path}");
        let unnamed_buttons = browser
            .client
            .execute(
                "return Array.from(document.querySelectorAll('button, a'))\
                 .filter(e => !e.textContent.trim() && !e.getAttribute('aria-label'))\
                 .map(e => e.outerHTML);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unnamed_buttons, serde_json::json!([]), "{path}");
        // Nothing wider than the screen: no sideways scrolling of the page.
        let overflow = browser
            .client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        let wide = browser
            .client
            .execute(
                "return Array.from(document.querySelectorAll('body *'))\
                 .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)\
                 .slice(0, 5).map(e => e.tagName + '.' + e.className);",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(1) <= 0,
            "{path} is {overflow} px too wide: {wide}"
        );
    }
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    browser.wait_for("#title").await;
    browser.screenshot(&screenshot_path("phone")).await;
    browser.close().await;
}

#[actix_web::test]
async fn leaving_a_form_with_unsaved_changes_asks_first() {
    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "leave", "Before leaving").await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    // Whether leaving now would be held up: the page's `beforeunload` answer, as the browser
    // asks for it before it shows its "leave this page?" question.
    let asks = |browser: &Browser| {
        let client = browser.client.clone();
        async move {
            client
                .execute(
                    "const e = new Event('beforeunload', { cancelable: true }); \
                     window.dispatchEvent(e); return e.defaultPrevented;",
                    vec![],
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(
        asks(&browser).await,
        serde_json::json!(false),
        "nothing typed yet"
    );
    browser
        .wait_for("#title")
        .await
        .send_keys(" and after")
        .await
        .unwrap();
    assert_eq!(asks(&browser).await, serde_json::json!(true));
    browser.wait_for("[data-dirty-note]:not([hidden])").await;
    // Saving is leaving on purpose: no question, and the text is stored.
    browser.wait_for("#save").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "Saved as version 2").await;
    assert_eq!(asks(&browser).await, serde_json::json!(false));
    browser.close().await;
}

#[actix_web::test]
async fn an_admin_adds_an_account_and_issues_a_token_shown_once() {
    let app = TestApp::spawn().await;
    add_user(&app, "root@example.com", Role::Admin).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "root@example.com").await;
    browser
        .wait_for(r#"nav a[href="/studio/admin"]"#)
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for("#new-email")
        .await
        .send_keys("writer@example.com")
        .await
        .unwrap();
    browser
        .wait_for("#new-password")
        .await
        .send_keys(TEST_PASSWORD)
        .await
        .unwrap();
    browser.wait_for("#add-user").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "added writer@example.com").await;
    wait_for_text(&browser, "#accounts", "writer@example.com").await;
    browser
        .wait_for("#token-name")
        .await
        .send_keys("deploy pipeline")
        .await
        .unwrap();
    browser
        .wait_for("#issue-token")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "#notice", "it is not shown again").await;
    let token = value_of(&browser, "#secret").await;
    assert_eq!(token.split('.').count(), 3, "{token}");
    browser.screenshot(&screenshot_path("admin")).await;
    let (status, _, _) = app
        .send("GET", "/api/v1/talks?first=1", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    browser.close().await;
}

/// Waits until the image at `css` has loaded; returns its natural width.
async fn loaded_width(browser: &Browser, css: &str) -> u64 {
    let started = std::time::Instant::now();
    loop {
        let width = browser
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); \
                 return e && e.complete ? e.naturalWidth : 0;",
                vec![css.into()],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if width > 0 {
            return width;
        }
        assert!(
            started.elapsed() < tests::browser::WAIT,
            "{css} never loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn an_editor_uploads_a_cover_image_picks_its_focal_point_and_replaces_the_slides() {
    use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};

    let app = TestApp::spawn().await;
    add_user(&app, "ed@example.com", Role::Editor).await;
    let id = a_talk(&app, "slides", "A talk with slides").await;
    let folder = tests::folder_with(&[
        ("cover.jpg", &tests::files::jpeg(1200, 800)),
        ("deck.pdf", &tests::files::pdf(3)),
        ("longer.pdf", &tests::files::pdf(7)),
    ]);
    let file = |name: &str| folder.path().join(name).display().to_string();
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ed@example.com").await;
    goto(&browser, &app, &format!("/studio/talks/{id}")).await;
    wait_for_text(&browser, "#no-image", "No cover image").await;

    // Upload an image with its alt text.
    browser
        .wait_for("#image-file")
        .await
        .send_keys(&file("cover.jpg"))
        .await
        .unwrap();
    set_value(&browser, "#image-alt", "The title slide").await;
    browser.wait_for("#image-save").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "The cover image is uploaded").await;
    assert_eq!(loaded_width(&browser, "#image-preview").await, 640);

    // Pick the focal point with a click a quarter across and three quarters down.
    let preview = browser.wait_for("#image-preview").await;
    let (_, _, width, height) = preview.rectangle().await.unwrap();
    browser
        .client
        .perform_actions(
            MouseActions::new("mouse".into())
                .then(PointerAction::MoveToElement {
                    element: preview,
                    duration: None,
                    x: -width / 4.0,
                    y: height / 4.0,
                })
                .then(PointerAction::Down {
                    button: MOUSE_BUTTON_LEFT,
                })
                .then(PointerAction::Up {
                    button: MOUSE_BUTTON_LEFT,
                }),
        )
        .await
        .unwrap();
    let x: f64 = value_of(&browser, "#focal_x").await.parse().unwrap();
    let y: f64 = value_of(&browser, "#focal_y").await.parse().unwrap();
    assert!(
        (x - 0.25).abs() < 0.02 && (y - 0.75).abs() < 0.02,
        "{x} {y}"
    );
    let marker_shown = browser
        .client
        .execute(
            "return !document.querySelector('[data-focal-marker]').hidden;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(marker_shown, serde_json::Value::Bool(true));
    browser.wait_for("#image-save").await.click().await.unwrap();
    wait_for_text(&browser, "#notice", "focal point are saved").await;
    let talk = service::talks::find_by_id(&app.db.db, id)
        .await
        .unwrap()
        .unwrap();
    let image = service::assets::find(&app.db.db, talk.talk.image_asset_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(image.alt.as_deref(), Some("The title slide"));
    assert!((image.focal_x.unwrap() - x).abs() < 0.001);
    assert!((image.focal_y.unwrap() - y).abs() < 0.001);

    // Slides: uploaded, previewed by their first page, then replaced.
    browser
        .wait_for("#slides-file")
        .await
        .send_keys(&file("deck.pdf"))
        .await
        .unwrap();
    browser
        .wait_for("#slides-save")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "#notice", "The slides are uploaded").await;
    wait_for_text(&browser, "#slides-facts", "3 pages").await;
    assert_eq!(loaded_width(&browser, "#slides-thumbnail").await, 320);
    browser.screenshot(&screenshot_path("media")).await;
    browser
        .wait_for("#slides-file")
        .await
        .send_keys(&file("longer.pdf"))
        .await
        .unwrap();
    browser
        .wait_for("#slides-save")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "#slides-facts", "7 pages").await;
    browser.close().await;
}
