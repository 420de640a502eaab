//! The GraphQL schema: built once at start, shared by every worker.

pub mod assets;
pub mod changes;
mod checked;
pub mod errors;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod metrics;
pub mod mutation;
pub mod parsed;
pub mod query;
pub mod splices;
pub mod types;

use async_graphql::dataloader::DataLoader;
use std::sync::Arc;

use async_graphql::Schema;
use service::sea_orm::DatabaseConnection;

use self::changes::Subscription;
use self::loaders::{EmbedLoader, ResourceLoader};
use self::mutation::Mutation;
use self::query::Query;
use crate::auth::Authority;
use crate::changes::ChangeHub;

pub use self::checked::AppSchema;

/// The schema as async-graphql builds it, without [`AppSchema`]'s checks.
type RawSchema = Schema<Query, Mutation, Subscription>;

/// The deepest query accepted, but for introspection ([`limits::MAX_INTROSPECTION_DEPTH`]).
pub const MAX_DEPTH: usize = 10;
/// The most complex query accepted (each field counts 1; lists count their page size).
pub const MAX_COMPLEXITY: usize = 5_000;

/// Where relative asset paths point to, when configured.
#[derive(Debug, Clone, Default)]
pub struct AssetBase(pub Option<String>);

/// The schema in SDL; it does not depend on the database.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}

pub fn build_schema(
    db: DatabaseConnection,
    asset_base_url: Option<String>,
    authority: Arc<Authority>,
    hub: Arc<ChangeHub>,
    token_recheck: std::time::Duration,
    introspection: bool,
    assets: service::assets::Assets,
) -> AppSchema {
    let builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(authority)
        .data(hub)
        .data(changes::TokenRecheck(token_recheck))
        .data(DataLoader::new(ResourceLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(EmbedLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(
            self::assets::AssetLoader(db.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            self::assets::FirstPageLoader(db.clone()),
            tokio::spawn,
        ))
        .data(assets)
        .data(AssetBase(asset_base_url))
        .data(db)
        // Checked per root field by `limits::check` (MAX_DEPTH, deeper for
        // introspection); this is the backstop.
        .limit_depth(limits::MAX_INTROSPECTION_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    let schema = if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    };
    AppSchema::new(schema, introspection)
}
