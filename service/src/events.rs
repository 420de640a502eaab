//! The outbox: every change to content appends one event, in the change's own transaction, so
//! that an event exists exactly when its change was committed.
//!
//! Ordering: a writing transaction bumps the content version (a row lock held to commit)
//! *before* it appends, so events get their `seq` in commit order on every database.

use chrono::Utc;
use entity::{change_event, embed, resource, talk};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement,
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::error::ServiceError;
use crate::talks::TalkRecord;

/// What happened to a talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    Published,
    Unpublished,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "talk.created",
            Self::Updated => "talk.updated",
            Self::Deleted => "talk.deleted",
            Self::Published => "talk.published",
            Self::Unpublished => "talk.unpublished",
        }
    }
}

/// The state an event carries: the talk's columns, its resources and its embeds in order.
pub fn payload(record: &TalkRecord) -> serde_json::Value {
    json!({ "talk": record.talk, "resources": record.resources, "embeds": record.embeds })
}

/// The statement that appends the event for a change to `record` (its state after the change,
/// before it for a delete).
pub fn append_statement(
    backend: DbBackend,
    kind: ChangeType,
    record: &TalkRecord,
    actor: &str,
) -> Statement {
    let event = change_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(Utc::now()),
        aggregate_type: Set("talk".to_owned()),
        aggregate_id: Set(record.talk.id),
        kind: Set(kind.as_str().to_owned()),
        version: Set(record.talk.version),
        actor: Set(actor.to_owned()),
        payload: Set(payload(record)),
        ..Default::default()
    };
    change_event::Entity::insert(event).build(backend)
}

/// Appends the event for a change; call it after [`crate::content::bump`], in the same
/// transaction.
pub async fn append<C: ConnectionTrait>(
    conn: &C,
    kind: ChangeType,
    record: &TalkRecord,
    actor: &str,
) -> Result<(), ServiceError> {
    conn.execute_raw(append_statement(
        conn.get_database_backend(),
        kind,
        record,
        actor,
    ))
    .await?;
    Ok(())
}

/// A talk's state as an event holds it.
#[derive(Debug, Clone, Deserialize)]
pub struct State {
    pub talk: talk::Model,
    pub resources: Vec<resource::Model>,
    pub embeds: Vec<embed::Model>,
}

/// The state a talk had at `version`, from the last event that left it at that version.
pub async fn state_at<C: ConnectionTrait>(
    conn: &C,
    talk_id: Uuid,
    version: i32,
) -> Result<Option<State>, ServiceError> {
    let event = change_event::Entity::find()
        .filter(change_event::Column::AggregateId.eq(talk_id))
        .filter(change_event::Column::Version.eq(version))
        .filter(change_event::Column::Kind.ne(ChangeType::Deleted.as_str()))
        .order_by_desc(change_event::Column::Seq)
        .one(conn)
        .await?;
    event
        .map(|event| {
            serde_json::from_value(event.payload).map_err(|e| {
                ServiceError::Internal(format!("event {} holds no talk state: {e}", event.id))
            })
        })
        .transpose()
}

/// The events of one talk, oldest first, after `after_seq`: its revision history.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    talk_id: Uuid,
    after_seq: Option<i64>,
    first: u64,
) -> Result<Vec<change_event::Model>, ServiceError> {
    let mut query = change_event::Entity::find()
        .filter(change_event::Column::AggregateId.eq(talk_id))
        .order_by_asc(change_event::Column::Seq)
        .limit(first);
    if let Some(after) = after_seq {
        query = query.filter(change_event::Column::Seq.gt(after));
    }
    Ok(query.all(conn).await?)
}
