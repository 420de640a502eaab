//! What one listener (a webhook receiver or a subscriber) received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What one listener (a webhook receiver or a subscriber) received, in the order it arrived.
#[derive(Default)]
pub(crate) struct Listener {
    /// (seq, wall-clock µs when received).
    pub(crate) received: Mutex<Vec<(i64, i64)>>,
    pub(crate) count: AtomicU64,
    /// Bodies or messages that were not what they should be, and why the listener stopped.
    pub(crate) problems: Mutex<Vec<String>>,
    pub(crate) bad: AtomicU64,
}

impl Listener {
    /// Records a delivery of `seq` received at `at` (wall-clock µs).
    pub(crate) fn record(&self, seq: i64, at: i64) {
        self.received.lock().expect("unpoisoned").push((seq, at));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a delivery or message that was not what it should be.
    pub(crate) fn problem(&self, what: String) {
        self.bad.fetch_add(1, Ordering::Relaxed);
        let mut problems = self.problems.lock().expect("unpoisoned");
        if problems.len() < 5 {
            problems.push(what);
        }
    }
}

/// The webhook receivers' listeners, by index.
pub(crate) type Hooks = Arc<Vec<Arc<Listener>>>;
