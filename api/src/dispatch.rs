//! The webhook dispatcher: claims endpoints that have events waiting, posts the events to them
//! in order, signed, and records each attempt (see `service::webhooks` for the state it keeps).
//!
//! Every process may run one; the leases in the database keep them from delivering to one
//! endpoint at the same time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use chrono::Utc;
use entity::change_event;
use hmac::{Hmac, Mac};
use service::events::EventHead;
use service::sea_orm::DatabaseConnection;
use service::webhooks::{self, Attempt, Claim, Outcome, RetryPolicy, Settlement};
use sha2::Sha256;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::changes::ChangeHub;

/// How long the dispatcher lets new events gather before it claims endpoints for them.
const COALESCE: Duration = Duration::from_millis(20);

/// How the dispatcher delivers.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Whether this process delivers at all.
    pub enabled: bool,
    pub retry: RetryPolicy,
    /// How long a receiver has to answer one delivery.
    pub timeout: Duration,
    /// Endpoints delivered to at the same time.
    pub concurrency: usize,
    /// Events taken per claim.
    pub batch: u64,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            concurrency: 16,
            batch: 100,
        }
    }
}

impl DispatchSettings {
    /// How long a claim is held: long enough for a batch, each delivery taking at most the
    /// timeout, given that a batch stops taking events after half of it.
    fn lease(&self) -> Duration {
        (self.timeout * 4).max(Duration::from_secs(30))
    }
}

/// The `Lectern-Signature` header of `body` sent at `timestamp` (Unix seconds):
/// `t=TIMESTAMP,v1=HEX`, where v1 is HMAC-SHA256 of `TIMESTAMP.BODY` keyed with the secret.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Serialized envelopes by `seq`, shared by the deliveries of one process so that an event
/// going to ten endpoints is sanitized and serialized once.
type Bodies = quick_cache::sync::Cache<i64, Bytes>;

