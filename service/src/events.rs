//! The outbox: every change to content appends one event, in the change's own transaction, so
//! that an event exists exactly when its change was committed.
//!
//! Ordering: a writing transaction bumps the content version (a row lock held to commit)
//! *before* it appends, so events get their `seq` in commit order on every database.

use chrono::Utc;
use entity::{change_event, embed, resource, talk};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::error::{FieldError, ServiceError};
use crate::talks::TalkRecord;
use crate::visibility::Audience;

/// What happened to a talk (or, for staff, to a stored asset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    Published,
    Unpublished,
    AssetCreated,
    AssetUpdated,
    AssetDeleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "talk.created",
            Self::Updated => "talk.updated",
            Self::Deleted => "talk.deleted",
            Self::Published => "talk.published",
            Self::Unpublished => "talk.unpublished",
            Self::AssetCreated => "asset.created",
            Self::AssetUpdated => "asset.updated",
            Self::AssetDeleted => "asset.deleted",
        }
    }
}

/// The state an event carries: the talk's columns, its resources and its embeds in order.
pub fn payload(record: &TalkRecord) -> serde_json::Value {
    json!({ "talk": record.talk, "resources": record.resources, "embeds": record.embeds })
}

/// Whether readers without a token may see the event: the talk is published after the change,
/// or was before it (an unpublish; a delete carries the state before).
fn is_public(kind: ChangeType, record: &TalkRecord) -> bool {
    kind == ChangeType::Unpublished || record.talk.status == talk::Status::Published
}

/// The columns of a new event for a change to `record` (its state after the change, before it
/// for a delete); `seq` is the database's.
fn new_event(kind: ChangeType, record: &TalkRecord, actor: &str) -> change_event::ActiveModel {
    change_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(Utc::now()),
        aggregate_type: Set("talk".to_owned()),
        aggregate_id: Set(record.talk.id),
        kind: Set(kind.as_str().to_owned()),
        version: Set(record.talk.version),
        actor: Set(actor.to_owned()),
        payload: Set(payload(record)),
        public: Set(is_public(kind, record)),
        ..Default::default()
    }
}

/// The statement that appends the event for a change to `record` (its state after the change,
/// before it for a delete).
pub fn append_statement(
    backend: DbBackend,
    kind: ChangeType,
    record: &TalkRecord,
    actor: &str,
) -> Statement {
    change_event::Entity::insert(new_event(kind, record, actor)).build(backend)
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

/// On PostgreSQL, the bump of the content version, the notification and the new event's row
/// as one statement: the bump's row lock, which orders the events, is then held for this
/// statement and the commit only.
const BUMP_AND_APPEND_POSTGRES: &str = r#"WITH bump AS (
    UPDATE content_version SET version = version + 1 WHERE id = 1 RETURNING version
), notice AS (
    SELECT pg_notify('lectern_changes', '') FROM bump
)
INSERT INTO change_events
    (id, occurred_at, aggregate_type, aggregate_id, "type", version, actor, payload, public)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM bump, notice"#;

/// Bumps the content version ([`crate::content::bump`]) and appends the event for a change
/// ([`append`]), in that order, as the last writes of a change's transaction. On PostgreSQL it
/// is one statement.
pub async fn bump_and_append<C: ConnectionTrait>(
    conn: &C,
    kind: ChangeType,
    record: &TalkRecord,
    actor: &str,
) -> Result<(), ServiceError> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        crate::content::bump(conn).await?;
        return append(conn, kind, record, actor).await;
    }
    let event = new_event(kind, record, actor);
    let values = [
        event.id.into_value(),
        event.occurred_at.into_value(),
        event.aggregate_type.into_value(),
        event.aggregate_id.into_value(),
        event.kind.into_value(),
        event.version.into_value(),
        event.actor.into_value(),
        event.payload.into_value(),
        event.public.into_value(),
    ];
    let values = values
        .into_iter()
        .map(|v| v.ok_or_else(|| ServiceError::Internal("an event column has no value".into())))
        .collect::<Result<Vec<_>, _>>()?;
    let inserted = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            BUMP_AND_APPEND_POSTGRES,
            values,
        ))
        .await?;
    if inserted.rows_affected() != 1 {
        return Err(ServiceError::Internal(
            "the content_version row is missing".into(),
        ));
    }
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

