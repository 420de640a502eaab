//! `load steady`: reads while writing. Closed-loop connections read the steady mix (see
//! `reads`) while writes arrive on a fixed schedule (open loop: each is sent when it is due,
//! whether or not the ones before it were answered), one phase per rate, every answer checked
//! for freshness (see `fresh`).
//!
//! The writes edit the corpus's published talks, the way an editor does: in turn the title, the
//! location, the abstract (a paragraph with the word `MARKER` and the write's number appended to
//! the original) and a resource (a note added, or removed when the talk has one), the three
//! fields through REST `PATCH` (`If-Match`) and GraphQL `updateTalk` (`expectedVersion`) in
//! turn. Talks are taken round-robin, skipping those with a write in flight, so that the writes
//! spread over every talk and those of one talk are sent one after another: none can
//! legitimately conflict. A write is measured from when it was due.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::rt::time::{sleep, sleep_until};
use tests::bench::env::Secret;
use tests::bench::procfs::{cores, proc_ticks, vm_rss_kib};
use tests::bench::stats::{ms, pct};
use tests::bench::{excerpt, now_ms};

use crate::edits::{EditOp, Field, edit, resync};
use crate::fresh::Tally;
use crate::http::{Http, Problem};
use crate::talk::TalkState;
use crate::traffic::{
    Ctx, Kind, Mode, Stats, Worker, context, corpus, new_workers, per_op, print_errors, run_workers,
};
use crate::{Error, Traffic, connections, seconds};

/// The word the writes put into abstracts, and that a quarter of the searches look for.
pub(crate) const MARKER: &str = "steadyedit";
/// The beginning of the URL of the resources the writes add.
const NOTES_URL: &str = "https://example.com/steady/";
const MAX_RATE: f64 = 10_000.0;
const MAX_PHASES: usize = 16;
/// Writes in flight at most (and connections writing); a write due beyond that is not sent,
/// and counted. More than the corpus's talks, so that with the corpus the bound is one write
/// in flight per talk.
const MAX_IN_FLIGHT: usize = 256;
/// How long a phase waits at most for its writes in flight, after its end.
const DRAIN: Duration = Duration::from_secs(20);
/// How often a long phase prints its progress.
const PROGRESS: Duration = Duration::from_secs(60);
/// Stale answers described in a phase's report (the warm-up's first).
const MAX_STALE_SAMPLES: usize = 8;
/// Characters of a corpus title kept in front of an edit's mark (titles have at most 300).
const MAX_BASE_TITLE: usize = 250;

/// The flags of `load steady`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    traffic: Traffic,
    /// Writes per second, one phase per rate in this order (comma-separated, each 0 to 10,000).
    #[arg(long, env = "LECTERN_LOAD_RATES", value_delimiter = ',',
        default_values_t = [0.0, 10.0, 50.0, 200.0], value_parser = rate)]
    rates: Vec<f64>,
    /// Seconds measured per phase, after its warm-up (at most 3600).
    #[arg(long, env = "LECTERN_LOAD_SECONDS", default_value_t = 30.0, value_parser = seconds)]
    seconds: f64,
    /// Seconds of each phase's traffic before it is measured: its errors and stale answers
    /// count, its figures do not.
    #[arg(long, env = "LECTERN_LOAD_WARMUP", default_value_t = 10.0, value_parser = seconds)]
    warmup: f64,
    /// Connections reading, each sending one request after another (1 to 512).
    #[arg(long, env = "LECTERN_LOAD_CONNECTIONS", default_value_t = 32, value_parser = connections)]
    connections: usize,
    /// The server's process id, to report its memory (VmRSS) and CPU.
    #[arg(long, env = "LECTERN_LOAD_SERVER_PID")]
    server_pid: Option<u32>,
    /// Clock ticks per second (`getconf CLK_TCK`), to turn CPU ticks into cores.
    #[arg(long, env = "LECTERN_LOAD_CLK_TCK", default_value_t = 100.0)]
    clk_tck: f64,
    /// How much the server's VmRSS may grow in a phase, from after its warm-up to its end, in
    /// percent.
    #[arg(long, env = "LECTERN_LOAD_MAX_RSS_GROWTH", default_value_t = 10.0)]
    max_rss_growth: f64,
}

/// A rate of writes, within 0..=10,000 per second.
fn rate(text: &str) -> Result<f64, String> {
    let r: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if !(0.0..=MAX_RATE).contains(&r) {
        return Err(format!("must be within 0..={MAX_RATE}"));
    }
    Ok(r)
}

