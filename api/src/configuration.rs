//! The server's configuration, in layers: built-in defaults, then a TOML file (`--config PATH`,
//! or `lectern.toml` in the working directory when it exists), then `LECTERN_*` environment
//! variables (and `DATABASE_URL`), then command-line flags. Every key has the same name in the
//! file and, upper-cased behind `LECTERN_`, in the environment: `cache_mb` and
//! `LECTERN_CACHE_MB`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use service::assets::TransformRules;
use service::db::{DEFAULT_DATABASE_URL, DbOptions};
use service::webhooks::RetryPolicy;

use crate::auth::{AuthSettings, parse_ttl};
use crate::dispatch::DispatchSettings;
use crate::startup::{EventSettings, Settings};
use crate::telemetry::LogFormat;

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_FILE: &str = "lectern.toml";

/// A configuration that cannot be used; the message names the key (and the file or variable).
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

fn invalid(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{key}: {message}"))
}

/// Every key, as read from the layers. Durations are texts such as `250ms`, `30s`, `12h` or
/// `90d`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database: an SQLite or PostgreSQL URL (`DATABASE_URL` also sets it).
    pub database_url: String,
    /// Connections in the request pool; the driver's default when absent (SQLite: 4).
    pub db_max_connections: Option<u32>,
    /// How long a request waits for the database before it is answered 503.
    pub db_acquire_timeout: String,
    /// Address to listen on; port 0 picks a free one.
    pub addr: String,
    /// Base URL that relative image and PDF paths are resolved against.
    pub asset_base_url: Option<String>,
    /// Memory for cached GraphQL responses, in MiB; 0 turns the cache off.
    pub cache_mb: u64,
    /// Origins browsers may call the API from (`*` for any); none by default.
    #[serde(deserialize_with = "list")]
    pub cors_origins: Vec<String>,
    /// Whether GraphiQL is served and the schema can be introspected.
    pub graphiql: bool,
    /// Whether `GET /metrics` answers.
    pub metrics: bool,
    /// `auto` (human on a terminal, JSON otherwise), `text` or `json`.
    pub log_format: LogFormat,
    /// Which log lines are written, in `RUST_LOG` syntax (`RUST_LOG` itself wins when set).
    pub log: String,
    /// HS256 signing secret of at least 32 bytes.
    #[serde(serialize_with = "masked")]
    pub jwt_secret: Option<SecretString>,
    /// PEM private key file (EdDSA or RS256).
    pub jwt_private_key: Option<PathBuf>,
    /// PEM public key file, to verify tokens of another issuer.
    pub jwt_public_key: Option<PathBuf>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Lifetime of the tokens a login returns.
    pub access_token_ttl: String,
    /// How often the outbox is read when no write was heard of.
    pub outbox_poll: String,
    /// Threads that deliver events to subscriptions and follow the outbox, apart from the
    /// request workers and the webhook dispatcher's thread.
    pub delivery_threads: usize,
    /// Whether this process delivers webhooks.
    pub webhook_dispatch: bool,
    /// Attempts at one event before an endpoint is marked failing.
    pub webhook_max_attempts: u32,
    /// The wait after a first failed delivery; it doubles with each further failure.
    pub webhook_backoff: String,
    /// The longest wait between two attempts.
    pub webhook_backoff_max: String,
    /// How long a receiver has to answer.
    pub webhook_timeout: String,
    /// Whether the Studio, the editors' web app, is served under `/studio`.
    pub studio: bool,
    /// How long a Studio session may go unused before it ends.
    pub studio_session_idle: String,
    /// When the Studio's session cookie is `Secure`: `auto` (when the request came over
    /// HTTPS, as the connection or a proxy's `X-Forwarded-Proto` says), `always` or `never`.
    pub studio_secure_cookie: String,
    /// Relay the outbox to this NATS server's JetStream from this process (as `lectern
    /// relay` does); none when absent.
    pub relay_url: Option<String>,
    /// The relay's stream; also its name in the database.
    pub relay_stream: String,
    /// Subjects are `<prefix>.<aggregate_type>.<type>`.
    pub relay_subject_prefix: String,
    /// How long the stream keeps an event.
    pub relay_max_age: String,
    /// Copies of the stream in a NATS cluster.
    pub relay_replicas: usize,
    /// The folder of asset bytes; next to the SQLite file when absent (`lectern.db` keeps
    /// them in `lectern-assets`).
    pub asset_dir: Option<PathBuf>,
    /// S3-compatible object storage for asset bytes instead of the folder, as
    /// `s3://bucket[/prefix]`; credentials, region and endpoint from the `AWS_*` variables.
    pub asset_store: Option<String>,
    /// The largest upload, in MiB.
    pub asset_max_mb: u64,
    /// The longest side of an uploaded image, in pixels.
    pub asset_max_side: u32,
    /// The most pixels of an uploaded image, in millions.
    pub asset_max_megapixels: u64,
    /// How long reading a PDF (its pages, its first page) may take.
    pub asset_pdf_timeout: String,
    /// The widths and heights a transform may ask for.
    #[serde(deserialize_with = "list")]
    pub asset_sizes: Vec<String>,
    /// The JPEG qualities a transform may ask for.
    #[serde(deserialize_with = "list")]
    pub asset_qualities: Vec<String>,
    /// Named transforms (`?preset=name`), each a table of `width`, `height`, `fit`, `format`
    /// and `quality`.
    pub asset_presets: std::collections::BTreeMap<String, service::assets::transform::Preset>,
}

