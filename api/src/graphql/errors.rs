//! Every error carries `extensions.code`: `BAD_USER_INPUT`, `NOT_FOUND`, `LIMIT_EXCEEDED`,
//! `CONFLICT`, `UNAUTHENTICATED`, `FORBIDDEN`, `RATE_LIMITED`, `NOT_SUPPORTED`, `SERVICE_UNAVAILABLE` (the database cannot be reached for now)
//! or `INTERNAL`. Internal errors are logged with their cause and never shown.

use async_graphql::{ErrorExtensions, Response, ServerError};
use service::ServiceError;

use crate::auth::AuthError;

/// Maps a domain error to a GraphQL error, once.
pub fn to_graphql(error: &ServiceError) -> async_graphql::Error {
    match error {
        ServiceError::Invalid(fields) => {
            let fields: Vec<_> = fields
                .iter()
                .map(|f| serde_json::json!({ "path": f.path, "message": f.message }))
                .collect();
            async_graphql::Error::new(error.to_string()).extend_with(|_, e| {
                e.set("code", "BAD_USER_INPUT");
                if let Ok(value) =
                    async_graphql::Value::from_json(serde_json::Value::Array(fields.clone()))
                {
                    e.set("fields", value);
                }
            })
        }
        ServiceError::LimitExceeded(_) => coded(&error.to_string(), "LIMIT_EXCEEDED"),
        ServiceError::NotFound => coded("not found", "NOT_FOUND"),
        ServiceError::Conflict { current_version } => {
            let current_version = *current_version;
            async_graphql::Error::new(error.to_string()).extend_with(move |_, e| {
                e.set("code", "CONFLICT");
                e.set("currentVersion", current_version);
            })
        }
        ServiceError::Duplicate { .. } => coded(&error.to_string(), "CONFLICT"),
        ServiceError::BadCredentials => coded(&error.to_string(), "UNAUTHENTICATED"),
        ServiceError::Db(cause) => {
            tracing::error!(error = %cause, "database error");
            coded("internal error", "INTERNAL")
        }
        ServiceError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            coded("internal error", "INTERNAL")
        }
        ServiceError::Asset(asset) => {
            use service::assets::AssetError;
            match asset {
                AssetError::Storage(cause) | AssetError::Internal(cause) => {
                    tracing::error!(error = %cause, "asset error");
                    coded(
                        "the file could not be stored or read; try again",
                        "INTERNAL",
                    )
                }
                AssetError::TooLarge { .. } => coded(&asset.to_string(), "LIMIT_EXCEEDED"),
                refused => coded(&refused.to_string(), "BAD_USER_INPUT"),
            }
        }
        ServiceError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "database unavailable");
            coded(
                "the database is unavailable; try again shortly",
                "SERVICE_UNAVAILABLE",
            )
        }
    }
}

/// Maps a refusal to a GraphQL error, once.
pub fn auth_to_graphql(error: &AuthError) -> async_graphql::Error {
    match error {
        AuthError::Unauthenticated(_) => coded(&error.to_string(), "UNAUTHENTICATED"),
        AuthError::Forbidden(_) => coded(&error.to_string(), "FORBIDDEN"),
        AuthError::RateLimited(seconds) => {
            let seconds = *seconds;
            async_graphql::Error::new(error.to_string()).extend_with(move |_, e| {
                e.set("code", "RATE_LIMITED");
                e.set("retryAfter", seconds);
            })
        }
        AuthError::NotIssuer => coded(&error.to_string(), "NOT_SUPPORTED"),
        AuthError::Service(e) => to_graphql(e),
    }
}

/// A GraphQL error with a code.
pub fn coded(message: &str, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(move |_, e| e.set("code", code))
}

/// The most validation errors a response lists (as graphql-js does); the rest are counted.
pub const MAX_VALIDATION_ERRORS: usize = 100;

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if !has_code {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    error
}

/// Words by which async-graphql's parser and validation say a request passed one of their
/// limits (the parser's nesting, the schema's depth and complexity).
const LIMIT_WORDS: [&str; 4] = [
    "recursion limit exceeded",
    "recursion depth",
    "nested too deep",
    "too complex",
];

/// Codes for the errors async-graphql raised itself; resolvers' errors carry theirs already.
/// A request error (one without a path: the query did not parse or failed validation) is
/// `LIMIT_EXCEEDED` when it says a limit was passed and `BAD_USER_INPUT` otherwise, and at most
/// [`MAX_VALIDATION_ERRORS`] of them are listed, with a count of the rest. A field error that
/// async-graphql raised as the field resolved (an argument it could not read, a variable out of
/// the argument's range, worded "Failed to parse") is `BAD_USER_INPUT`.
pub(super) fn coded_response(mut response: Response) -> Response {
    if response.errors.is_empty() {
        return response;
    }
    let mut request_errors = 0;
    let mut coded = Vec::with_capacity(response.errors.len().min(MAX_VALIDATION_ERRORS + 1));
    for error in std::mem::take(&mut response.errors) {
        if error.path.is_empty() {
            request_errors += 1;
            if request_errors > MAX_VALIDATION_ERRORS {
                continue;
            }
            let limit = LIMIT_WORDS
                .iter()
                .any(|words| error.message.contains(words));
            coded.push(with_code(
                error,
                if limit {
                    "LIMIT_EXCEEDED"
                } else {
                    "BAD_USER_INPUT"
                },
            ));
        } else if error.message.starts_with("Failed to parse ") {
            coded.push(with_code(error, "BAD_USER_INPUT"));
        } else {
            coded.push(error);
        }
    }
    if request_errors > MAX_VALIDATION_ERRORS {
        coded.push(with_code(
            ServerError::new(
                format!(
                    "{} more errors are not shown",
                    request_errors - MAX_VALIDATION_ERRORS
                ),
                None,
            ),
            "BAD_USER_INPUT",
        ));
    }
    response.errors = coded;
    response
}
