use std::process::ExitCode;

use api::cli::{Cli, Command};
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
        Command::Migrate => match connect(&cli.database_url).await {
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
    }
}
