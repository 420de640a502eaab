//! The `lectern` command line.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use service::accounts::Role;
use uuid::Uuid;

use crate::auth::parse_ttl;

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
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage machine tokens for deploy jobs and integrations.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add an account; the password comes from LECTERN_PASSWORD or a prompt.
    Add {
        #[arg(long)]
        email: String,
        /// viewer (reads drafts), editor (writes content) or admin (also manages accounts).
        #[arg(long)]
        role: Role,
    },
    /// List the accounts.
    List,
    /// Disable an account: its tokens are refused at once.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Set an account's password, from LECTERN_PASSWORD or a prompt.
    Passwd {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue a token and print it (the only time it is shown); its `jti` is recorded.
    Issue {
        /// What the token is for, e.g. "deploy".
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: Role,
        /// Lifetime: 90d, 12h, 15m or 30s.
        #[arg(long, default_value = "90d", value_parser = parse_ttl)]
        ttl: Duration,
    },
    /// List issued tokens.
    List,
    /// Revoke a token by its jti: it is refused at once.
    Revoke { jti: Uuid },
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
    /// Origins that browsers may call the API from, comma-separated, or `*` for any; none by
    /// default (no CORS headers).
    #[arg(
        long,
        global = true,
        env = "LECTERN_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
}
