//! Where a relay of the outbox stands (see the migration that creates `relay_positions`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relay_positions")]
pub struct Model {
    /// The relay's name: its target stream.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The last event the log acknowledged.
    pub seq: i64,
    /// The process that relays now.
    pub holder: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
