//! Following the outbox in one place per process. A tail task reads each new event once,
//! in `seq` order, and hands it to the change feed's long polls, to GraphQL subscriptions and
//! to the webhook dispatcher.
//!
//! The tail learns of new events three ways: a write made by this process pokes it; on
//! PostgreSQL every committed write notifies `lectern_changes`, which reaches every process
//! sharing the database; and it reads the table every [`poll`](ChangeHub::new) interval in any
//! case, which is how writes of other processes on SQLite (an import run) arrive.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use entity::change_event;
use futures_util::Stream;
use service::ServiceError;
use service::events::{self, ChangeType, FeedRequest};
use service::sea_orm::{DatabaseConnection, DbBackend};
use service::visibility::Audience;
use tokio::sync::{Notify, broadcast, watch};

/// Events one read of the tail takes at most.
const TAIL_BATCH: u64 = 500;
/// Live events a slow subscriber may fall behind by before it reads them from the database.
const LIVE_BUFFER: usize = 4096;

/// An event, with its served form computed once however many readers it has.
#[derive(Debug)]
pub struct LiveEvent {
    pub model: change_event::Model,
    served: OnceLock<serde_json::Value>,
    graphql: OnceLock<async_graphql::Value>,
    /// The event as subscriptions resolved it, by selection (see `crate::graphql::live`).
    resolved: Mutex<Vec<(Arc<str>, Arc<Resolved>)>>,
}

/// The event as one selection resolves it, and that value as JSON text, written once for
/// every subscriber whose messages carry it.
#[derive(Debug)]
pub struct Resolved {
    pub value: async_graphql::Value,
    pub text: Arc<str>,
}

impl LiveEvent {
    pub fn new(model: change_event::Model) -> Self {
        Self {
            model,
            served: OnceLock::new(),
            graphql: OnceLock::new(),
            resolved: Mutex::new(Vec::new()),
        }
    }

    /// The talk's state with its HTML sanitized, as every way out serves it.
    pub fn served_state(&self) -> &serde_json::Value {
        self.served
            .get_or_init(|| events::served_state(&self.model.payload))
    }

    /// The served state as a GraphQL value, converted once: a hundred subscribers then each
    /// copy it rather than convert it again.
    pub fn served_value(&self) -> &async_graphql::Value {
        self.graphql.get_or_init(|| {
            // Every JSON value is a GraphQL value; this cannot fail.
            async_graphql::Value::from_json(self.served_state().clone())
                .unwrap_or(async_graphql::Value::Null)
        })
    }

    /// What a subscription with this selection resolved the event to, if one did.
    pub fn resolved(&self, selection: &Arc<str>) -> Option<Arc<Resolved>> {
        let resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        resolved
            .iter()
            .find(|(key, _)| Arc::ptr_eq(key, selection) || key == selection)
            .map(|(_, resolved)| Arc::clone(resolved))
    }

    /// Keeps what a subscription resolved the event to, with its JSON text, for the others with
    /// the same selection; up to `most` selections. Returns what is kept for the selection
    /// (what another subscription kept first, if one did), or the value back when nothing is.
    pub fn keep_resolved(
        &self,
        selection: &Arc<str>,
        value: async_graphql::Value,
        most: usize,
    ) -> Result<Arc<Resolved>, async_graphql::Value> {
        let mut resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, kept)) = resolved.iter().find(|(key, _)| key == selection) {
            return Ok(Arc::clone(kept));
        }
        if resolved.len() >= most {
            return Err(value);
        }
        // A GraphQL value always has a JSON form; were it refused, nothing would be kept.
        let Ok(text) = serde_json::to_string(&value) else {
            return Err(value);
        };
        let kept = Arc::new(Resolved {
            value,
            text: Arc::from(text),
        });
        resolved.push((Arc::clone(selection), Arc::clone(&kept)));
        Ok(kept)
    }
}

/// The hub of one process.
pub struct ChangeHub {
    db: DatabaseConnection,
    latest: watch::Sender<i64>,
    live: broadcast::Sender<Arc<LiveEvent>>,
    poke: Notify,
    webhooks: Notify,
    poll: Duration,
}

impl ChangeHub {
    /// A hub reading the outbox of `db`; it follows only once [`ChangeHub::run`] runs. It
    /// reads the table every `poll` even when told of nothing.
    pub fn new(db: DatabaseConnection, poll: Duration) -> Arc<Self> {
        // -1 until the tail's first read: nothing is known yet.
        let (latest, _) = watch::channel(-1);
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        Arc::new(Self {
            db,
            latest,
            live,
            poke: Notify::new(),
            webhooks: Notify::new(),
            poll,
        })
    }

    /// Says that this process committed a write: the tail reads at once.
    pub fn poke(&self) {
        self.poke.notify_one();
    }

    /// Says that an admin changed a webhook endpoint: this process's dispatcher looks again.
    pub fn webhooks_changed(&self) {
        self.webhooks.notify_one();
    }

    /// Resolves when [`ChangeHub::webhooks_changed`] is called.
    pub async fn webhooks_notified(&self) {
        self.webhooks.notified().await;
    }