impl ChangeType {
    /// Every type, in the order of the enum.
    pub const ALL: [ChangeType; 8] = [
        Self::Created,
        Self::Updated,
        Self::Deleted,
        Self::Published,
        Self::Unpublished,
        Self::AssetCreated,
        Self::AssetUpdated,
        Self::AssetDeleted,
    ];

    /// Every wire name, for messages: `talk.created, …, asset.deleted`.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// The type a wire name (`talk.published`) stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// The most events one page of the change feed holds.
pub const MAX_FEED_PAGE: u64 = 500;
/// Events per page unless the reader asks otherwise.
pub const DEFAULT_FEED_PAGE: u64 = 100;

/// What a reader of the change feed asks for.
#[derive(Debug, Clone, Default)]
pub struct FeedRequest {
    /// Events after this `seq` (0: from the first).
    pub after: i64,
    /// At most this many events.
    pub limit: u64,
    /// Whose eyes the events are for: readers without a token get only the [public] ones.
    ///
    /// [public]: change_event::Model::public
    pub audience: Audience,
    /// Only these types; empty: all.
    pub types: Vec<ChangeType>,
}

impl FeedRequest {
    /// A reader's request for a page of the feed: events after `after` (0 without one; never
    /// negative), `limit` of them ([`DEFAULT_FEED_PAGE`] without one; 1 to
    /// [`MAX_FEED_PAGE`]). Errors name the parameters as the reader calls them.
    pub fn page(
        (after_name, after): (&str, Option<i64>),
        (limit_name, limit): (&str, Option<i64>),
        audience: Audience,
        types: Vec<ChangeType>,
    ) -> Result<Self, ServiceError> {
        let mut errors = Vec::new();
        let after = after.unwrap_or(0);
        if after < 0 {
            errors.push(FieldError::new(after_name, "must not be negative"));
        }
        let limit = limit.map_or(Ok(DEFAULT_FEED_PAGE), u64::try_from);
        let limit = match limit {
            Ok(limit) if (1..=MAX_FEED_PAGE).contains(&limit) => limit,
            _ => {
                errors.push(FieldError::new(
                    limit_name,
                    format!("must be 1 to {MAX_FEED_PAGE}"),
                ));
                0
            }
        };
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        Ok(Self {
            after,
            limit,
            audience,
            types,
        })
    }

    /// Whether the request selects this event: the in-memory form of the query [`feed`] runs,
    /// for events heard of live.
    pub fn selects(&self, event: &change_event::Model) -> bool {
        self.audience.sees_event(event)
            && (self.types.is_empty() || self.types.iter().any(|t| t.as_str() == event.kind))
    }
}

/// One page of the change feed, as readers get it.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub events: Vec<change_event::Model>,
    /// More events follow the last one.
    pub has_more: bool,
    /// The `after` of the next page: the last event's `seq`, or the request's `after`.
    pub next_after: i64,
}

/// A page of the feed: at most `request.limit` events after `request.after`, and whether more
/// follow.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    request: &FeedRequest,
) -> Result<FeedPage, ServiceError> {
    // One more tells whether there are more.
    let mut events = feed_query(request)
        .limit(request.limit.saturating_add(1))
        .all(conn)
        .await?;
    let has_more = events.len() as u64 > request.limit;
    events.truncate(usize::try_from(request.limit).unwrap_or(usize::MAX));
    let next_after = events.last().map_or(request.after, |e| e.seq);
    Ok(FeedPage {
        events,
        has_more,
        next_after,
    })
}

/// Events after `request.after`, oldest first, at most `request.limit`.
pub async fn feed<C: ConnectionTrait>(
    conn: &C,
    request: &FeedRequest,
) -> Result<Vec<change_event::Model>, ServiceError> {
    Ok(feed_query(request).all(conn).await?)
}

/// The events a feed request selects, in order.
fn feed_query(request: &FeedRequest) -> sea_orm::Select<change_event::Entity> {
    let mut query = change_event::Entity::find()
        .filter(change_event::Column::Seq.gt(request.after))
        .order_by_asc(change_event::Column::Seq)
        .limit(request.limit);
    if !request.audience.sees_drafts() {
        query = query.filter(change_event::Column::Public.eq(true));
    }
    if !request.types.is_empty() && request.types.len() < ChangeType::ALL.len() {
        query = query.filter(
            change_event::Column::Kind.is_in(request.types.iter().map(|kind| kind.as_str())),
        );
    }
    query
}

