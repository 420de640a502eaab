//! Batched loading of resources and embeds: one `WHERE talk_id IN (…)` query per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use entity::{embed, resource};
use service::ServiceError;
use service::sea_orm::DatabaseConnection;
use uuid::Uuid;

pub struct ResourceLoader(pub DatabaseConnection);
pub struct EmbedLoader(pub DatabaseConnection);

impl Loader<Uuid> for ResourceLoader {
    type Value = Vec<resource::Model>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        service::talks::resources_of(&self.0, keys)
            .await
            .map_err(Arc::new)
    }
}

impl Loader<Uuid> for EmbedLoader {
    type Value = Vec<embed::Model>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        service::talks::embeds_of(&self.0, keys)
            .await
            .map_err(Arc::new)
    }
}
