//! The relay's lag from commit to stream under a steady write rate: writes a talk every
//! 1/RATE s for SECONDS through the service (each a `talk.created` event), while subscribed to
//! the relay's subjects on NATS; for each message, the lag is the time it arrived less the
//! event's `occurred_at` (taken just before the write's commit). A `lectern relay` for the same
//! database and subject prefix must be running. Prints the count and the lag's percentiles.
//!
//! Usage: `relay_lag DATABASE_URL NATS_URL SUBJECT_PREFIX RATE SECONDS`

use std::time::{Duration, Instant};

use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, database, nats, prefix, rate, seconds] = args.as_slice() else {
        return Err("usage: relay_lag DATABASE_URL NATS_URL SUBJECT_PREFIX RATE SECONDS".into());
    };
    let rate: f64 = rate.parse()?;
    let seconds: f64 = seconds.parse()?;
    let db = service::db::connect(database).await?;
    let client = async_nats::connect(nats.as_str()).await?;
    let mut messages = client.subscribe(format!("{prefix}.talk.>")).await?;
    client.flush().await?;

    let total = (rate * seconds) as usize;
    let writer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let run = uuid::Uuid::new_v4().simple().to_string();
        for n in 0..total {
            tick.tick().await;
            service::editing::create_talk(
                &db,
                service::talks::NewTalk {
                    slug: format!("lag-{run}-{n}"),
                    title: format!("Lag {n}"),
                    date: "2026-12-07".into(),
                    body: "<p>A talk written to measure the relay's lag.</p>".into(),
                    ..Default::default()
                },
                "bench",
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(started.elapsed())
    });

    let mut lags = Vec::with_capacity(total);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds + 10.0);
    while lags.len() < total {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(message)) = tokio::time::timeout(left, messages.next()).await else {
            break;
        };
        let arrived = chrono::Utc::now();
        let event: serde_json::Value = serde_json::from_slice(&message.payload)?;
        let occurred: chrono::DateTime<chrono::Utc> = event["occurred_at"]
            .as_str()
            .ok_or("a message without occurred_at")?
            .parse()?;
        lags.push((arrived - occurred).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
    }
    let wrote = writer.await??;
    println!(
        "wrote {total} talks in {:.2} s ({:.0} writes/s)",
        wrote.as_secs_f64(),
        total as f64 / wrote.as_secs_f64()
    );
    if lags.len() < total {
        return Err(format!("only {} of {total} events reached the stream", lags.len()).into());
    }
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len() - 1)];
    println!(
        "lag from commit to stream over {} events: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lags.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        lags[lags.len() - 1]
    );
    Ok(())
}
