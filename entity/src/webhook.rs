//! An endpoint that change events are posted to, with its delivery state.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Whether the dispatcher delivers to an endpoint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Events are delivered as they come.
    #[sea_orm(string_value = "active")]
    Active,
    /// An event was refused on every attempt; delivery waits for an admin to replay.
    #[sea_orm(string_value = "failing")]
    Failing,
    /// Turned off by an admin; events are kept for it until it is resumed.
    #[sea_orm(string_value = "paused")]
    Paused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Failing => "failing",
            Self::Paused => "paused",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    /// The event types delivered, as a JSON array of patterns (`talk.*`, `talk.published`).
    pub events: Json,
    /// The HMAC key of the `Lectern-Signature` header.
    #[serde(skip_serializing)]
    pub secret: String,
    pub description: Option<String>,
    pub state: State,
    /// Every event up to this `seq` has been delivered or did not match.
    pub delivered_seq: i64,
    /// Failed attempts at the next event.
    pub attempt: i32,
    /// When the next event may be tried.
    pub next_attempt_at: DateTimeUtc,
    /// The server process delivering to this endpoint now, until `lease_until`.
    pub lease_owner: Option<Uuid>,
    pub lease_until: Option<DateTimeUtc>,
    /// What went wrong with the last failed attempt.
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::webhook_attempt::Entity")]
    Attempts,
}

impl Related<super::webhook_attempt::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attempts.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
