//! `load sigterm` (fault b): the mixed traffic, then SIGTERM to the server; every request sent
//! before the signal must complete with a 2xx, and the process must be gone within a bound.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tests::bench::env::Secret;
use tests::bench::procfs::process_gone;

use crate::traffic::{Mode, context, new_workers, print_errors, run_workers};
use crate::{Error, Mix, Traffic, connections, seconds};

/// The flags of `load sigterm`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    traffic: Traffic,
    /// The server's process id: SIGTERM goes to it.
    #[arg(long, env = "LECTERN_LOAD_SERVER_PID")]
    server_pid: u32,
    /// Seconds of traffic before the signal.
    #[arg(long, env = "LECTERN_LOAD_BEFORE", default_value_t = 3.0, value_parser = seconds)]
    before: f64,
    /// Seconds the process has to be gone in, after the signal.
    #[arg(long, env = "LECTERN_LOAD_BOUND", default_value_t = 30.0, value_parser = seconds)]
    bound: f64,
    /// Connections, each sending one request after another (1 to 512).
    #[arg(long, env = "LECTERN_LOAD_CONNECTIONS", default_value_t = 32, value_parser = connections)]
    connections: usize,
    #[command(flatten)]
    mix: Mix,
}

/// Runs `load sigterm`: true when every request sent before the signal succeeded, one was in
/// flight at the signal, and the process was gone within the bound.
pub(crate) async fn run(args: Args, token: &Secret) -> Result<bool, Error> {
    let Args {
        traffic,
        server_pid: pid,
        before,
        bound,
        connections,
        mix,
    } = args;
    let ctx = context(
        Mode::Sigterm,
        &traffic,
        token,
        connections,
        mix.write_percent,
    )
    .await?;
    println!(
        "== load sigterm: {connections} connections of mixed traffic, SIGTERM to {pid} after {before} s, exit within {bound} s"
    );
    let origin = Instant::now();
    let end = origin + Duration::from_secs_f64(before + bound + 5.0);
    let signaller = {
        let ctx = ctx.clone();
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_secs_f64(before)).await;
            let at = Instant::now();
            let status = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let sent = Instant::now();
            if !status.is_ok_and(|s| s.success()) {
                ctx.stop.set(true);
                return None;
            }
            // Wait for the process to be gone, within the bound.
            let deadline = sent + Duration::from_secs_f64(bound);
            while !process_gone(pid) && Instant::now() < deadline {
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
            let gone = process_gone(pid).then(|| sent.elapsed());
            ctx.stop.set(true);
            Some((at, sent, gone))
        })
    };
    let _workers = run_workers(&ctx, new_workers(connections, 0x7E57), end).await;
    let Ok(Some((at, sent, gone))) = signaller.await else {
        println!("FAIL: could not send SIGTERM to {pid}");
        return Ok(false);
    };
    let stats = ctx.stats.borrow();
    let (mut before_ok, mut before_failed, mut in_flight, mut after_ok) = (0u64, 0u64, 0u64, 0u64);
    let mut before_kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut after_kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_in_flight_end = at;
    for s in &stats.timeline {
        // Sent before the signal: started before `kill` was run.
        if s.start < at {
            if s.end > at {
                in_flight += 1;
                last_in_flight_end = last_in_flight_end.max(s.end);
            }
            match &s.failure {
                None => before_ok += 1,
                Some(kind) => {
                    before_failed += 1;
                    *before_kinds.entry(kind.clone()).or_default() += 1;
                }
            }
        } else {
            match &s.failure {
                None => after_ok += 1,
                Some(kind) => *after_kinds.entry(kind.clone()).or_default() += 1,
            }
        }
    }
    println!(
        "signal after {:.2} s (kill took {:.1} ms)",
        at.duration_since(origin).as_secs_f64(),
        sent.duration_since(at).as_secs_f64() * 1000.0
    );
    println!(
        "sent before the signal: {} ok, {} failed {before_kinds:?}; {in_flight} of them were in flight at the signal, \
         the last answered {:.1} ms after it",
        before_ok,
        before_failed,
        last_in_flight_end.duration_since(at).as_secs_f64() * 1000.0
    );
    println!("sent after the signal (not judged): {after_ok} ok, failures {after_kinds:?}");
    if before_failed > 0 {
        print_errors(&stats);
    }
    let exit = match gone {
        Some(d) => format!("{:.2}", d.as_secs_f64()),
        None => "none".into(),
    };
    println!("process gone {exit} s after the signal (bound {bound} s)");
    println!(
        "RESULT before_ok={before_ok} before_failed={before_failed} in_flight={in_flight} after_ok={after_ok} \
         after_failed={} exit_s={exit}",
        after_kinds.values().sum::<u64>()
    );
    let mut ok = true;
    if before_failed > 0 {
        println!("FAIL: {before_failed} requests sent before SIGTERM did not complete with a 2xx");
        ok = false;
    }
    if in_flight == 0 {
        println!("FAIL: no request was in flight at the signal (inconclusive)");
        ok = false;
    }
    if gone.is_none() {
        println!("FAIL: the process was still there {bound} s after SIGTERM");
        ok = false;
    }
    Ok(ok)
}
