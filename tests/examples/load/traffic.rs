//! The traffic every mode but verify sends: connections (workers) that each send one request
//! after another, reads and writes mixed, and the statistics of what they were answered.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use awc::http::Method;
use serde_json::Value;
use tests::bench::env::Secret;
use tests::bench::now_ms;

use crate::edits::{Owned, write_one};
use crate::fresh::Fresh;
use crate::http::{Http, Problem};
use crate::reads::read_one;
use crate::{Error, Traffic};

/// Error bodies kept for the report.
const MAX_SAMPLES: usize = 8;

/// What a request counts as in the statistics.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

/// One finished request, for the fault modes: when it was sent and answered (ms since the
/// driver started, and unix ms), and whether it failed and how.
pub(crate) struct Sample {
    pub(crate) start: Instant,
    pub(crate) end: Instant,
    pub(crate) end_unix_ms: i64,
    pub(crate) start_unix_ms: i64,
    pub(crate) failure: Option<String>,
}

/// What the requests were answered, for the report.
#[derive(Default)]
pub(crate) struct Stats {
    /// Latencies of successful requests, µs.
    pub(crate) reads: Vec<u32>,
    pub(crate) writes: Vec<u32>,
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    /// Failures by kind (`op: what`).
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) samples: Vec<String>,
    /// Requests by operation: (ok, failed).
    pub(crate) per_op: BTreeMap<&'static str, (u64, u64)>,
    /// Every request, in the fault modes.
    pub(crate) timeline: Vec<Sample>,
}

impl Stats {
    /// Adds the failures of `other` (the warm-up's) to these.
    pub(crate) fn merge_errors(&mut self, other: &Self) {
        self.failed += other.failed;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for s in &other.samples {
            if self.samples.len() < MAX_SAMPLES {
                self.samples.push(s.clone());
            }
        }
    }
}

/// Which mode sends the traffic: how a connection reacts to a failure, and whether every
/// request is kept on the timeline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Mixed,
    Writes,
    Sigterm,
    Outage,
    /// Reads only: the writes are the steady mode's own, at a fixed rate.
    Steady,
}

impl Mode {
    /// Whether every request is kept on the timeline (the fault modes judge it).
    fn keeps_timeline(self) -> bool {
        matches!(self, Self::Writes | Self::Sigterm | Self::Outage)
    }
}

/// A small linear congruential generator: enough variety, no dependency.
pub(crate) struct Lcg(u64);

impl Lcg {
    /// The next number, below `below` (which must not be 0).
    pub(crate) fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// One connection: the talks it created and what it has sent.
pub(crate) struct Worker {
    pub(crate) index: usize,
    pub(crate) rng: Lcg,
    pub(crate) owned: Vec<Owned>,
    pub(crate) creates: u64,
    pub(crate) writes: u64,
    /// Edits (writes other than creates).
    pub(crate) edits: u64,
    /// Stopped for good (the writes mode stops a connection at its first failure).
    pub(crate) done: bool,
}

/// What every connection of a run shares.
pub(crate) struct Ctx {
    pub(crate) mode: Mode,
    pub(crate) http: Http,
    /// The published talks' slugs, years and events, and words of their titles to search.
    pub(crate) slugs: Vec<String>,
    pub(crate) years: Vec<i64>,
    pub(crate) events: Vec<String>,
    pub(crate) words: Vec<String>,
    pub(crate) tag: String,
    pub(crate) write_permille: u64,
    pub(crate) max_requests: u64,
    pub(crate) issued: Cell<u64>,
    pub(crate) stats: RefCell<Stats>,
    /// The talks' acknowledged states, every read checked against them (the steady mode's
    /// writes fill them; other modes read talks they never write).
    pub(crate) fresh: RefCell<Fresh>,
    pub(crate) stop: Cell<bool>,
}

impl Ctx {
    /// Counts one finished request (and keeps it on the timeline in the fault modes).
    pub(crate) fn record(
        &self,
        kind: Kind,
        op: &'static str,
        start: Instant,
        start_unix_ms: i64,
        outcome: Result<(), Problem>,
    ) {
        let end = Instant::now();
        let us = end
            .duration_since(start)
            .as_micros()
            .min(u128::from(u32::MAX)) as u32;
        let mut stats = self.stats.borrow_mut();
        let entry = stats.per_op.entry(op).or_default();
        let failure = match outcome {
            Ok(()) => {
                entry.0 += 1;
                stats.ok += 1;
                match kind {
                    Kind::Read => stats.reads.push(us),
                    Kind::Write => stats.writes.push(us),
                }
                None
            }
            Err(problem) => {
                entry.1 += 1;
                stats.failed += 1;
                let key = format!("{op}: {}", problem.kind);
                *stats.errors.entry(key.clone()).or_default() += 1;
                if stats.samples.len() < MAX_SAMPLES {
                    stats.samples.push(format!("{key}: {}", problem.detail));
                }
                Some(problem.kind)
            }
        };
        if self.mode.keeps_timeline() {
            stats.timeline.push(Sample {
                start,
                end,
                end_unix_ms: now_ms(),
                start_unix_ms,
                failure,
            });
        }
    }
}

/// One connection's loop: requests one after another until `end`, the request bound, or a stop.
async fn worker_loop(ctx: Rc<Ctx>, mut worker: Worker, end: Instant) -> Worker {
    while !worker.done && !ctx.stop.get() && Instant::now() < end {
        if ctx.issued.get() >= ctx.max_requests {
            break;
        }
        ctx.issued.set(ctx.issued.get() + 1);
        let start = Instant::now();
        let start_unix_ms = now_ms();
        let write = worker.rng.next(1000) < ctx.write_permille;
        let (kind, op, result) = if write {
            write_one(&ctx, &mut worker).await
        } else {
            let (op, result) = read_one(&ctx, &mut worker.rng).await;
            (Kind::Read, op, result)
        };
        let failed = result.is_err();
        let transport = result.as_ref().err().is_some_and(|p| p.transport);
        ctx.record(kind, op, start, start_unix_ms, result);
        if failed {
            match ctx.mode {
                // The server is gone (or misbehaves): this connection stops, its talks as they are.
                Mode::Writes => worker.done = true,
                Mode::Sigterm if transport => worker.done = true,
                Mode::Outage | Mode::Sigterm => {
                    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                }
                Mode::Mixed | Mode::Steady => {}
            }
        }
    }
    worker
}

/// Runs every worker until `end`, and hands them back.
pub(crate) async fn run_workers(ctx: &Rc<Ctx>, workers: Vec<Worker>, end: Instant) -> Vec<Worker> {
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|w| actix_web::rt::spawn(worker_loop(ctx.clone(), w, end)))
        .collect();
    let mut back = Vec::new();
    for task in tasks {
        if let Ok(worker) = task.await {
            back.push(worker);
        }
    }
    back
}

