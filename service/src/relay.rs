//! The outbox relayed to a log: every change event, in `seq` order, published to a NATS
//! JetStream stream, so that consumers Lectern does not know of can read, and replay, every
//! change with its state.
//!
//! Exactly once into the stream, in order: each event is published with its id as
//! `Nats-Msg-Id` (JetStream drops a message whose id it saw within the stream's duplicate
//! window), the relay's position (`relay_positions.seq`) advances only after JetStream
//! acknowledged every event up to it, and only the process holding the relay's lease publishes.
//! A relay that stops anywhere (killed, NATS gone, the database gone) starts again after the
//! last acknowledged event; what it publishes again is dropped as a duplicate. Events are
//! numbered in commit order (see `crate::content::bump`), so reading after the position never
//! skips one committed later.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use chrono::Utc;
use entity::{change_event, relay_position};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::ServiceError;

/// Where and how the outbox is relayed.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The NATS server: `nats://127.0.0.1:4222`.
    pub url: String,
    /// The JetStream stream, created when missing; also the relay's name in the database.
    pub stream: String,
    /// Subjects are `<prefix>.<aggregate_type>.<type>`: `lectern.talk.updated`.
    pub subject_prefix: String,
    /// How long the stream keeps an event.
    pub max_age: Duration,
    pub replicas: usize,
    /// How long JetStream remembers an event id to drop its duplicates.
    pub duplicate_window: Duration,
    /// Events read and published at a time.
    pub batch: u64,
    /// How long a relay's lease lasts unless renewed: another process takes over after it.
    pub lease: Duration,
    /// How often the outbox is read when the relay has caught up: the longest a new event
    /// waits before it is published.
    pub poll: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            stream: "LECTERN".into(),
            subject_prefix: "lectern".into(),
            max_age: Duration::from_secs(30 * 24 * 3600),
            replicas: 1,
            duplicate_window: Duration::from_secs(10 * 60),
            batch: 1000,
            lease: Duration::from_secs(10),
            poll: Duration::from_millis(20),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot reach NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<sea_orm::DbErr> for RelayError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Service(error.into())
    }
}

fn jetstream_error(error: impl std::fmt::Display) -> RelayError {
    RelayError::JetStream(error.to_string())
}

/// The subject of an event: `<prefix>.<aggregate_type>.<type without its family>`.
pub fn subject(prefix: &str, aggregate_type: &str, kind: &str) -> String {
    let short = kind
        .strip_prefix(aggregate_type)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(kind);
    format!("{prefix}.{aggregate_type}.{short}")
}

/// An event as the relay reads it: its state as the stored JSON text, never parsed into a
/// value and written out again.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Pending {
    seq: i64,
    id: uuid::Uuid,
    occurred_at: chrono::DateTime<Utc>,
    aggregate_type: String,
    aggregate_id: uuid::Uuid,
    kind: String,
    version: i32,
    actor: String,
    payload: String,
}

/// Up to `limit` events after `after`, in `seq` order.
async fn pending(
    db: &DatabaseConnection,
    after: i64,
    limit: u64,
) -> Result<Vec<Pending>, RelayError> {
    let backend = db.get_database_backend();
    let (payload, after_p, limit_p) = match backend {
        sea_orm::DbBackend::Postgres => ("payload::text", "$1", "$2"),
        _ => ("payload", "?", "?"),
    };
    let sql = format!(
        r#"SELECT seq, id, occurred_at, aggregate_type, aggregate_id, "type" AS kind, version, actor,
            {payload} AS payload FROM change_events WHERE seq > {after_p} ORDER BY seq LIMIT {limit_p}"#
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(
        Pending::find_by_statement(sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [after.into(), limit.into()],
        ))
        .all(db)
        .await?,
    )
}

/// The message for an event: the event as the change feed gives it, except that `data` is the
/// state as stored (`talk.body` and `embeds[].html` as written, not sanitized), so that a
/// consumer can rebuild what was written from the log alone.
fn message(event: &Pending) -> Result<Vec<u8>, serde_json::Error> {
    #[derive(serde::Serialize)]
    struct Message<'a> {
        id: uuid::Uuid,
        seq: i64,
        #[serde(rename = "type")]
        kind: &'a str,
        occurred_at: chrono::DateTime<Utc>,
        aggregate_type: &'a str,
        aggregate_id: uuid::Uuid,
        version: i32,
        actor: &'a str,
        data: &'a serde_json::value::RawValue,
    }
    let data: &serde_json::value::RawValue = serde_json::from_str(&event.payload)?;
    serde_json::to_vec(&Message {
        id: event.id,
        seq: event.seq,
        kind: &event.kind,
        occurred_at: event.occurred_at,
        aggregate_type: &event.aggregate_type,
        aggregate_id: event.aggregate_id,
        version: event.version,
        actor: &event.actor,
        data,
    })
}