    /// The `seq` of the last event the tail has handed on; -1 before its first read.
    pub fn latest(&self) -> i64 {
        *self.latest.borrow()
    }

    /// Follows the `seq` the tail has reached.
    pub fn watch(&self) -> watch::Receiver<i64> {
        self.latest.subscribe()
    }

    /// Waits until the tail has passed `seq`, or `timeout`; true when it has.
    pub async fn wait_beyond(&self, seq: i64, timeout: Duration) -> bool {
        let mut latest = self.latest.subscribe();
        tokio::time::timeout(timeout, latest.wait_for(|&l| l > seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The tail: runs until the process stops.
    pub async fn run(self: Arc<Self>) {
        let mut after = loop {
            match events::last_seq(&self.db).await {
                Ok(seq) => break seq,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbox; retrying");
                    tokio::time::sleep(self.poll.max(Duration::from_millis(500))).await;
                }
            }
        };
        self.latest.send_replace(after);
        let mut listener = self.listen().await;
        // While the database is unavailable, read less and less often (up to every 5 s), and
        // say so once rather than at every attempt.
        let mut failures: u32 = 0;
        loop {
            match self.read_after(after).await {
                Ok(seq) => {
                    after = seq;
                    if failures > 0 {
                        tracing::info!(failures, "the outbox can be read again");
                        failures = 0;
                    }
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "cannot read the outbox; retrying");
                    }
                    failures = failures.saturating_add(1);
                    let wait = self
                        .poll
                        .saturating_mul(2u32.saturating_pow(failures.min(8)))
                        .min(Duration::from_secs(5));
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => {
                        if let Err(e) = l.recv().await {
                            tracing::warn!(error = %e, "lost the database notifications");
                            tokio::time::sleep(self.poll).await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.poke.notified() => {}
                () = notified => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Hands on every event after `after`; returns the last `seq` read.
    async fn read_after(&self, mut after: i64) -> Result<i64, ServiceError> {
        loop {
            let batch = events::feed(
                &self.db,
                &FeedRequest {
                    after,
                    limit: TAIL_BATCH,
                    audience: Audience::Staff,
                    types: Vec::new(),
                },
            )
            .await?;
            let full = batch.len() as u64 == TAIL_BATCH;
            for event in batch {
                after = event.seq;
                metrics::counter!(
                    "lectern_change_events_total",
                    "type" => event.kind.clone(),
                    "source" => if event.actor == "importer" { "importer" } else { "api" }
                )
                .increment(1);
                // No receiver is fine: nobody is subscribed.
                let _ = self.live.send(Arc::new(LiveEvent::new(event)));
            }
            self.latest.send_if_modified(|latest| {
                let moved = *latest < after;
                *latest = after.max(*latest);
                moved
            });
            if !full {
                return Ok(after);
            }
        }
    }

    /// On PostgreSQL, a connection listening on the changes channel.
    async fn listen(&self) -> Option<service::sea_orm::sqlx::postgres::PgListener> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return None;
        }
        let pool = self.db.get_postgres_connection_pool();
        let mut listener =
            match service::sea_orm::sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for changes; polling only");
                    return None;
                }
            };
        match listener.listen(service::content::CHANGES_CHANNEL).await {
            Ok(()) => Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes; polling only");
                None
            }
        }
    }

    /// The events after `after` (from now on when None) that a reader gets, in order: first
    /// those committed already, from the database, then live ones as the tail reads them, with
    /// no gap and none twice. A reader that falls too far behind reads from the database again.
    pub fn follow(
        self: Arc<Self>,
        after: Option<i64>,
        audience: Audience,
        types: Vec<ChangeType>,
    ) -> impl Stream<Item = Result<Arc<LiveEvent>, ServiceError>> + Send + 'static {
        async_stream::stream! {
            // Subscribed before reading the database: whatever the tail hands on from here is
            // either read below or received.
            let mut live = self.live.subscribe();
            // The tail starts from the last event committed when it first reads; an event
            // committed before that is never handed on. Waiting for that first read makes the
            // database read below see every such event.
            let mut started = self.latest.subscribe();
            if started.wait_for(|&latest| latest >= 0).await.is_err() {
                return;
            }
            let mut cursor = match after {
                Some(after) => after,
                None => self.latest(),
            };
            let mut request = FeedRequest {
                after: cursor,
                limit: events::DEFAULT_FEED_PAGE,
                audience,
                types,
            };
            loop {
                loop {
                    request.after = cursor;
                    let page = events::feed(&self.db, &request).await;
                    let page = match page {
                        Ok(page) => page,
                        Err(e) => {
                            yield Err(e);
                            return;
                        }
                    };
                    let full = page.len() as u64 == events::DEFAULT_FEED_PAGE;
                    for event in page {
                        cursor = event.seq;
                        yield Ok(Arc::new(LiveEvent::new(event)));
                    }
                    if !full {
                        break;
                    }
                }
                loop {
                    match live.recv().await {
                        Ok(event) => {
                            if event.model.seq <= cursor {
                                continue;
                            }
                            cursor = event.model.seq;
                            if request.selects(&event.model) {
                                yield Ok(event);
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        }
    }
}
