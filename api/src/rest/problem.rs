//! RFC 9457 problem bodies: every REST error, mapped once from the domain's and the
//! authenticator's errors.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use service::{FieldError, ServiceError};

use crate::auth::AuthError;

/// Seconds a client is asked to wait when the database is unavailable.
pub const RETRY_AFTER_UNAVAILABLE: &str = "5";

/// A problem, sent as `application/problem+json`.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    pub kind: &'static str,
    pub detail: String,
    /// Field errors of a validation problem.
    pub errors: Vec<FieldError>,
    /// Further members of the body.
    pub extra: Vec<(&'static str, serde_json::Value)>,
    pub headers: Vec<(header::HeaderName, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind: "about:blank",
            detail: detail.into(),
            errors: Vec::new(),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn member(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.extra.push((name, value));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "there is no such resource")
    }

    /// A query parameter or field that cannot be used, with its path.
    pub fn invalid(path: &str, message: &str) -> Self {
        ServiceError::Invalid(vec![FieldError::new(path, message)]).into()
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = serde_json::json!({
            "type": self.kind,
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::json!(
                self.errors
                    .iter()
                    .map(|e| serde_json::json!({ "path": e.path, "message": e.message }))
                    .collect::<Vec<_>>()
            );
        }
        for (name, value) in &self.extra {
            body[*name] = value.clone();
        }
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.as_str()));
        }
        response.body(body.to_string())
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound => Self::not_found(),
            ServiceError::Conflict { current_version } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                format!("the talk changed: it is at version {current_version}; read it again"),
            )
            .kind("urn:lectern:problem:version-conflict")
            .member("current_version", current_version.into()),
            ServiceError::Duplicate { .. } => Self::new(StatusCode::CONFLICT, error.to_string())
                .kind("urn:lectern:problem:duplicate"),
            ServiceError::Invalid(errors) => {
                let mut problem = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the input is not valid; see errors",
                )
                .kind("urn:lectern:problem:validation");
                problem.errors = errors;
                problem
            }
            ServiceError::LimitExceeded(detail) => {
                Self::new(StatusCode::BAD_REQUEST, detail).kind("urn:lectern:problem:limit")
            }
            ServiceError::BadCredentials => AuthError::Unauthenticated(error.to_string()).into(),
            ServiceError::Db(cause) => {
                tracing::error!(error = %cause, "database error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; try again shortly",
                )
                .kind("urn:lectern:problem:unavailable")
                .header(header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE)
            }
            ServiceError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthenticated(_) => {
                let challenge = crate::routes::www_authenticate(&error);
                Self::new(StatusCode::UNAUTHORIZED, error.to_string())
                    .header(header::WWW_AUTHENTICATE, challenge)
            }
            AuthError::Forbidden(_) => Self::new(StatusCode::FORBIDDEN, error.to_string()),
            AuthError::RateLimited(seconds) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, error.to_string())
                    .header(header::RETRY_AFTER, seconds.to_string())
            }
            AuthError::NotIssuer => Self::new(StatusCode::NOT_IMPLEMENTED, error.to_string()),
            AuthError::Service(e) => e.into(),
        }
    }
}
