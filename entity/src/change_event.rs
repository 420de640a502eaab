//! A change to content, as the outbox records it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "change_events")]
pub struct Model {
    /// Strictly increasing, in commit order.
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: Uuid,
    pub occurred_at: DateTimeUtc,
    /// `talk`.
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    /// `talk.created`, `talk.updated`, `talk.deleted`, `talk.published` or `talk.unpublished`.
    #[sea_orm(column_name = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The talk's version after the change (before it, for a delete).
    pub version: i32,
    /// Who made the change: a user's id, `token:<jti>`, or `importer`.
    pub actor: String,
    /// The talk's whole state: `{ "talk": …, "resources": […], "embeds": […] }`.
    pub payload: Json,
    /// Whether readers without a token may see the event: the talk is published after the
    /// change, or was before it (an unpublish, or the delete of a published talk).
    pub public: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
