//! `load outage` (fault c): the mixed traffic across a database outage; errors only from the
//! stop until a grace period after the start, each a 503, and success after the last one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tests::bench::env::Secret;
use tests::bench::now_ms;

use crate::traffic::{Mode, Sample, context, new_workers, print_errors, run_workers};
use crate::{Error, Mix, Traffic, connections, seconds};

/// The flags of `load outage`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    traffic: Traffic,
    /// The file of outage marks: lines `stop <unix ms>` and `start <unix ms>`, written by the
    /// script; absent or empty for a dry run.
    #[arg(long, env = "LECTERN_LOAD_MARKS")]
    marks: PathBuf,
    /// Seconds of traffic.
    #[arg(long, env = "LECTERN_LOAD_SECONDS", default_value_t = 45.0, value_parser = seconds)]
    seconds: f64,
    /// Seconds after the start during which errors are still allowed.
    #[arg(long, env = "LECTERN_LOAD_GRACE", default_value_t = 15.0, value_parser = seconds)]
    grace: f64,
    /// Connections, each sending one request after another (1 to 512).
    #[arg(long, env = "LECTERN_LOAD_CONNECTIONS", default_value_t = 8, value_parser = connections)]
    connections: usize,
    #[command(flatten)]
    mix: Mix,
}

/// Runs `load outage`: true when the errors were only 503s during the outage (none at all
/// without marks) and requests succeeded after the last one.
pub(crate) async fn run(args: Args, token: &Secret) -> Result<bool, Error> {
    let Args {
        traffic,
        marks: marks_path,
        seconds,
        grace,
        connections,
        mix,
    } = args;
    let ctx = context(
        Mode::Outage,
        &traffic,
        token,
        connections,
        mix.write_percent,
    )
    .await?;
    println!(
        "== load outage: {connections} connections of mixed traffic for {seconds} s; errors allowed from the stop \
         until {grace} s after the start"
    );
    let origin_ms = now_ms();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let _workers = run_workers(&ctx, new_workers(connections, 0x0D0A), end).await;
    let marks = std::fs::read_to_string(&marks_path).unwrap_or_default();
    let mark = |name: &str| {
        marks.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse::<i64>().ok()).flatten()
        })
    };
    let (stop, start) = (mark("stop"), mark("start"));
    let stats = ctx.stats.borrow();
    let rel = |t: i64| (t - origin_ms) as f64 / 1000.0;
    // Per second: ok and failed.
    let mut seconds_table: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for s in &stats.timeline {
        let e = seconds_table
            .entry((s.end_unix_ms - origin_ms) / 1000)
            .or_default();
        if s.failure.is_some() {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    println!("per second since the start (ok/failed):");
    let row: Vec<String> = seconds_table
        .iter()
        .map(|(sec, (ok, failed))| format!("{sec}s {ok}/{failed}"))
        .collect();
    for chunk in row.chunks(10) {
        println!("  {}", chunk.join("  "));
    }
    let failures: Vec<&Sample> = stats
        .timeline
        .iter()
        .filter(|s| s.failure.is_some())
        .collect();
    let first_error = failures.iter().map(|s| s.end_unix_ms).min();
    let last_error = failures.iter().map(|s| s.end_unix_ms).max();
    let not_503: u64 = failures
        .iter()
        .filter(|s| !s.failure.as_deref().is_some_and(|k| k.starts_with("503 ")))
        .count() as u64;
    let ok_after_last = last_error.map_or(stats.ok, |t| {
        stats
            .timeline
            .iter()
            .filter(|s| s.start_unix_ms > t && s.failure.is_none())
            .count() as u64
    });
    let fmt = |t: Option<i64>| t.map_or("-".to_owned(), |t| format!("{:.2} s", rel(t)));
    println!(
        "outage (marks): stop at {}, start at {}; errors: {} from {} to {} (since the driver started)",
        fmt(stop),
        fmt(start),
        failures.len(),
        fmt(first_error),
        fmt(last_error)
    );
    print_errors(&stats);
    let recovery = match (start, last_error) {
        (Some(start), Some(last)) => format!("{:.2}", (last - start) as f64 / 1000.0),
        _ => "-".into(),
    };
    println!(
        "RESULT requests={} ok={} errors={} not_503={not_503} stop_s={} start_s={} first_error_s={} last_error_s={} \
         last_error_after_start_s={recovery} ok_after_last_error={ok_after_last}",
        stats.ok + stats.failed,
        stats.ok,
        stats.failed,
        stop.map_or("-".into(), |t| format!("{:.2}", rel(t))),
        start.map_or("-".into(), |t| format!("{:.2}", rel(t))),
        first_error.map_or("-".into(), |t| format!("{:.2}", rel(t))),
        last_error.map_or("-".into(), |t| format!("{:.2}", rel(t))),
    );
    let mut ok = true;
    match (stop, start) {
        (Some(stop), Some(start)) => {
            let early = failures.iter().filter(|s| s.end_unix_ms < stop).count();
            if early > 0 {
                println!("FAIL: {early} errors before PostgreSQL was stopped");
                ok = false;
            }
            let late = failures
                .iter()
                .filter(|s| s.start_unix_ms > start + (grace * 1000.0) as i64)
                .count();
            if late > 0 {
                println!(
                    "FAIL: {late} errors for requests sent more than {grace} s after PostgreSQL was back"
                );
                ok = false;
            }
            if not_503 > 0 {
                println!("FAIL: {not_503} errors were not 503 answers");
                ok = false;
            }
            if ok_after_last == 0 {
                println!("FAIL: no request succeeded after the last error");
                ok = false;
            }
        }
        _ => {
            println!("no outage marks (a dry run): every request must succeed");
            if stats.failed > 0 {
                println!("FAIL: {} errors without an outage", stats.failed);
                ok = false;
            }
        }
    }
    if stats.ok == 0 {
        println!("FAIL: nothing succeeded");
        ok = false;
    }
    Ok(ok)
}