/// Runs the dispatcher until the process stops.
pub async fn run(db: DatabaseConnection, hub: Arc<ChangeHub>, settings: DispatchSettings) {
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Lectern-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; webhooks are not delivered");
            return;
        }
    };
    let owner = Uuid::new_v4();
    let bodies: Arc<Bodies> = Arc::new(quick_cache::sync::Cache::new(4096));
    let settings = Arc::new(settings);
    let mut latest = hub.watch();
    let mut deliveries = JoinSet::new();
    let mut finished: Vec<Settlement> = Vec::new();
    let mut due_checked = Instant::now() - Duration::from_secs(1);
    let mut deadline = Instant::now();
    loop {
        // Everything that finished since the last round is settled in one transaction, then
        // every endpoint that is due is claimed in one more.
        while let Some(done) = deliveries.try_join_next() {
            match done {
                Ok(settlement) => finished.push(settlement),
                Err(e) => tracing::error!(error = %e, "a webhook delivery task failed"),
            }
        }
        if !finished.is_empty() {
            match webhooks::settle(&db, owner, &finished).await {
                Ok(moved) => {
                    for (settlement, moved) in finished.iter().zip(moved) {
                        if !moved {
                            tracing::info!(webhook = %settlement.webhook_id, "webhook changed during delivery; its new state stands");
                        }
                    }
                }
                // The leases run out and the batches are delivered again: at least once.
                Err(e) => tracing::warn!(error = %e, "cannot record webhook deliveries"),
            }
            finished.clear();
            // A settlement may have scheduled a retry.
            due_checked = Instant::now() - Duration::from_secs(1);
        }
        let room = settings.concurrency.saturating_sub(deliveries.len()) as u64;
        match webhooks::claim(&db, owner, settings.lease(), settings.batch, room).await {
            Ok(claims) => {
                prefetch(&db, &bodies, &claims).await;
                for claim in claims {
                    deliveries.spawn(deliver(
                        db.clone(),
                        client.clone(),
                        bodies.clone(),
                        settings.clone(),
                        claim,
                    ));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot claim webhook deliveries"),
        }
        // When to look again without being woken: the next retry or lease end, read at most
        // twice a second, and at least every 5 s.
        if due_checked.elapsed() >= Duration::from_millis(500) {
            due_checked = Instant::now();
            let wait = match webhooks::next_due(&db).await {
                Ok(Some(due)) => (due - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(Duration::from_secs(5)),
                Ok(None) => Duration::from_secs(5),
                Err(_) => Duration::from_secs(1),
            };
            deadline = Instant::now() + wait.max(Duration::from_millis(10));
        }
        tokio::select! {
            Some(done) = deliveries.join_next(), if !deliveries.is_empty() => {
                match done {
                    Ok(settlement) => finished.push(settlement),
                    Err(e) => tracing::error!(error = %e, "a webhook delivery task failed"),
                }
                // Let other deliveries finish too, to settle them together.
                tokio::time::sleep(COALESCE).await;
            }
            changed = latest.changed() => {
                if changed.is_err() {
                    return;
                }
                // Let a burst of writes gather, so that each endpoint gets it in one claim.
                tokio::time::sleep(COALESCE).await;
            }
            () = hub.webhooks_notified() => {}
            () = tokio::time::sleep_until(deadline.into()) => {
                // Due now: look for the next deadline on the way round.
                due_checked = Instant::now() - Duration::from_secs(1);
            }
        }
    }
}

/// Posts a claim's events in order until one fails or the batch's time is up; returns what
/// the dispatcher is to record.
async fn deliver(
    db: DatabaseConnection,
    client: reqwest::Client,
    bodies: Arc<Bodies>,
    settings: Arc<DispatchSettings>,
    claim: Claim,
) -> Settlement {
    let hook = &claim.webhook;
    let started = Instant::now();
    let mut attempts = Vec::new();
    let mut through = hook.delivered_seq;
    let mut outcome = None;
    for (i, event) in claim.events.iter().enumerate() {
        if started.elapsed() > settings.lease() / 2 {
            break;
        }
        let number = if i == 0 { hook.attempt + 1 } else { 1 };
        let attempt = post(
            &db,
            &client,
            &bodies,
            &hook.url,
            &hook.secret,
            event,
            number,
        )
        .await;
        let failed = attempt.error.clone();
        metrics::counter!(
            "lectern_webhook_deliveries_total",
            "outcome" => if failed.is_none() { "delivered" } else { "failed" }
        )
        .increment(1);
        metrics::histogram!("lectern_webhook_delivery_duration_seconds")
            .record(attempt.duration.as_secs_f64());
        attempts.push(attempt);
        if let Some(error) = failed {
            let failures = number;
            outcome = Some(if failures as u32 >= settings.retry.max_attempts {
                tracing::warn!(webhook = %hook.id, seq = event.seq, %error, "webhook failing: its attempts are used up");
                Outcome::Failing {
                    through,
                    failures,
                    error,
                }
            } else {
                let wait = settings.retry.backoff(failures as u32, jitter());
                Outcome::Retry {
                    through,
                    failures,
                    retry_at: Utc::now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
                    error,
                }
            });
            break;
        }
        through = event.seq;
    }
    let outcome = outcome.unwrap_or_else(|| {
        let all = claim.events.last().is_none_or(|last| last.seq == through);
        Outcome::Delivered {
            through: if all { claim.scanned_to } else { through },
        }
    });
    Settlement {
        webhook_id: hook.id,
        attempts,
        outcome,
    }
}

/// Reads the events of `claims` that `bodies` does not hold yet, in one query, so that the
/// deliveries find them there rather than each reading one event at a time. When the read
/// fails, each delivery reads its own.
async fn prefetch(db: &DatabaseConnection, bodies: &Bodies, claims: &[Claim]) {
    let mut missing: Vec<i64> = claims
        .iter()
        .flat_map(|claim| claim.events.iter().map(|event| event.seq))
        .filter(|seq| bodies.get(seq).is_none())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return;
    }
    match service::events::by_seqs(db, &missing).await {
        Ok(events) => {
            for event in events {
                if let Ok(body) = envelope(&event) {
                    bodies.insert(event.seq, body);
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot read the claimed events at once"),
    }
}

/// What a delivery of `event` posts: its envelope, sanitized, as JSON.
fn envelope(event: &change_event::Model) -> Result<Bytes, serde_json::Error> {
    serde_json::to_vec(&service::events::envelope(event)).map(Bytes::from)
}

/// The body of the event `seq`: read, sanitized and serialized once for all endpoints.
async fn body(db: &DatabaseConnection, bodies: &Bodies, seq: i64) -> Result<Bytes, String> {
    bodies
        .get_or_insert_async(&seq, async {
            let event = service::events::by_seq(db, seq)
                .await
                .map_err(|e| format!("the event cannot be read: {e}"))?
                .ok_or_else(|| "the event was pruned before delivery".to_owned())?;
            envelope(&event).map_err(|e| format!("the event cannot be serialized: {e}"))
        })
        .await
}

/// One POST of one event.
async fn post(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    bodies: &Bodies,
    url: &str,
    secret: &str,
    event: &EventHead,
    number: i32,
) -> Attempt {
    let body = body(db, bodies, event.seq).await;
    let attempted_at = Utc::now();
    let started = Instant::now();
    let result = match body {
        Ok(body) => {
            let timestamp = attempted_at.timestamp();
            client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("Lectern-Event-Id", event.id.to_string())
                .header("Lectern-Event-Type", &event.kind)
                .header("Lectern-Event-Seq", event.seq.to_string())
                .header("Lectern-Delivery-Attempt", number.to_string())
                .header("Lectern-Signature", signature(secret, timestamp, &body))
                .body(body)
                .send()
                .await
                .map_err(|e| describe(&e))
        }
        Err(e) => Err(e),
    };
    let (status_code, error) = match result {
        Ok(response) => {
            let status = response.status();
            let error = (!status.is_success()).then(|| format!("the receiver answered {status}"));
            (Some(status.as_u16()), error)
        }
        Err(error) => (None, Some(error)),
    };
    Attempt {
        event_seq: event.seq,
        event_id: event.id,
        attempt: number,
        attempted_at,
        duration: started.elapsed(),
        status_code,
        error,
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer within the timeout".into()
    } else if error.is_connect() {
        "cannot connect to the receiver".into()
    } else {
        format!("the request failed: {error}")
    }
}

/// A number in [0, 1) for spreading retries.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
