//! What the benchmark drivers (`examples/load` and `examples/events_bench`) share: the loopback
//! target and its HTTP client, secrets from the environment, statistics, and readings of /proc.

pub mod env;
pub mod http;
pub mod procfs;
pub mod stats;

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Wall-clock microseconds since the Unix epoch (comparable with a server's `occurred_at` on
/// the same machine).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The first 300 characters of a text, for a report.
pub fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}
