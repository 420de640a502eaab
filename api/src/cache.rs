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
//! after they arrived, so one statement answers many requests. Misses are shared too: while a
//! response is being computed, other requests for it wait for that one and check it as they
//! would any cached response, rather than each computing it again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;
use quick_cache::Weighter;
use service::ServiceError;
use service::reads::{Advance, Change, ChangeLog, Reads};
use service::sea_orm::DatabaseConnection;
use tokio::sync::{oneshot, watch};

/// Changes kept to check cached responses against; a response computed before the oldest is
/// computed again. Every response served from the cache is checked up to the newest change,
/// so only one not asked for while this many changes were committed is computed again. The
/// changes share their talks' facts with the log (about 400 bytes for each change, and 4 bytes
/// for each distinct word of the abstract when the change gave it a new one: about 100 words
/// for an abstract of the corpus).
const KEPT_CHANGES: usize = 4096;
/// How long a request waits at most for another request computing the same response.
const WAIT_FOR_COMPUTING: std::time::Duration = std::time::Duration::from_secs(10);

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
            recent: Mutex::new(Recent {
                complete_from: 0,
                // Allocated once: the queue never holds more.
                changes: VecDeque::with_capacity(KEPT_CHANGES),
            }),
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
                for change in changes {
                    if recent.changes.len() == KEPT_CHANGES
                        && let Some((position, _)) = recent.changes.pop_front()
                    {
                        recent.complete_from = position;
                    }
                    recent.changes.push_back(change);
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

/// Why a response is not served from the cache.
#[derive(Debug, Clone, Copy)]
enum Miss {
    /// None is held for the request (never computed, or evicted).
    Absent,
    /// The one held may differ after a change committed since it was computed.
    Changed,
}

/// Counts a lookup by its outcome (`lectern_response_cache_lookups_total`).
fn count(outcome: &'static str) {
    metrics::counter!("lectern_response_cache_lookups_total", "outcome" => outcome).increment(1);
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
    /// The keys whose response a request is computing; the receiver learns when it is done.
    computing: Mutex<HashMap<Bytes, watch::Receiver<()>>>,
}

/// What a request does on a miss.
pub enum Lookup<'a> {
    /// Serve this.
    Hit(CachedResponse),
    /// Compute the response, keep it if it may be kept, then drop the [`Computing`] (if any)
    /// to let the requests waiting for it look again.
    Compute(Option<Computing<'a>>),
}

/// A response being computed for a key; dropping it wakes the requests waiting for it.
pub struct Computing<'a> {
    cache: &'a ResponseCache,
    key: Bytes,
    // Dropped after `drop` has removed the key: the receivers then see the channel closed.
    _done: watch::Sender<()>,
}

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        let mut computing = self
            .cache
            .computing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if computing
            .get(&self.key)
            .is_some_and(|receiver| receiver.same_channel(&self._done.subscribe()))
        {
            computing.remove(&self.key);
        }
    }
}

impl ResponseCache {
    /// A cache holding about `bytes` of keys and responses.
    pub fn new(db: DatabaseConnection, bytes: u64) -> Self {
        // Estimated entries, for the cache's bookkeeping: a response of a few kilobytes.
        let estimated = (bytes / 4096).max(16) as usize;
        Self {
            freshness: Freshness::new(db),
            entries: quick_cache::sync::Cache::with_weighter(estimated, bytes, ByteSize),
            computing: Mutex::new(HashMap::new()),
        }
    }

    /// The outbox position committed when this call was made, or later: what a response
    /// computed now is at least as recent as.
    pub async fn position(&self) -> Result<i64, Arc<ServiceError>> {
        self.freshness.current().await
    }

    /// The response to `key`, if one is held that nothing committed up to `now` changed.
    pub fn get(&self, key: &Bytes, now: i64) -> Option<CachedResponse> {
        self.held(key, now).ok()
    }

    /// The response to `key` held and unchanged up to `now`, or why there is none.
    fn held(&self, key: &Bytes, now: i64) -> Result<CachedResponse, Miss> {
        let entry = self.entries.get(key).ok_or(Miss::Absent)?;
        if !self.freshness.unchanged(entry.position, &entry.reads, now) {
            return Err(Miss::Changed);
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
        Ok(entry.response)
    }

    /// The response to `key` at `now` if one is held; otherwise, when another request is
    /// computing it, waits for that request and looks again; otherwise the caller computes it,
    /// and requests for the same key wait for it until the [`Computing`] is dropped.
    pub async fn lookup(&self, key: &Bytes, now: i64) -> Lookup<'_> {
        let miss = match self.held(key, now) {
            Ok(hit) => {
                count("hit");
                return Lookup::Hit(hit);
            }
            Err(miss) => miss,
        };
        let mut waiting = {
            let mut computing = self
                .computing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match computing.get(key) {
                Some(receiver) => receiver.clone(),
                None => {
                    count(match miss {
                        Miss::Absent => "absent",
                        Miss::Changed => "changed",
                    });
                    let (done, receiver) = watch::channel(());
                    computing.insert(key.clone(), receiver);
                    return Lookup::Compute(Some(Computing {
                        cache: self,
                        key: key.clone(),
                        _done: done,
                    }));
                }
            }
        };
        // Ends when the other request is done (whether or not it kept a response).
        let _ = tokio::time::timeout(WAIT_FOR_COMPUTING, waiting.changed()).await;
        match self.get(key, now) {
            Some(hit) => {
                count("waited");
                Lookup::Hit(hit)
            }
            None => {
                count("not_kept");
                Lookup::Compute(None)
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static str) -> CachedResponse {
        CachedResponse {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[tokio::test]
    async fn a_miss_being_computed_is_waited_for_and_then_served() {
        // Positions are given: the database is never asked.
        let cache = ResponseCache::new(DatabaseConnection::default(), 1 << 20);
        let key = Bytes::from_static(b"{ talks { title } }");
        let Lookup::Compute(Some(computing)) = cache.lookup(&key, 7).await else {
            panic!("the first miss computes");
        };
        let waiting = cache.lookup(&key, 7);
        tokio::pin!(waiting);
        // The second request waits while the first computes.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), &mut waiting)
                .await
                .is_err()
        );
        cache.insert(key.clone(), 7, Reads::default(), response("computed"));
        drop(computing);
        match waiting.await {
            Lookup::Hit(hit) => assert_eq!(hit.body, "computed"),
            Lookup::Compute(_) => panic!("the response computed meanwhile was not served"),
        }
    }

    #[tokio::test]
    async fn a_computation_that_keeps_nothing_lets_the_next_request_compute() {
        let cache = ResponseCache::new(DatabaseConnection::default(), 1 << 20);
        let key = Bytes::from_static(b"{ talks { title } }");
        let Lookup::Compute(Some(computing)) = cache.lookup(&key, 7).await else {
            panic!("the first miss computes");
        };
        let waiting = cache.lookup(&key, 7);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), &mut waiting)
                .await
                .is_err()
        );
        // An error, say: nothing kept.
        drop(computing);
        assert!(matches!(waiting.await, Lookup::Compute(None)));
        // Nobody computes it now: the next miss computes and is waited for again.
        assert!(matches!(
            cache.lookup(&key, 7).await,
            Lookup::Compute(Some(_))
        ));
    }
}
