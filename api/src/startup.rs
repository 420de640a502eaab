//! Building the application: database, schema and HTTP server, bound before it runs so that
//! the real port is known (port 0 picks a free one).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use service::sea_orm::DatabaseConnection;

use crate::auth::{AuthSettings, Authority};
use crate::graphql::{self, AppSchema};
use crate::routes;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: String,
    pub database_url: String,
    /// Base URL that relative image and PDF paths are resolved against.
    pub asset_base_url: Option<String>,
    /// Bytes of cached GraphQL responses; 0 turns the cache off.
    pub cache_bytes: u64,
    /// Token keys and lifetimes.
    pub auth: AuthSettings,
}

/// A bound, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects to the database (migrating it), builds the schema once, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = service::db::connect(&settings.database_url)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open database {}: {e}",
                    service::db::redact_url(&settings.database_url)
                )
            })?;
        Self::build_with(settings, db).await
    }

    /// Like [`Application::build`], on a database connection opened (and migrated) already.
    pub async fn build_with(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let authority = Arc::new(
            Authority::new(&settings.auth, db.clone())
                .await
                .map_err(|e| anyhow::anyhow!("cannot set up token keys: {e}"))?,
        );
        let listener = TcpListener::bind(&settings.addr)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.addr))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "listening");
        let schema = graphql::build_schema(
            db.clone(),
            settings.asset_base_url.clone(),
            authority.clone(),
        );
        let cache = routes::GraphqlCache::new(db.clone(), settings.cache_bytes);
        let server = server(listener, db, schema, cache, authority)?;
        Ok(Self {
            port: address.port(),
            server,
        })
    }

    /// The port the server is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting and finishes requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn server(
    listener: TcpListener,
    db: DatabaseConnection,
    schema: AppSchema,
    cache: routes::GraphqlCache,
    authority: Arc<Authority>,
) -> std::io::Result<Server> {
    let authority = web::Data::new(authority);
    let db = web::Data::new(db);
    let schema = web::Data::new(schema);
    let cache = web::Data::new(cache);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .app_data(schema.clone())
            .app_data(cache.clone())
            .app_data(authority.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .configure(routes::configure)
    })
    .listen(listener)?
    .run())
}
