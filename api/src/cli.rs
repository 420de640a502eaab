//! The `lectern` command line.

use clap::{Parser, Subcommand};
use service::db::DEFAULT_DATABASE_URL;

/// Lectern: a headless CMS for conference talks.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// Database (SQLite or PostgreSQL URL).
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply every pending database migration, then exit.
    Migrate,
}
