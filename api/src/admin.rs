//! The `lectern user …` and `lectern token …` commands.

use std::process::ExitCode;

use service::ServiceError;
use service::accounts;
use service::sea_orm::DatabaseConnection;

use crate::auth::{AuthError, AuthSettings, Authority};
use crate::cli::{TokenCommand, UserCommand};

/// Why a command failed: 1 for what the input asked, 2 for the set-up.
fn fail(error: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(code)
}

fn service_failure(error: &ServiceError) -> ExitCode {
    match error {
        ServiceError::Db(_) | ServiceError::Internal(_) => fail(error, 2),
        _ => fail(error, 1),
    }
}

/// The password from `LECTERN_PASSWORD`, or asked twice on the terminal.
fn password() -> Result<String, String> {
    if let Ok(password) = std::env::var("LECTERN_PASSWORD") {
        return Ok(password);
    }
    let first = rpassword::prompt_password("Password: ")
        .map_err(|e| format!("cannot read a password (set LECTERN_PASSWORD): {e}"))?;
    let again = rpassword::prompt_password("Password again: ")
        .map_err(|e| format!("cannot read a password (set LECTERN_PASSWORD): {e}"))?;
    if first != again {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

pub async fn user(db: &DatabaseConnection, command: UserCommand) -> ExitCode {
    match command {
        UserCommand::Add { email, role } => {
            let password = match password() {
                Ok(password) => password,
                Err(e) => return fail(&e, 2),
            };
            match accounts::add_user(db, &email, &password, role).await {
                Ok(user) => {
                    println!(
                        "added {} ({}), id {}",
                        user.email,
                        user.role.as_str(),
                        user.id
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => service_failure(&e),
            }
        }
        UserCommand::List => match accounts::list_users(db).await {
            Ok(users) => {
                println!("{:<36}  {:<7}  {:<8}  email", "id", "role", "status");
                for user in users {
                    let status = if user.disabled { "disabled" } else { "enabled" };
                    println!(
                        "{:<36}  {:<7}  {:<8}  {}",
                        user.id,
                        user.role.as_str(),
                        status,
                        user.email
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => service_failure(&e),
        },
        UserCommand::Disable { email } => set_disabled(db, &email, true).await,
        UserCommand::Enable { email } => set_disabled(db, &email, false).await,
        UserCommand::Passwd { email } => {
            let password = match password() {
                Ok(password) => password,
                Err(e) => return fail(&e, 2),
            };
            match accounts::set_password(db, &email, &password).await {
                Ok(()) => {
                    println!("password of {email} changed");
                    ExitCode::SUCCESS
                }
                Err(ServiceError::NotFound) => fail(&format!("no user {email}"), 1),
                Err(e) => service_failure(&e),
            }
        }
    }
}

async fn set_disabled(db: &DatabaseConnection, email: &str, disabled: bool) -> ExitCode {
    match accounts::set_disabled(db, email, disabled).await {
        Ok(user) => {
            let state = if user.disabled { "disabled" } else { "enabled" };
            println!("{} is {state}", user.email);
            ExitCode::SUCCESS
        }
        Err(ServiceError::NotFound) => fail(&format!("no user {email}"), 1),
        Err(e) => service_failure(&e),
    }
}

pub async fn token(db: &DatabaseConnection, command: TokenCommand) -> ExitCode {
    match command {
        TokenCommand::Issue { name, role, ttl } => {
            let settings = match AuthSettings::from_env() {
                Ok(settings) => settings,
                Err(e) => return fail(&e, 2),
            };
            let authority = match Authority::new(&settings, db.clone()).await {
                Ok(authority) => authority,
                Err(e) => return fail(&e, 2),
            };
            match authority.issue_machine_token(&name, role, ttl).await {
                Ok((token, record)) => {
                    eprintln!(
                        "issued {:?} ({}), jti {}, expires {}",
                        record.name,
                        record.role.as_str(),
                        record.jti,
                        record.expires_at.to_rfc3339()
                    );
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(AuthError::Service(e)) => service_failure(&e),
                Err(e) => fail(&e, 1),
            }
        }
        TokenCommand::List => match accounts::list_tokens(db).await {
            Ok(tokens) => {
                println!(
                    "{:<36}  {:<7}  {:<25}  {:<8}  name",
                    "jti", "role", "expires", "status"
                );
                let now = chrono::Utc::now();
                for token in tokens {
                    let status = if token.revoked_at.is_some() {
                        "revoked"
                    } else if token.expires_at <= now {
                        "expired"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<36}  {:<7}  {:<25}  {:<8}  {}",
                        token.jti,
                        token.role.as_str(),
                        token.expires_at.to_rfc3339(),
                        status,
                        token.name
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => service_failure(&e),
        },
        TokenCommand::Revoke { jti } => match accounts::revoke_token(db, jti).await {
            Ok(token) => {
                println!("revoked {} ({:?})", token.jti, token.name);
                ExitCode::SUCCESS
            }
            Err(ServiceError::NotFound) => fail(&format!("no token {jti}"), 1),
            Err(e) => service_failure(&e),
        },
    }
}
