//! RFC 9457 problem bodies: every REST error, mapped once from the domain's and the
//! authenticator's errors.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use service::assets::AssetError;
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

/// The HTTP status and headers that answer a refusal: the one mapping of refusals to HTTP,
/// whatever the body (a problem for REST, GraphQL errors for GraphQL over HTTP and for the
/// websocket's upgrade). Logs nothing.
pub fn refusal_head(error: &AuthError) -> (StatusCode, Vec<(header::HeaderName, String)>) {
    match error {
        AuthError::Unauthenticated(_) => (
            StatusCode::UNAUTHORIZED,
            vec![(header::WWW_AUTHENTICATE, www_authenticate(error))],
        ),
        AuthError::Forbidden(_) => (StatusCode::FORBIDDEN, Vec::new()),
        AuthError::RateLimited(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            vec![(header::RETRY_AFTER, seconds.to_string())],
        ),
        AuthError::NotIssuer => (StatusCode::NOT_IMPLEMENTED, Vec::new()),
        AuthError::Service(e) => service_head(e),
    }
}

/// The HTTP status and headers that answer a domain error.
fn service_head(error: &ServiceError) -> (StatusCode, Vec<(header::HeaderName, String)>) {
    let status = match error {
        ServiceError::NotFound => StatusCode::NOT_FOUND,
        ServiceError::Conflict { .. } => StatusCode::PRECONDITION_FAILED,
        ServiceError::Duplicate { .. } => StatusCode::CONFLICT,
        ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::LimitExceeded(_) => StatusCode::BAD_REQUEST,
        ServiceError::BadCredentials => {
            return refusal_head(&AuthError::Unauthenticated(error.to_string()));
        }
        ServiceError::Unavailable(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                vec![(header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE.to_owned())],
            );
        }
        ServiceError::Asset(AssetError::Storage(_)) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                vec![(header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE.to_owned())],
            );
        }
        ServiceError::Asset(asset) => asset_status(asset),
        ServiceError::Db(_) | ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Vec::new())
}

fn asset_status(error: &AssetError) -> StatusCode {
    match error {
        AssetError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        AssetError::Rejected(_) | AssetError::TooManyPixels(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AssetError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        AssetError::Transform { .. } => StatusCode::BAD_REQUEST,
        AssetError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
        AssetError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `WWW-Authenticate` challenge of a 401.
pub fn www_authenticate(error: &AuthError) -> String {
    let description = error.to_string().replace('"', "'");
    format!(r#"Bearer realm="lectern", error="invalid_token", error_description="{description}""#)
}

/// A response with the status and headers of `error` and a GraphQL body holding it as
/// `extensions.code` says ([`crate::graphql::errors::auth_to_graphql`]).
pub fn graphql_refusal(error: &AuthError) -> HttpResponse {
    let (status, headers) = refusal_head(error);
    let graphql = crate::graphql::errors::auth_to_graphql(error)
        .into_server_error(async_graphql::Pos::default());
    let mut response = HttpResponse::build(status);
    for (name, value) in headers {
        response.insert_header((name, value));
    }
    response.json(serde_json::json!({ "errors": [graphql] }))
}

impl Problem {
    /// A problem with the status and headers of `head`.
    fn with_head(
        (status, headers): (StatusCode, Vec<(header::HeaderName, String)>),
        detail: impl Into<String>,
    ) -> Self {
        let mut problem = Self::new(status, detail);
        problem.headers = headers;
        problem
    }
}

impl From<service::assets::AssetError> for Problem {
    fn from(error: service::assets::AssetError) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        let head = service_head(&error);
        match error {
            ServiceError::NotFound => Self::with_head(head, "there is no such resource"),
            ServiceError::Conflict { current_version } => Self::with_head(
                head,
                format!("the talk changed: it is at version {current_version}; read it again"),
            )
            .kind("urn:lectern:problem:version-conflict")
            .member("current_version", current_version.into()),
            ServiceError::Duplicate { .. } => {
                Self::with_head(head, error.to_string()).kind("urn:lectern:problem:duplicate")
            }
            ServiceError::Invalid(errors) => {
                let mut problem = Self::with_head(head, "the input is not valid; see errors")
                    .kind("urn:lectern:problem:validation");
                problem.errors = errors;
                problem
            }
            ServiceError::LimitExceeded(detail) => {
                Self::with_head(head, detail).kind("urn:lectern:problem:limit")
            }
            ServiceError::BadCredentials => Self::with_head(head, error.to_string()),
            ServiceError::Db(cause) => {
                tracing::error!(error = %cause, "database error");
                Self::with_head(head, "internal error")
            }
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::with_head(head, "the database is unavailable; try again shortly")
                    .kind("urn:lectern:problem:unavailable")
            }
            ServiceError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Self::with_head(head, "internal error")
            }
            ServiceError::Asset(error) => match error {
                AssetError::Storage(cause) => {
                    tracing::error!(error = %cause, "asset storage failed");
                    Self::with_head(head, "the file could not be stored or read; try again")
                        .kind("urn:lectern:problem:unavailable")
                }
                AssetError::Internal(cause) => {
                    tracing::error!(error = %cause, "asset error");
                    Self::with_head(head, "the file could not be stored or read; try again")
                }
                AssetError::Transform { parameter, message } => {
                    let mut problem = Self::with_head(head, format!("{parameter}: {message}"))
                        .kind("urn:lectern:problem:transform");
                    problem.errors = vec![FieldError::new(parameter, message)];
                    problem
                }
                AssetError::TooLarge { limit } => Self::with_head(head, error.to_string())
                    .kind("urn:lectern:problem:limit")
                    .member("limit", limit.into()),
                refused => {
                    Self::with_head(head, refused.to_string()).kind("urn:lectern:problem:file")
                }
            },
        }
    }
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Service(e) => e.into(),
            other => Self::with_head(refusal_head(&other), other.to_string()),
        }
    }
}
