//! The Studio's errors, each rendered once as a page that says what happened and that nothing
//! was changed.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use service::ServiceError;

use super::Assets;
use crate::rest::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum StudioError {
    /// No open session: to the sign-in page, then back to `next`.
    #[error("please sign in")]
    SignIn { next: String },
    /// A state-changing request without this session's CSRF token: 403.
    #[error("{0}")]
    Csrf(&'static str),
    /// The role does not allow it: 403.
    #[error("{0}")]
    Forbidden(String),
    /// As the API would answer (status and detail of its problem body).
    #[error("{}", .0.detail)]
    Problem(Problem),
    #[error("{0}")]
    Internal(String),
}

impl From<ServiceError> for StudioError {
    fn from(error: ServiceError) -> Self {
        Self::Problem(Problem::from(error))
    }
}

impl From<Problem> for StudioError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

#[derive(Template)]
#[template(path = "studio/error.html")]
struct ErrorPage<'a> {
    assets: &'static Assets,
    title: &'a str,
    message: String,
    details: Vec<String>,
}

impl ResponseError for StudioError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::Csrf(_) | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Problem(problem) => problem.status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message, details) = match self {
            Self::SignIn { next } => {
                let location = format!(
                    "/studio/login?next={}",
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                );
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location.clone()))
                    // htmx follows this one instead of swapping the sign-in page into a fragment.
                    .insert_header(("HX-Redirect", location))
                    .finish();
            }
            Self::Csrf(why) => (
                "Refused: security token",
                format!(
                    "{why}, so this request was refused and nothing was changed. Reload the page and try again; your unsaved changes are kept in this browser."
                ),
                Vec::new(),
            ),
            Self::Forbidden(why) => (
                "Not allowed",
                format!("{why}. Nothing was changed."),
                Vec::new(),
            ),
            Self::Problem(problem) => (
                problem.status.canonical_reason().unwrap_or("Error"),
                problem.detail.clone(),
                problem.errors.iter().map(ToString::to_string).collect(),
            ),
            Self::Internal(cause) => {
                tracing::error!(error = %cause, "studio error");
                ("Error", "internal error".to_owned(), Vec::new())
            }
        };
        let page = ErrorPage {
            assets: Assets::get(),
            title,
            message,
            details,
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Self::Problem(problem) = self {
            for (name, value) in &problem.headers {
                response.insert_header((name.clone(), value.clone()));
            }
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(page.render().unwrap_or_else(|e| e.to_string()))
    }
}

/// Any other path under `/studio`.
pub async fn not_found(request: HttpRequest) -> HttpResponse {
    StudioError::Problem(Problem::new(
        StatusCode::NOT_FOUND,
        format!("there is no page {} in the Studio", request.path()),
    ))
    .error_response()
}
