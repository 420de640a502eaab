//! Runtimes for the work that follows the outbox: one for subscription streams and the outbox
//! tail, one for the webhook dispatcher. Each has threads of its own, apart from the request
//! workers, so that however many events there are to deliver, delivering them takes at most
//! those threads and the request workers (and the writes they make) keep the others. The
//! dispatcher has its own because it delivers to each endpoint one event after another: on a
//! thread shared with a hundred subscription streams, each of its round trips would wait for
//! them all.
//!
//! On SQLite a write holds the database's write lock while its worker waits for each
//! statement: workers that had to share every core with a burst of deliveries would slow down
//! every write queued behind that lock. Deliveries lose nothing by waiting: their state is in
//! the database.

/// A multi-threaded tokio runtime of its own.
pub struct DeliveryRuntime(Option<tokio::runtime::Runtime>);

impl DeliveryRuntime {
    /// A runtime of `threads` workers named `name`.
    pub fn new(name: &str, threads: usize) -> std::io::Result<Self> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .enable_all()
            .build()
            .map(|runtime| Self(Some(runtime)))
    }

    /// Runs `task` on this runtime.
    pub fn spawn(
        &self,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.0.as_ref().map(|runtime| runtime.spawn(task))
    }
}

impl Drop for DeliveryRuntime {
    fn drop(&mut self) {
        // Dropped from async code when the server stops: do not wait for its tasks.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