/// A corpus talk the writes edit.
struct Target {
    slug: String,
    /// Its title, location and abstract before the run; an edit sets one of them to this
    /// with the write's mark.
    title: String,
    location: String,
    body: String,
    /// As last acknowledged; None after a failed write, until it is read again.
    state: Option<TalkState>,
    /// A write (or the read after a failure) is in flight.
    busy: bool,
    edits: u64,
}

/// The writes' side of a run.
struct Writer {
    /// A client of its own, so that writes do not wait for a reader's connection.
    http: Http,
    targets: RefCell<Vec<Target>>,
    /// Where the round-robin goes on.
    next: Cell<usize>,
    in_flight: Cell<usize>,
    /// Writes sent so far, numbering each write's mark.
    sent: Cell<u64>,
}

impl Writer {
    /// The talks to edit (every published talk of the corpus), each acknowledged at its
    /// current state.
    async fn new(ctx: &Ctx, url: &str, token: &Secret) -> Result<Self, Error> {
        let http = Http::new(url, token, MAX_IN_FLIGHT);
        let now = Instant::now();
        let mut targets = Vec::new();
        for talk in corpus(&http).await? {
            let not_a_talk = || format!("not a talk: {}", excerpt(&talk.to_string()));
            let state = TalkState::parse(&talk).ok_or_else(not_a_talk)?;
            let body = talk["body_html"].as_str().ok_or_else(not_a_talk)?;
            ctx.fresh.borrow_mut().acknowledge(&state, now);
            targets.push(Target {
                slug: state.slug.clone(),
                title: state.title.chars().take(MAX_BASE_TITLE).collect(),
                location: state.location.clone().unwrap_or_else(|| "Online".into()),
                body: body.to_owned(),
                state: Some(state),
                busy: false,
                edits: 0,
            });
        }
        Ok(Self {
            http,
            targets: RefCell::new(targets),
            next: Cell::new(0),
            in_flight: Cell::new(0),
            sent: Cell::new(0),
        })
    }

    /// The next talk without a write in flight, round-robin, marked busy.
    fn take(&self) -> Option<usize> {
        let mut targets = self.targets.borrow_mut();
        let n = targets.len();
        let start = self.next.get();
        let k = (0..n)
            .map(|i| (start + i) % n)
            .find(|&k| !targets[k].busy)?;
        targets[k].busy = true;
        self.next.set((k + 1) % n);
        Some(k)
    }

    /// The next edit of talk `k` at `before`, marked with write number `n`.
    fn next_edit(&self, k: usize, before: &TalkState, n: u64) -> EditOp {
        let mut targets = self.targets.borrow_mut();
        let target = &mut targets[k];
        let e = target.edits;
        target.edits += 1;
        let field = |field: Field| {
            if (e / 4).is_multiple_of(2) {
                EditOp::Patch(field)
            } else {
                EditOp::UpdateGql(field)
            }
        };
        match e % 4 {
            0 => field(Field::Title(format!("{} (edit {n})", target.title))),
            1 => field(Field::Location(format!("{}, room {n}", target.location))),
            2 => field(Field::Body(format!(
                "{}<p>{MARKER} {n}: a note from the editor.</p>",
                target.body
            ))),
            _ => match before
                .resources
                .iter()
                .find(|r| r.url.starts_with(NOTES_URL))
            {
                Some(note) => EditOp::RemoveResource(note.id.clone()),
                None => EditOp::AddResource {
                    title: format!("Notes (edit {n})"),
                    url: format!("{NOTES_URL}{}/{n}", target.slug),
                },
            },
        }
    }
}

/// One write to talk `k` (taken by `Writer::take`), due at `due`; or, when its last write
/// failed, the read that finds its state again.
async fn write(ctx: Rc<Ctx>, writer: Rc<Writer>, k: usize, due: Instant) {
    let (slug, before) = {
        let targets = writer.targets.borrow();
        (targets[k].slug.clone(), targets[k].state.clone())
    };
    let (kind, op, result) = match before {
        Some(before) => {
            let n = writer.sent.get() + 1;
            writer.sent.set(n);
            let op = writer.next_edit(k, &before, n);
            let result = edit(&writer.http, &before, &op).await;
            (Kind::Write, op.name(), result)
        }
        None => {
            let result = resync(&writer.http, &slug)
                .await
                .and_then(|state| state.ok_or_else(|| Problem::wrong(format!("{slug} is gone"))));
            (Kind::Read, "read: resync a written talk", result)
        }
    };
    let state = match result {
        Ok(state) => {
            ctx.fresh.borrow_mut().acknowledge(&state, Instant::now());
            ctx.record(kind, op, due, now_ms(), Ok(()));
            Some(state)
        }
        Err(problem) => {
            ctx.record(kind, op, due, now_ms(), Err(problem));
            None
        }
    };
    let mut targets = writer.targets.borrow_mut();
    targets[k].state = state;
    targets[k].busy = false;
    writer.in_flight.set(writer.in_flight.get() - 1);
}