/// What a webhook delivery needs of an event before its body: which one it is.
#[derive(Debug, Clone, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct EventHead {
    pub seq: i64,
    pub id: Uuid,
    pub kind: String,
}

/// Like [`feed`], without the payloads.
pub async fn feed_heads<C: ConnectionTrait>(
    conn: &C,
    request: &FeedRequest,
) -> Result<Vec<EventHead>, ServiceError> {
    Ok(feed_query(request)
        .select_only()
        .column(change_event::Column::Seq)
        .column(change_event::Column::Id)
        .column_as(change_event::Column::Kind, "kind")
        .into_model::<EventHead>()
        .all(conn)
        .await?)
}

/// One event by its `seq`.
pub async fn by_seq<C: ConnectionTrait>(
    conn: &C,
    seq: i64,
) -> Result<Option<change_event::Model>, ServiceError> {
    Ok(change_event::Entity::find_by_id(seq).one(conn).await?)
}

/// The events of these `seq`s that are still stored, in `seq` order.
pub async fn by_seqs<C: ConnectionTrait>(
    conn: &C,
    seqs: &[i64],
) -> Result<Vec<change_event::Model>, ServiceError> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(change_event::Entity::find()
        .filter(change_event::Column::Seq.is_in(seqs.iter().copied()))
        .order_by_asc(change_event::Column::Seq)
        .all(conn)
        .await?)
}

/// The `seq` of the last committed event; 0 when there is none.
pub async fn last_seq<C: ConnectionTrait>(conn: &C) -> Result<i64, ServiceError> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COALESCE(MAX(seq), 0) FROM change_events",
        ))
        .await?
        .ok_or_else(|| ServiceError::Internal("MAX(seq) returned no row".into()))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// An event as it leaves Lectern (change feed, subscriptions, webhooks): its columns, and the
/// talk's state with the abstract and embed markup sanitized as everywhere they are served.
pub fn envelope(event: &change_event::Model) -> serde_json::Value {
    json!({
        "id": event.id,
        "seq": event.seq,
        "type": event.kind,
        "occurred_at": event.occurred_at,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "version": event.version,
        "actor": event.actor,
        "data": served_state(&event.payload),
    })
}

/// A stored state with its HTML made safe to serve: `talk.body` and each `embeds[].html`.
pub fn served_state(payload: &serde_json::Value) -> serde_json::Value {
    let mut state = payload.clone();
    if let Some(body) = state.pointer_mut("/talk/body")
        && let Some(html) = body.as_str()
    {
        *body = serde_json::Value::String(crate::html::sanitize(html));
    }
    if let Some(embeds) = state.get_mut("embeds").and_then(|e| e.as_array_mut()) {
        for embed in embeds {
            if let Some(markup) = embed.get_mut("html")
                && let Some(html) = markup.as_str()
            {
                *markup = serde_json::Value::String(crate::html::sanitize_embed(html));
            }
        }
    }
    state
}

/// What [`prune`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    pub deleted: u64,
    /// Old events kept because a webhook or a relay to a log has not been given them yet.
    pub kept_for_webhooks: u64,
}

/// Deletes the events that occurred before `before`, except those a webhook endpoint (of any
/// state: a failing or paused one may still be replayed or resumed) has not been given yet.
pub async fn prune(
    db: &sea_orm::DatabaseConnection,
    before: chrono::DateTime<Utc>,
) -> Result<PruneReport, ServiceError> {
    let txn = crate::db::begin_write(db).await?;
    let backend = txn.get_database_backend();
    let floor = txn
        .query_one_raw(Statement::from_string(
            backend,
            // Neither a webhook nor a relay to a log loses an event it was not given yet.
            "SELECT MIN(s) FROM (SELECT delivered_seq AS s FROM webhooks \
             UNION ALL SELECT seq AS s FROM relay_positions) floors",
        ))
        .await?
        .and_then(|row| row.try_get_by_index::<Option<i64>>(0).ok().flatten())
        .unwrap_or(i64::MAX);
    let old = change_event::Column::OccurredAt.lt(before);
    let deleted = change_event::Entity::delete_many()
        .filter(old.clone())
        .filter(change_event::Column::Seq.lte(floor))
        .exec(&txn)
        .await?
        .rows_affected;
    let kept_for_webhooks = change_event::Entity::find().filter(old).count(&txn).await?;
    txn.commit().await?;
    Ok(PruneReport {
        deleted,
        kept_for_webhooks,
    })
}
