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

/// Codes for the errors of a response that async-graphql raised as fields resolved: an
/// argument it could not read (a variable out of an argument's range, say), worded so.
pub(super) fn coded_execution(mut response: Response) -> Response {
    response.errors = std::mem::take(&mut response.errors)
        .into_iter()
        .map(|e| {
            if e.message.starts_with("Failed to parse ") {
                with_code(e, "BAD_USER_INPUT")
            } else {
                e
            }
        })
        .collect();
    response
}

/// The code of an error the parser raised: its nesting limit, and async-graphql's own
/// (checked as it parses), or a bad query.
pub(super) fn coded_parse_error(e: ServerError) -> ServerError {
    let limit =
        e.message.contains("recursion limit exceeded") || e.message.contains("recursion depth");
    with_code(
        e,
        if limit {
            "LIMIT_EXCEEDED"
        } else {
            "BAD_USER_INPUT"
        },
    )
}

/// Codes for validation errors, at most [`MAX_VALIDATION_ERRORS`] of them and a count of the rest.
pub(super) fn coded_validation(errors: Vec<ServerError>) -> Vec<ServerError> {
    let count = errors.len();
    let mut errors: Vec<ServerError> = errors
        .into_iter()
        .take(MAX_VALIDATION_ERRORS)
        .map(|e| {
            // async-graphql words its two limits so; everything else is a bad query.
            let limit = e.message.contains("nested too deep") || e.message.contains("too complex");
            with_code(
                e,
                if limit {
                    "LIMIT_EXCEEDED"
                } else {
                    "BAD_USER_INPUT"
                },
            )
        })
        .collect();
    if count > MAX_VALIDATION_ERRORS {
        errors.push(with_code(
            ServerError::new(
                format!(
                    "{} more errors are not shown",
                    count - MAX_VALIDATION_ERRORS
                ),
                None,
            ),
            "BAD_USER_INPUT",
        ));
    }
    errors
}
