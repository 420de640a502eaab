//! Sessions of the Studio: a random token in the browser's cookie, its SHA-256 in
//! `studio_sessions`, and a second random token that every form of the session carries
//! (against cross-site request forgery).
//!
//! A session ends when it is closed (signing out), when it has not been used for the idle time
//! its caller allows, or when its user is disabled or deleted. Sessions are not content: opening,
//! using and closing one neither moves the content version nor appends a change event.

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use entity::{studio_session, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ServiceError;

/// How often, at most, a session's `last_seen_at` is written while it is used.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// What the browser is given when a session opens.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The cookie's value; only its hash is stored.
    pub token: String,
    pub csrf_token: String,
}

/// A session in use, and its user as of now.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: user::Model,
    pub csrf_token: String,
}

impl Session {
    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        same(self.csrf_token.as_bytes(), presented.as_bytes())
    }
}

/// Compares two byte strings in time that depends on their lengths only.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Internal(format!("no randomness for a token: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Opens a session for `user_id` (who has just proved who they are).
pub async fn open(db: &DatabaseConnection, user_id: Uuid) -> Result<Opened, ServiceError> {
    let token = random_token()?;
    let csrf_token = random_token()?;
    let now = Utc::now();
    studio_session::Entity::insert(studio_session::ActiveModel {
        token_hash: Set(hash(&token)),
        user_id: Set(user_id),
        csrf_token: Set(csrf_token.clone()),
        created_at: Set(now),
        last_seen_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(Opened { token, csrf_token })
}

/// The session a cookie's token stands for, if it is open, used within `idle`, and its user
/// enabled. Using it keeps it open (its `last_seen_at` is written at most once a minute). A
/// session found idle for too long is closed.
pub async fn find(
    db: &DatabaseConnection,
    token: &str,
    idle: Duration,
) -> Result<Option<Session>, ServiceError> {
    // No token of ours is this long; nothing to look up.
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let token_hash = hash(token);
    let Some((session, Some(user))) = studio_session::Entity::find_by_id(token_hash.clone())
        .find_also_related(user::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle = chrono::TimeDelta::from_std(idle).unwrap_or(chrono::TimeDelta::MAX);
    if session.last_seen_at + idle <= now || user.disabled {
        close_hash(db, &token_hash).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        studio_session::Entity::update_many()
            .col_expr(studio_session::Column::LastSeenAt, Expr::value(now))
            .filter(studio_session::Column::TokenHash.eq(token_hash))
            .exec(db)
            .await?;
    }
    Ok(Some(Session {
        user,
        csrf_token: session.csrf_token,
    }))
}

/// Closes the session of a cookie's token (signing out); closing one that is not open does
/// nothing.
pub async fn close(db: &DatabaseConnection, token: &str) -> Result<(), ServiceError> {
    close_hash(db, &hash(token)).await
}

async fn close_hash<C: ConnectionTrait>(db: &C, token_hash: &str) -> Result<(), ServiceError> {
    studio_session::Entity::delete_many()
        .filter(studio_session::Column::TokenHash.eq(token_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Closes every session unused for `idle`; returns how many.
pub async fn prune(db: &DatabaseConnection, idle: Duration) -> Result<u64, ServiceError> {
    let idle = chrono::TimeDelta::from_std(idle).unwrap_or(chrono::TimeDelta::MAX);
    let Some(before) = Utc::now().checked_sub_signed(idle) else {
        return Ok(0);
    };
    Ok(studio_session::Entity::delete_many()
        .filter(studio_session::Column::LastSeenAt.lte(before))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(same(a.as_bytes(), a.as_bytes()));
        assert!(!same(a.as_bytes(), b.as_bytes()));
        assert!(!same(a.as_bytes(), &a.as_bytes()[..42]));
        assert_ne!(hash(&a), a);
        assert_eq!(hash(&a).len(), 64);
    }
}