impl Default for Config {
    fn default() -> Self {
        let auth = AuthSettings::default();
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            db_max_connections: None,
            db_acquire_timeout: "5s".into(),
            addr: "127.0.0.1:8080".into(),
            asset_base_url: None,
            cache_mb: 32,
            cors_origins: Vec::new(),
            graphiql: true,
            metrics: true,
            log_format: LogFormat::Auto,
            log: "info".into(),
            jwt_secret: None,
            jwt_private_key: None,
            jwt_public_key: None,
            jwt_issuer: auth.issuer,
            jwt_audience: auth.audience,
            access_token_ttl: "15m".into(),
            outbox_poll: "250ms".into(),
            delivery_threads: 1,
            webhook_dispatch: true,
            webhook_max_attempts: 12,
            webhook_backoff: "60s".into(),
            webhook_backoff_max: "8h".into(),
            webhook_timeout: "10s".into(),
            studio: true,
            studio_session_idle: "1h".into(),
            studio_secure_cookie: "auto".into(),
            relay_url: None,
            relay_stream: "LECTERN".into(),
            relay_subject_prefix: "lectern".into(),
            relay_max_age: "30d".into(),
            relay_replicas: 1,
            asset_dir: None,
            asset_store: None,
            asset_max_mb: 50,
            asset_max_side: 12_000,
            asset_max_megapixels: 50,
            asset_pdf_timeout: "10s".into(),
            asset_sizes: TransformRules::default()
                .sizes
                .iter()
                .map(ToString::to_string)
                .collect(),
            asset_qualities: TransformRules::default()
                .qualities
                .iter()
                .map(ToString::to_string)
                .collect(),
            asset_presets: TransformRules::default().presets,
        }
    }
}

/// The keys, as the environment spells them after `LECTERN_`.
const KEYS: &[&str] = &[
    "database_url",
    "db_max_connections",
    "db_acquire_timeout",
    "addr",
    "asset_base_url",
    "cache_mb",
    "cors_origins",
    "graphiql",
    "metrics",
    "log_format",
    "log",
    "jwt_secret",
    "jwt_private_key",
    "jwt_public_key",
    "jwt_issuer",
    "jwt_audience",
    "access_token_ttl",
    "outbox_poll",
    "delivery_threads",
    "webhook_dispatch",
    "webhook_max_attempts",
    "webhook_backoff",
    "webhook_backoff_max",
    "webhook_timeout",
    "studio",
    "studio_session_idle",
    "studio_secure_cookie",
    "relay_url",
    "relay_stream",
    "relay_subject_prefix",
    "relay_max_age",
    "relay_replicas",
    "asset_dir",
    "asset_store",
    "asset_max_mb",
    "asset_max_side",
    "asset_max_megapixels",
    "asset_pdf_timeout",
    "asset_sizes",
    "asset_qualities",
];

