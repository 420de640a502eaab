//! Lectern Studio: the editors' web app under `/studio`, server-rendered HTML with htmx for
//! partial updates.
//!
//! Every page calls the same `service` functions as GraphQL and REST and checks the role on
//! the server; the templates hold no rule of their own. One module per screen ([`login`],
//! [`talks`], [`media`], [`history`], [`live`], [`admin`]); sessions and CSRF tokens in [`session`]; the talk form, its field paths and
//! differences in [`form`]; errors rendered once in [`error`].
//!
//! Pages send a Content-Security-Policy with no inline script and `frame-ancestors 'none'`,
//! `Referrer-Policy: same-origin`, and `Cache-Control: no-store` (a page may show drafts).
//! Scripts and styles come from [`crate::static_files`], this origin only.

use std::time::Duration;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};

pub mod admin;
pub mod error;
pub mod form;
pub mod history;
pub mod live;
pub mod login;
pub mod media;
pub mod session;
pub mod talks;

/// The Studio's Content-Security-Policy. Images in an abstract's preview may come from any
/// HTTPS host (slides usually live elsewhere); nothing else is loaded from another origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https:; connect-src 'self'; font-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// When the session cookie gets the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookie {
    /// When the request came over HTTPS, as the connection or a proxy's `X-Forwarded-Proto`
    /// or `Forwarded` header says.
    Auto,
    /// Always: behind a proxy that terminates TLS and does not say so.
    Always,
    /// Never (plain HTTP on a trusted network, tests).
    Never,
}

/// How the Studio runs (read by [`crate::configuration::Config`]).
#[derive(Debug, Clone)]
pub struct StudioSettings {
    /// Whether `/studio` is served (`studio = false` turns it off).
    pub enabled: bool,
    /// A session unused for this long is over.
    pub idle: Duration,
    pub secure_cookie: SecureCookie,
}

impl Default for StudioSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            idle: Duration::from_secs(60 * 60),
            secure_cookie: SecureCookie::Auto,
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, settings: &StudioSettings) {
    if !settings.enabled {
        return;
    }
    cfg.app_data(web::Data::new(settings.clone()))
        .route("/studio", web::get().to(home))
        .service(
            web::scope("/studio")
                .wrap(actix_web::middleware::from_fn(poke_after_writes))
                .wrap(actix_web::middleware::Compress::default())
                .wrap(headers())
                .route("/", web::get().to(home))
                .route("/login", web::get().to(login::page))
                .route("/login", web::post().to(login::sign_in))
                .route("/logout", web::post().to(login::sign_out))
                .route("/talks", web::get().to(talks::list))
                .route("/talks", web::post().to(talks::create))
                .route("/talks/new", web::get().to(talks::new))
                .route("/preview", web::post().to(talks::preview))
                .route("/talks/{id}", web::get().to(talks::edit))
                .route("/talks/{id}", web::post().to(talks::save))
                .route("/talks/{id}/publish", web::post().to(talks::publish))
                .route("/talks/{id}/unpublish", web::post().to(talks::unpublish))
                .route("/talks/{id}/delete", web::get().to(talks::confirm_delete))
                .route("/talks/{id}/delete", web::post().to(talks::delete))
                .route("/talks/{id}/history", web::get().to(history::list))
                .route(
                    "/talks/{id}/history/{version}",
                    web::get().to(history::version),
                )
                .route("/talks/{id}/restore", web::post().to(history::restore))
                .route("/talks/{id}/live", web::get().to(live::live))
                .route("/talks/{id}/image", web::post().to(media::save_image))
                .route(
                    "/talks/{id}/image/remove",
                    web::post().to(media::remove_image),
                )
                .route("/talks/{id}/slides", web::post().to(media::save_slides))
                .route(
                    "/talks/{id}/slides/remove",
                    web::post().to(media::remove_slides),
                )
                .route("/assets/{id}", web::get().to(media::serve))
                .route("/assets/{id}", web::head().to(media::serve))
                .route("/assets/{id}/{filename}", web::get().to(media::serve))
                .route("/assets/{id}/{filename}", web::head().to(media::serve))
                .route("/admin", web::get().to(admin::index))
                .route("/admin/users", web::post().to(admin::add_user))
                .route("/admin/users/{id}", web::post().to(admin::change_user))
                .route("/admin/tokens", web::post().to(admin::issue_token))
                .route(
                    "/admin/tokens/{jti}/revoke",
                    web::post().to(admin::revoke_token),
                )
                .route("/admin/webhooks", web::post().to(admin::add_webhook))
                .route("/admin/webhooks/{id}", web::get().to(admin::webhook))
                .route(
                    "/admin/webhooks/{id}",
                    web::post().to(admin::change_webhook),
                )
                .default_service(web::to(error::not_found)),
        );
}

/// After a form post that changed something (answered with a redirect), this process's
/// followers of the outbox hear of it at once: live notices, subscriptions, webhooks.
async fn poke_after_writes(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let hub = request
        .app_data::<web::Data<std::sync::Arc<crate::changes::ChangeHub>>>()
        .cloned();
    let post = request.method() == actix_web::http::Method::POST;
    let response = next.call(request).await?;
    if post
        && response.status() == actix_web::http::StatusCode::SEE_OTHER
        && let Some(hub) = hub
    {
        hub.poke();
    }
    Ok(response)
}

fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::CACHE_CONTROL, "no-store"))
        .add((header::VARY, "HX-Request, Cookie"))
}

/// `/studio`: the list of talks.
async fn home() -> HttpResponse {
    see_other("/studio/talks")
}

/// A 303 to `location` (after a form post, the browser GETs it); to htmx, `HX-Location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Whether htmx made the request (it then wants a fragment, not the whole page).
pub fn from_htmx(request: &HttpRequest) -> bool {
    request.headers().contains_key("hx-request")
}

/// A rendered page.
pub fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The paths of the Studio's own script and style, and of htmx, for the templates.
pub struct Assets {
    pub css: String,
    pub js: String,
    pub htmx: String,
}

impl Assets {
    pub fn get() -> &'static Assets {
        static ASSETS: std::sync::LazyLock<Assets> = std::sync::LazyLock::new(|| Assets {
            css: crate::static_files::url("studio.css"),
            js: crate::static_files::url("studio.js"),
            htmx: crate::static_files::url("vendor/htmx.min.js"),
        });
        &ASSETS
    }
}
