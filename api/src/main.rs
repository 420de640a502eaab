use std::process::ExitCode;

use api::auth::AuthSettings;
use api::cli::{Cli, Command};
use api::startup::{Application, Settings};
use clap::Parser;
use service::db::{connect, redact_url};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Migrate) => match connect(&cli.database_url).await {
            Ok(_) => {
                println!("database {} is up to date", redact_url(&cli.database_url));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!(
                    "error: cannot migrate {}: {e}",
                    redact_url(&cli.database_url)
                );
                ExitCode::from(2)
            }
        },
        Some(Command::Schema) => {
            print!("{}", api::graphql::sdl());
            ExitCode::SUCCESS
        }
        Some(Command::User(command)) => match connect(&cli.database_url).await {
            Ok(db) => api::admin::user(&db, command).await,
            Err(e) => connection_failure(&cli.database_url, &e),
        },
        Some(Command::Token(command)) => match connect(&cli.database_url).await {
            Ok(db) => api::admin::token(&db, command).await,
            Err(e) => connection_failure(&cli.database_url, &e),
        },
        Some(Command::Webhook(command)) => match connect(&cli.database_url).await {
            Ok(db) => api::admin::webhook(&db, command).await,
            Err(e) => connection_failure(&cli.database_url, &e),
        },
        Some(Command::Events(command)) => match connect(&cli.database_url).await {
            Ok(db) => api::admin::events(&db, command).await,
            Err(e) => connection_failure(&cli.database_url, &e),
        },
        Some(Command::Serve) | None => {
            let auth = match AuthSettings::from_env() {
                Ok(auth) => auth,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let settings = Settings {
                events: cli.serve.event_settings(),
                auth,
                addr: cli.serve.addr,
                database_url: cli.database_url,
                asset_base_url: cli.serve.asset_base_url,
                cache_bytes: cli.serve.cache_mb.saturating_mul(1024 * 1024),
                cors_origins: cli.serve.cors_origins,
            };
            let app = match Application::build(settings).await {
                Ok(app) => app,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            match app.run_until_stopped().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn connection_failure(url: &str, error: &service::sea_orm::DbErr) -> ExitCode {
    eprintln!("error: cannot open database {}: {error}", redact_url(url));
    ExitCode::from(2)
}