/// What the schedule of a phase did.
#[derive(Default)]
struct Schedule {
    /// Writes due.
    due: u64,
    /// Writes not sent: `MAX_IN_FLIGHT` in flight, or every talk had one.
    not_sent: u64,
}

/// Sends `rate` writes a second until `end`, each when it is due; then waits (at most `DRAIN`)
/// for those in flight.
async fn schedule(ctx: Rc<Ctx>, writer: Rc<Writer>, rate: f64, end: Instant) -> Schedule {
    let mut done = Schedule::default();
    let start = Instant::now();
    if rate > 0.0 {
        let period = Duration::from_secs_f64(1.0 / rate);
        let count = (rate * end.saturating_duration_since(start).as_secs_f64()).ceil() as u64;
        for i in 0..count {
            let due = start + period.mul_f64(i as f64);
            if due >= end || ctx.stop.get() || ctx.issued.get() >= ctx.max_requests {
                break;
            }
            sleep_until(due.into()).await;
            done.due += 1;
            let taken = (writer.in_flight.get() < MAX_IN_FLIGHT)
                .then(|| writer.take())
                .flatten();
            let Some(k) = taken else {
                done.not_sent += 1;
                continue;
            };
            ctx.issued.set(ctx.issued.get() + 1);
            writer.in_flight.set(writer.in_flight.get() + 1);
            actix_web::rt::spawn(write(ctx.clone(), writer.clone(), k, due));
        }
    }
    let drained = Instant::now() + DRAIN;
    while writer.in_flight.get() > 0 && Instant::now() < drained {
        sleep(Duration::from_millis(10)).await;
    }
    done
}

/// One stretch of traffic: the readers and the writes at `rate` until `end`. The readers come
/// back with the schedule and when the readers stopped.
async fn stretch(
    ctx: &Rc<Ctx>,
    writer: &Rc<Writer>,
    readers: Vec<Worker>,
    rate: f64,
    end: Instant,
) -> (Vec<Worker>, Schedule, Instant) {
    let writes = actix_web::rt::spawn(schedule(ctx.clone(), writer.clone(), rate, end));
    let readers = run_workers(ctx, readers, end).await;
    let stopped = Instant::now();
    let done = writes.await.unwrap_or_default();
    (readers, done, stopped)
}

/// Prints, every `PROGRESS` until `end`, what a measured stretch has done so far and the
/// server's VmRSS (`rss`), for long runs.
async fn progress(ctx: Rc<Ctx>, start: Instant, end: Instant, rss: impl Fn() -> u64) {
    loop {
        let next = Instant::now() + PROGRESS;
        if next >= end {
            break;
        }
        sleep_until(next.into()).await;
        let (reads, writes, failed) = {
            let stats = ctx.stats.borrow();
            (stats.reads.len(), stats.writes.len(), stats.failed)
        };
        println!(
            "  {:>6.0} s: {reads} reads, {writes} writes, {failed} errors, {} stale; server VmRSS {} MiB",
            start.elapsed().as_secs_f64(),
            ctx.fresh.borrow().stale(),
            rss() / 1024
        );
    }
}

