//! Lectern Studio over HTTP: sessions, CSRF tokens, roles, limits and headers. What a browser
//! does with the pages is in `browser.rs`.

use std::collections::HashMap;

use service::accounts::Role;

use crate::support::{TEST_PASSWORD, TestApp, request};

/// A browser's view of the Studio without the browser: its cookies, and the CSRF token of the
/// last page that showed one.
pub struct StudioClient<'a> {
    app: &'a TestApp,
    pub cookies: HashMap<String, String>,
    pub csrf: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub location: String,
    pub set_cookies: Vec<String>,
    pub headers: awc::http::header::HeaderMap,
    pub body: String,
}

/// One request, redirects not followed (a browser's redirects are what these tests look at).
pub async fn send_once(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> crate::support::Reply {
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(std::time::Duration::from_secs(20))
        .finish();
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = match body {
        Some((content_type, bytes)) => {
            request
                .insert_header(("Content-Type", content_type))
                .send_body(bytes)
                .await
        }
        None => request.send().await,
    }
    .unwrap_or_else(|e| panic!("{path}: request failed: {e}"));
    let bytes = response
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .unwrap()
        .to_vec();
    crate::support::Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::Value::Null,
        bytes,
    }
}

/// The value of the hidden input `name` in a page.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        out.append_pair(name, value);
    }
    out.finish().into_bytes()
}

impl<'a> StudioClient<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: HashMap::new(),
            csrf: None,
        }
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<Vec<u8>>) -> Page {
        self.send_typed(
            method,
            path,
            body.map(|b| ("application/x-www-form-urlencoded".to_owned(), b)),
        )
        .await
    }

    /// A `multipart/form-data` post, as a form with a file sends it.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Page {
        let (content_type, body) = tests::files::multipart(parts);
        self.send_typed("POST", path, Some((content_type, body)))
            .await
    }

    async fn send_typed(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(String, Vec<u8>)>,
    ) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = vec![("Accept", "text/html")];
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie.as_str()));
        }
        let reply = send_once(
            self.app,
            method,
            path,
            &headers,
            body.as_ref().map(|(t, b)| (t.as_str(), b.clone())),
        )
        .await;
        let set_cookies: Vec<String> = reply
            .headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        for header in &set_cookies {
            let pair = header.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let removed = header.contains("Max-Age=0") || value.is_empty();
                if removed {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let body = String::from_utf8_lossy(&reply.bytes).into_owned();
        if let Some(token) = hidden(&body, "csrf") {
            self.csrf = Some(token);
        }
        Page {
            status: reply.status,
            location: reply.header("location").to_owned(),
            set_cookies,
            headers: reply.headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        self.send("POST", path, Some(form(pairs))).await
    }

    pub async fn post_raw(&mut self, path: &str, body: Vec<u8>) -> Page {
        self.send("POST", path, Some(body)).await
    }

    /// Signs in as `email` through the form; returns the answer to the form post.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let page = self.get("/studio/login").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let token = self.csrf.clone().expect("the sign-in form has a token");
        self.post(
            "/studio/login",
            &[
                ("csrf", &token),
                ("email", email),
                ("password", password),
                ("next", "/studio/talks"),
            ],
        )
        .await
    }

    /// Adds a user and signs in as them.
    pub async fn signed_in(app: &'a TestApp, email: &str, role: Role) -> StudioClient<'a> {
        service::accounts::add_user(&app.db.db, email, TEST_PASSWORD, role)
            .await
            .unwrap();
        let mut client = StudioClient::new(app);
        let page = client.sign_in(email, TEST_PASSWORD).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location, "/studio/talks");
        let list = client.get("/studio/talks").await;
        assert_eq!(list.status, 200, "{}", list.body);
        client
    }

    pub fn token(&self) -> String {
        self.csrf.clone().expect("a page with a CSRF token")
    }
}

/// A page's text with the entities templates write for quotes put back.
pub fn unescape(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The fields of a talk as a form post.
pub fn talk_form<'b>(csrf: &'b str, slug: &'b str, title: &'b str) -> Vec<(&'b str, &'b str)> {
    vec![
        ("csrf", csrf),
        ("slug", slug),
        ("title", title),
        ("date", "2024-05-02"),
        ("body", "<p>Hello</p>"),
    ]
}