/// How far a relay is behind the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    /// The relay's name (its stream).
    pub name: String,
    /// Events committed and not yet acknowledged by the stream.
    pub events: u64,
    /// How long ago the oldest of them was committed (0 when there is none).
    pub seconds: f64,
}

/// The lag of every relay that has a position.
pub async fn lags<C: ConnectionTrait>(conn: &C) -> Result<Vec<Lag>, RelayError> {
    let relays = relay_position::Entity::find().all(conn).await?;
    let mut lags = Vec::with_capacity(relays.len());
    for relay in relays {
        let behind = change_event::Entity::find().filter(change_event::Column::Seq.gt(relay.seq));
        let events = sea_orm::PaginatorTrait::count(behind.clone(), conn).await?;
        let oldest: Option<chrono::DateTime<Utc>> = behind
            .select_only()
            .column(change_event::Column::OccurredAt)
            .order_by_asc(change_event::Column::Seq)
            .limit(1)
            .into_tuple()
            .one(conn)
            .await?;
        lags.push(Lag {
            name: relay.name,
            events,
            seconds: oldest.map_or(0.0, |at| {
                Ord::max((Utc::now() - at).num_milliseconds(), 0) as f64 / 1000.0
            }),
        });
    }
    Ok(lags)
}

/// One relay process: its connection, and the name it holds the lease under.
pub struct Relay {
    db: DatabaseConnection,
    settings: RelaySettings,
    holder: String,
    jetstream: jetstream::Context,
    progress: std::sync::Mutex<Progress>,
}

/// How often, at most, a relay that keeps publishing writes its position down: the position
/// written is never past what JetStream acknowledged, and a relay that starts again from an
/// older one publishes duplicates that JetStream drops.
const SAVE_EVERY: Duration = Duration::from_millis(200);

/// What this process had acknowledged, and what of it is written down.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// The last event JetStream acknowledged to this process; none until it has published
    /// (the position in the database is where it starts).
    acked: Option<i64>,
    saved: i64,
    saved_at: Option<std::time::Instant>,
}

impl Relay {
    /// Connects to NATS, creates the stream when missing, and records the relay's position
    /// (the start of the outbox) when it has none.
    pub async fn connect(
        db: DatabaseConnection,
        settings: RelaySettings,
    ) -> Result<Self, RelayError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(settings.url.as_str())
            .await
            .map_err(|e| RelayError::Connect {
                url: settings.url.clone(),
                message: e.to_string(),
            })?;
        let jetstream = jetstream::new(client);
        let created = jetstream
            .get_or_create_stream(stream::Config {
                name: settings.stream.clone(),
                subjects: vec![format!("{}.>", settings.subject_prefix)],
                max_age: settings.max_age,
                num_replicas: settings.replicas,
                duplicate_window: settings.duplicate_window,
                ..Default::default()
            })
            .await;
        if let Err(error) = created {
            // Another relay starting at the same moment may have created it between this
            // process's look and its create, which then fails.
            jetstream
                .get_stream(&settings.stream)
                .await
                .map_err(|_| jetstream_error(error))?;
        }
        relay_position::Entity::insert(relay_position::ActiveModel {
            name: sea_orm::Set(settings.stream.clone()),
            seq: sea_orm::Set(0),
            holder: sea_orm::Set(None),
            lease_until: sea_orm::Set(None),
            updated_at: sea_orm::Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(relay_position::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&db)
        .await?;
        Ok(Self {
            db,
            settings,
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            jetstream,
            progress: std::sync::Mutex::default(),
        })
    }

    /// The name this process holds the lease under.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes the lease when nobody holds it or it ran out, or renews it; whether this process
    /// holds it now.
    pub async fn claim(&self) -> Result<bool, RelayError> {
        let now = Utc::now();
        let until = now
            + chrono::Duration::from_std(self.settings.lease)
                .map_err(|e| RelayError::JetStream(e.to_string()))?;
        let claimed = relay_position::Entity::update_many()
            .col_expr(
                relay_position::Column::Holder,
                Expr::value(self.holder.clone()),
            )
            .col_expr(relay_position::Column::LeaseUntil, Expr::value(until))
            .col_expr(relay_position::Column::UpdatedAt, Expr::value(now))
            .filter(relay_position::Column::Name.eq(self.settings.stream.as_str()))
            .filter(
                relay_position::Column::Holder
                    .is_null()
                    .or(relay_position::Column::Holder.eq(self.holder.as_str()))
                    .or(relay_position::Column::LeaseUntil.lt(now)),
            )
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(claimed == 1)
    }

    /// The last event the stream acknowledged.
    pub async fn position<C: ConnectionTrait>(conn: &C, name: &str) -> Result<i64, RelayError> {
        Ok(relay_position::Entity::find_by_id(name.to_owned())
            .one(conn)
            .await?
            .map_or(0, |p| p.seq))
    }

    fn progress(&self) -> Progress {
        self.progress.lock().map(|p| *p).unwrap_or_default()
    }

    fn set_progress(&self, progress: Progress) {
        if let Ok(mut p) = self.progress.lock() {
            *p = progress;
        }
    }

    /// Publishes the events after the last one acknowledged, up to a batch of them, and waits
    /// for JetStream to acknowledge each; writes the position down when it last did so
    /// [`SAVE_EVERY`] ago or more, and when it has caught up, if this process still holds the
    /// lease. How many events it published (0: caught up).
    pub async fn relay_batch(&self) -> Result<usize, RelayError> {
        let progress = self.progress();
        let after = match progress.acked {
            Some(acked) => acked,
            None => Self::position(&self.db, &self.settings.stream).await?,
        };
        let events = pending(&self.db, after, self.settings.batch).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            if progress.acked.is_some_and(|acked| acked > progress.saved) {
                self.save(after).await?;
            }
            return Ok(0);
        };
        let mut acks = Vec::with_capacity(events.len());
        for event in &events {
            let payload = message(event).map_err(|e| RelayError::JetStream(e.to_string()))?;
            let id = event.id.to_string();
            let publish = PublishMessage::build()
                .payload(payload.into())
                .message_id(&id)
                .header("Lectern-Event-Id", id.as_str())
                .header("Lectern-Seq", event.seq.to_string().as_str())
                .header(
                    "Lectern-Aggregate-Id",
                    event.aggregate_id.to_string().as_str(),
                )
                .header("Lectern-Event-Type", event.kind.as_str());
            let ack = self
                .jetstream
                .send_publish(
                    subject(
                        &self.settings.subject_prefix,
                        &event.aggregate_type,
                        &event.kind,
                    ),
                    publish,
                )
                .await
                .map_err(jetstream_error)?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(jetstream_error)?;
        }
        self.set_progress(Progress {
            acked: Some(last),
            ..progress
        });
        if progress
            .saved_at
            .is_none_or(|at| at.elapsed() >= SAVE_EVERY)
        {
            self.save(last).await?;
        }
        Ok(events.len())
    }

