//! A token issued to a deploy job or an integration, recorded so it can be listed and revoked.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::user::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "machine_tokens")]
pub struct Model {
    /// The token's `jti` claim.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