/// Runs `load steady`: true when every check passed in every phase.
pub(crate) async fn run(args: Args, token: &Secret) -> Result<bool, Error> {
    let Args {
        traffic,
        rates,
        seconds,
        warmup,
        connections,
        server_pid,
        clk_tck,
        max_rss_growth,
    } = args;
    if rates.is_empty() || rates.len() > MAX_PHASES {
        return Err(format!("give 1 to {MAX_PHASES} rates").into());
    }
    let ctx = context(Mode::Steady, &traffic, token, connections, 0).await?;
    let writer = Rc::new(Writer::new(&ctx, &traffic.target.url, token).await?);
    println!(
        "== load steady: {} published talks ({} events, {} years, {} words to search), {connections} connections reading, \
         writes/s {rates:?}, each phase {warmup} s warm-up + {seconds} s measured",
        ctx.slugs.len(),
        ctx.events.len(),
        ctx.years.len(),
        ctx.words.len() + 1,
    );
    let rss = move || server_pid.and_then(vm_rss_kib).unwrap_or(0);
    println!("server VmRSS at the start: {} MiB", rss() / 1024);
    let mut readers = new_workers(connections, 0x57EAD);
    let mut ok = true;
    for (index, &rate) in rates.iter().enumerate() {
        println!("== phase {}/{}: {rate} writes/s", index + 1, rates.len());
        let mut fresh = Tally::default();
        if warmup > 0.0 {
            let end = Instant::now() + Duration::from_secs_f64(warmup);
            let (back, _, _) = stretch(&ctx, &writer, readers, rate, end).await;
            readers = back;
            let w = std::mem::take(&mut *ctx.stats.borrow_mut());
            fresh = ctx.fresh.borrow_mut().take();
            println!(
                "warm-up: {} ok, {} failed, {} stale",
                w.ok, w.failed, fresh.stale
            );
            ctx.stats.borrow_mut().merge_errors(&w);
        }
        let rss_warm = rss();
        let lookups_before = cache_lookups(&writer.http).await;
        let cpu_server = server_pid.and_then(|p| proc_ticks(&p.to_string()));
        let cpu_self = proc_ticks("self");
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(seconds);
        let report = actix_web::rt::spawn(progress(ctx.clone(), start, end, rss));
        let (back, done, stopped) = stretch(&ctx, &writer, readers, rate, end).await;
        let _ = report.await;
        readers = back;
        let elapsed = stopped.duration_since(start).as_secs_f64().max(1e-9);
        let cpu = |before, after| {
            cores(before, after, clk_tck, elapsed)
                .map_or_else(|| "?".to_owned(), |c| format!("{c:.2}"))
        };
        let server_cores = cpu(
            cpu_server,
            server_pid.and_then(|p| proc_ticks(&p.to_string())),
        );
        let driver_cores = cpu(cpu_self, proc_ticks("self"));
        let lookups = match (lookups_before, cache_lookups(&writer.http).await) {
            (Some(before), Some(after)) => Some(after.since(&before)),
            _ => None,
        };
        let rss_end = rss();
        let mut stats = std::mem::take(&mut *ctx.stats.borrow_mut());
        let measured = ctx.fresh.borrow_mut().take();
        fresh.checked += measured.checked;
        fresh.stale += measured.stale;
        fresh.samples.extend(measured.samples);
        fresh.samples.truncate(MAX_STALE_SAMPLES);
        let phase = Phase {
            index: index + 1,
            rate,
            seconds,
            connections,
            elapsed,
            schedule: done,
            fresh,
            server_cores,
            driver_cores,
            rss_warm,
            rss_end,
            lookups,
        };
        ok &= phase.report(&mut stats, server_pid.is_some(), max_rss_growth);
    }
    Ok(ok)
}

/// A phase's figures, for its report.
struct Phase {
    index: usize,
    rate: f64,
    seconds: f64,
    connections: usize,
    elapsed: f64,
    schedule: Schedule,
    fresh: Tally,
    server_cores: String,
    driver_cores: String,
    rss_warm: u64,
    rss_end: u64,
    /// The server's response cache lookups while measured (None: not told by `/metrics`).
    lookups: Option<Lookups>,
}

/// The server's response cache lookups by outcome, from `/metrics`
/// (`lectern_response_cache_lookups_total`).
#[derive(Debug, Clone, Copy, Default)]
struct Lookups {
    hit: u64,
    waited: u64,
    absent: u64,
    changed: u64,
    not_kept: u64,
}

impl Lookups {
    fn since(&self, before: &Lookups) -> Lookups {
        Lookups {
            hit: self.hit.saturating_sub(before.hit),
            waited: self.waited.saturating_sub(before.waited),
            absent: self.absent.saturating_sub(before.absent),
            changed: self.changed.saturating_sub(before.changed),
            not_kept: self.not_kept.saturating_sub(before.not_kept),
        }
    }

    /// Responses computed: every lookup not served from the cache.
    fn computed(&self) -> u64 {
        self.absent + self.changed + self.not_kept
    }
}