    /// Writes the position down, if this process still holds the lease; if it does not, it
    /// forgets what it had acknowledged and starts again from the position in the database.
    async fn save(&self, acked: i64) -> Result<(), RelayError> {
        let advanced = relay_position::Entity::update_many()
            .col_expr(relay_position::Column::Seq, Expr::value(acked))
            .col_expr(relay_position::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(relay_position::Column::Name.eq(self.settings.stream.as_str()))
            .filter(relay_position::Column::Holder.eq(self.holder.as_str()))
            .filter(relay_position::Column::Seq.lt(acked))
            .exec(&self.db)
            .await?
            .rows_affected;
        if advanced == 0 {
            let held = relay_position::Entity::find_by_id(self.settings.stream.clone())
                .one(&self.db)
                .await?
                .is_some_and(|p| p.holder.as_deref() == Some(self.holder.as_str()));
            if !held {
                tracing::warn!(
                    stream = %self.settings.stream,
                    "the relay lost its lease while publishing; another process goes on from the position it holds"
                );
                self.set_progress(Progress::default());
                return Ok(());
            }
        }
        self.set_progress(Progress {
            acked: Some(acked),
            saved: acked,
            saved_at: Some(std::time::Instant::now()),
        });
        Ok(())
    }

    /// Relays until `stop` resolves: takes the lease (waiting while another process holds
    /// it), publishes in batches, and backs off (up to 30 s) while NATS or the database fails.
    /// The lease is renewed once a third of it has passed, not at every step, so that a relay
    /// with nothing to publish only reads.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut backoff = Duration::from_millis(200);
        let mut renew_at: Option<std::time::Instant> = None;
        loop {
            let step = async {
                if renew_at.is_none_or(|at| std::time::Instant::now() >= at) {
                    let asked = std::time::Instant::now();
                    if !self.claim().await? {
                        renew_at = None;
                        return Ok::<_, RelayError>(false);
                    }
                    renew_at = Some(asked + self.settings.lease / 3);
                }
                Ok(self.relay_batch().await? > 0)
            };
            let wait = match step.await {
                Ok(true) => {
                    backoff = Duration::from_millis(200);
                    Duration::ZERO
                }
                Ok(false) => {
                    backoff = Duration::from_millis(200);
                    self.settings.poll
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "relay failed");
                    renew_at = None;
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    wait
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
