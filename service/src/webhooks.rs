//! Webhook endpoints: registering them, and the delivery state the dispatcher keeps in the
//! database, so that deliveries survive a restart and several server processes never deliver
//! one event to one endpoint at the same time.
//!
//! Each endpoint has a cursor (`delivered_seq`) and receives events strictly in `seq` order:
//! the event after the cursor is retried until it is delivered or its attempts run out, and
//! nothing after it is sent meanwhile. A process *claims* an endpoint with a lease (on
//! PostgreSQL through `SELECT … FOR UPDATE SKIP LOCKED`; SQLite serializes writers), posts a
//! batch of events, then *settles*: it records every attempt and moves the cursor, in one
//! transaction, and only while the lease is still its own. A process that dies mid-batch leaves
//! a lease that expires, and the batch is delivered again: at least once, never lost.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::webhook::{self, State};
use entity::webhook_attempt;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::error::{FieldError, ServiceError};
use crate::events::{self, ChangeType};

/// The shortest secret accepted.
pub const MIN_SECRET_CHARS: usize = 16;
/// The most attempt-log rows one page holds.
pub const MAX_ATTEMPT_PAGE: u64 = 500;

/// When to give up on an event and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts at one event before the endpoint is marked failing.
    pub max_attempts: u32,
    /// The wait after the first failure; each further failure doubles it.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 12 attempts; waits of 1, 2, 4 … minutes up to 8 hours: about a day from the first
    /// attempt to the last.
    fn default() -> Self {
        Self {
            max_attempts: 12,
            base: Duration::from_secs(60),
            cap: Duration::from_secs(8 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failed attempt (1 for the first), spread by `jitter`
    /// (0 to 1) over ±25% so that endpoints failing together do not retry together.
    pub fn backoff(&self, failures: u32, jitter: f64) -> Duration {
        let doubling = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
        let wait = self.base.saturating_mul(doubling).min(self.cap);
        wait.mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A new endpoint.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub url: String,
    /// Patterns: `*` for every type, `talk.*` or `asset.*` for a family, or a type such as
    /// `talk.published`.
    pub events: Vec<String>,
    /// Generated when absent.
    pub secret: Option<String>,
    pub description: Option<String>,
}

/// A change to an endpoint, as a merge patch: `None` stays, `Some(None)` clears, which only
/// `description` may be; clearing another field is refused.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<Option<String>>,
    pub events: Option<Option<Vec<String>>>,
    pub secret: Option<Option<String>>,
    pub description: Option<Option<String>>,
    /// Pause (true) or resume (false) delivery.
    pub paused: Option<Option<bool>>,
}

/// The new value of a field that may be changed but not cleared.
fn required<T>(name: &str, value: Option<Option<T>>, errors: &mut Vec<FieldError>) -> Option<T> {
    match value {
        Some(None) => {
            errors.push(FieldError::new(name, "cannot be cleared"));
            None
        }
        Some(value) => value,
        None => None,
    }
}

/// A new random secret: `whsec_` and 32 random bytes in hex.
pub fn generate_secret() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Internal(format!("no randomness for a secret: {e}")))?;
    Ok(format!("whsec_{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_url(url: &str, errors: &mut Vec<FieldError>) {
    if url.trim() != url {
        errors.push(FieldError::new(
            "url",
            "must not begin or end with white space",
        ));
        return;
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            if url.chars().count() > 2048 {
                errors.push(FieldError::new("url", "at most 2048 characters"));
            }
            if parsed.password().is_some() {
                errors.push(FieldError::new(
                    "url",
                    "must not hold a password; the signature authenticates deliveries",
                ));
            }
        }
        _ => errors.push(FieldError::new("url", "must be an http:// or https:// URL")),
    }
}

fn check_patterns(patterns: &[String], errors: &mut Vec<FieldError>) {
    if patterns.is_empty() {
        errors.push(FieldError::new(
            "events",
            "name at least one event type, or talk.* for all",
        ));
    }
    for (i, pattern) in patterns.iter().enumerate() {
        if !matches!(pattern.as_str(), "*" | "talk.*" | "asset.*")
            && ChangeType::parse(pattern).is_none()
        {
            errors.push(FieldError::new(
                format!("events[{i}]"),
                format!(
                    "`{pattern}` is not an event type: use talk.*, asset.*, or one of {}",
                    ChangeType::names()
                ),
            ));
        }
    }
}

fn check_secret(secret: &str, errors: &mut Vec<FieldError>) {
    let chars = secret.chars().count();
    if chars < MIN_SECRET_CHARS {
        errors.push(FieldError::new(
            "secret",
            format!("at least {MIN_SECRET_CHARS} characters"),
        ));
    } else if chars > 200 {
        errors.push(FieldError::new("secret", "at most 200 characters"));
    }
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) {
    if description.chars().count() > 500 {
        errors.push(FieldError::new("description", "at most 500 characters"));
    }
}

/// The types an endpoint's patterns select.
pub fn selected_types(patterns: &serde_json::Value) -> Vec<ChangeType> {
    let patterns: Vec<&str> = patterns
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    ChangeType::ALL
        .into_iter()
        .filter(|kind| {
            let name = kind.as_str();
            patterns.iter().any(|p| {
                *p == "*"
                    || *p == name
                    || p.strip_suffix('*')
                        .is_some_and(|prefix| prefix.ends_with('.') && name.starts_with(prefix))
            })
        })
        .collect()
}

/// Registers an endpoint. It receives the events committed after it was registered; an admin
/// can [`replay`] earlier ones.
pub async fn create(
    db: &DatabaseConnection,
    new: NewWebhook,
    actor: &str,
) -> Result<webhook::Model, ServiceError> {
    let mut errors = Vec::new();
    check_url(&new.url, &mut errors);
    check_patterns(&new.events, &mut errors);
    if let Some(secret) = &new.secret {
        check_secret(secret, &mut errors);
    }
    if let Some(description) = &new.description {
        check_description(description, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let secret = match new.secret {
        Some(secret) => secret,
        None => generate_secret()?,
    };
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let delivered_seq = events::last_seq(&txn).await?;
    let model = webhook::ActiveModel {
        id: Set(Uuid::now_v7()),
        url: Set(new.url),
        events: Set(serde_json::json!(new.events)),
        secret: Set(secret),
        description: Set(new.description.filter(|d| !d.trim().is_empty())),
        state: Set(State::Active),
        delivered_seq: Set(delivered_seq),
        attempt: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        created_by: Set(actor.to_owned()),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Every endpoint, oldest first.
pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<webhook::Model>, ServiceError> {
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::CreatedAt)
        .order_by_asc(webhook::Column::Id)
        .all(conn)
        .await?)
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<webhook::Model, ServiceError> {
    webhook::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// Changes an endpoint. Resuming a paused one delivers what it missed meanwhile.
pub async fn update(
    db: &DatabaseConnection,
    id: Uuid,
    patch: WebhookPatch,
) -> Result<webhook::Model, ServiceError> {
    let mut errors = Vec::new();
    let url = required("url", patch.url, &mut errors);
    let events = required("events", patch.events, &mut errors);
    let secret = required("secret", patch.secret, &mut errors);
    let paused = required("paused", patch.paused, &mut errors);
    if let Some(url) = &url {
        check_url(url, &mut errors);
    }
    if let Some(events) = &events {
        check_patterns(events, &mut errors);
    }
    if let Some(secret) = &secret {
        check_secret(secret, &mut errors);
    }
    if let Some(Some(description)) = &patch.description {
        check_description(description, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let current = get(&txn, id).await?;
    let mut model: webhook::ActiveModel = current.clone().into();
    if let Some(url) = url {
        model.url = Set(url);
    }
    if let Some(events) = events {
        model.events = Set(serde_json::json!(events));
    }
    if let Some(secret) = secret {
        model.secret = Set(secret);
    }
    if let Some(description) = patch.description {
        model.description = Set(description.filter(|d| !d.trim().is_empty()));
    }
    match (paused, current.state) {
        (Some(true), State::Active | State::Failing) => {
            model.state = Set(State::Paused);
            model.lease_owner = Set(None);
            model.lease_until = Set(None);
        }
        (Some(false), State::Paused) => {
            model.state = Set(State::Active);
            model.attempt = Set(0);
            model.next_attempt_at = Set(Utc::now());
        }
        _ => {}
    }
    model.updated_at = Set(Utc::now());
    let model = model.update(&txn).await?;
    txn.commit().await?;
    Ok(model)
}

/// Removes an endpoint and its attempt log.
pub async fn delete(db: &DatabaseConnection, id: Uuid) -> Result<(), ServiceError> {
    let txn = crate::db::begin_write(db).await?;
    webhook_attempt::Entity::delete_many()
        .filter(webhook_attempt::Column::WebhookId.eq(id))
        .exec(&txn)
        .await?;
    let deleted = webhook::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(ServiceError::NotFound);
    }
    txn.commit().await?;
    Ok(())
}

/// Delivers again from the event `from_seq` on (in order, then on to new events), and makes
/// a failing or paused endpoint active. Events pruned already cannot be replayed; replay
/// starts at the oldest one kept.
pub async fn replay(
    db: &DatabaseConnection,
    id: Uuid,
    from_seq: i64,
) -> Result<webhook::Model, ServiceError> {
    if from_seq < 1 {
        return Err(ServiceError::Invalid(vec![FieldError::new(
            "from_seq",
            "must be 1 or more",
        )]));
    }
    let txn = crate::db::begin_write(db).await?;
    let current = get(&txn, id).await?;
    let mut model: webhook::ActiveModel = current.into();
    model.delivered_seq = Set(from_seq - 1);
    model.state = Set(State::Active);
    model.attempt = Set(0);
    model.next_attempt_at = Set(Utc::now());
    model.last_error = Set(None);
    // A batch in flight keeps its deliveries but may no longer move the cursor.
    model.lease_owner = Set(None);
    model.lease_until = Set(None);
    model.updated_at = Set(Utc::now());
    let model = model.update(&txn).await?;
    txn.commit().await?;
    Ok(model)
}

/// An endpoint's delivery attempts, newest first, before the attempt `before` (an id).
pub async fn attempts<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<webhook_attempt::Model>, ServiceError> {
    if limit > MAX_ATTEMPT_PAGE {
        return Err(ServiceError::LimitExceeded(format!(
            "at most {MAX_ATTEMPT_PAGE} attempts per page"
        )));
    }
    get(conn, id).await?;
    let mut query = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::WebhookId.eq(id))
        .order_by_desc(webhook_attempt::Column::Id)
        .limit(limit);
    if let Some(before) = before {
        query = query.filter(webhook_attempt::Column::Id.lt(before));
    }
    Ok(query.all(conn).await?)
}

/// The `max` endpoints that have waited longest among those active, due at `now`, not leased,
/// and behind the event `last`.
fn claimable(now: DateTime<Utc>, last: i64, max: u64) -> sea_orm::Select<webhook::Entity> {
    webhook::Entity::find()
        .filter(webhook::Column::State.eq(State::Active))
        .filter(webhook::Column::NextAttemptAt.lte(now))
        .filter(webhook::Column::DeliveredSeq.lt(last))
        .filter(
            Condition::any()
                .add(webhook::Column::LeaseUntil.is_null())
                .add(webhook::Column::LeaseUntil.lt(now)),
        )
        .order_by_asc(webhook::Column::NextAttemptAt)
        .limit(max)
}

/// An endpoint claimed for delivery, with the events to post to it, in order.
#[derive(Debug, Clone)]
pub struct Claim {
    pub webhook: webhook::Model,
    /// The events to post, without their bodies (read when first posted).
    pub events: Vec<events::EventHead>,
    /// Once every event of the claim is delivered, the cursor may move this far: events up to
    /// here that the endpoint did not select were skipped.
    pub scanned_to: i64,
}

/// Claims up to `max` endpoints, those that have waited longest among the ones that are
/// active, due, not leased by another process, and behind the last event, in one transaction;
/// none when there is nothing to do. The leases last `lease` and belong to `owner`.
pub async fn claim(
    db: &DatabaseConnection,
    owner: Uuid,
    lease: Duration,
    batch: u64,
    max: u64,
) -> Result<Vec<Claim>, ServiceError> {
    // Most calls find nothing to do: look without taking the write lock first.
    let now = Utc::now();
    let last = events::last_seq(db).await?;
    if max == 0 || claimable(now, last, 1).one(db).await?.is_none() {
        return Ok(Vec::new());
    }
    let txn = crate::db::begin_write(db).await?;
    let last = events::last_seq(&txn).await?;
    let mut query = claimable(now, last, max);
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let hooks = query.all(&txn).await?;
    if hooks.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    webhook::Entity::update_many()
        .col_expr(webhook::Column::LeaseOwner, Expr::value(owner))
        .col_expr(webhook::Column::LeaseUntil, Expr::value(lease_until))
        .filter(webhook::Column::Id.is_in(hooks.iter().map(|h| h.id)))
        .exec(&txn)
        .await?;
    let mut claims = Vec::with_capacity(hooks.len());
    for hook in hooks {
        let events = events::feed_heads(
            &txn,
            &events::FeedRequest {
                after: hook.delivered_seq,
                limit: batch,
                audience: crate::visibility::Audience::Staff,
                types: selected_types(&hook.events),
            },
        )
        .await?;
        let events: Vec<_> = events.into_iter().filter(|e| e.seq <= last).collect();
        let scanned_to = if (events.len() as u64) < batch {
            last
        } else {
            events.last().map_or(last, |e| e.seq)
        };
        claims.push(Claim {
            webhook: webhook::Model {
                lease_owner: Some(owner),
                lease_until: Some(lease_until),
                ..hook
            },
            events,
            scanned_to,
        });
    }
    txn.commit().await?;
    Ok(claims)
}

/// One attempt, as the dispatcher made it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub event_seq: i64,
    pub event_id: Uuid,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub duration: Duration,
    pub status_code: Option<u16>,
    /// None when delivered; why not, otherwise.
    pub error: Option<String>,
}

/// Where a claim left an endpoint.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every event up to `through` is delivered (or was skipped).
    Delivered { through: i64 },
    /// Events up to `through` are delivered; the next one failed its `failures`-th attempt
    /// and is tried again at `retry_at`.
    Retry {
        through: i64,
        failures: i32,
        retry_at: DateTime<Utc>,
        error: String,
    },
    /// Events up to `through` are delivered; the next one failed its last attempt.
    Failing {
        through: i64,
        failures: i32,
        error: String,
    },
}

/// What one claim came to: its attempts and where it left the endpoint.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub webhook_id: Uuid,
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
}

/// Records the attempts of finished claims and moves their endpoints' cursors, releasing the
/// leases, all in one transaction. An endpoint moves only if its lease is still `owner`'s and
/// it is still active; otherwise (an admin paused or replayed it, or another process took it
/// over after the lease ran out) only the attempts are recorded. Returns, per settlement,
/// whether it moved the endpoint.
pub async fn settle(
    db: &DatabaseConnection,
    owner: Uuid,
    settlements: &[Settlement],
) -> Result<Vec<bool>, ServiceError> {
    if settlements.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let mut moved = Vec::with_capacity(settlements.len());
    for settlement in settlements {
        moved.push(settle_one(&txn, owner, settlement, now).await?);
    }
    let rows: Vec<webhook_attempt::ActiveModel> = settlements
        .iter()
        .flat_map(|s| s.attempts.iter().map(move |a| (s.webhook_id, a)))
        .map(|(webhook_id, a)| webhook_attempt::ActiveModel {
            webhook_id: Set(webhook_id),
            event_seq: Set(a.event_seq),
            event_id: Set(a.event_id),
            attempt: Set(a.attempt),
            attempted_at: Set(a.attempted_at),
            duration_ms: Set(a.duration.as_millis().min(i32::MAX as u128) as i32),
            status_code: Set(a.status_code.map(i32::from)),
            outcome: Set(if a.error.is_none() {
                "delivered".to_owned()
            } else {
                "failed".to_owned()
            }),
            error: Set(a.error.clone()),
            ..Default::default()
        })
        .collect();
    // Bounded batches keep each statement under the databases' parameter limits.
    for chunk in rows.chunks(500) {
        webhook_attempt::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(moved)
}

async fn settle_one<C: ConnectionTrait>(
    txn: &C,
    owner: Uuid,
    settlement: &Settlement,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let release = |update: sea_orm::UpdateMany<webhook::Entity>| {
        update
            .col_expr(
                webhook::Column::LeaseOwner,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                webhook::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook::Column::Id.eq(settlement.webhook_id))
            .filter(webhook::Column::LeaseOwner.eq(owner))
    };
    let update = release(webhook::Entity::update_many());
    let update = match &settlement.outcome {
        Outcome::Delivered { through } => update
            .col_expr(webhook::Column::DeliveredSeq, Expr::value(*through))
            .col_expr(webhook::Column::Attempt, Expr::value(0))
            .col_expr(webhook::Column::NextAttemptAt, Expr::value(now)),
        Outcome::Retry {
            through,
            failures,
            retry_at,
            error,
        } => update
            .col_expr(webhook::Column::DeliveredSeq, Expr::value(*through))
            .col_expr(webhook::Column::Attempt, Expr::value(*failures))
            .col_expr(webhook::Column::NextAttemptAt, Expr::value(*retry_at))
            .col_expr(webhook::Column::LastError, Expr::value(error.clone())),
        Outcome::Failing {
            through,
            failures,
            error,
        } => update
            .col_expr(webhook::Column::DeliveredSeq, Expr::value(*through))
            .col_expr(webhook::Column::Attempt, Expr::value(*failures))
            .col_expr(webhook::Column::State, Expr::value(State::Failing.as_str()))
            .col_expr(webhook::Column::LastError, Expr::value(error.clone())),
    };
    let moved = update
        .filter(webhook::Column::State.eq(State::Active))
        .exec(txn)
        .await?
        .rows_affected
        == 1;
    if !moved {
        // Drop the lease if it is still ours, and leave the rest as it is.
        release(webhook::Entity::update_many()).exec(txn).await?;
    }
    Ok(moved)
}

/// When the dispatcher next has something to do without being told of a new event: the
/// earliest retry of an active endpoint with events to deliver, or the end of a lease.
pub async fn next_due<C: ConnectionTrait>(conn: &C) -> Result<Option<DateTime<Utc>>, ServiceError> {
    let last = events::last_seq(conn).await?;
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::State.eq(State::Active))
        .filter(webhook::Column::DeliveredSeq.lt(last))
        .all(conn)
        .await?;
    Ok(hooks
        .iter()
        .map(|h| match h.lease_until {
            Some(until) if until > h.next_attempt_at => until,
            _ => h.next_attempt_at,
        })
        .min())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_a_quarter_each_way() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, 0.5), Duration::from_secs(60));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_secs(120));
        assert_eq!(policy.backoff(1, 0.0), Duration::from_secs(45));
        assert_eq!(policy.backoff(1, 1.0), Duration::from_secs(75));
        assert_eq!(policy.backoff(40, 0.5), Duration::from_secs(8 * 3600));
        let total: Duration = (1..policy.max_attempts)
            .map(|n| policy.backoff(n, 0.5))
            .sum();
        // "About a day" from the first attempt to the last.
        assert!(
            (20 * 3600..=28 * 3600).contains(&total.as_secs()),
            "{total:?}"
        );
    }

    #[test]
    fn patterns_select_types() {
        let all = serde_json::json!(["talk.*"]);
        assert_eq!(selected_types(&all).len(), 5);
        let assets = serde_json::json!(["asset.*"]);
        assert_eq!(
            selected_types(&assets),
            vec![
                ChangeType::AssetCreated,
                ChangeType::AssetUpdated,
                ChangeType::AssetDeleted
            ]
        );
        assert_eq!(selected_types(&serde_json::json!(["*"])).len(), 8);
        let some = serde_json::json!(["talk.published", "talk.deleted"]);
        assert_eq!(
            selected_types(&some),
            vec![ChangeType::Deleted, ChangeType::Published]
        );
        let mut errors = Vec::new();
        check_patterns(&["talk.renamed".into()], &mut errors);
        assert_eq!(errors[0].path, "events[0]");
    }
}

