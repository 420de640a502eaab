//! The `lectern` command line.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use service::accounts::Role;
use uuid::Uuid;

use crate::auth::parse_ttl;
use crate::dispatch::DispatchSettings;
use crate::startup::EventSettings;
use service::webhooks::RetryPolicy;

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
    /// Manage webhook endpoints.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Maintain the outbox of change events.
    #[command(subcommand)]
    Events(EventsCommand),
}

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Register an endpoint; it receives the changes committed from now on. Prints its id
    /// and secret.
    Add {
        /// An http:// or https:// URL.
        #[arg(long)]
        url: String,
        /// Event types, comma-separated: talk.* for all, or e.g. talk.published,talk.deleted.
        #[arg(long, value_delimiter = ',', default_value = "talk.*")]
        events: Vec<String>,
        /// The signing secret (at least 16 characters); generated when absent.
        #[arg(long, env = "LECTERN_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the endpoints with their delivery state.
    List,
    /// Remove an endpoint and its attempt log.
    Remove { id: Uuid },
    /// Stop delivering to an endpoint; its events are kept until it is resumed.
    Pause { id: Uuid },
    /// Deliver to a paused endpoint again, starting with what it missed.
    Resume { id: Uuid },
    /// Deliver again from the event FROM_SEQ on, and make the endpoint active.
    Replay {
        id: Uuid,
        #[arg(long)]
        from_seq: i64,
    },
    /// The latest delivery attempts to an endpoint.
    Attempts {
        id: Uuid,
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Delete events older than the given age, except those a webhook has not been given.
    Prune {
        /// 30d, 12h, 15m or 30s.
        #[arg(long, value_parser = parse_ttl)]
        older_than: Duration,
    },
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
    /// Whether this process delivers webhooks (any number of processes may).
    #[arg(long, global = true, env = "LECTERN_WEBHOOK_DISPATCH", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_dispatch: bool,
    /// Attempts at one event before an endpoint is marked failing.
    #[arg(long, global = true, env = "LECTERN_WEBHOOK_MAX_ATTEMPTS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,
    /// The wait after a first failed delivery; it doubles with each further failure.
    #[arg(long, global = true, env = "LECTERN_WEBHOOK_BACKOFF", default_value = "60s", value_parser = parse_ttl)]
    pub webhook_backoff: Duration,
    /// The longest wait between two attempts.
    #[arg(long, global = true, env = "LECTERN_WEBHOOK_BACKOFF_MAX", default_value = "8h", value_parser = parse_ttl)]
    pub webhook_backoff_max: Duration,
    /// How long a receiver has to answer.
    #[arg(long, global = true, env = "LECTERN_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_ttl)]
    pub webhook_timeout: Duration,
    /// How often the outbox is read when no write was heard of (writes by other processes
    /// on SQLite; PostgreSQL notifies every process).
    #[arg(long, global = true, env = "LECTERN_OUTBOX_POLL", default_value = "250ms", value_parser = parse_ttl)]
    pub outbox_poll: Duration,
}

impl ServeArgs {
    /// The event settings these arguments give.
    pub fn event_settings(&self) -> EventSettings {
        EventSettings {
            poll: self.outbox_poll,
            dispatch: DispatchSettings {
                enabled: self.webhook_dispatch,
                retry: RetryPolicy {
                    max_attempts: self.webhook_max_attempts,
                    base: self.webhook_backoff,
                    cap: self.webhook_backoff_max.max(self.webhook_backoff),
                },
                timeout: self.webhook_timeout,
                ..DispatchSettings::default()
            },
            ..EventSettings::default()
        }
    }
}
