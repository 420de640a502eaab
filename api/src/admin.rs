//! The `lectern user …`, `token …`, `webhook …` and `events …` commands.

use std::process::ExitCode;

use service::ServiceError;
use service::accounts;
use service::sea_orm::DatabaseConnection;

use crate::auth::{AuthError, AuthSettings, Authority};
use crate::cli::{
    AssetsCommand, EventsCommand, RelayArgs, TokenCommand, UserCommand, WebhookCommand,
};

/// Why a command failed: 1 for what the input asked, 2 for the set-up.
fn fail(error: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(code)
}

fn service_failure(error: &ServiceError) -> ExitCode {
    match error {
        ServiceError::Db(_) | ServiceError::Unavailable(_) | ServiceError::Internal(_) => {
            fail(error, 2)
        }
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

/// `lectern token …`; tokens are signed with the configured keys.
pub async fn token(
    db: &DatabaseConnection,
    command: TokenCommand,
    settings: &AuthSettings,
) -> ExitCode {
    match command {
        TokenCommand::Issue { name, role, ttl } => {
            let authority = match Authority::new(settings, db.clone()).await {
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

/// The actor recorded for changes made from the command line.
const CLI_ACTOR: &str = "cli";

fn print_webhook(hook: &entity::webhook::Model) {
    let events: Vec<&str> = hook
        .events
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    println!(
        "{:<36}  {:<7}  {:>10}  {:<24}  {}",
        hook.id,
        hook.state.as_str(),
        hook.delivered_seq,
        events.join(","),
        hook.url
    );
    if let Some(error) = &hook.last_error
        && hook.attempt > 0
    {
        println!(
            "{:<36}  last error ({} failed attempts, next {}): {error}",
            "",
            hook.attempt,
            hook.next_attempt_at.to_rfc3339()
        );
    }
}

fn webhook_header() {
    println!(
        "{:<36}  {:<7}  {:>10}  {:<24}  url",
        "id", "state", "delivered", "events"
    );
}

fn webhook_result(
    result: Result<entity::webhook::Model, ServiceError>,
    id: uuid::Uuid,
) -> ExitCode {
    match result {
        Ok(hook) => {
            webhook_header();
            print_webhook(&hook);
            ExitCode::SUCCESS
        }
        Err(ServiceError::NotFound) => fail(&format!("no webhook {id}"), 1),
        Err(e) => service_failure(&e),
    }
}

pub async fn webhook(db: &DatabaseConnection, command: WebhookCommand) -> ExitCode {
    use service::webhooks::{self, NewWebhook, WebhookPatch};
    match command {
        WebhookCommand::Add {
            url,
            events,
            secret,
            description,
        } => {
            let new = NewWebhook {
                url,
                events,
                secret,
                description,
            };
            match webhooks::create(db, new, CLI_ACTOR).await {
                Ok(hook) => {
                    eprintln!(
                        "added webhook {} for {}; it receives events after seq {}",
                        hook.id, hook.url, hook.delivered_seq
                    );
                    eprintln!("signing secret (shown this once):");
                    println!("{}", hook.secret);
                    ExitCode::SUCCESS
                }
                Err(e) => service_failure(&e),
            }
        }
        WebhookCommand::List => match webhooks::list(db).await {
            Ok(hooks) => {
                webhook_header();
                hooks.iter().for_each(print_webhook);
                ExitCode::SUCCESS
            }
            Err(e) => service_failure(&e),
        },
        WebhookCommand::Remove { id } => match webhooks::delete(db, id).await {
            Ok(()) => {
                println!("removed webhook {id}");
                ExitCode::SUCCESS
            }
            Err(ServiceError::NotFound) => fail(&format!("no webhook {id}"), 1),
            Err(e) => service_failure(&e),
        },
        WebhookCommand::Pause { id } | WebhookCommand::Resume { id } => {
            let paused = matches!(command, WebhookCommand::Pause { .. });
            let patch = WebhookPatch {
                paused: Some(Some(paused)),
                ..WebhookPatch::default()
            };
            webhook_result(webhooks::update(db, id, patch).await, id)
        }
        WebhookCommand::Replay { id, from_seq } => {
            webhook_result(webhooks::replay(db, id, from_seq).await, id)
        }
        WebhookCommand::Attempts { id, limit } => {
            match webhooks::attempts(db, id, None, limit).await {
                Ok(attempts) => {
                    println!(
                        "{:<25}  {:>8}  {:>7}  {:>6}  {:>7}  outcome",
                        "attempted at", "seq", "attempt", "status", "ms"
                    );
                    for a in attempts {
                        println!(
                            "{:<25}  {:>8}  {:>7}  {:>6}  {:>7}  {}",
                            a.attempted_at.to_rfc3339(),
                            a.event_seq,
                            a.attempt,
                            a.status_code.map_or("-".into(), |s| s.to_string()),
                            a.duration_ms,
                            a.error.as_deref().unwrap_or(&a.outcome)
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(ServiceError::NotFound) => fail(&format!("no webhook {id}"), 1),
                Err(e) => service_failure(&e),
            }
        }
    }
}

pub async fn events(db: &DatabaseConnection, command: EventsCommand) -> ExitCode {
    match command {
        EventsCommand::Prune { older_than } => {
            let age = match chrono::Duration::from_std(older_than) {
                Ok(age) => age,
                Err(_) => return fail(&"--older-than is too long", 1),
            };
            let before = chrono::Utc::now() - age;
            match service::events::prune(db, before).await {
                Ok(report) => {
                    println!(
                        "deleted {} events from before {}",
                        report.deleted,
                        before.to_rfc3339()
                    );
                    if report.kept_for_webhooks > 0 {
                        println!(
                            "kept {} older events that a webhook or the relay to a log has not been given yet",
                            report.kept_for_webhooks
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => service_failure(&e),
            }
        }
    }
}

/// `lectern assets gc`.
pub async fn assets(
    db: &DatabaseConnection,
    command: AssetsCommand,
    settings: &crate::startup::Settings,
) -> ExitCode {
    match command {
        AssetsCommand::Gc {
            older_than,
            dry_run,
        } => {
            let age = match chrono::Duration::from_std(older_than) {
                Ok(age) => age,
                Err(_) => return fail(&"--older-than is too long", 1),
            };
            let store = match settings.assets.open(&settings.database_url) {
                Ok(store) => store,
                Err(e) => return fail(&format!("cannot open the asset store: {e:#}"), 2),
            };
            let before = chrono::Utc::now() - age;
            match service::assets::gc(db, &store, before, dry_run).await {
                Ok(report) => {
                    let verb = if dry_run { "would remove" } else { "removed" };
                    for id in &report.assets {
                        println!("{verb} asset {id}");
                    }
                    println!(
                        "{verb} {} unused assets uploaded before {} and {} stored files ({} bytes of originals) from {}",
                        report.assets.len(),
                        before.to_rfc3339(),
                        report.blobs,
                        report.bytes,
                        store.blobs.place(),
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => service_failure(&e),
            }
        }
    }
}

/// `lectern relay`: until SIGINT or SIGTERM.
pub async fn relay(db: DatabaseConnection, args: RelayArgs) -> ExitCode {
    let settings = service::relay::RelaySettings {
        url: args.url,
        stream: args.stream,
        subject_prefix: args.subject_prefix,
        max_age: args.max_age,
        replicas: args.replicas,
        ..Default::default()
    };
    let relay = match service::relay::Relay::connect(db, settings.clone()).await {
        Ok(relay) => relay,
        Err(e) => return fail(&e, 2),
    };
    tracing::info!(
        url = %settings.url,
        stream = %settings.stream,
        holder = relay.holder(),
        "relaying the outbox"
    );
    relay.run(stopped()).await;
    ExitCode::SUCCESS
}

/// Resolves at SIGINT or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `lectern backup --out FILE`.
pub async fn backup(url: &str, out: &std::path::Path) -> ExitCode {
    match service::backup::backup(url, out).await {
        Ok(bytes) => {
            println!(
                "backed up {} to {} ({bytes} bytes)",
                service::db::redact_url(url),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, 2),
    }
}

/// `lectern restore --from FILE [--force]`.
pub async fn restore(url: &str, from: &std::path::Path, force: bool) -> ExitCode {
    match service::backup::restore(url, from, force).await {
        Ok(restored) => {
            println!(
                "restored {} from {}{}",
                restored.database.display(),
                from.display(),
                match restored.migrated {
                    0 => String::new(),
                    n => format!(" ({n} migrations applied to bring it up to date)"),
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, 2),
    }
}
