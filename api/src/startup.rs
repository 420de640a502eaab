//! Building the application: database, schema and HTTP server, bound before it runs so that
//! the real port is known (port 0 picks a free one).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use service::db::DbOptions;
use service::sea_orm::DatabaseConnection;

use crate::auth::{AuthSettings, Authority};
use crate::changes::ChangeHub;
use crate::dispatch::{self, DispatchSettings};
use crate::graphql::{self, AppSchema};
use crate::routes;
use crate::runtime::DeliveryRuntime;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What the server needs to start (read by [`crate::configuration::Config`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: String,
    pub database_url: String,
    /// Pool size and how long a request waits for the database.
    pub db: DbOptions,
    /// Whether GraphiQL is served and the schema can be introspected.
    pub graphiql: bool,
    /// Whether `GET /metrics` answers.
    pub metrics: bool,
    /// Base URL that relative image and PDF paths are resolved against.
    pub asset_base_url: Option<String>,
    /// Bytes of cached GraphQL responses; 0 turns the cache off.
    pub cache_bytes: u64,
    /// Origins browsers may call from (`*` for any); empty: no CORS.
    pub cors_origins: Vec<String>,
    /// Token keys and lifetimes.
    pub auth: AuthSettings,
    /// Following the outbox and delivering webhooks.
    pub events: EventSettings,
    /// The editors' web app.
    pub studio: crate::studio::StudioSettings,
    /// Where asset bytes live, and the limits and transforms of uploads.
    pub assets: AssetConfig,
    /// Relaying the outbox to NATS JetStream from this process, when set.
    pub relay: Option<service::relay::RelaySettings>,
}

/// Where asset bytes live, and the rules of the asset store.
#[derive(Debug, Clone, Default)]
pub struct AssetConfig {
    /// An `s3://bucket[/prefix]` URL; the local folder when absent.
    pub store: Option<String>,
    /// The local folder; next to the SQLite file when absent
    /// ([`service::assets::default_dir`]).
    pub dir: Option<std::path::PathBuf>,
    /// Options of the S3 client on top of the `AWS_*` environment, by `object_store`'s names
    /// (`aws_endpoint`, `aws_allow_http`, …).
    pub s3_options: Vec<(String, String)>,
    pub rules: service::assets::AssetSettings,
}

impl AssetConfig {
    pub fn open(&self, database_url: &str) -> anyhow::Result<service::assets::Assets> {
        let blobs = service::assets::open_blobs_with(
            self.store.as_deref(),
            self.dir.as_deref(),
            database_url,
            &self.s3_options,
        )?;
        Ok(service::assets::Assets::new(blobs, self.rules.clone()))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            database_url: service::db::DEFAULT_DATABASE_URL.into(),
            db: DbOptions::default(),
            graphiql: true,
            metrics: true,
            asset_base_url: None,
            cache_bytes: 32 * 1024 * 1024,
            cors_origins: Vec::new(),
            auth: AuthSettings::default(),
            events: EventSettings::default(),
            studio: crate::studio::StudioSettings::default(),
            assets: AssetConfig::default(),
            relay: None,
        }
    }
}

/// How this process follows the outbox.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// How often the outbox is read when no write was heard of (writes of other processes on
    /// SQLite; on PostgreSQL they notify).
    pub poll: Duration,
    pub dispatch: DispatchSettings,
    /// How often a subscription's token is checked again (expired, revoked, account disabled).
    pub token_recheck: Duration,
    /// Threads of the runtime that delivers events (see [`crate::runtime`]).
    pub delivery_threads: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            dispatch: DispatchSettings::default(),
            token_recheck: Duration::from_secs(30),
            delivery_threads: 1,
        }
    }
}

