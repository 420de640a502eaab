//! A cache of responses that never serves data older than a committed write, and keeps a
//! response across the writes that do not change it.
//!
//! Every write appends its events to the outbox in its own transaction, whichever process
//! makes it (see `service::events`). Each request learns the outbox position committed *after*
//! it arrived ([`Freshness::current`]); a response is computed at that position or later, and
//! notes what it read (`service::reads`). A cached response is served when every change
//! committed since the position it was computed at leaves what it read as it was
//! (`service::reads::Reads::affected_by`): a single talk's page stays cached while other
//! talks change, a filtered list while its members and count stay. Reads of the outbox are
//! shared: requests that arrive while one read is running wait for the next one, which starts
//! after they arrived, so one statement answers many requests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;
use quick_cache::Weighter;
use service::ServiceError;
use service::reads::{Advance, Change, ChangeLog, Reads};
use service::sea_orm::DatabaseConnection;
use tokio::sync::oneshot;

/// Changes kept to check cached responses against; a response computed before the oldest is
/// computed again.
const KEPT_CHANGES: usize = 10_000;

/// The outbox position, read for many requests at once, and the changes up to it.
pub struct Freshness {
    db: DatabaseConnection,
    state: Mutex<GateState>,
    /// Only the task that reads the outbox holds it.
    log: tokio::sync::Mutex<Option<ChangeLog>>,
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct GateState {
    waiting: Vec<oneshot::Sender<Result<i64, Arc<ServiceError>>>>,
    reading: bool,
}

/// The changes after `complete_from`, each at its position, oldest first.
#[derive(Default)]
struct Recent {
    complete_from: i64,
    changes: VecDeque<(i64, Change)>,
}

impl Freshness {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            db,
            state: Mutex::new(GateState::default()),
            log: tokio::sync::Mutex::new(None),
            recent: Mutex::new(Recent::default()),
        })
    }

    /// The outbox position committed when this call was made, or later.
    pub async fn current(self: &Arc<Self>) -> Result<i64, Arc<ServiceError>> {
        let (sender, receiver) = oneshot::channel();
        let start_reader = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.waiting.push(sender);
            !std::mem::replace(&mut state.reading, true)
        };
        if start_reader {
            let gate = Arc::clone(self);
            tokio::spawn(async move { gate.read_while_asked().await });
        }
        receiver.await.unwrap_or_else(|_| {
            Err(Arc::new(ServiceError::Internal(
                "the outbox reader stopped".into(),
            )))
        })
    }

    /// Reads the outbox for everyone waiting, again while anyone is waiting.
    async fn read_while_asked(&self) {
        loop {
            let waiting = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if state.waiting.is_empty() {
                    state.reading = false;
                    return;
                }
                std::mem::take(&mut state.waiting)
            };
            // Every waiter taken above arrived before this read starts.
            let position = self.advance().await.map_err(Arc::new);
            for waiter in waiting {
                let _ = waiter.send(position.clone());
            }
        }
    }

    /// Reads what was committed since the last read, and keeps its changes.
    async fn advance(&self) -> Result<i64, ServiceError> {
        let mut log = self.log.lock().await;
        let log = match &mut *log {
            Some(log) => log,
            empty => {
                let loaded = ChangeLog::load(&self.db).await?;
                self.restart(loaded.position());
                empty.insert(loaded)
            }
        };
        match log.advance(&self.db).await? {
            Advance::Changes(changes) => {
                let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
                recent.changes.extend(changes);
                while recent.changes.len() > KEPT_CHANGES {
                    if let Some((position, _)) = recent.changes.pop_front() {
                        recent.complete_from = position;
                    }
                }
            }
            Advance::Restarted => self.restart(log.position()),
        }
        Ok(log.position())
    }

    /// Forgets every change: responses computed before `position` are computed again.
    fn restart(&self, position: i64) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.changes.clear();
        recent.complete_from = position;
    }

    /// Whether a response computed at `computed` that read `reads` is still what it would be
    /// at `now` (a position [`Self::current`] gave).
    fn unchanged(&self, computed: i64, reads: &Reads, now: i64) -> bool {
        if computed >= now {
            return true;
        }
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if computed < recent.complete_from {
            return false;
        }
        recent
            .changes
            .iter()
            .rev()
            .take_while(|(position, _)| *position > computed)
            .all(|(_, change)| !reads.affected_by(change))
    }
}

/// A response computed at an outbox position, and what it read.
#[derive(Clone)]
pub struct Entry {
    position: i64,
    reads: Arc<Reads>,
    pub response: CachedResponse,
}

/// What is replayed of a response.
#[derive(Clone)]
pub struct CachedResponse {
    pub status: StatusCode,
    /// Every header of the response, `Content-Type` among them.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl CachedResponse {
    /// The response again.
    pub fn replay(&self) -> actix_web::HttpResponse {
        let mut response = actix_web::HttpResponse::build(self.status);
        for header in &self.headers {
            response.append_header(header.clone());
        }
        response.body(self.body.clone())
    }
}

#[derive(Clone)]
struct ByteSize;

impl Weighter<Bytes, Entry> for ByteSize {
    fn weight(&self, key: &Bytes, entry: &Entry) -> u64 {
        let reads = &entry.reads;
        let noted = reads.talks.len() * 16
            + reads.slugs.iter().map(String::len).sum::<usize>()
            + reads.lists.len() * 128;
        let headers: usize = entry
            .response
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        (key.len() + entry.response.body.len() + noted + headers + 64) as u64
    }
}

/// The response cache, when it is on (shared by GraphQL and REST).
pub struct Responses(pub Option<ResponseCache>);

impl Responses {
    /// A cache of `bytes` (none when 0).
    pub fn new(db: DatabaseConnection, bytes: u64) -> Self {
        Self((bytes > 0).then(|| ResponseCache::new(db, bytes)))
    }
}

/// Responses by request, bounded in bytes, with the outbox position they are checked against.
pub struct ResponseCache {
    freshness: Arc<Freshness>,
    entries: quick_cache::sync::Cache<Bytes, Entry, ByteSize>,
}

impl ResponseCache {
    /// A cache holding about `bytes` of keys and responses.
    pub fn new(db: DatabaseConnection, bytes: u64) -> Self {
        // Estimated entries, for the cache's bookkeeping: a response of a few kilobytes.
        let estimated = (bytes / 4096).max(16) as usize;
        Self {
            freshness: Freshness::new(db),
            entries: quick_cache::sync::Cache::with_weighter(estimated, bytes, ByteSize),
        }
    }

    /// The outbox position committed when this call was made, or later: what a response
    /// computed now is at least as recent as.
    pub async fn position(&self) -> Result<i64, Arc<ServiceError>> {
        self.freshness.current().await
    }

    /// The response to `key`, if one is held that nothing committed up to `now` changed.
    pub fn get(&self, key: &Bytes, now: i64) -> Option<CachedResponse> {
        let entry = self.entries.get(key)?;
        if !self.freshness.unchanged(entry.position, &entry.reads, now) {
            return None;
        }
        if entry.position < now {
            // Checked up to `now`: later checks start there.
            self.entries.insert(
                key.clone(),
                Entry {
                    position: now,
                    ..entry.clone()
                },
            );
        }
        Some(entry.response)
    }

    /// Keeps a response computed at `position` (read before it was computed).
    pub fn insert(&self, key: Bytes, position: i64, reads: Reads, response: CachedResponse) {
        self.entries.insert(
            key,
            Entry {
                position,
                reads: Arc::new(reads),
                response,
            },
        );
    }
}
