//! The `lectern` command line.

use clap::{Args, Parser, Subcommand};

use service::db::DEFAULT_DATABASE_URL;

/// Lectern: a headless CMS for conference talks.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// Database (SQLite or PostgreSQL URL).
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default when no command is given).
    Serve,
    /// Apply every pending database migration, then exit.
    Migrate,
    /// Print the GraphQL schema (SDL), as committed in `api/schema.graphql`.
    Schema,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    #[arg(
        long,
        global = true,
        env = "LECTERN_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub addr: String,
    /// Base URL that relative image and PDF paths are resolved against (e.g. https://cdn.example.com).
    #[arg(long, global = true, env = "LECTERN_ASSET_BASE_URL")]
    pub asset_base_url: Option<String>,
    /// Memory for cached GraphQL responses, in MiB; 0 turns the cache off. A cached response
    /// is served only while no write has been committed since it was computed.
    #[arg(long, global = true, env = "LECTERN_CACHE_MB", default_value_t = 32)]
    pub cache_mb: u64,
}