/// Values given on the command line, the last layer.
pub type Overrides = Vec<(&'static str, Option<String>)>;

impl Config {
    /// Reads the layers. `file` is `--config` (which must exist); without it `lectern.toml`
    /// is read when present. `env` is the process environment (a parameter, for tests).
    pub fn load(
        file: Option<&Path>,
        env: &HashMap<String, String>,
        overrides: Overrides,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        let file = match file {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            // Parsed here first, for errors that give the line.
            text.parse::<toml::Table>()
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        let mut from_env = HashMap::new();
        if let Some(url) = env.get("DATABASE_URL").filter(|v| !v.is_empty()) {
            from_env.insert("database_url".to_owned(), url.clone());
        }
        for key in KEYS {
            let name = format!("LECTERN_{}", key.to_ascii_uppercase());
            if let Some(value) = env.get(&name).filter(|v| !v.is_empty()) {
                from_env.insert((*key).to_owned(), value.clone());
            }
        }
        builder = builder.add_source(config::Environment::default().source(Some(from_env)));
        for (key, value) in overrides {
            builder = builder
                .set_override_option(key, value)
                .map_err(|e| invalid(key, e))?;
        }
        let where_ = file
            .as_ref()
            .map(|p| format!(" (layers: {}, environment, flags)", p.display()))
            .unwrap_or_else(|| " (layers: environment, flags)".into());
        let config: Config = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(format!("{e}{where_}")))?;
        config.settings()?;
        Ok(config)
    }

    /// Where assets live and the rules of uploads and transforms, each value checked.
    fn asset_config(
        &self,
        duration: &dyn Fn(&str, &str) -> Result<Duration, ConfigError>,
    ) -> Result<crate::startup::AssetConfig, ConfigError> {
        if let Some(store) = &self.asset_store {
            match url::Url::parse(store) {
                Ok(url) if url.scheme() == "s3" && url.host_str().is_some() => {}
                _ => {
                    return Err(invalid(
                        "asset_store",
                        format!("{store:?}: must be s3://bucket[/prefix]"),
                    ));
                }
            }
        }
        if !(1..=4096).contains(&self.asset_max_mb) {
            return Err(invalid("asset_max_mb", "must be from 1 to 4096"));
        }
        if !(16..=65_535).contains(&self.asset_max_side) {
            return Err(invalid("asset_max_side", "must be from 16 to 65535"));
        }
        if !(1..=1000).contains(&self.asset_max_megapixels) {
            return Err(invalid("asset_max_megapixels", "must be from 1 to 1000"));
        }
        let numbers = |key: &str, values: &[String], range: std::ops::RangeInclusive<u32>| {
            let parsed = values
                .iter()
                .map(|v| match v.trim().parse::<u32>() {
                    Ok(n) if range.contains(&n) => Ok(n),
                    _ => Err(invalid(
                        key,
                        format!(
                            "{v:?}: each must be a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )),
                })
                .collect::<Result<Vec<u32>, _>>()?;
            if parsed.is_empty() || parsed.len() > 64 {
                return Err(invalid(key, "must list from 1 to 64 values"));
            }
            Ok(parsed)
        };
        let sizes = numbers("asset_sizes", &self.asset_sizes, 1..=8192)?;
        let qualities: Vec<u8> = numbers("asset_qualities", &self.asset_qualities, 1..=100)?
            .into_iter()
            .map(|q| q as u8)
            .collect();
        let default_quality = if qualities.contains(&80) {
            80
        } else {
            qualities[qualities.len() / 2]
        };
        for (name, preset) in &self.asset_presets {
            for size in [preset.width, preset.height].into_iter().flatten() {
                if !(1..=8192).contains(&size) {
                    return Err(invalid(
                        "asset_presets",
                        format!("{name}: sizes must be from 1 to 8192"),
                    ));
                }
            }
            if preset.quality.is_some_and(|q| !(1..=100).contains(&q)) {
                return Err(invalid(
                    "asset_presets",
                    format!("{name}: quality must be from 1 to 100"),
                ));
            }
        }
        let timeout = nonzero(
            "asset_pdf_timeout",
            duration("asset_pdf_timeout", &self.asset_pdf_timeout)?,
        )?;
        Ok(crate::startup::AssetConfig {
            store: self.asset_store.clone(),
            dir: self.asset_dir.clone(),
            s3_options: Vec::new(),
            rules: service::assets::AssetSettings {
                max_bytes: self.asset_max_mb * 1024 * 1024,
                pixels: service::assets::PixelLimits {
                    max_side: self.asset_max_side,
                    max_pixels: self.asset_max_megapixels * 1_000_000,
                },
                pdf_timeout: timeout,
                rules: TransformRules {
                    sizes,
                    qualities,
                    default_quality,
                    presets: self.asset_presets.clone(),
                },
                ..service::assets::AssetSettings::default()
            },
        })
    }

    /// The settings the server starts with; every value is checked, and a bad one named.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        self.addr.parse::<SocketAddr>().map_err(|e| {
            invalid(
                "addr",
                format!(
                    "{:?} is not an address such as 127.0.0.1:8080: {e}",
                    self.addr
                ),
            )
        })?;
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return Err(invalid(
                "database_url",
                "must be an sqlite:// or postgres:// URL",
            ));
        }
        if let Some(base) = &self.asset_base_url {
            url::Url::parse(base).map_err(|e| invalid("asset_base_url", e))?;
        }
        for origin in &self.cors_origins {
            if origin != "*" {
                url::Url::parse(origin)
                    .map_err(|e| invalid("cors_origins", format!("{origin:?}: {e}")))?;
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|e| invalid("log", format!("{:?}: {e}", self.log)))?;
        if self.db_max_connections == Some(0) {
            return Err(invalid("db_max_connections", "must be at least 1"));
        }
        if !(1..=100).contains(&self.webhook_max_attempts) {
            return Err(invalid("webhook_max_attempts", "must be between 1 and 100"));
        }
        let duration = |key: &str, text: &str| parse_ttl(text).map_err(|e| invalid(key, e));
        let acquire = duration("db_acquire_timeout", &self.db_acquire_timeout)?;
        if acquire.is_zero() {
            return Err(invalid("db_acquire_timeout", "must be more than 0"));
        }
        let backoff = duration("webhook_backoff", &self.webhook_backoff)?;
        let assets = self.asset_config(&duration)?;
        let relay = match &self.relay_url {
            None => None,
            Some(url) => {
                match url::Url::parse(url) {
                    Ok(parsed) if matches!(parsed.scheme(), "nats" | "tls") => {}
                    _ => {
                        return Err(invalid(
                            "relay_url",
                            format!("{url:?}: must be a nats:// URL"),
                        ));
                    }
                }
                let name = |key: &str, value: &str| {
                    if !value.is_empty()
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    {
                        Ok(value.to_owned())
                    } else {
                        Err(invalid(
                            key,
                            format!("{value:?}: must be letters, digits, '_' or '-'"),
                        ))
                    }
                };
                if !(1..=5).contains(&self.relay_replicas) {
                    return Err(invalid("relay_replicas", "must be from 1 to 5"));
                }
                Some(service::relay::RelaySettings {
                    url: url.clone(),
                    stream: name("relay_stream", &self.relay_stream)?,
                    subject_prefix: name("relay_subject_prefix", &self.relay_subject_prefix)?,
                    max_age: nonzero(
                        "relay_max_age",
                        duration("relay_max_age", &self.relay_max_age)?,
                    )?,
                    replicas: self.relay_replicas,
                    ..Default::default()
                })
            }
        };
        let settings = Settings {
            relay,
            assets,
            addr: self.addr.clone(),
            database_url: self.database_url.clone(),
            db: DbOptions {
                max_connections: self.db_max_connections,
                acquire_timeout: acquire,
            },
            asset_base_url: self.asset_base_url.clone(),
            cache_bytes: self.cache_mb.saturating_mul(1024 * 1024),
            cors_origins: self.cors_origins.clone(),
            graphiql: self.graphiql,
            metrics: self.metrics,
            auth: AuthSettings {
                secret: self
                    .jwt_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned()),
                private_key: self
                    .jwt_private_key
                    .as_ref()
                    .map(|p| p.display().to_string()),
                public_key: self
                    .jwt_public_key
                    .as_ref()
                    .map(|p| p.display().to_string()),
                issuer: self.jwt_issuer.clone(),
                audience: self.jwt_audience.clone(),
                access_ttl: duration("access_token_ttl", &self.access_token_ttl)?,
            },
            events: EventSettings {
                poll: nonzero("outbox_poll", duration("outbox_poll", &self.outbox_poll)?)?,
                delivery_threads: match self.delivery_threads {
                    1..=64 => self.delivery_threads,
                    _ => return Err(invalid("delivery_threads", "must be from 1 to 64")),
                },
                dispatch: DispatchSettings {
                    enabled: self.webhook_dispatch,
                    retry: RetryPolicy {
                        max_attempts: self.webhook_max_attempts,
                        base: backoff,
                        cap: duration("webhook_backoff_max", &self.webhook_backoff_max)?
                            .max(backoff),
                    },
                    timeout: nonzero(
                        "webhook_timeout",
                        duration("webhook_timeout", &self.webhook_timeout)?,
                    )?,
                    ..DispatchSettings::default()
                },
                ..EventSettings::default()
            },
            studio: crate::studio::StudioSettings {
                enabled: self.studio,
                idle: nonzero(
                    "studio_session_idle",
                    duration("studio_session_idle", &self.studio_session_idle)?,
                )?,
                secure_cookie: match self.studio_secure_cookie.as_str() {
                    "auto" => crate::studio::SecureCookie::Auto,
                    "always" => crate::studio::SecureCookie::Always,
                    "never" => crate::studio::SecureCookie::Never,
                    other => {
                        return Err(invalid(
                            "studio_secure_cookie",
                            format!("{other:?}: must be auto, always or never"),
                        ));
                    }
                },
            },
        };
        if let (Some(secret), None, None) = (
            &settings.auth.secret,
            &settings.auth.private_key,
            &settings.auth.public_key,
        ) && secret.len() < crate::auth::MIN_SECRET_BYTES
        {
            return Err(invalid(
                "jwt_secret",
                format!("must be at least {} bytes", crate::auth::MIN_SECRET_BYTES),
            ));
        }
        Ok(settings)
    }

    /// The effective configuration as TOML, secrets and database passwords masked.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = service::db::redact_url(&self.database_url);
        toml::to_string(&shown)
            .unwrap_or_else(|e| format!("# cannot show the configuration: {e}\n"))
    }
}

