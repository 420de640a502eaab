//! `load writes` (fault a, before the kill): writes only, at full speed, until the server is
//! gone; every acknowledged state, and each write left without an answer, to `--acks`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::bench::env::Secret;

use crate::talk::TalkState;
use crate::traffic::{Mode, context, new_workers, print_errors, run_workers};
use crate::{Error, Traffic, connections, seconds};

/// The flags of `load writes`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    traffic: Traffic,
    /// The file the acknowledged writes go to, as JSON (read by `load verify`).
    #[arg(long, env = "LECTERN_LOAD_ACKS")]
    acks: PathBuf,
    /// Seconds at most (the run ends sooner when every connection has lost the server).
    #[arg(long, env = "LECTERN_LOAD_SECONDS", default_value_t = 20.0, value_parser = seconds)]
    seconds: f64,
    /// Connections, each sending one write after another (1 to 512).
    #[arg(long, env = "LECTERN_LOAD_CONNECTIONS", default_value_t = 8, value_parser = connections)]
    connections: usize,
}

/// Runs `load writes`: true when some write was acknowledged and every answer was the
/// acknowledgement expected.
pub(crate) async fn run(args: Args, token: &Secret) -> Result<bool, Error> {
    let Args {
        traffic,
        acks: acks_path,
        seconds,
        connections,
    } = args;
    let ctx = context(Mode::Writes, &traffic, token, connections, 100).await?;
    println!(
        "== load writes: {connections} connections, at most {seconds} s, until the server is gone"
    );
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    // Progress, so that the script can see writes being acknowledged.
    let progress = {
        let ctx = ctx.clone();
        actix_web::rt::spawn(async move {
            let start = Instant::now();
            while Instant::now() < end && !ctx.stop.get() {
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                let s = ctx.stats.borrow();
                println!(
                    "  {:>5.1} s: {} acknowledged, {} failed",
                    start.elapsed().as_secs_f64(),
                    s.ok,
                    s.failed
                );
            }
        })
    };
    let workers = run_workers(&ctx, new_workers(connections, 0xFA17), end).await;
    ctx.stop.set(true);
    let _ = progress.await;
    let stats = ctx.stats.borrow();
    let talks: Vec<Value> = workers
        .iter()
        .flat_map(|w| &w.owned)
        .map(|o| {
            json!({
                "slug": o.slug,
                "acked": o.acked.as_ref().map(TalkState::to_json),
                "acked_versions": o.acked_versions,
                "in_doubt": o.in_doubt,
            })
        })
        .collect();
    let in_doubt = workers
        .iter()
        .flat_map(|w| &w.owned)
        .filter(|o| o.in_doubt.is_some())
        .count();
    std::fs::write(
        &acks_path,
        serde_json::to_string_pretty(&json!({"tag": ctx.tag, "talks": talks}))?,
    )?;
    let answered_failures: u64 = stats
        .errors
        .iter()
        .filter(|(k, _)| {
            !(k.ends_with("connect failed")
                || k.ends_with("connection lost")
                || k.ends_with("body lost")
                || k.ends_with("timeout"))
        })
        .map(|(_, v)| v)
        .sum();
    println!(
        "acknowledged writes: {} to {} talks; {} writes in doubt (sent, no answer); {} failed in all",
        stats.ok,
        talks.len(),
        in_doubt,
        stats.failed
    );
    print_errors(&stats);
    println!(
        "RESULT acked={} talks={} in_doubt={in_doubt} failed={} answered_failures={answered_failures}",
        stats.ok,
        talks.len(),
        stats.failed
    );
    if answered_failures > 0 {
        println!(
            "FAIL: {answered_failures} writes were answered with something else than the acknowledgement expected"
        );
    }
    Ok(stats.ok > 0 && answered_failures == 0)
}