fn talk_id_of(location: &str) -> String {
    location
        .trim_start_matches("/studio/talks/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn stored_version(app: &TestApp, slug: &str) -> i32 {
    service::talks::find_by_slug(&app.db.db, slug)
        .await
        .unwrap()
        .expect("the talk")
        .talk
        .version
}

#[actix_web::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    service::accounts::add_user(&app.db.db, "ed@example.com", TEST_PASSWORD, Role::Editor)
        .await
        .unwrap();
    let mut client = StudioClient::new(&app);
    // Not signed in: to the sign-in page, then back.
    let page = client.get("/studio/talks?q=rust").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location,
        "/studio/login?next=%2Fstudio%2Ftalks%3Fq%3Drust"
    );

    let wrong = client.sign_in("ed@example.com", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("wrong email or password"),
        "{}",
        wrong.body
    );
    assert!(!client.cookies.contains_key("lectern_session"));

    let page = client.sign_in("ed@example.com", TEST_PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let session = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("lectern_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/studio"] {
        assert!(session.contains(attribute), "{session}");
    }
    // Served over plain HTTP with the default `auto`: not Secure.
    assert!(!session.contains("Secure"), "{session}");
    let list = client.get("/studio/talks").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("ed@example.com"));

    let token = client.token();
    let out = client.post("/studio/logout", &[("csrf", &token)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location, "/studio/login");
    assert!(!client.cookies.contains_key("lectern_session"));
    // The old cookie no longer opens anything, even when a browser sends it again.
    let session_value = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("lectern_session=")
        .to_owned();
    client
        .cookies
        .insert("lectern_session".into(), session_value);
    assert_eq!(client.get("/studio/talks").await.status, 303);
}

#[actix_web::test]
async fn the_session_cookie_is_secure_when_configured_so() {
    let db = tests::TestDb::new().await;
    let app = TestApp::spawn_configured(db, |settings| {
        settings.studio.secure_cookie = api::studio::SecureCookie::Always;
    })
    .await;
    service::accounts::add_user(&app.db.db, "ed@example.com", TEST_PASSWORD, Role::Editor)
        .await
        .unwrap();
    let mut client = StudioClient::new(&app);
    let page = client.sign_in("ed@example.com", TEST_PASSWORD).await;
    let session = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("lectern_session="))
        .expect("a session cookie");
    assert!(session.contains("Secure"), "{session}");
}

#[actix_web::test]
async fn a_session_unused_for_longer_than_the_idle_time_is_over() {
    let db = tests::TestDb::new().await;
    let app = TestApp::spawn_configured(db, |settings| {
        settings.studio.idle = std::time::Duration::from_secs(1);
    })
    .await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let page = client.get("/studio/talks/new").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location, "/studio/login?next=%2Fstudio%2Ftalks%2Fnew");
}

#[actix_web::test]
async fn a_state_changing_request_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = client.token();

    // Creating: no token, a wrong token.
    let mut fields = talk_form(&token, "csrf-talk", "Forged");
    fields.remove(0);
    let page = client.post("/studio/talks", &fields).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("security token"), "{}", page.body);
    assert!(page.body.contains("nothing was changed"), "{}", page.body);
    let mut forged = fields.clone();
    forged.push(("csrf", "not-the-token"));
    assert_eq!(client.post("/studio/talks", &forged).await.status, 403);
    assert!(
        service::talks::find_by_slug(&app.db.db, "csrf-talk")
            .await
            .unwrap()
            .is_none()
    );

    // With the token it works; then saving, publishing and deleting without it do nothing.
    let created = client
        .post("/studio/talks", &talk_form(&token, "csrf-talk", "Real"))
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id = talk_id_of(&created.location);
    let path = format!("/studio/talks/{id}");
    let without = [
        ("version", "1"),
        ("slug", "csrf-talk"),
        ("title", "Changed"),
        ("date", "2024-05-02"),
        ("body", "x"),
    ];
    assert_eq!(client.post(&path, &without).await.status, 403);
    for action in ["publish", "delete"] {
        let page = client
            .post(&format!("{path}/{action}"), &[("version", "1")])
            .await;
        assert_eq!(page.status, 403, "{action}: {}", page.body);
    }
    let record = service::talks::find_by_slug(&app.db.db, "csrf-talk")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.talk.version, 1);
    assert_eq!(record.talk.title, "Real");
    assert_eq!(record.talk.status, entity::talk::Status::Draft);

    // Signing out needs it too.
    assert_eq!(client.post("/studio/logout", &[]).await.status, 403);
    assert_eq!(client.get("/studio/talks").await.status, 200);
}

