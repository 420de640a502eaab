//! The `lectern` command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use service::accounts::Role;
use uuid::Uuid;

use crate::auth::parse_ttl;
use crate::configuration::Overrides;

/// Lectern: a headless CMS for conference talks.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// A TOML configuration file; without it, `lectern.toml` in the working directory is read
    /// when it exists.
    #[arg(long, global = true, env = "LECTERN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database (SQLite or PostgreSQL URL); overrides `DATABASE_URL`. Default: sqlite://lectern.db.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
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
    /// Print the effective configuration (defaults, file, environment, flags) as TOML, with
    /// secrets masked.
    Config,
    /// Copy the database, consistently, while the server runs (SQLite; on PostgreSQL use
    /// pg_dump).
    Backup {
        /// The file to write; it must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the database with a backup made by `lectern backup` (SQLite; stop the servers
    /// first). On PostgreSQL use pg_restore.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// Replace a database that exists.
        #[arg(long)]
        force: bool,
    },
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
    /// Maintain the stored slides and images.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// Publish every change event, in order and exactly once, to a NATS JetStream stream
    /// (created when missing), until stopped. Several processes may run it: one relays at a
    /// time, and another takes over when it stops.
    Relay(RelayArgs),
}

#[derive(Args, Debug)]
pub struct RelayArgs {
    /// The NATS server.
    #[arg(
        long = "to",
        default_value = "nats://127.0.0.1:4222",
        env = "LECTERN_RELAY_URL"
    )]
    pub url: String,
    /// The stream; also the relay's name in the database.
    #[arg(long, default_value = "LECTERN", env = "LECTERN_RELAY_STREAM")]
    pub stream: String,
    /// Subjects are PREFIX.<aggregate_type>.<type>, such as lectern.talk.updated.
    #[arg(long, default_value = "lectern", env = "LECTERN_RELAY_SUBJECT_PREFIX")]
    pub subject_prefix: String,
    /// How long the stream keeps an event: 30d, 12h, …
    #[arg(long, value_parser = parse_ttl, default_value = "30d")]
    pub max_age: Duration,
    /// Copies of the stream in a NATS cluster.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
}

#[derive(Subcommand, Debug)]
pub enum AssetsCommand {
    /// Remove the assets that no talk or resource links to (with their variants and stored
    /// bytes), among those uploaded before the given age.
    Gc {
        /// 30d, 12h, 15m or 30s: assets younger than this are kept (an editor may be about to
        /// attach them).
        #[arg(long, value_parser = parse_ttl, default_value = "30d")]
        older_than: Duration,
        /// List what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
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

/// Settings given on the command line: each overrides the file and the environment (see
/// `lectern config` and README's settings table for every key).
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is logged). [addr]
    #[arg(long, global = true)]
    pub addr: Option<String>,
    /// Base URL that relative image and PDF paths are resolved against. [asset_base_url]
    #[arg(long, global = true)]
    pub asset_base_url: Option<String>,
    /// Memory for cached GraphQL responses, in MiB; 0 turns the cache off. [cache_mb]
    #[arg(long, global = true)]
    pub cache_mb: Option<u64>,
    /// Origins browsers may call the API from, comma-separated, or `*`. [cors_origins]
    #[arg(long, global = true)]
    pub cors_origins: Option<String>,
    /// Whether GraphiQL is served and the schema can be introspected. [graphiql]
    #[arg(long, global = true)]
    pub graphiql: Option<bool>,
    /// Whether the Studio, the editors' web app, is served under /studio. [studio]
    #[arg(long, global = true)]
    pub studio: Option<bool>,
    /// Whether this process delivers webhooks (any number of processes may). [webhook_dispatch]
    #[arg(long, global = true)]
    pub webhook_dispatch: Option<bool>,
    /// Attempts at one event before an endpoint is marked failing. [webhook_max_attempts]
    #[arg(long, global = true)]
    pub webhook_max_attempts: Option<u32>,
    /// The wait after a first failed delivery; it doubles with each failure. [webhook_backoff]
    #[arg(long, global = true)]
    pub webhook_backoff: Option<String>,
    /// The longest wait between two attempts. [webhook_backoff_max]
    #[arg(long, global = true)]
    pub webhook_backoff_max: Option<String>,
    /// How long a receiver has to answer. [webhook_timeout]
    #[arg(long, global = true)]
    pub webhook_timeout: Option<String>,
    /// How often the outbox is read when no write was heard of. [outbox_poll]
    #[arg(long, global = true)]
    pub outbox_poll: Option<String>,
    /// Threads that deliver events to subscriptions, apart from the request workers and the
    /// webhook dispatcher. [delivery_threads]
    #[arg(long, global = true)]
    pub delivery_threads: Option<usize>,
}

impl Cli {
    /// The flags given, as the last layer of the configuration.
    pub fn overrides(&self) -> Overrides {
        let s = &self.serve;
        let text = |v: &Option<String>| v.clone();
        vec![
            ("database_url", self.database_url.clone()),
            ("addr", text(&s.addr)),
            ("asset_base_url", text(&s.asset_base_url)),
            ("cache_mb", s.cache_mb.map(|v| v.to_string())),
            ("cors_origins", text(&s.cors_origins)),
            ("graphiql", s.graphiql.map(|v| v.to_string())),
            ("studio", s.studio.map(|v| v.to_string())),
            (
                "webhook_dispatch",
                s.webhook_dispatch.map(|v| v.to_string()),
            ),
            (
                "webhook_max_attempts",
                s.webhook_max_attempts.map(|v| v.to_string()),
            ),
            ("webhook_backoff", text(&s.webhook_backoff)),
            ("webhook_backoff_max", text(&s.webhook_backoff_max)),
            ("webhook_timeout", text(&s.webhook_timeout)),
            ("outbox_poll", text(&s.outbox_poll)),
            (
                "delivery_threads",
                s.delivery_threads.map(|v| v.to_string()),
            ),
        ]
    }
}
