//! The errors of the domain, mapped once by each front end (HTTP, GraphQL, CLI).

use sea_orm::{DbErr, SqlErr};
use serde::Serialize;

/// A problem with one field of an input, named by its path (`resources[2].url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    /// The talk changed since the caller read it (or since it was last imported).
    #[error("conflict: the talk is at version {current_version}")]
    Conflict { current_version: i32 },
    /// A unique value (a talk's slug or notist_id, a user's email) is already taken.
    #[error("{field} is already taken")]
    Duplicate { field: &'static str },
    /// Login failed: the same answer for an unknown email, a wrong password and a disabled
    /// account.
    #[error("wrong email or password")]
    BadCredentials,
    #[error("invalid input: {}", join(.0))]
    Invalid(Vec<FieldError>),
    /// A request asked for more than a limit allows (page size, for instance).
    #[error("{0}")]
    LimitExceeded(String),
    #[error("database error")]
    Db(#[source] DbErr),
    /// The database cannot be reached or used for now; trying again later may succeed.
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    /// A file or a transform that is refused, or bytes that could not be stored.
    #[error(transparent)]
    Asset(#[from] crate::assets::AssetError),
    /// Something that is no fault of the input failed (hashing a password, say).
    #[error("internal error: {0}")]
    Internal(String),
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() {
            let field = if message.contains("notist_id") {
                "notist_id"
            } else if message.contains("slug") {
                "slug"
            } else if message.contains("email") {
                "email"
            } else {
                "a unique field"
            };
            return ServiceError::Duplicate { field };
        }
        if crate::db::is_unavailable(&err) {
            return ServiceError::Unavailable(err);
        }
        ServiceError::Db(err)
    }
}