#[actix_web::test]
async fn the_sign_in_form_needs_its_own_token() {
    let app = TestApp::spawn().await;
    service::accounts::add_user(&app.db.db, "ed@example.com", TEST_PASSWORD, Role::Editor)
        .await
        .unwrap();
    let mut client = StudioClient::new(&app);
    // A form posted from elsewhere carries no cookie of ours.
    let page = client
        .post(
            "/studio/login",
            &[("email", "ed@example.com"), ("password", TEST_PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!client.cookies.contains_key("lectern_session"));
}

#[actix_web::test]
async fn sign_in_attempts_share_the_apis_rate_limit() {
    let app = TestApp::spawn().await;
    service::accounts::add_user(&app.db.db, "ed@example.com", TEST_PASSWORD, Role::Editor)
        .await
        .unwrap();
    let mut client = StudioClient::new(&app);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            client
                .sign_in("ed@example.com", "wrong password!")
                .await
                .status,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // The API's login counts the same attempts.
    let (status, _, _) = app
        .send(
            "POST",
            "/auth/login",
            None,
            Some(serde_json::json!({ "email": "ed@example.com", "password": TEST_PASSWORD })),
        )
        .await;
    assert_eq!(status, 429);
}

#[actix_web::test]
async fn a_viewer_sees_drafts_but_the_server_refuses_every_change() {
    let app = TestApp::spawn().await;
    let mut editor = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = editor.token();
    let created = editor
        .post("/studio/talks", &talk_form(&token, "draft-talk", "A draft"))
        .await;
    let id = talk_id_of(&created.location);
    let path = format!("/studio/talks/{id}");

    let mut viewer = StudioClient::signed_in(&app, "vi@example.com", Role::Viewer).await;
    let list = viewer.get("/studio/talks").await;
    assert!(list.body.contains("A draft"), "{}", list.body);
    let page = viewer.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("may read drafts but not change them"));
    assert!(!page.body.contains("id=\"save\""));
    let token = viewer.token();
    let mut fields = talk_form(&token, "draft-talk", "Viewer's title");
    fields.push(("version", "1"));
    let refused = viewer.post(&path, &fields).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("editor role"), "{}", refused.body);
    for action in ["publish", "delete"] {
        let page = viewer
            .post(
                &format!("{path}/{action}"),
                &[("csrf", &token), ("version", "1")],
            )
            .await;
        assert_eq!(page.status, 403, "{action}");
    }
    assert_eq!(
        viewer
            .post("/studio/talks", &talk_form(&token, "viewer-talk", "V"))
            .await
            .status,
        403
    );
    assert_eq!(viewer.get("/studio/talks/new").await.status, 403);
    assert_eq!(stored_version(&app, "draft-talk").await, 1);
}

#[actix_web::test]
async fn validation_messages_are_the_apis_and_stand_at_their_fields() {
    let app = TestApp::spawn().await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = client.token();
    let fields = [
        ("csrf", token.as_str()),
        ("slug", "Not A Slug"),
        ("title", "T"),
        ("date", "yesterday"),
        ("body", "x"),
        ("resources[0].title", "Slides"),
        ("resources[0].url", "ftp://example.com/x"),
    ];
    let page = client.post("/studio/talks", &fields).await;
    assert_eq!(page.status, 422, "{}", page.body);
    // The same talk through the API, for its wording.
    let editor = app.user_token("api@example.com", Role::Editor).await;
    let (status, _, problem) = app
        .send(
            "POST",
            "/api/v1/talks",
            Some(&editor),
            Some(serde_json::json!({
                "slug": "Not A Slug", "title": "T", "date": "yesterday", "body": "x",
                "resources": [{ "title": "Slides", "url": "ftp://example.com/x" }]
            })),
        )
        .await;
    assert_eq!(status, 422);
    let errors = problem["errors"].as_array().unwrap();
    let unescaped = unescape(&page.body);
    assert!(errors.len() >= 3, "{problem}");
    for error in errors {
        let path = error["path"].as_str().unwrap();
        let message = error["message"].as_str().unwrap();
        let shown = format!("<p class=\"field-error\" id=\"{path}-error\">{message}</p>");
        assert!(unescaped.contains(&shown), "{shown} is not in the page");
        assert!(
            page.body
                .contains(&format!("aria-describedby=\"{path}-error\""))
        );
    }
    // The editor's input stays in the form.
    assert!(page.body.contains("value=\"ftp://example.com/x\""));
}

