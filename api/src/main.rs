use std::process::ExitCode;

use api::cli::{Cli, Command};
use api::configuration::Config;
use api::startup::Application;
use clap::Parser;
use service::db::{DbOptions, connect_with, redact_url};

// The server allocates and frees many small values per request (parsed JSON, GraphQL values,
// rows); mimalloc serves them with less work than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Schema) = cli.command {
        print!("{}", api::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    // Variables that are not Unicode are not configuration (every key's value is text).
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let config = match Config::load(cli.config.as_deref(), &env, cli.overrides()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| config.log.clone());
    if let Err(e) = api::telemetry::init_logging(config.log_format, &filter) {
        eprintln!("error: invalid configuration: {e}");
        return ExitCode::from(2);
    }
    let settings = match config.settings() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let url = settings.database_url.clone();
    let options = DbOptions {
        // Commands are one connection's work; the wait is a server's.
        max_connections: Some(2),
        ..settings.db.clone()
    };
    match cli.command {
        Some(Command::Schema) => ExitCode::SUCCESS,
        Some(Command::Config) => {
            print!("{}", config.to_toml());
            ExitCode::SUCCESS
        }
        Some(Command::Backup { out }) => api::admin::backup(&url, &out).await,
        Some(Command::Restore { from, force }) => api::admin::restore(&url, &from, force).await,
        Some(Command::Migrate) => match connect_with(&url, &options).await {
            Ok(_) => {
                println!("database {} is up to date", redact_url(&url));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot migrate {}: {e}", redact_url(&url));
                ExitCode::from(2)
            }
        },
        Some(Command::User(command)) => match connect_with(&url, &options).await {
            Ok(db) => api::admin::user(&db, command).await,
            Err(e) => connection_failure(&url, &e),
        },
        Some(Command::Token(command)) => match connect_with(&url, &options).await {
            Ok(db) => api::admin::token(&db, command, &settings.auth).await,
            Err(e) => connection_failure(&url, &e),
        },
        Some(Command::Webhook(command)) => match connect_with(&url, &options).await {
            Ok(db) => api::admin::webhook(&db, command).await,
            Err(e) => connection_failure(&url, &e),
        },
        Some(Command::Events(command)) => match connect_with(&url, &options).await {
            Ok(db) => api::admin::events(&db, command).await,
            Err(e) => connection_failure(&url, &e),
        },
        Some(Command::Assets(command)) => match connect_with(&url, &options).await {
            Ok(db) => api::admin::assets(&db, command, &settings).await,
            Err(e) => connection_failure(&url, &e),
        },
        Some(Command::Relay(args)) => match connect_with(&url, &options).await {
            Ok(db) => api::admin::relay(db, args).await,
            Err(e) => connection_failure(&url, &e),
        },
        Some(Command::Serve) | None => {
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