fn nonzero(key: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        return Err(invalid(key, "must be more than 0"));
    }
    Ok(value)
}

/// A secret is shown as `*****`, never as itself.
fn masked<S: serde::Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_some("*****"),
        None => s.serialize_none(),
    }
}

/// A list from a TOML array, or from a comma-separated text (as the environment gives it).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Items::deserialize(d)? {
        Items::One(text) => text
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Items::Many(items) => items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("write");
        file
    }

    #[test]
    fn defaults_then_file_then_environment_then_flags() {
        let toml = file("addr = \"127.0.0.1:9000\"\ncache_mb = 8\ngraphiql = false\n");
        let config = Config::load(Some(toml.path()), &env(&[]), Vec::new()).expect("valid");
        assert_eq!(config.addr, "127.0.0.1:9000");
        assert_eq!(config.cache_mb, 8);
        assert!(!config.graphiql);
        assert_eq!(
            config.outbox_poll, "250ms",
            "a default the file leaves alone"
        );

        let config = Config::load(
            Some(toml.path()),
            &env(&[
                ("LECTERN_CACHE_MB", "16"),
                (
                    "LECTERN_CORS_ORIGINS",
                    "https://a.example, https://b.example",
                ),
                ("DATABASE_URL", "postgres://u:pw@db/lectern"),
            ]),
            Vec::new(),
        )
        .expect("valid");
        assert_eq!(config.cache_mb, 16, "the environment overrides the file");
        assert_eq!(config.addr, "127.0.0.1:9000");
        assert_eq!(
            config.cors_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.database_url, "postgres://u:pw@db/lectern");

        let config = Config::load(
            Some(toml.path()),
            &env(&[("LECTERN_CACHE_MB", "16")]),
            vec![("cache_mb", Some("4".into())), ("addr", None)],
        )
        .expect("valid");
        assert_eq!(config.cache_mb, 4, "a flag overrides the environment");
        assert_eq!(
            config.addr, "127.0.0.1:9000",
            "an absent flag changes nothing"
        );
    }

    #[test]
    fn a_bad_value_is_refused_with_its_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("LECTERN_CACHE_MB", "lots", "cache_mb"),
            ("LECTERN_ADDR", "localhost", "addr"),
            ("LECTERN_OUTBOX_POLL", "soon", "outbox_poll"),
            ("LECTERN_WEBHOOK_MAX_ATTEMPTS", "0", "webhook_max_attempts"),
            ("LECTERN_GRAPHIQL", "maybe", "graphiql"),
            ("LECTERN_LOG_FORMAT", "xml", "log_format"),
            ("LECTERN_JWT_SECRET", "short", "jwt_secret"),
            ("LECTERN_DB_ACQUIRE_TIMEOUT", "0s", "db_acquire_timeout"),
            ("LECTERN_DELIVERY_THREADS", "0", "delivery_threads"),
            ("LECTERN_DELIVERY_THREADS", "many", "delivery_threads"),
            ("LECTERN_RELAY_URL", "http://127.0.0.1:4222", "relay_url"),
            ("DATABASE_URL", "mysql://x", "database_url"),
        ];
        for (name, value, key) in cases {
            let error = Config::load(None, &env(&[(name, value)]), Vec::new())
                .expect_err(&format!("{name}={value} must be refused"))
                .to_string();
            assert!(error.contains(key), "{name}={value}: {error}");
            assert!(!error.contains("short") || *key != "jwt_secret", "{error}");
        }
    }

    #[test]
    fn delivery_threads_reach_the_event_settings() {
        let config = Config::load(None, &env(&[]), Vec::new()).unwrap();
        assert_eq!(config.settings().unwrap().events.delivery_threads, 1);
        let config =
            Config::load(None, &env(&[("LECTERN_DELIVERY_THREADS", "3")]), Vec::new()).unwrap();
        assert_eq!(config.settings().unwrap().events.delivery_threads, 3);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused_and_a_syntax_error_gives_the_line() {
        let toml = file("adress = \"127.0.0.1:1\"\n");
        let error = Config::load(Some(toml.path()), &env(&[]), Vec::new())
            .expect_err("unknown key")
            .to_string();
        assert!(error.contains("adress"), "{error}");

        let toml = file("addr = \"127.0.0.1:1\"\ncache_mb = = 3\n");
        let error = Config::load(Some(toml.path()), &env(&[]), Vec::new())
            .expect_err("syntax")
            .to_string();
        assert!(error.contains("line 2"), "{error}");

        let error = Config::load(
            Some(Path::new("/nonexistent/lectern.toml")),
            &env(&[]),
            Vec::new(),
        )
        .expect_err("missing file")
        .to_string();
        assert!(error.contains("/nonexistent/lectern.toml"), "{error}");
    }

    #[test]
    fn other_lectern_variables_are_not_configuration() {
        let config = Config::load(
            None,
            &env(&[("LECTERN_PASSWORD", "x"), ("LECTERN_CORPUS", "/tmp")]),
            Vec::new(),
        );
        assert!(config.is_ok(), "{:?}", config.err());
    }

    #[test]
    fn printing_masks_secrets_and_passwords() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret!";
        let config = Config::load(
            None,
            &env(&[
                ("LECTERN_JWT_SECRET", secret),
                ("DATABASE_URL", "postgres://lectern:hunter2@db:5432/lectern"),
            ]),
            Vec::new(),
        )
        .expect("valid");
        let shown = config.to_toml();
        assert!(
            !shown.contains(secret) && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("jwt_secret = \"*****\""), "{shown}");
        assert!(!format!("{config:?}").contains(secret));
        let settings = config.settings().expect("valid");
        assert_eq!(settings.auth.secret.as_deref(), Some(secret));
    }
}
