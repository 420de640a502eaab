//! One attempt to deliver one event to one webhook endpoint.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: Uuid,
    pub event_seq: i64,
    pub event_id: Uuid,
    /// 1 for the first try at this event, 2 for the first retry, and so on.
    pub attempt: i32,
    pub attempted_at: DateTimeUtc,
    pub duration_ms: i32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// `delivered` (a 2xx answer) or `failed`.
    pub outcome: String,
    /// Why the attempt failed: the status, a timeout, a refused connection.
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook::Entity",
        from = "Column::WebhookId",
        to = "super::webhook::Column::Id",
        on_delete = "Cascade"
    )]
    Webhook,
}

impl Related<super::webhook::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Webhook.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