#[actix_web::test]
async fn rows_are_added_moved_and_removed_on_the_server_and_saved_in_that_order() {
    let app = TestApp::spawn().await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = client.token();
    let mut fields = talk_form(&token, "rows", "Rows");
    fields.push(("op", "resources.add"));
    let page = client.post("/studio/talks", &fields).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"resources[0].title\""));
    assert!(page.body.contains("data-focus=\"resources[0].title\""));
    let fields = [
        ("csrf", token.as_str()),
        ("slug", "rows"),
        ("title", "Rows"),
        ("date", "2024-05-02"),
        ("body", "x"),
        ("resources[0].title", "First"),
        ("resources[0].url", "https://example.com/1"),
        ("resources[1].title", "Second"),
        ("resources[1].url", "https://example.com/2"),
        ("op", "resources.up.1"),
    ];
    let page = client.post("/studio/talks", &fields).await;
    let first = page.body.find("value=\"Second\"").unwrap();
    let second = page.body.find("value=\"First\"").unwrap();
    assert!(first < second, "the rows were not swapped");
    // Nothing is stored until the form is saved.
    assert!(
        service::talks::find_by_slug(&app.db.db, "rows")
            .await
            .unwrap()
            .is_none()
    );
    let save = [
        ("csrf", token.as_str()),
        ("slug", "rows"),
        ("title", "Rows"),
        ("date", "2024-05-02"),
        ("body", "x"),
        ("resources[0].title", "Second"),
        ("resources[0].url", "https://example.com/2"),
        ("resources[1].title", "First"),
        ("resources[1].url", "https://example.com/1"),
    ];
    let created = client.post("/studio/talks", &save).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let record = service::talks::find_by_slug(&app.db.db, "rows")
        .await
        .unwrap()
        .unwrap();
    let titles: Vec<_> = record.resources.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["Second", "First"]);
    let unknown = client
        .post(
            "/studio/talks",
            &[("csrf", &token), ("op", "resources.up.9")],
        )
        .await;
    assert_eq!(unknown.status, 400);
}

#[actix_web::test]
async fn saving_over_a_newer_version_shows_their_change_and_keeps_mine() {
    let app = TestApp::spawn().await;
    let mut alice = StudioClient::signed_in(&app, "alice@example.com", Role::Editor).await;
    let token = alice.token();
    let created = alice
        .post("/studio/talks", &talk_form(&token, "shared", "Shared"))
        .await;
    let id = talk_id_of(&created.location);
    let path = format!("/studio/talks/{id}");
    let mut bob = StudioClient::signed_in(&app, "bob@example.com", Role::Editor).await;
    let bob_page = bob.get(&path).await;
    assert_eq!(hidden(&bob_page.body, "version").as_deref(), Some("1"));
    let bob_token = bob.token();

    // Alice saves a new title.
    let mut mine = talk_form(&token, "shared", "Alice's title");
    mine.push(("version", "1"));
    assert_eq!(alice.post(&path, &mine).await.status, 303);
    assert_eq!(stored_version(&app, "shared").await, 2);

    // Bob, still at version 1, saves a new abstract.
    let bobs = [
        ("csrf", bob_token.as_str()),
        ("version", "1"),
        ("slug", "shared"),
        ("title", "Shared"),
        ("date", "2024-05-02"),
        ("body", "<p>Bob's abstract</p>"),
    ];
    let conflict = bob.post(&path, &bobs).await;
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    assert!(conflict.body.contains("id=\"conflict\""));
    assert!(conflict.body.contains("alice@example.com saved version 2"));
    let table = &conflict.body[conflict.body.find("id=\"their-changes\"").unwrap()..];
    assert!(table.contains("<code>title</code>"), "{table}");
    assert!(unescape(table).contains("Alice's title"), "{table}");
    assert!(!table.contains("<code>body</code>"), "{table}");
    // Bob's text is still in his form, which still says version 1.
    let form = &conflict.body[conflict.body.find("id=\"talk-form\"").unwrap()..];
    assert!(unescape(form).contains("Bob's abstract"));
    assert_eq!(hidden(form, "version").as_deref(), Some("1"));
    assert!(conflict.body.contains("name=\"overwrite\" value=\"2\""));
    assert_eq!(stored_version(&app, "shared").await, 2);

    // "Save mine over theirs": a new version, 3.
    let mut over = bobs.to_vec();
    over.push(("overwrite", "2"));
    let saved = bob.post(&path, &over).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let record = service::talks::find_by_slug(&app.db.db, "shared")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.talk.version, 3);
    assert_eq!(record.talk.body, "<p>Bob's abstract</p>");
    // Overwriting a version Bob has not seen is refused again.
    let mut late = bobs.to_vec();
    late.push(("overwrite", "2"));
    assert_eq!(bob.post(&path, &late).await.status, 409);
}