/// A bound, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    /// The pool of the tail and the dispatcher.
    background: DatabaseConnection,
    hub: Arc<ChangeHub>,
    dispatch: DispatchSettings,
    /// The relay to NATS JetStream, when this process runs one (on the webhooks' thread).
    relay: Option<service::relay::RelaySettings>,
    /// Where subscriptions and the tail run.
    delivery: web::Data<DeliveryRuntime>,
    /// The webhook dispatcher's own thread.
    webhooks: DeliveryRuntime,
}

impl Application {
    /// Connects to the database (migrating it), builds the schema once, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = service::db::connect_with(&settings.database_url, &settings.db)
            .await
            .map_err(|e| cannot_open(&settings.database_url, &e))?;
        Self::build_with(settings, db).await
    }

    /// Like [`Application::build`], on a database connection opened (and migrated) already.
    pub async fn build_with(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        // Cached responses are checked against the outbox on a connection of their own, so
        // that a request served from the cache never waits behind requests computing theirs.
        let freshness = if settings.cache_bytes > 0 {
            let options = DbOptions {
                max_connections: Some(1),
                ..settings.db.clone()
            };
            Some(
                service::db::open(&settings.database_url, &options)
                    .await
                    .map_err(|e| cannot_open(&settings.database_url, &e))?,
            )
        } else {
            None
        };
        Self::build_on(settings, db, freshness).await
    }

    /// Like [`Application::build_with`], the response cache checking freshness on `freshness`
    /// (no cache when None).
    pub async fn build_on(
        settings: Settings,
        db: DatabaseConnection,
        freshness: Option<DatabaseConnection>,
    ) -> anyhow::Result<Self> {
        let authority = Arc::new(
            Authority::new(&settings.auth, db.clone())
                .await
                .map_err(|e| anyhow::anyhow!("cannot set up token keys: {e}"))?,
        );
        let listener = TcpListener::bind(&settings.addr)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.addr))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "listening");
        // The outbox tail and the webhook dispatcher work on a pool of their own, so that they
        // never wait for (nor hold up) the requests' connections.
        let background = service::db::open(
            &settings.database_url,
            &DbOptions {
                max_connections: Some(8),
                ..settings.db.clone()
            },
        )
        .await
        .map_err(|e| cannot_open(&settings.database_url, &e))?;
        let hub = ChangeHub::new(background.clone(), settings.events.poll);
        let assets = settings.assets.open(&settings.database_url)?;
        let schema = graphql::build_schema(
            db.clone(),
            settings.asset_base_url.clone(),
            authority.clone(),
            hub.clone(),
            settings.events.token_recheck,
            settings.graphiql,
            assets.clone(),
        );
        let cache = match freshness {
            Some(freshness) if settings.cache_bytes > 0 => {
                crate::cache::Responses::new(freshness, settings.cache_bytes)
            }
            _ => crate::cache::Responses(None),
        };
        let asset_base = graphql::AssetBase(settings.asset_base_url.clone());
        let cors_origins = settings
            .cors_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        let delivery = web::Data::new(DeliveryRuntime::new(
            "lectern-delivery",
            settings.events.delivery_threads.max(1),
        )?);
        let server = server(
            listener,
            Shared {
                delivery: delivery.clone(),
                db: db.clone(),
                schema,
                cache,
                authority,
                asset_base,
                assets,
                hub: hub.clone(),
                graphiql: routes::GraphiqlPage(settings.graphiql),
                studio: settings.studio.clone(),
                scrape: settings.metrics.then(|| crate::telemetry::Scrape {
                    db: db.clone(),
                    background: background.clone(),
                }),
            },
            cors_origins,
        )?;
        Ok(Self {
            port: address.port(),
            server,
            background,
            hub,
            dispatch: settings.events.dispatch,
            relay: settings.relay.clone(),
            delivery,
            webhooks: DeliveryRuntime::new("lectern-webhooks", 1)?,
        })
    }

    /// The port the server is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting and finishes requests in flight.
    /// The outbox tail and the webhook dispatcher run alongside, on runtimes of their own
    /// (see [`crate::runtime`]), and stop with the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let delivery = self.delivery;
        let tail = delivery.spawn(self.hub.clone().run());
        let upkeep = tokio::spawn(crate::telemetry::upkeep());
        let dispatcher = if self.dispatch.enabled {
            self.webhooks.spawn(dispatch::run(
                self.background.clone(),
                self.hub.clone(),
                self.dispatch.clone(),
            ))
        } else {
            None
        };
        let relay = self.relay.clone().and_then(|settings| {
            self.webhooks
                .spawn(relay(self.background.clone(), settings))
        });
        let result = self.server.await;
        upkeep.abort();
        for task in [tail, dispatcher, relay].into_iter().flatten() {
            task.abort();
        }
        drop(delivery);
        drop(self.webhooks);
        result
    }
}