/// The counters as the server tells them now; None when it does not (metrics off).
async fn cache_lookups(http: &Http) -> Option<Lookups> {
    let text = http.text("/metrics").await?;
    let mut lookups = Lookups::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("lectern_response_cache_lookups_total{outcome=\"")
        else {
            continue;
        };
        let (outcome, value) = rest.split_once("\"}")?;
        let value = value.trim().parse::<f64>().ok()? as u64;
        match outcome {
            "hit" => lookups.hit = value,
            "waited" => lookups.waited = value,
            "absent" => lookups.absent = value,
            "changed" => lookups.changed = value,
            "not_kept" => lookups.not_kept = value,
            _ => {}
        }
    }
    Some(lookups)
}

impl Phase {
    /// Prints the phase's report and its `RESULT` line: true when it passed.
    fn report(&self, stats: &mut Stats, rss_known: bool, max_rss_growth: f64) -> bool {
        let elapsed = self.elapsed;
        stats.reads.sort_unstable();
        stats.writes.sort_unstable();
        let (reads, writes) = (stats.reads.len(), stats.writes.len());
        println!(
            "measured {elapsed:.1} s: {:.1} reads/s; {:.1} writes/s acknowledged of {:.1} due ({} due, {} not sent)",
            reads as f64 / elapsed,
            writes as f64 / elapsed,
            self.schedule.due as f64 / elapsed,
            self.schedule.due,
            self.schedule.not_sent
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
        per_op(stats);
        println!(
            "  CPU while measured: server {} cores, this driver {} cores",
            self.server_cores, self.driver_cores
        );
        let growth = if self.rss_warm > 0 {
            100.0 * (self.rss_end as f64 - self.rss_warm as f64) / self.rss_warm as f64
        } else {
            0.0
        };
        println!(
            "  server VmRSS: after warm-up {} MiB, end {} MiB ({growth:+.1}%)",
            self.rss_warm / 1024,
            self.rss_end / 1024
        );
        let cache = match self.lookups {
            Some(l) => {
                println!(
                    "  response cache: {} hits, {} after waiting for another request's computation; computed {} \
                     ({} changed by a write, {} absent, {} not kept)",
                    l.hit,
                    l.waited,
                    l.computed(),
                    l.changed,
                    l.absent,
                    l.not_kept
                );
                format!(
                    "cache_hits={} cache_waited={} cache_computed={} cache_changed={} cache_absent={}",
                    l.hit,
                    l.waited,
                    l.computed(),
                    l.changed,
                    l.absent
                )
            }
            None => {
                "cache_hits=? cache_waited=? cache_computed=? cache_changed=? cache_absent=?".into()
            }
        };
        println!(
            "  freshness: {} talks in answers checked against a write acknowledged before the read was sent; {} stale (warm-up included)",
            self.fresh.checked, self.fresh.stale
        );
        for sample in &self.fresh.samples {
            println!("  stale: {sample}");
        }
        println!(
            "  errors: {} (any non-2xx, GraphQL error, transport failure or wrong answer, warm-up included)",
            stats.failed
        );
        print_errors(stats);
        println!(
            "RESULT phase={} write_rate={} seconds={} connections={} reads={reads} read_rps={:.1} read_p50_ms={:.2} \
             read_p99_ms={:.2} writes={writes} write_rps={:.1} write_p50_ms={:.2} write_p99_ms={:.2} writes_due={} \
             writes_not_sent={} checked={} stale={} errors={} server_cores={} driver_cores={} rss_warm_kb={} \
             rss_end_kb={} rss_growth_pct={growth:.1} {cache}",
            self.index,
            self.rate,
            self.seconds,
            self.connections,
            reads as f64 / elapsed,
            ms(pct(&stats.reads, 50.0)),
            ms(pct(&stats.reads, 99.0)),
            writes as f64 / elapsed,
            ms(pct(&stats.writes, 50.0)),
            ms(pct(&stats.writes, 99.0)),
            self.schedule.due,
            self.schedule.not_sent,
            self.fresh.checked,
            self.fresh.stale,
            stats.failed,
            self.server_cores,
            self.driver_cores,
            self.rss_warm,
            self.rss_end,
        );
        let mut ok = true;
        let mut fail = |why: String| {
            println!("FAIL: phase {}: {why}", self.index);
            ok = false;
        };
        if stats.failed > 0 {
            fail(format!("{} errors", stats.failed));
        }
        if self.fresh.stale > 0 {
            fail(format!("{} stale answers", self.fresh.stale));
        }
        if rss_known && growth > max_rss_growth {
            fail(format!(
                "VmRSS grew {growth:.1}% after the warm-up (more than {max_rss_growth}%)"
            ));
        }
        if reads == 0 || (self.rate > 0.0 && writes == 0) {
            fail("nothing was measured".into());
        }
        ok
    }
}