#[actix_web::test]
async fn publishing_unpublishing_and_deleting_go_through_the_service() {
    let app = TestApp::spawn().await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = client.token();
    let created = client
        .post("/studio/talks", &talk_form(&token, "life", "Life"))
        .await;
    let id = talk_id_of(&created.location);
    let path = format!("/studio/talks/{id}");
    let published = client
        .post(
            &format!("{path}/publish"),
            &[("csrf", &token), ("version", "1")],
        )
        .await;
    assert_eq!(published.status, 303, "{}", published.body);
    let page = client.get(&published.location).await;
    assert!(page.body.contains("id=\"status\">Published"));
    // Readers see it now.
    let (status, _) = app.get("/api/v1/talks/life").await;
    assert_eq!(status, 200);
    // A stale version is refused.
    let stale = client
        .post(
            &format!("{path}/unpublish"),
            &[("csrf", &token), ("version", "1")],
        )
        .await;
    assert_eq!(stale.status, 409);
    let confirm = client.get(&format!("{path}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete “Life”?"));
    let version = hidden(&confirm.body, "version").unwrap();
    let deleted = client
        .post(
            &format!("{path}/delete"),
            &[("csrf", &token), ("version", &version)],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(deleted.location, "/studio/talks?deleted=life");
    assert!(
        service::talks::find_by_slug(&app.db.db, "life")
            .await
            .unwrap()
            .is_none()
    );
    let kinds: Vec<String> = service::events::history(&app.db.db, id.parse().unwrap(), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["talk.created", "talk.published", "talk.deleted"]);
}

#[actix_web::test]
async fn bad_form_posts_get_the_apis_limits_and_problems() {
    let app = TestApp::spawn().await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = client.token();
    let huge = "x".repeat(api::startup::MAX_BODY_BYTES + 1);
    let page = client
        .post("/studio/talks", &[("csrf", &token), ("body", &huge)])
        .await;
    assert_eq!(
        page.status,
        413,
        "{}",
        &page.body[..200.min(page.body.len())]
    );
    assert!(page.body.contains("larger than"));
    let mut body = format!("csrf={token}&").into_bytes();
    body.extend_from_slice(b"title=%FF%FE");
    let page = client.post_raw("/studio/talks", body).await;
    assert_eq!(page.status, 400, "{}", page.body);
    let page = client
        .post("/studio/talks", &[("csrf", &token), ("nonsense", "1")])
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("nonsense: is not a field of a talk"));
    let page = client.get("/studio/talks?year=soon").await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("year: must be a year"), "{}", page.body);
    let page = client.get("/studio/talks/not-a-uuid").await;
    assert_eq!(page.status, 404);
}

#[actix_web::test]
async fn studio_pages_send_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;
    let mut client = StudioClient::new(&app);
    let page = client.get("/studio/login").await;
    let csp = page
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let script = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap();
    assert_eq!(script, "script-src 'self'");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(
        page.headers
            .get("referrer-policy")
            .unwrap()
            .to_str()
            .unwrap(),
        "same-origin"
    );
    // No inline script in the page: every script has a src on this origin.
    for part in page.body.split("<script").skip(1) {
        assert!(part.trim_start().starts_with("src=\"/static/"), "{part}");
    }
}