/// `count` connections, their random choices seeded from `seed`.
pub(crate) fn new_workers(count: usize, seed: u64) -> Vec<Worker> {
    (0..count)
        .map(|index| Worker {
            index,
            rng: Lcg(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            owned: Vec::new(),
            creates: 0,
            writes: 0,
            edits: 0,
            done: false,
        })
        .collect()
}

/// A tag that makes this run's slugs unique.
fn run_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}",
        (nanos as u64) ^ u64::from(std::process::id()).rotate_left(40)
    )
}

/// The published talks with their resources and embeds, read anonymously through the REST
/// list.
pub(crate) async fn corpus(http: &Http) -> Result<Vec<Value>, Error> {
    let mut talks = Vec::new();
    let mut path = "/api/v1/talks?limit=100&include=resources,embeds".to_owned();
    for _ in 0..1000 {
        let reply = http
            .send(Method::GET, &path, false, &[], None)
            .await
            .map_err(|p| format!("GET {path}: {} {}", p.kind, p.detail))?;
        if reply.status != 200 {
            return Err(format!("GET {path}: {} {}", reply.status, reply.raw).into());
        }
        talks.extend(reply.body["data"].as_array().into_iter().flatten().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/talks?limit=100&include=resources,embeds&cursor={cursor}")
            }
            None => break,
        }
    }
    if talks.is_empty() {
        return Err("the server has no published talks to read; import the corpus first".into());
    }
    Ok(talks)
}

/// Words to search for: the distinct words of six letters or more in the talks' titles, at
/// most `MAX_WORDS`, in the order they first appear.
fn title_words(talks: &[Value]) -> Vec<String> {
    const MAX_WORDS: usize = 32;
    let mut words = Vec::new();
    let titles = talks.iter().filter_map(|t| t["title"].as_str());
    for word in titles.flat_map(|t| t.split(|c: char| !c.is_ascii_alphabetic())) {
        let word = word.to_ascii_lowercase();
        if word.len() >= 6 && !words.contains(&word) && words.len() < MAX_WORDS {
            words.push(word);
        }
    }
    words
}

/// The shared state of a run: the client, the corpus to read, and the statistics. In the
/// writes mode every request is a write; elsewhere `write_percent` of them.
pub(crate) async fn context(
    mode: Mode,
    traffic: &Traffic,
    token: &Secret,
    connections: usize,
    write_percent: u64,
) -> Result<Rc<Ctx>, Error> {
    let http = Http::new(&traffic.target.url, token, connections);
    let talks = corpus(&http).await?;
    let text = |t: &Value, k: &str| t[k].as_str().map(str::to_owned);
    let slugs = talks.iter().filter_map(|t| text(t, "slug")).collect();
    let years: BTreeSet<i64> = talks
        .iter()
        .filter_map(|t| t["date"].as_str()?.get(..4)?.parse().ok())
        .collect();
    let events: BTreeSet<String> = talks.iter().filter_map(|t| text(t, "event")).collect();
    Ok(Rc::new(Ctx {
        mode,
        http,
        slugs,
        years: years.into_iter().collect(),
        events: events.into_iter().collect(),
        words: title_words(&talks),
        tag: run_tag(),
        write_permille: if mode == Mode::Writes {
            1000
        } else {
            write_percent * 10
        },
        max_requests: traffic.max_requests,
        issued: Cell::new(0),
        stats: RefCell::new(Stats::default()),
        fresh: RefCell::new(Fresh::default()),
        stop: Cell::new(false),
    }))
}

/// The failures by kind, and the first error bodies.
pub(crate) fn print_errors(stats: &Stats) {
    for (kind, count) in &stats.errors {
        println!("  error {count:>7} × {kind}");
    }
    for sample in &stats.samples {
        println!("  sample: {sample}");
    }
}

/// The requests by operation: how many succeeded and failed.
pub(crate) fn per_op(stats: &Stats) {
    for (op, (ok, failed)) in &stats.per_op {
        println!("  {op:<34} {ok:>8} ok {failed:>6} failed");
    }
}