/// How far the endpoints are behind the outbox, for monitoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// The newest event's `seq` (0 when there is none).
    pub last_seq: i64,
    /// Events after the cursor of the furthest-behind active endpoint (0 without one).
    pub behind: i64,
    /// Endpoints by state, every state listed.
    pub endpoints: Vec<(&'static str, i64)>,
}

/// Reads the [`Backlog`]: two small queries, cheap enough for every metrics scrape.
pub async fn backlog<C: ConnectionTrait>(conn: &C) -> Result<Backlog, ServiceError> {
    use sea_orm::ExprTrait;
    let last_seq = events::last_seq(conn).await?;
    let rows: Vec<(State, i64, Option<i64>)> = webhook::Entity::find()
        .select_only()
        .column(webhook::Column::State)
        .column_as(Expr::col(webhook::Column::Id).count(), "endpoints")
        .column_as(Expr::col(webhook::Column::DeliveredSeq).min(), "floor")
        .group_by(webhook::Column::State)
        .into_tuple()
        .all(conn)
        .await?;
    let floor = rows
        .iter()
        .find(|(state, _, _)| *state == State::Active)
        .and_then(|(_, _, floor)| *floor);
    let endpoints = [State::Active, State::Failing, State::Paused]
        .into_iter()
        .map(|state| {
            let count = rows
                .iter()
                .find(|(s, _, _)| *s == state)
                .map_or(0, |(_, count, _)| *count);
            (state.as_str(), count)
        })
        .collect();
    Ok(Backlog {
        last_seq,
        behind: floor.map_or(0, |floor| Ord::max(last_seq - floor, 0)),
        endpoints,
    })
}
