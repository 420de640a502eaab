//! `load mixed`: the mixed traffic after a warm-up; throughput, latency, errors, and the
//! server's memory and CPU.

use std::time::{Duration, Instant};

use tests::bench::env::Secret;
use tests::bench::procfs::{cores, proc_ticks, vm_rss_kib};
use tests::bench::stats::{ms, pct};

use crate::traffic::{Mode, context, new_workers, per_op, print_errors, run_workers};
use crate::{Error, Mix, Traffic, connections, seconds};

/// The flags of `load mixed`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    traffic: Traffic,
    /// Seconds measured, after the warm-up (at most 3600).
    #[arg(long, env = "LECTERN_LOAD_SECONDS", default_value_t = 60.0, value_parser = seconds)]
    seconds: f64,
    /// Seconds of traffic before the measured run: its errors count, its figures do not.
    #[arg(long, env = "LECTERN_LOAD_WARMUP", default_value_t = 10.0, value_parser = seconds)]
    warmup: f64,
    /// Connections, each sending one request after another (1 to 512).
    #[arg(long, env = "LECTERN_LOAD_CONNECTIONS", default_value_t = 32, value_parser = connections)]
    connections: usize,
    #[command(flatten)]
    mix: Mix,
    /// The server's process id, to report its memory (VmRSS) and CPU.
    #[arg(long, env = "LECTERN_LOAD_SERVER_PID")]
    server_pid: Option<u32>,
    /// Clock ticks per second (`getconf CLK_TCK`), to turn CPU ticks into cores.
    #[arg(long, env = "LECTERN_LOAD_CLK_TCK", default_value_t = 100.0)]
    clk_tck: f64,
}

/// Runs `load mixed`: true when every check passed.
pub(crate) async fn run(args: Args, token: &Secret) -> Result<bool, Error> {
    let Args {
        traffic,
        seconds,
        warmup,
        connections,
        mix,
        server_pid,
        clk_tck,
    } = args;
    let ctx = context(Mode::Mixed, &traffic, token, connections, mix.write_percent).await?;
    println!(
        "== load mixed: {} published talks to read, {} connections, {}% writes, warm-up {warmup} s, measured {seconds} s",
        ctx.slugs.len(),
        connections,
        ctx.write_permille / 10
    );
    let rss = || server_pid.and_then(vm_rss_kib).unwrap_or(0);
    let rss_start = rss();
    let workers = new_workers(connections, 0x5EED);
    let workers = if warmup > 0.0 {
        let end = Instant::now() + Duration::from_secs_f64(warmup);
        let back = run_workers(&ctx, workers, end).await;
        let w = std::mem::take(&mut *ctx.stats.borrow_mut());
        println!(
            "warm-up: {} ok, {} failed ({:.0} req/s)",
            w.ok,
            w.failed,
            (w.ok + w.failed) as f64 / warmup.max(1e-9)
        );
        ctx.stats.borrow_mut().merge_errors(&w);
        back
    } else {
        workers
    };
    let rss_warm = rss();
    let cpu_server = server_pid.and_then(|p| proc_ticks(&p.to_string()));
    let cpu_self = proc_ticks("self");
    let start = Instant::now();
    let issued_before = ctx.issued.get();
    let _workers = run_workers(&ctx, workers, start + Duration::from_secs_f64(seconds)).await;
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let rss_end = rss();
    let cores = |before, after| {
        cores(before, after, clk_tck, elapsed).map_or_else(|| "?".to_owned(), |c| format!("{c:.2}"))
    };
    let server_cores = cores(
        cpu_server,
        server_pid.and_then(|p| proc_ticks(&p.to_string())),
    );
    let driver_cores = cores(cpu_self, proc_ticks("self"));
    let mut stats = ctx.stats.borrow_mut();
    let measured = ctx.issued.get() - issued_before;
    stats.reads.sort_unstable();
    stats.writes.sort_unstable();
    let mut all: Vec<u32> = stats.reads.iter().chain(&stats.writes).copied().collect();
    all.sort_unstable();
    let (reads, writes) = (stats.reads.len(), stats.writes.len());
    println!(
        "measured: {measured} requests in {elapsed:.1} s: {:.1} req/s ({:.1} reads/s, {:.1} writes/s ok)",
        measured as f64 / elapsed,
        reads as f64 / elapsed,
        writes as f64 / elapsed
    );
    let line = |name: &str, v: &[u32]| {
        println!(
            "  {name:<6} n={:<8} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
            v.len(),
            ms(pct(v, 50.0)),
            ms(pct(v, 99.0)),
            ms(v.last().copied().unwrap_or(0))
        );
    };
    line("reads", &stats.reads);
    line("writes", &stats.writes);
    line("all", &all);
    per_op(&stats);
    println!("  CPU while measured: server {server_cores} cores, this driver {driver_cores} cores");
    let growth = if rss_warm > 0 {
        100.0 * (rss_end as f64 - rss_warm as f64) / rss_warm as f64
    } else {
        0.0
    };
    println!(
        "server VmRSS: start {} MiB, after warm-up {} MiB, end {} MiB ({growth:+.1}% since the warm-up)",
        rss_start / 1024,
        rss_warm / 1024,
        rss_end / 1024
    );
    println!(
        "errors: {} (any non-2xx, GraphQL error, transport failure or wrong answer, warm-up included)",
        stats.failed
    );
    print_errors(&stats);
    println!(
        "RESULT seconds={seconds} connections={connections} requests={measured} rps={:.1} read_rps={:.1} write_rps={:.1} \
         read_p50_ms={:.2} read_p99_ms={:.2} write_p50_ms={:.2} write_p99_ms={:.2} all_p50_ms={:.2} all_p99_ms={:.2} \
         errors={} rss_start_kb={rss_start} rss_warm_kb={rss_warm} rss_end_kb={rss_end} rss_growth_pct={growth:.1} \
         server_cores={server_cores} driver_cores={driver_cores}",
        measured as f64 / elapsed,
        reads as f64 / elapsed,
        writes as f64 / elapsed,
        ms(pct(&stats.reads, 50.0)),
        ms(pct(&stats.reads, 99.0)),
        ms(pct(&stats.writes, 50.0)),
        ms(pct(&stats.writes, 99.0)),
        ms(pct(&all, 50.0)),
        ms(pct(&all, 99.0)),
        stats.failed,
    );
    let mut ok = true;
    if stats.failed > 0 {
        println!("FAIL: {} errors", stats.failed);
        ok = false;
    }
    if server_pid.is_some() && growth > 20.0 {
        println!("FAIL: VmRSS grew {growth:.1}% after the warm-up (more than 20%)");
        ok = false;
    }
    if measured == 0 || reads == 0 {
        println!("FAIL: nothing was measured");
        ok = false;
    }
    Ok(ok)
}
