//! The Studio's cookies and CSRF tokens.
//!
//! - `lectern_session`: the session's random token (`HttpOnly`, `SameSite=Strict`, `Path=/studio`,
//!   `Secure` as configured); the database keeps its hash ([`service::sessions`]).
//! - Every state-changing request carries the session's CSRF token, in the form field `csrf`
//!   or the `X-CSRF-Token` header (htmx sends it from the page's `hx-headers`); without it, or
//!   with another, the request is refused (403) before anything is read or written.
//! - The sign-in form, before any session exists, is protected the same way by a token that is
//!   both in a short-lived cookie (`lectern_signin`) and in the form.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use service::accounts::Role;
use service::sea_orm::DatabaseConnection;

use super::error::StudioError;
use super::{SecureCookie, StudioSettings};
use crate::auth::Viewer;

pub const SESSION_COOKIE: &str = "lectern_session";
pub const SIGN_IN_COOKIE: &str = "lectern_signin";
/// The header htmx requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in editor (or viewer, or admin): who, with which role, and the session's CSRF
/// token. Extracting it from a request without an open session answers with the sign-in page.
#[derive(Debug, Clone)]
pub struct Signed {
    pub user: entity::user::Model,
    pub csrf: String,
}

impl Signed {
    /// The viewer the service's rules and the API's role checks know.
    pub fn viewer(&self) -> Viewer {
        Viewer::User {
            id: self.user.id,
            role: self.user.role,
        }
    }

    /// Refused (403) unless the user has `role` or a greater one.
    pub fn require(&self, role: Role) -> Result<(), StudioError> {
        if self.user.role >= role {
            Ok(())
        } else {
            Err(StudioError::Forbidden(format!(
                "your account ({}) may not do this: it needs the {} role",
                self.user.role.as_str(),
                role.as_str()
            )))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.role >= Role::Admin
    }

    pub fn can_edit(&self) -> bool {
        self.user.role >= Role::Editor
    }

    /// Refused (403) unless `presented` (the form's field, else the header) is this session's
    /// token.
    pub fn check_csrf(
        &self,
        request: &HttpRequest,
        presented: Option<&str>,
    ) -> Result<(), StudioError> {
        let header = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        match presented.or(header) {
            Some(token) if service::sessions::same(token.as_bytes(), self.csrf.as_bytes()) => {
                Ok(())
            }
            Some(_) => Err(StudioError::Csrf("the form's security token is stale")),
            None => Err(StudioError::Csrf("the form carries no security token")),
        }
    }
}

impl FromRequest for Signed {
    type Error = StudioError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let (Some(db), Some(settings)) = (
                request.app_data::<web::Data<DatabaseConnection>>(),
                request.app_data::<web::Data<StudioSettings>>(),
            ) else {
                return Err(StudioError::Internal("the Studio is not set up".into()));
            };
            let sign_in = || StudioError::SignIn {
                next: next_after_sign_in(&request),
            };
            let Some(cookie) = request.cookie(SESSION_COOKIE) else {
                return Err(sign_in());
            };
            match service::sessions::find(db, cookie.value(), settings.idle).await? {
                Some(session) => Ok(Signed {
                    user: session.user,
                    csrf: session.csrf_token,
                }),
                None => Err(sign_in()),
            }
        })
    }
}

/// Where to go once signed in: the page asked for, or for a form post the page it was sent
/// from (its unsaved values are kept in the browser).
fn next_after_sign_in(request: &HttpRequest) -> String {
    let wanted = if request.method() == Method::GET {
        Some(request.uri().to_string())
    } else {
        request
            .headers()
            .get(actix_web::http::header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|referer| url::Url::parse(referer).ok())
            .map(|url| match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            })
    };
    wanted
        .filter(|path| is_studio_path(path))
        .unwrap_or_else(|| "/studio/talks".into())
}

/// A path of this origin's Studio (never another host: `//evil`, `/studio/../x`).
pub fn is_studio_path(path: &str) -> bool {
    (path == "/studio" || path.starts_with("/studio/"))
        && !path.contains("//")
        && !path.contains("..")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

fn secure(request: &HttpRequest, settings: &StudioSettings) -> bool {
    match settings.secure_cookie {
        SecureCookie::Always => true,
        SecureCookie::Never => false,
        SecureCookie::Auto => request.connection_info().scheme() == "https",
    }
}

fn cookie<'a>(
    name: &'a str,
    value: String,
    request: &HttpRequest,
    settings: &StudioSettings,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/studio")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(request, settings))
        .finish()
}

/// The session cookie for `token`. It has no expiry of its own: the server ends idle sessions,
/// and the browser forgets the cookie when it closes.
pub fn session_cookie<'a>(
    token: String,
    request: &HttpRequest,
    settings: &StudioSettings,
) -> Cookie<'a> {
    cookie(SESSION_COOKIE, token, request, settings)
}

/// The sign-in form's token cookie, valid for an hour.
pub fn sign_in_cookie<'a>(
    token: String,
    request: &HttpRequest,
    settings: &StudioSettings,
) -> Cookie<'a> {
    let mut cookie = cookie(SIGN_IN_COOKIE, token, request, settings);
    cookie.set_max_age(time::Duration::hours(1));
    cookie
}

/// A cookie that makes the browser forget `name`.
pub fn removal<'a>(name: &'a str, request: &HttpRequest, settings: &StudioSettings) -> Cookie<'a> {
    let mut cookie = cookie(name, String::new(), request, settings);
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_the_studio_are_followed_after_sign_in() {
        assert!(is_studio_path("/studio/talks"));
        assert!(is_studio_path("/studio/talks/abc?x=1"));
        assert!(!is_studio_path("//evil.example/studio/"));
        assert!(!is_studio_path("https://evil.example/studio/"));
        assert!(!is_studio_path("/studio/../graphql"));
        assert!(!is_studio_path("/studio//evil.example"));
        assert!(!is_studio_path("/studio\\x"));
        assert!(!is_studio_path("/studiox"));
    }
}