#[actix_web::test]
async fn studio_false_serves_no_studio() {
    let db = tests::TestDb::new().await;
    let app = TestApp::spawn_configured(db, |settings| settings.studio.enabled = false).await;
    let mut client = StudioClient::new(&app);
    assert_eq!(client.get("/studio/login").await.status, 404);
    assert_eq!(client.get("/studio").await.status, 404);
}

#[actix_web::test]
async fn the_list_filters_by_status_event_year_and_words_and_pages() {
    let app = TestApp::with_corpus().await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let all = client.get("/studio/talks").await;
    assert!(all.body.contains("121 talks"), "{}", &all.body[..2000]);
    assert!(all.body.contains("rel=\"next\""));
    let year = client.get("/studio/talks?year=2019").await;
    let count_of = |body: &str| -> u64 {
        let start = body.find("id=\"count\">").unwrap() + "id=\"count\">".len();
        body[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let in_2019 = count_of(&year.body);
    let expected = service::listing::count(
        &app.db.db,
        &service::listing::TalkFilter {
            year: Some(2019),
            audience: service::visibility::Audience::Staff,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(in_2019, expected);
    assert!(in_2019 > 0 && in_2019 < 121);
    // One talk unpublished: the only draft.
    let talk = service::talks::find_by_slug(
        &app.db.db,
        &service::listing::list(
            &app.db.db,
            &service::listing::TalkFilter::default(),
            service::listing::TalkOrder::default(),
            &service::listing::PageRequest::default(),
        )
        .await
        .unwrap()
        .talks[0]
            .slug,
    )
    .await
    .unwrap()
    .unwrap();
    service::editing::set_status(
        &app.db.db,
        talk.talk.id,
        entity::talk::Status::Draft,
        "test",
    )
    .await
    .unwrap();
    let drafts = client.get("/studio/talks?status=draft").await;
    assert_eq!(count_of(&drafts.body), 1);
    assert!(unescape(&drafts.body).contains(&talk.talk.title));
    let published = client.get("/studio/talks?status=published").await;
    assert_eq!(count_of(&published.body), 120);
    // htmx asks for the results only.
    let reply = request(
        &app,
        "GET",
        "/studio/talks?q=rust",
        None,
        &[
            ("HX-Request", "true"),
            (
                "Cookie",
                &format!("lectern_session={}", client.cookies["lectern_session"]),
            ),
        ],
        None,
    )
    .await;
    let fragment = String::from_utf8_lossy(&reply.bytes);
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(fragment.contains("<table class=\"talks\">"));
    // Walking the pages forward lists every talk once.
    let mut seen = std::collections::HashSet::new();
    let mut path = "/studio/talks?sort=title".to_owned();
    for _ in 0..10 {
        let page = client.get(&path).await;
        for part in page.body.split("<a href=\"/studio/talks/").skip(1) {
            seen.insert(part.split('"').next().unwrap().to_owned());
        }
        match page.body.split("rel=\"next\"").next().and_then(|before| {
            let start = before.rfind("<a href=\"")? + "<a href=\"".len();
            Some(unescape(before[start..].split('"').next()?))
        }) {
            Some(next) if page.body.contains("rel=\"next\"") => path = next,
            _ => break,
        }
    }
    // "new" is the link to a new talk in the navigation.
    seen.remove("new");
    assert_eq!(seen.len(), 121);
}

#[actix_web::test]
async fn history_lists_every_version_and_restores_one_as_a_new_version() {
    let app = TestApp::spawn().await;
    let mut client = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    let token = client.token();
    let created = client
        .post(
            "/studio/talks",
            &talk_form(&token, "storied", "First title"),
        )
        .await;
    let id = talk_id_of(&created.location);
    let path = format!("/studio/talks/{id}");
    for (version, title) in [("1", "Second title"), ("2", "Third title")] {
        let mut fields = talk_form(&token, "storied", title);
        fields.push(("version", version));
        assert_eq!(client.post(&path, &fields).await.status, 303);
    }
    let history = client.get(&format!("{path}/history")).await;
    assert_eq!(history.status, 200);
    let table = &history.body[history.body.find("id=\"history-table\"").unwrap()..];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[0].contains("<td>3</td>") && rows[0].contains("updated"));
    assert!(rows[2].contains("<td>1</td>") && rows[2].contains("created"));
    assert!(rows.iter().all(|row| row.contains("ed@example.com")));

    let version = client.get(&format!("{path}/history/1")).await;
    assert_eq!(version.status, 200);
    let diff = unescape(&version.body[version.body.find("id=\"version-diff\"").unwrap()..]);
    assert!(diff.contains("<code>title</code>"), "{diff}");
    assert!(diff.contains("<del>First title</del>") && diff.contains("<ins>Third title</ins>"));
    assert!(!diff.contains("<code>body</code>"));
    assert_eq!(client.get(&format!("{path}/history/9")).await.status, 404);

    // Restoring: CSRF first, then the version the page showed as current.
    let refused = client
        .post(
            &format!("{path}/restore"),
            &[("version", "1"), ("current", "3")],
        )
        .await;
    assert_eq!(refused.status, 403);
    let stale = client
        .post(
            &format!("{path}/restore"),
            &[("csrf", &token), ("version", "1"), ("current", "2")],
        )
        .await;
    assert_eq!(stale.status, 409);
    let restored = client
        .post(
            &format!("{path}/restore"),
            &[("csrf", &token), ("version", "1"), ("current", "3")],
        )
        .await;
    assert_eq!(restored.status, 303, "{}", restored.body);
    assert_eq!(restored.location, format!("{path}?saved=4"));
    let record = service::talks::find_by_slug(&app.db.db, "storied")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.talk.version, 4);
    assert_eq!(record.talk.title, "First title");

    let mut viewer = StudioClient::signed_in(&app, "vi@example.com", Role::Viewer).await;
    let page = viewer.get(&format!("{path}/history/1")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"restore\""));
    let viewer_token = viewer.token();
    let refused = viewer
        .post(
            &format!("{path}/restore"),
            &[("csrf", &viewer_token), ("version", "2"), ("current", "4")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(stored_version(&app, "storied").await, 4);
}

#[actix_web::test]
async fn admins_manage_accounts_tokens_and_webhooks_and_others_may_not() {
    let app = TestApp::spawn().await;
    let mut admin = StudioClient::signed_in(&app, "root@example.com", Role::Admin).await;
    let token = admin.token();
    let page = admin.get("/studio/admin").await;
    assert_eq!(page.status, 200);

    // Accounts: a bad one is refused at its fields, a good one added.
    let bad = admin
        .post(
            "/studio/admin/users",
            &[
                ("csrf", &token),
                ("email", "nope"),
                ("password", "short"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body
            .contains("id=\"new-email-error\">is not an email address")
    );
    assert!(
        bad.body
            .contains("id=\"new-password-error\">must be at least 12 characters long")
    );
    let added = admin
        .post(
            "/studio/admin/users",
            &[
                ("csrf", &token),
                ("email", "new@example.com"),
                ("password", TEST_PASSWORD),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let user = service::accounts::find_user_by_email(&app.db.db, "new@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role, Role::Viewer);
    let path = format!("/studio/admin/users/{}", user.id);
    let changed = admin
        .post(
            &path,
            &[("csrf", &token), ("action", "role"), ("role", "editor")],
        )
        .await;
    assert_eq!(changed.status, 303);
    // The new editor signs in, then is disabled: the open session ends at once.
    let mut editor = StudioClient::new(&app);
    assert_eq!(
        editor
            .sign_in("new@example.com", TEST_PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(editor.get("/studio/talks/new").await.status, 200);
    let disabled = admin
        .post(&path, &[("csrf", &token), ("action", "disable")])
        .await;
    assert_eq!(disabled.status, 303);
    assert_eq!(editor.get("/studio/talks/new").await.status, 303);
    assert_eq!(
        editor
            .sign_in("new@example.com", TEST_PASSWORD)
            .await
            .status,
        401
    );

    // Tokens: shown once, then revoked.
    let issued = admin
        .post(
            "/studio/admin/tokens",
            &[
                ("csrf", &token),
                ("name", "deploy"),
                ("role", "editor"),
                ("ttl", "30d"),
            ],
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let start = issued.body.find("id=\"secret\" readonly value=\"").unwrap() + 28;
    let bearer = issued.body[start..].split('"').next().unwrap().to_owned();
    let (status, _, _) = app
        .send("GET", "/api/v1/talks?first=1", Some(&bearer), None)
        .await;
    assert_eq!(status, 200);
    let listed = admin.get("/studio/admin").await;
    assert!(!listed.body.contains(&bearer), "a token is shown once only");
    let jti = service::accounts::list_tokens(&app.db.db).await.unwrap()[0].jti;
    let revoked = admin
        .post(
            &format!("/studio/admin/tokens/{jti}/revoke"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let (status, _, _) = app
        .send("GET", "/api/v1/talks?first=1", Some(&bearer), None)
        .await;
    assert_eq!(status, 401);
    let bad_ttl = admin
        .post(
            "/studio/admin/tokens",
            &[
                ("csrf", &token),
                ("name", "x"),
                ("role", "editor"),
                ("ttl", "forever"),
            ],
        )
        .await;
    assert_eq!(bad_ttl.status, 422);
    assert!(bad_ttl.body.contains("id=\"token-ttl-error\""));

    // Webhooks: added (secret shown once), paused, resumed, replayed.
    let hook = admin
        .post(
            "/studio/admin/webhooks",
            &[
                ("csrf", &token),
                ("url", "http://127.0.0.1:9/hook"),
                ("events", "talk.published, talk.deleted"),
                ("description", "site rebuild"),
            ],
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    assert!(hook.body.contains("value=\"whsec_"));
    let stored = service::webhooks::list(&app.db.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    let hook_path = format!("/studio/admin/webhooks/{}", stored[0].id);
    for (action, state) in [("pause", "paused"), ("resume", "active")] {
        let done = admin
            .post(&hook_path, &[("csrf", &token), ("action", action)])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let shown = admin.get(&done.location).await;
        assert!(
            shown
                .body
                .contains(&format!("id=\"hook-state\">{state}</dd>")),
            "{action}"
        );
    }
    let replay = admin
        .post(
            &hook_path,
            &[("csrf", &token), ("action", "replay"), ("from_seq", "1")],
        )
        .await;
    assert_eq!(replay.status, 303);
    let bad_hook = admin
        .post(
            "/studio/admin/webhooks",
            &[("csrf", &token), ("url", "not a url"), ("events", "talk.*")],
        )
        .await;
    assert_eq!(bad_hook.status, 422);
    assert!(bad_hook.body.contains("id=\"hook-url-error\""));

    // An editor may do none of it; without the token, neither may an admin.
    let mut editor = StudioClient::signed_in(&app, "ed@example.com", Role::Editor).await;
    assert_eq!(editor.get("/studio/admin").await.status, 403);
    let editor_token = editor.token();
    let refused = editor
        .post(
            "/studio/admin/users",
            &[
                ("csrf", &editor_token),
                ("email", "sneaky@example.com"),
                ("password", TEST_PASSWORD),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        service::accounts::find_user_by_email(&app.db.db, "sneaky@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        admin.post(&hook_path, &[("action", "pause")]).await.status,
        403
    );
}

#[actix_web::test]
async fn the_session_cookie_is_secure_when_a_proxy_says_the_request_came_over_https() {
    let app = TestApp::spawn().await;
    service::accounts::add_user(&app.db.db, "ed@example.com", TEST_PASSWORD, Role::Editor)
        .await
        .unwrap();
    let https = ("X-Forwarded-Proto", "https");
    let form_page = send_once(&app, "GET", "/studio/login", &[https], None).await;
    let sign_in_cookie = form_page.header("set-cookie").to_owned();
    assert!(sign_in_cookie.contains("Secure"), "{sign_in_cookie}");
    let token = hidden(&String::from_utf8_lossy(&form_page.bytes), "csrf").unwrap();
    let cookie = sign_in_cookie.split(';').next().unwrap().to_owned();
    let body = form(&[
        ("csrf", &token),
        ("email", "ed@example.com"),
        ("password", TEST_PASSWORD),
    ]);
    let signed = send_once(
        &app,
        "POST",
        "/studio/login",
        &[https, ("Cookie", &cookie)],
        Some(("application/x-www-form-urlencoded", body)),
    )
    .await;
    assert_eq!(signed.status, 303);
    let session = signed
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lectern_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(session.contains("Secure"), "{session}");
}
