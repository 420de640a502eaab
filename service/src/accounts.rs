//! Accounts and machine tokens: who may log in, with which role, and which tokens still hold.
//!
//! Passwords are hashed with Argon2id (default parameters, a random salt each), on a blocking
//! thread so that hashing never stalls the server's workers.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use entity::{machine_token, setting, user};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use uuid::Uuid;

pub use entity::user::Role;

use crate::error::{FieldError, ServiceError};

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in bytes (hashing cost must not depend on the attacker).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// An email address as stored: trimmed, in lower case, checked for a plausible shape.
pub fn normalize_email(email: &str) -> Result<String, FieldError> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if plausible {
        Ok(email)
    } else {
        Err(FieldError::new("email", "is not an email address"))
    }
}

fn check_password(password: &str) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes long"),
        ));
    }
    Ok(())
}

/// Hashes a password with Argon2id, off the async workers.
async fn hash_password(password: &str) -> Result<String, ServiceError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| ServiceError::Internal(format!("cannot hash a password: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("the hashing thread failed: {e}")))?
}

/// True when `password` matches the PHC string `hash`, checked off the async workers.
async fn verify_password(hash: String, password: &str) -> Result<bool, ServiceError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("the hashing thread failed: {e}")))
}

/// A hash no password matches, verified when the email is unknown so that the answer takes
/// as long as for a known email with a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(Uuid::new_v4().to_string().as_bytes())
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// Adds a user. Every problem with the input is reported at once.
pub async fn add_user(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
    role: Role,
) -> Result<user::Model, ServiceError> {
    let email = normalize_email(email);
    let password_ok = check_password(password);
    let email = match (email, password_ok) {
        (Ok(email), Ok(())) => email,
        (email, password) => {
            return Err(ServiceError::Invalid(
                [email.err(), password.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            ));
        }
    };
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        password_hash: Set(hash_password(password).await?),
        role: Set(role),
        disabled: Set(false),
        created_at: Set(Utc::now()),
    };
    Ok(user.insert(db).await?)
}

/// Every user, by email.
pub async fn list_users(db: &DatabaseConnection) -> Result<Vec<user::Model>, ServiceError> {
    Ok(user::Entity::find()
        .order_by_asc(user::Column::Email)
        .all(db)
        .await?)
}

pub async fn find_user_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<user::Model>, ServiceError> {
    let Ok(email) = normalize_email(email) else {
        return Ok(None);
    };
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?)
}

/// Disables (or enables again) a user; a disabled user's tokens are refused at once.
pub async fn set_disabled(
    db: &DatabaseConnection,
    email: &str,
    disabled: bool,
) -> Result<user::Model, ServiceError> {
    let user = find_user_by_email(db, email)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mut model = user.into_active_model();
    model.disabled = Set(disabled);
    Ok(model.update(db).await?)
}

/// Disables a user by id.
pub async fn disable_user_by_id(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<user::Model, ServiceError> {
    set_disabled_by_id(db, id, true).await
}

pub async fn set_password(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
) -> Result<(), ServiceError> {
    check_password(password).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let user = find_user_by_email(db, email)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mut model = user.into_active_model();
    model.password_hash = Set(hash_password(password).await?);
    model.update(db).await?;
    Ok(())
}

/// The enabled user with this email and password. An unknown email, a wrong password and a
/// disabled account all give [`ServiceError::BadCredentials`], after the same hashing work.
pub async fn authenticate(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
) -> Result<user::Model, ServiceError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ServiceError::BadCredentials);
    }
    let user = find_user_by_email(db, email).await?;
    let hash = user
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let matches = verify_password(hash, password).await?;
    match user {
        Some(user) if matches && !user.disabled => Ok(user),
        _ => Err(ServiceError::BadCredentials),
    }
}

/// The user with this id, if it exists and is enabled.
pub async fn active_user(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<user::Model>, ServiceError> {
    Ok(user::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|user| !user.disabled))
}

/// Records a machine token about to be issued.
pub async fn record_token(
    db: &DatabaseConnection,
    name: &str,
    role: Role,
    expires_at: DateTime<Utc>,
) -> Result<machine_token::Model, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ServiceError::Invalid(vec![FieldError::new(
            "name",
            "must be 1 to 200 characters long",
        )]));
    }
    let token = machine_token::ActiveModel {
        jti: Set(Uuid::new_v4()),
        name: Set(name.to_owned()),
        role: Set(role),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    };
    Ok(token.insert(db).await?)
}

/// Every machine token, newest first.
pub async fn list_tokens(
    db: &DatabaseConnection,
) -> Result<Vec<machine_token::Model>, ServiceError> {
    Ok(machine_token::Entity::find()
        .order_by_desc(machine_token::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Revokes a machine token; it is refused from the next request on.
pub async fn revoke_token(
    db: &DatabaseConnection,
    jti: Uuid,
) -> Result<machine_token::Model, ServiceError> {
    let token = machine_token::Entity::find_by_id(jti)
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let mut model = token.into_active_model();
    model.revoked_at = Set(Some(Utc::now()));
    Ok(model.update(db).await?)
}

/// The machine token with this `jti`, if it was issued here and is neither revoked nor expired.
pub async fn active_token(
    db: &DatabaseConnection,
    jti: Uuid,
) -> Result<Option<machine_token::Model>, ServiceError> {
    Ok(machine_token::Entity::find_by_id(jti)
        .one(db)
        .await?
        .filter(|token| token.revoked_at.is_none() && token.expires_at > Utc::now()))
}

/// A stored setting, written with `make()` when there is none yet. When two processes race,
/// both end up with the value that was stored first.
pub async fn setting_or_insert(
    db: &DatabaseConnection,
    key: &str,
    make: impl FnOnce() -> String,
) -> Result<String, ServiceError> {
    if let Some(found) = setting::Entity::find_by_id(key).one(db).await? {
        return Ok(found.value);
    }
    let row = setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(make()),
    };
    setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    setting::Entity::find_by_id(key)
        .one(db)
        .await?
        .map(|found| found.value)
        .ok_or_else(|| ServiceError::Internal(format!("setting {key} was not stored")))
}

/// The emails of the users with these ids (those that exist), by id: how the Studio names who
/// last changed a talk.
pub async fn emails_of(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<std::collections::HashMap<Uuid, String>, ServiceError> {
    let ids: std::collections::HashSet<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, user.email))
        .collect())
}

/// Gives a user another role; their sessions and tokens carry it from the next request on
/// (the role is read from the account, never from a token or a cookie).
pub async fn set_role_by_id(
    db: &DatabaseConnection,
    id: Uuid,
    role: Role,
) -> Result<user::Model, ServiceError> {
    change_user(db, id, |user| user.role = Set(role)).await
}

/// Disables (or enables again) a user by id; a disabled user's tokens and Studio sessions are
/// refused at once.
pub async fn set_disabled_by_id(
    db: &DatabaseConnection,
    id: Uuid,
    disabled: bool,
) -> Result<user::Model, ServiceError> {
    change_user(db, id, |user| user.disabled = Set(disabled)).await
}

async fn change_user(
    db: &DatabaseConnection,
    id: Uuid,
    change: impl FnOnce(&mut user::ActiveModel),
) -> Result<user::Model, ServiceError> {
    let user = user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mut model = user.into_active_model();
    change(&mut model);
    Ok(model.update(db).await?)
}