/// The relay of a serving process: connects (again and again while NATS is down, backing
/// off up to 30 s; reads never need it), then relays until the server stops.
async fn relay(db: DatabaseConnection, settings: service::relay::RelaySettings) {
    let mut backoff = std::time::Duration::from_millis(500);
    loop {
        match service::relay::Relay::connect(db.clone(), settings.clone()).await {
            Ok(relay) => {
                tracing::info!(url = %settings.url, stream = %settings.stream, "relaying the outbox");
                relay.run(std::future::pending()).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "the relay cannot start");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
            }
        }
    }
}

fn cannot_open(url: &str, error: &service::sea_orm::DbErr) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot open database {}: {error}",
        service::db::redact_url(url)
    )
}

/// What every worker shares.
struct Shared {
    db: DatabaseConnection,
    schema: AppSchema,
    cache: crate::cache::Responses,
    authority: Arc<Authority>,
    asset_base: graphql::AssetBase,
    assets: service::assets::Assets,
    hub: Arc<ChangeHub>,
    graphiql: routes::GraphiqlPage,
    studio: crate::studio::StudioSettings,
    /// What `/metrics` reads; None when metrics are off.
    scrape: Option<crate::telemetry::Scrape>,
    delivery: web::Data<DeliveryRuntime>,
}

fn server(
    listener: TcpListener,
    shared: Shared,
    cors_origins: Vec<String>,
) -> std::io::Result<Server> {
    let authority = web::Data::new(shared.authority);
    let asset_base = web::Data::new(shared.asset_base);
    let assets = web::Data::new(shared.assets);
    let db = web::Data::new(shared.db);
    let schema = web::Data::new(shared.schema);
    let cache = web::Data::new(shared.cache);
    let hub = web::Data::new(shared.hub);
    let streams = shared.delivery;
    let graphiql = web::Data::new(shared.graphiql);
    let studio = shared.studio;
    let scrape = shared.scrape.map(web::Data::new);
    if scrape.is_some() {
        crate::telemetry::recorder();
    }

    Ok(HttpServer::new(move || {
        let mut app = App::new()
            .wrap(actix_web::middleware::Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .wrap(crate::telemetry::security_headers())
            .wrap(actix_web::middleware::from_fn(crate::telemetry::observe))
            .app_data(db.clone())
            .app_data(schema.clone())
            .app_data(cache.clone())
            .app_data(authority.clone())
            .app_data(hub.clone())
            .app_data(streams.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(asset_base.clone())
            .app_data(assets.clone())
            .app_data(graphiql.clone());
        if let Some(scrape) = &scrape {
            app = app.app_data(scrape.clone());
        }
        app.configure(routes::configure)
            .configure(crate::rest::configure)
            .configure(crate::static_files::configure)
            .configure(|cfg| crate::studio::configure(cfg, &studio))
    })
    .listen(listener)?
    .run())
}

/// CORS for the configured origins: the methods and headers the API uses, and the response
/// headers clients need to read (ETag, Link, Location, Retry-After).
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::header;
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([
            header::ETAG,
            header::LINK,
            header::LOCATION,
            header::RETRY_AFTER,
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        for origin in origins {
            cors = cors.allowed_origin(origin);
        }
    }
    cors
}
