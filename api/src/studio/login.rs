//! Signing in and out.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use service::sea_orm::DatabaseConnection;

use super::error::StudioError;
use super::session::{self, SESSION_COOKIE, SIGN_IN_COOKIE, Signed};
use super::{Assets, StudioSettings, html, see_other};
use crate::auth::{AuthError, Authority};
use crate::rest::problem::Problem;

#[derive(Template)]
#[template(path = "studio/login.html")]
struct LoginPage<'a> {
    assets: &'static Assets,
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn next_or_list(next: Option<&str>) -> &str {
    next.filter(|n| session::is_studio_path(n))
        .unwrap_or("/studio/talks")
}

/// Renders the sign-in form with a fresh token for it, in its cookie too.
fn form(
    request: &HttpRequest,
    settings: &StudioSettings,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<String>,
) -> Result<HttpResponse, StudioError> {
    let token = service::sessions::random_token()?;
    let page = LoginPage {
        assets: Assets::get(),
        csrf: &token,
        next,
        email,
        error,
    };
    let body = page
        .render()
        .map_err(|e| StudioError::Internal(e.to_string()))?;
    let mut response = html(status, body);
    response
        .add_cookie(&session::sign_in_cookie(token, request, settings))
        .map_err(|e| StudioError::Internal(e.to_string()))?;
    Ok(response)
}

/// `GET /studio/login`.
pub async fn page(
    request: HttpRequest,
    settings: web::Data<StudioSettings>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, StudioError> {
    let next = next_or_list(query.next.as_deref());
    form(&request, &settings, StatusCode::OK, next, "", None)
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// `POST /studio/login`: the same accounts, checks and rate limits as `POST /auth/login`.
pub async fn sign_in(
    request: HttpRequest,
    settings: web::Data<StudioSettings>,
    db: web::Data<DatabaseConnection>,
    authority: web::Data<Arc<Authority>>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let body =
        crate::rest::http::read_body(&request, payload, &["application/x-www-form-urlencoded"])
            .await?;
    let posted: SignInForm = serde_urlencoded::from_bytes(&body).map_err(|e| {
        Problem::bad_request(format!("the form needs an email and a password: {e}"))
    })?;
    let cookie = request.cookie(SIGN_IN_COOKIE);
    match (&cookie, &posted.csrf) {
        (Some(cookie), Some(token))
            if service::sessions::same(cookie.value().as_bytes(), token.as_bytes()) => {}
        (None, _) => {
            return Err(StudioError::Csrf(
                "the sign-in form has expired (or this browser refuses cookies)",
            ));
        }
        _ => {
            return Err(StudioError::Csrf(
                "the sign-in form's security token is stale",
            ));
        }
    }
    let next = next_or_list(posted.next.as_deref()).to_owned();
    if let Some(field) =
        service::domain::nul_fields("", [("email", Some(posted.email.as_str()))]).first()
    {
        return Err(Problem::invalid(field, service::domain::NUL_MESSAGE).into());
    }
    let client = request.peer_addr().map(|address| address.ip());
    let user = match authority
        .check_credentials(client, &posted.email, &posted.password)
        .await
    {
        Ok(user) => user,
        Err(AuthError::Unauthenticated(message)) => {
            return form(
                &request,
                &settings,
                StatusCode::UNAUTHORIZED,
                &next,
                &posted.email,
                Some(message),
            );
        }
        Err(AuthError::RateLimited(seconds)) => {
            let mut response = form(
                &request,
                &settings,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                &posted.email,
                Some(format!("Too many sign-in attempts; retry in {seconds} s.")),
            )?;
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(seconds),
            );
            return Ok(response);
        }
        Err(other) => return Err(Problem::from(other).into()),
    };
    // Opening the session after sign-in, never reusing one from before (session fixation).
    if let Some(old) = request.cookie(SESSION_COOKIE) {
        service::sessions::close(&db, old.value()).await?;
    }
    // Sessions that ended by idling are removed as others begin.
    service::sessions::prune(&db, settings.idle).await?;
    let opened = service::sessions::open(&db, user.id).await?;
    let mut response = see_other(&next);
    for cookie in [
        session::session_cookie(opened.token, &request, &settings),
        session::removal(SIGN_IN_COOKIE, &request, &settings),
    ] {
        response
            .add_cookie(&cookie)
            .map_err(|e| StudioError::Internal(e.to_string()))?;
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

/// `POST /studio/logout`: closes the session.
pub async fn sign_out(
    request: HttpRequest,
    signed: Signed,
    settings: web::Data<StudioSettings>,
    db: web::Data<DatabaseConnection>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, StudioError> {
    signed.check_csrf(&request, form.csrf.as_deref())?;
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        service::sessions::close(&db, cookie.value()).await?;
    }
    let mut response = see_other("/studio/login");
    response
        .add_cookie(&session::removal(SESSION_COOKIE, &request, &settings))
        .map_err(|e| StudioError::Internal(e.to_string()))?;
    Ok(response)
}
