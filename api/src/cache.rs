//! A cache of GraphQL responses that never serves data older than a committed write.
//!
//! Every write bumps the content version in its own transaction (see `service::content`),
//! whichever process makes it. Each request reads the version *after* it arrived; a cached
//! response is served only when it was computed at that same version. Reads of the version
//! are shared: requests that arrive while one read is running wait for the next one, which
//! starts after they arrived, so one statement answers many requests.

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::web::Bytes;
use quick_cache::Weighter;
use service::sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::oneshot;

/// The content version, read for many requests at once.
pub struct VersionGate {
    db: DatabaseConnection,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    waiting: Vec<oneshot::Sender<Result<i64, Arc<DbErr>>>>,
    reading: bool,
}

impl VersionGate {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            db,
            state: Mutex::new(GateState::default()),
        })
    }

    /// The content version committed when this call was made, or later.
    pub async fn current(self: &Arc<Self>) -> Result<i64, Arc<DbErr>> {
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
        receiver
            .await
            .unwrap_or_else(|_| Err(Arc::new(DbErr::Custom("version reader stopped".into()))))
    }

    /// Reads the version for everyone waiting, again while anyone is waiting.
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
            let version = service::content::current(&self.db).await.map_err(Arc::new);
            for waiter in waiting {
                let _ = waiter.send(version.clone());
            }
        }
    }
}

/// A response computed at a content version.
#[derive(Clone)]
struct Entry {
    version: i64,
    body: Bytes,
}

#[derive(Clone)]
struct ByteSize;

impl Weighter<Bytes, Entry> for ByteSize {
    fn weight(&self, key: &Bytes, entry: &Entry) -> u64 {
        (key.len() + entry.body.len()) as u64
    }
}

/// Responses by request, bounded in bytes.
pub struct ResponseCache {
    entries: quick_cache::sync::Cache<Bytes, Entry, ByteSize>,
}

impl ResponseCache {
    /// A cache holding about `bytes` of keys and responses.
    pub fn new(bytes: u64) -> Self {
        // Estimated entries, for the cache's bookkeeping: a response of a few kilobytes.
        let estimated = (bytes / 4096).max(16) as usize;
        Self {
            entries: quick_cache::sync::Cache::with_weighter(estimated, bytes, ByteSize),
        }
    }

    /// The response to `key` computed at `version`, if held.
    pub fn get(&self, key: &Bytes, version: i64) -> Option<Bytes> {
        self.entries
            .get(key)
            .filter(|entry| entry.version == version)
            .map(|entry| entry.body)
    }

    pub fn insert(&self, key: Bytes, version: i64, body: Bytes) {
        self.entries.insert(key, Entry { version, body });
    }
}
