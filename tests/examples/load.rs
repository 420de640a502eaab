//! The mixed-load and fault drivers (`bench/load.sh` and `bench/faults.sh` run them): closed-loop
//! HTTP traffic against a running `lectern` on 127.0.0.1, checking every answer.
//!
//! Usage (the editor token comes from `LECTERN_LOAD_TOKEN`, never an argument):
//!
//! ```text
//! load mixed   --url http://127.0.0.1:PORT [--seconds 60] [--warmup 10] [--connections 32]
//!              [--write-percent 10] [--server-pid PID] [--clk-tck 100] [--max-requests N]
//! load writes  --url U --acks FILE [--seconds 20] [--connections 8]        (fault a, part 1)
//! load verify  --url U --acks FILE --database-url DB                       (fault a, part 2)
//! load sigterm --url U --server-pid PID [--before 3] [--bound 30] [--connections 32]  (fault b)
//! load outage  --url U --marks FILE [--seconds 45] [--connections 8] [--grace 15]     (fault c)
//! ```
//!
//! Traffic. Reads are anonymous (readers see the corpus's published talks): GraphQL
//! `talk(slug:)` with resources and embeds (30%), GraphQL `talks(first: 20)` with resources and
//! embeds, on the first page or filtered by a year (20%), REST `GET /api/v1/talks/{slug}` (30%)
//! and REST `GET /api/v1/talks?include=resources,embeds` (20%). Writes use the token; each
//! connection writes only the talks it created itself (`load-<run>-<connection>-<n>`, at most 4
//! each), so no write can legitimately conflict: REST `POST /talks` and GraphQL `createTalk`
//! (with two resources and an embed), then in turn a REST `PATCH` of the title (`If-Match`), a
//! GraphQL `updateTalk` (`expectedVersion`), a REST resource added or removed (`If-Match`), a
//! REST reorder of the resources (`If-Match`) and a GraphQL embed added or removed.
//!
//! Every answer is checked: a read must be a 2xx without GraphQL `errors`, naming the talk
//! asked for (or a non-empty page); a write must answer the talk at exactly the next version,
//! with the change asked for and nothing else (resources and embeds compared by id, in order).
//! Anything else is an error, with its kind and the first bodies printed.
//!
//! Bounds: every run stops after `--seconds` (at most 3,600) or `--max-requests` (10,000,000),
//! each request after 15 s; `--url` must be `http://127.0.0.1:…`.
//!
//! Modes:
//!
//! - `mixed`: `--warmup` seconds of the traffic (errors count, figures do not), then `--seconds`
//!   measured. Reports requests/s and p50/p99 (reads, writes, all), the error count, and the
//!   server's VmRSS before the warm-up, after it, and at the end. Exits 1 on any error, or when
//!   the end's RSS exceeds the post-warm-up one by more than 20%.
//! - `writes`: writes only, at full speed, until `--seconds` or until every connection has lost
//!   the server (`kill -9`). Every acknowledged state, and each write left without an answer
//!   ("in doubt"), goes to `--acks` as JSON.
//! - `verify`: after the restart, checks `--acks` against the restarted server (each talk at its
//!   acknowledged version with that state, or one version later when a write was in doubt) and
//!   against the database itself: for every acknowledged version exactly one change event;
//!   each talk's events at versions 1, 2, … with no gap or repeat; and, for every talk in the
//!   database, the latest event's payload equal to the stored talk, resources and embeds, whose
//!   positions run 0, 1, … with no hole.
//! - `sigterm`: the mixed traffic for `--before` seconds, then SIGTERM to `--server-pid` (sent
//!   by this driver, so that it knows exactly which requests were sent before it). Every request
//!   sent before the signal must be answered with a 2xx; the process must be gone within
//!   `--bound` seconds. Requests sent after the signal are reported, not judged.
//! - `outage`: the mixed traffic for `--seconds`, never stopping on errors. At the end it reads
//!   `--marks` (lines `stop <unix ms>` and `start <unix ms>`, written by the script around
//!   `pg_ctlcluster … stop` and `start`) and checks that errors happened only from the stop
//!   until `--grace` seconds after the start, that each was a 503, and that every request after
//!   the last error succeeded. Without marks (a dry run) there must be no error at all.
//!
//! Output: a report, and one `RESULT key=value …` line for the script.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use awc::error::SendRequestError;
use awc::http::Method;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_SECONDS: f64 = 3600.0;
const MAX_CONNECTIONS: usize = 512;
const DEFAULT_MAX_REQUESTS: u64 = 10_000_000;
/// Talks each connection creates and then edits, at most.
const MAX_OWNED: usize = 4;
/// Error bodies kept for the report.
const MAX_SAMPLES: usize = 8;

const TALK_QUERY: &str = "query($slug: String!) { talk(slug: $slug) { id slug title date event location imageUrl pdfUrl bodyHtml version resources { title url description } embeds { kind html video { src provider } } } }";
const LIST_QUERY: &str = "query($first: Int!, $filter: TalkFilter) { talks(first: $first, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } nodes { id slug title date event location excerpt resources { title url } embeds { kind } } } }";
const STATE: &str =
    "id slug title version resources { id title url description } embeds { id kind }";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}

// ---------------------------------------------------------------------------------------------
// Arguments

struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(args: impl Iterator<Item = String>, allowed: &[&str]) -> Result<Self, Error> {
        let mut values = HashMap::new();
        let mut args = args;
        while let Some(flag) = args.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {flag}"))?;
            if !allowed.contains(&name) {
                return Err(format!("unknown flag --{name}; this mode takes {allowed:?}").into());
            }
            let value = args
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            values.insert(name.to_owned(), value);
        }
        Ok(Self(values))
    }

    fn text(&self, name: &str) -> Result<String, Error> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, Error>
    where
        T::Err: std::fmt::Display,
    {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| format!("--{name} {v}: {e}").into()),
        }
    }

    /// The server's URL, which must be on 127.0.0.1.
    fn url(&self) -> Result<String, Error> {
        let url = self.text("url")?.trim_end_matches('/').to_owned();
        match url.strip_prefix("http://127.0.0.1:") {
            Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => Ok(url),
            _ => Err(format!("--url must be http://127.0.0.1:PORT, not {url}").into()),
        }
    }

    fn seconds(&self, name: &str, default: f64) -> Result<f64, Error> {
        let s = self.num(name, default)?;
        if !(0.0..=MAX_SECONDS).contains(&s) {
            return Err(format!("--{name} must be within 0..={MAX_SECONDS}").into());
        }
        Ok(s)
    }

    fn connections(&self, default: usize) -> Result<usize, Error> {
        let c = self.num("connections", default)?;
        if !(1..=MAX_CONNECTIONS).contains(&c) {
            return Err(format!("--connections must be within 1..={MAX_CONNECTIONS}").into());
        }
        Ok(c)
    }
}

fn token() -> Result<String, Error> {
    std::env::var("LECTERN_LOAD_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "set LECTERN_LOAD_TOKEN to an editor token".into())
}

// ---------------------------------------------------------------------------------------------
// Statistics and /proc

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

/// The resident memory of a process, in KiB, from /proc/PID/status.
fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system) of a process, in clock ticks.
fn proc_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Whether a process is gone (or a zombie waiting to be reaped: it has exited).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

/// One finished request, for the fault modes: when it was sent and answered (ms since the
/// driver started, and unix ms), and whether it failed and how.
struct Sample {
    start: Instant,
    end: Instant,
    end_unix_ms: i64,
    start_unix_ms: i64,
    failure: Option<String>,
}

#[derive(Default)]
struct Stats {
    /// Latencies of successful requests, µs.
    reads: Vec<u32>,
    writes: Vec<u32>,
    ok: u64,
    failed: u64,
    /// Failures by kind (`op: what`).
    errors: BTreeMap<String, u64>,
    samples: Vec<String>,
    /// Requests by operation: (ok, failed).
    per_op: BTreeMap<&'static str, (u64, u64)>,
    /// Every request, in the fault modes.
    timeline: Vec<Sample>,
}

impl Stats {
    fn merge_errors(&mut self, other: &Self) {
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

/// A failed request: a short kind for counting and a detail for the report.
#[derive(Debug)]
struct Problem {
    kind: String,
    detail: String,
    /// Whether the server may have acted on it (a transport failure after the request may
    /// have been sent, or any answer but the expected one).
    maybe_applied: bool,
    /// A transport failure: no HTTP answer at all.
    transport: bool,
}

impl Problem {
    fn wrong(detail: String) -> Self {
        Self {
            kind: "wrong answer".into(),
            detail,
            maybe_applied: true,
            transport: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

struct Reply {
    status: u16,
    content_type: String,
    body: Value,
    raw: String,
}

struct Http {
    client: awc::Client,
    base: String,
    bearer: String,
}

impl Http {
    fn new(base: &str, token: &str, connections: usize) -> Self {
        let client = awc::Client::builder()
            .connector(
                awc::Connector::new()
                    .limit(connections)
                    .conn_keep_alive(Duration::from_secs(120)),
            )
            .timeout(REQUEST_TIMEOUT)
            .finish();
        Self {
            client,
            base: base.to_owned(),
            bearer: format!("Bearer {token}"),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        auth: bool,
        headers: &[(&'static str, String)],
        body: Option<(&'static str, String)>,
    ) -> Result<Reply, Problem> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if auth {
            request = request.insert_header(("Authorization", self.bearer.as_str()));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, value.as_str()));
        }
        let sent = match body {
            Some((content_type, body)) => {
                request
                    .insert_header(("Content-Type", content_type))
                    .send_body(body)
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.map_err(|e| {
            let (kind, maybe_applied) = match &e {
                // awc reports a request in flight on a pooled connection that broke as a
                // connect error too ("connector has been disconnected"): it may have been sent.
                SendRequestError::Connect(_) => ("connect failed", true),
                SendRequestError::Timeout => ("timeout", true),
                _ => ("connection lost", true),
            };
            Problem {
                kind: kind.into(),
                detail: e.to_string(),
                maybe_applied,
                transport: true,
            }
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .map_err(|e| Problem {
                kind: "body lost".into(),
                detail: format!("{status}: {e}"),
                maybe_applied: true,
                transport: true,
            })?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let raw = if body.is_null() {
            excerpt(&String::from_utf8_lossy(&bytes))
        } else {
            String::new()
        };
        Ok(Reply {
            status,
            content_type,
            body,
            raw,
        })
    }

    async fn graphql(&self, query: &str, variables: Value, auth: bool) -> Result<Reply, Problem> {
        let body = json!({"query": query, "variables": variables}).to_string();
        self.send(
            Method::POST,
            "/graphql",
            auth,
            &[],
            Some(("application/json", body)),
        )
        .await
    }
}

/// The problem an unexpected answer is: its status (`503 problem+json` for an RFC 9457 503),
/// or the GraphQL error code.
fn answer_problem(reply: &Reply, expected: u16) -> Option<Problem> {
    let detail = || {
        if reply.body.is_null() {
            reply.raw.clone()
        } else {
            excerpt(&reply.body.to_string())
        }
    };
    if reply.status != expected {
        let kind = if reply.content_type.starts_with("application/problem+json") {
            format!("{} problem+json", reply.status)
        } else {
            format!("{} {}", reply.status, reply.content_type)
        };
        return Some(Problem {
            kind,
            detail: detail(),
            maybe_applied: true,
            transport: false,
        });
    }
    if let Some(errors) = reply.body.get("errors").filter(|e| !e.is_null()) {
        let code = errors[0]["extensions"]["code"].as_str().unwrap_or("?");
        return Some(Problem {
            kind: format!("graphql {code}"),
            detail: detail(),
            maybe_applied: true,
            transport: false,
        });
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Talk state, as a write answers it

#[derive(Clone, Debug, PartialEq)]
struct Res {
    id: String,
    title: String,
    url: String,
    description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct Emb {
    id: String,
    kind: String,
}

/// What a write answers (REST and GraphQL name these fields alike).
#[derive(Clone, Debug, PartialEq)]
struct TalkState {
    id: String,
    slug: String,
    title: String,
    version: i64,
    resources: Vec<Res>,
    embeds: Vec<Emb>,
}

impl TalkState {
    fn parse(v: &Value) -> Option<Self> {
        let text = |v: &Value, k: &str| v[k].as_str().map(str::to_owned);
        Some(Self {
            id: text(v, "id")?,
            slug: text(v, "slug")?,
            title: text(v, "title")?,
            version: v["version"].as_i64()?,
            resources: v["resources"]
                .as_array()?
                .iter()
                .map(|r| {
                    Some(Res {
                        id: text(r, "id")?,
                        title: text(r, "title")?,
                        url: text(r, "url")?,
                        description: text(r, "description"),
                    })
                })
                .collect::<Option<_>>()?,
            embeds: v["embeds"]
                .as_array()?
                .iter()
                .map(|e| {
                    Some(Emb {
                        id: text(e, "id")?,
                        kind: text(e, "kind")?,
                    })
                })
                .collect::<Option<_>>()?,
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id, "slug": self.slug, "title": self.title, "version": self.version,
            "resources": self.resources.iter().map(|r| json!({"id": r.id, "title": r.title, "url": r.url, "description": r.description})).collect::<Vec<_>>(),
            "embeds": self.embeds.iter().map(|e| json!({"id": e.id, "kind": e.kind})).collect::<Vec<_>>(),
        })
    }

    fn etag(&self) -> String {
        format!("\"{}.{}\"", self.id, self.version)
    }
}

// ---------------------------------------------------------------------------------------------
// The traffic

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Mixed,
    Writes,
    Sigterm,
    Outage,
}

/// A small linear congruential generator: enough variety, no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// A talk a connection created and edits: its state as last acknowledged.
struct Owned {
    slug: String,
    acked: Option<TalkState>,
    /// Every version a write to it was acknowledged at.
    acked_versions: Vec<i64>,
    /// A write after the last acknowledged one that may have been applied (no answer, or an
    /// unexpected one).
    in_doubt: Option<String>,
    /// Read it again before the next write (after a failure).
    stale: bool,
}

struct Worker {
    index: usize,
    rng: Lcg,
    owned: Vec<Owned>,
    creates: u64,
    writes: u64,
    /// Edits (writes other than creates).
    edits: u64,
    /// Stopped for good (the writes mode stops a connection at its first failure).
    done: bool,
}

enum EditOp {
    Patch,
    UpdateGql,
    AddResource,
    RemoveResource(String),
    Reorder,
    AddEmbed,
    RemoveEmbed(String),
}

impl EditOp {
    fn name(&self) -> &'static str {
        match self {
            Self::Patch => "write: REST PATCH talk",
            Self::UpdateGql => "write: GraphQL updateTalk",
            Self::AddResource => "write: REST add resource",
            Self::RemoveResource(_) => "write: REST remove resource",
            Self::Reorder => "write: REST reorder resources",
            Self::AddEmbed => "write: GraphQL addEmbed",
            Self::RemoveEmbed(_) => "write: GraphQL removeEmbed",
        }
    }
}

struct Ctx {
    mode: Mode,
    http: Http,
    slugs: Vec<String>,
    years: Vec<i64>,
    tag: String,
    write_permille: u64,
    max_requests: u64,
    issued: Cell<u64>,
    stats: RefCell<Stats>,
    stop: Cell<bool>,
}

impl Ctx {
    fn record(
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
        if self.mode != Mode::Mixed {
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

async fn read_one(ctx: &Ctx, rng: &mut Lcg) -> (&'static str, Result<(), Problem>) {
    let slug = &ctx.slugs[rng.next(ctx.slugs.len() as u64) as usize];
    let year = (!ctx.years.is_empty() && rng.next(2) == 0)
        .then(|| ctx.years[rng.next(ctx.years.len() as u64) as usize]);
    let pick = rng.next(10);
    if pick < 3 {
        let op = "read: GraphQL talk(slug:)";
        let reply = ctx
            .http
            .graphql(TALK_QUERY, json!({"slug": slug}), false)
            .await;
        let result = reply.and_then(|r| match answer_problem(&r, 200) {
            Some(p) => Err(p),
            None if r.body["data"]["talk"]["slug"].as_str() == Some(slug)
                && r.body["data"]["talk"]["resources"].is_array() =>
            {
                Ok(())
            }
            None => Err(Problem::wrong(format!(
                "talk {slug}: {}",
                excerpt(&r.body.to_string())
            ))),
        });
        (op, result)
    } else if pick < 5 {
        let op = "read: GraphQL talks(first: 20)";
        let filter = year.map_or(Value::Null, |y| json!({"year": y}));
        let reply = ctx
            .http
            .graphql(LIST_QUERY, json!({"first": 20, "filter": filter}), false)
            .await;
        let result = reply.and_then(|r| {
            if let Some(p) = answer_problem(&r, 200) {
                return Err(p);
            }
            let nodes = r.body["data"]["talks"]["nodes"].as_array();
            match nodes {
                Some(nodes)
                    if !nodes.is_empty()
                        && nodes
                            .iter()
                            .all(|n| n["slug"].is_string() && n["resources"].is_array()) =>
                {
                    Ok(())
                }
                _ => Err(Problem::wrong(format!(
                    "talks (year {year:?}): {}",
                    excerpt(&r.body.to_string())
                ))),
            }
        });
        (op, result)
    } else if pick < 8 {
        let op = "read: REST GET talk";
        let reply = ctx
            .http
            .send(
                Method::GET,
                &format!("/api/v1/talks/{slug}"),
                false,
                &[],
                None,
            )
            .await;
        let result = reply.and_then(|r| match answer_problem(&r, 200) {
            Some(p) => Err(p),
            None if r.body["slug"].as_str() == Some(slug) && r.body["resources"].is_array() => {
                Ok(())
            }
            None => Err(Problem::wrong(format!(
                "GET {slug}: {}",
                excerpt(&r.body.to_string())
            ))),
        });
        (op, result)
    } else {
        let op = "read: REST GET talks";
        let path = match year {
            Some(y) => format!("/api/v1/talks?limit=20&include=resources,embeds&year={y}"),
            None => "/api/v1/talks?limit=20&include=resources,embeds".to_owned(),
        };
        let reply = ctx.http.send(Method::GET, &path, false, &[], None).await;
        let result = reply.and_then(|r| {
            if let Some(p) = answer_problem(&r, 200) {
                return Err(p);
            }
            match r.body["data"].as_array() {
                Some(data)
                    if !data.is_empty()
                        && data
                            .iter()
                            .all(|t| t["slug"].is_string() && t["resources"].is_array()) =>
                {
                    Ok(())
                }
                _ => Err(Problem::wrong(format!(
                    "{path}: {}",
                    excerpt(&r.body.to_string())
                ))),
            }
        });
        (op, result)
    }
}

/// The talk a write answered, which must be `expected` (ids of new items aside).
fn check_state(
    answered: &Value,
    check: impl FnOnce(&TalkState) -> Result<(), String>,
) -> Result<TalkState, Problem> {
    let state = TalkState::parse(answered).ok_or_else(|| {
        Problem::wrong(format!(
            "no talk in the answer: {}",
            excerpt(&answered.to_string())
        ))
    })?;
    check(&state).map_err(|e| Problem::wrong(format!("{e}; answered {state:?}")))?;
    Ok(state)
}

fn same(what: &str, got: &impl std::fmt::Debug, want: &impl std::fmt::Debug) -> String {
    format!("{what}: expected {want:?}, got {got:?}")
}

async fn create(ctx: &Ctx, worker: &Worker, slug: &str, gql: bool) -> Result<TalkState, Problem> {
    let title = format!(
        "Load {} c{} create {}",
        ctx.tag, worker.index, worker.writes
    );
    let resources = json!([
        {"title": "Slides", "url": format!("https://example.com/{slug}/slides"), "description": "The deck"},
        {"title": "Code", "url": format!("https://example.com/{slug}/code")},
    ]);
    let embeds = json!([{"kind": "video", "html": "<iframe src=\"https://www.youtube.com/embed/load\"></iframe>"}]);
    let check = |s: &TalkState| {
        if s.slug != slug || s.title != title || s.version != 1 {
            return Err(same(
                "slug, title, version",
                &(&s.slug, &s.title, s.version),
                &(slug, &title, 1),
            ));
        }
        let titles: Vec<&str> = s.resources.iter().map(|r| r.title.as_str()).collect();
        let kinds: Vec<&str> = s.embeds.iter().map(|e| e.kind.as_str()).collect();
        if titles != ["Slides", "Code"] || kinds != ["video"] {
            return Err(same(
                "resources, embeds",
                &(titles, kinds),
                &(["Slides", "Code"], ["video"]),
            ));
        }
        Ok(())
    };
    if gql {
        let input = json!({"slug": slug, "title": title, "date": "2026-11-27", "event": "Load test",
            "location": "Loopback", "body": "<p>A talk written by the load driver.</p>",
            "resources": resources, "embeds": embeds});
        let query = format!(
            "mutation($input: CreateTalkInput!) {{ createTalk(input: $input) {{ {STATE} }} }}"
        );
        let reply = ctx
            .http
            .graphql(&query, json!({"input": input}), true)
            .await?;
        if let Some(p) = answer_problem(&reply, 200) {
            return Err(p);
        }
        check_state(&reply.body["data"]["createTalk"], check)
    } else {
        let body = json!({"slug": slug, "title": title, "date": "2026-11-27", "event": "Load test",
            "location": "Loopback", "body": "<p>A talk written by the load driver.</p>",
            "resources": resources, "embeds": embeds});
        let reply = ctx
            .http
            .send(
                Method::POST,
                "/api/v1/talks",
                true,
                &[],
                Some(("application/json", body.to_string())),
            )
            .await?;
        if let Some(p) = answer_problem(&reply, 201) {
            return Err(p);
        }
        check_state(&reply.body, check)
    }
}

async fn edit(
    ctx: &Ctx,
    worker: &Worker,
    before: &TalkState,
    op: &EditOp,
) -> Result<TalkState, Problem> {
    let title = format!("Load {} c{} write {}", ctx.tag, worker.index, worker.writes);
    let talk_path = format!("/api/v1/talks/{}", before.slug);
    let if_match = [("If-Match", before.etag())];
    let next = before.version + 1;
    let header = |s: &TalkState| {
        if s.id != before.id || s.slug != before.slug || s.version != next {
            Err(same(
                "id, slug, version",
                &(&s.id, &s.slug, s.version),
                &(&before.id, &before.slug, next),
            ))
        } else {
            Ok(())
        }
    };
    let graphql = |query: String, variables: Value, field: &'static str| async move {
        let reply = ctx.http.graphql(&query, variables, true).await?;
        if let Some(p) = answer_problem(&reply, 200) {
            return Err(p);
        }
        Ok::<Value, Problem>(reply.body["data"][field].clone())
    };
    let rest = |method: Method, path: String, body: Option<Value>, expected: u16| {
        let if_match = &if_match;
        async move {
            let content_type = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            let reply = ctx
                .http
                .send(
                    method,
                    &path,
                    true,
                    if_match,
                    body.map(|b| (content_type, b.to_string())),
                )
                .await?;
            if let Some(p) = answer_problem(&reply, expected) {
                return Err(p);
            }
            Ok::<Value, Problem>(reply.body)
        }
    };
    match op {
        EditOp::Patch | EditOp::UpdateGql => {
            let answered = if matches!(op, EditOp::Patch) {
                rest(Method::PATCH, talk_path, Some(json!({"title": title})), 200).await?
            } else {
                let query = format!(
                    "mutation($id: ID!, $input: UpdateTalkInput!, $v: Int!) {{ updateTalk(id: $id, input: $input, expectedVersion: $v) {{ {STATE} }} }}"
                );
                graphql(
                    query,
                    json!({"id": before.id, "input": {"title": title}, "v": before.version}),
                    "updateTalk",
                )
                .await?
            };
            check_state(&answered, |s| {
                header(s)?;
                if s.title != title || s.resources != before.resources || s.embeds != before.embeds
                {
                    return Err(same("title (the rest unchanged)", &s.title, &title));
                }
                Ok(())
            })
        }
        EditOp::AddResource => {
            let url = format!("https://example.com/{}/{}", before.slug, worker.writes);
            let answered = rest(
                Method::POST,
                format!("{talk_path}/resources"),
                Some(json!({"title": title, "url": url})),
                201,
            )
            .await?;
            check_state(&answered, |s| {
                header(s)?;
                let n = before.resources.len();
                let added = s.resources.get(n);
                if s.resources.len() != n + 1
                    || s.resources[..n] != before.resources[..]
                    || added.is_none_or(|r| r.title != title || r.url != url)
                    || s.embeds != before.embeds
                {
                    return Err(same("resources", &s.resources, &before.resources));
                }
                Ok(())
            })
        }
        EditOp::RemoveResource(id) => {
            let answered = rest(
                Method::DELETE,
                format!("{talk_path}/resources/{id}"),
                None,
                200,
            )
            .await?;
            let want: Vec<Res> = before
                .resources
                .iter()
                .filter(|r| &r.id != id)
                .cloned()
                .collect();
            check_state(&answered, |s| {
                header(s)?;
                if s.resources != want || s.title != before.title || s.embeds != before.embeds {
                    return Err(same("resources", &s.resources, &want));
                }
                Ok(())
            })
        }
        EditOp::Reorder => {
            let want: Vec<Res> = before.resources.iter().rev().cloned().collect();
            let ids: Vec<&str> = want.iter().map(|r| r.id.as_str()).collect();
            let answered = rest(
                Method::PUT,
                format!("{talk_path}/resources/order"),
                Some(json!({"ids": ids})),
                200,
            )
            .await?;
            check_state(&answered, |s| {
                header(s)?;
                if s.resources != want || s.title != before.title || s.embeds != before.embeds {
                    return Err(same("resources", &s.resources, &want));
                }
                Ok(())
            })
        }
        EditOp::AddEmbed => {
            let query = format!(
                "mutation($id: ID!, $input: EmbedInput!) {{ addEmbed(talkId: $id, input: $input) {{ {STATE} }} }}"
            );
            let html = format!(
                "<blockquote class=\"twitter-tweet\"><p>{title}</p>&mdash; Load (@load) <a href=\"https://twitter.com/load/status/1\">November 27, 2026</a></blockquote>"
            );
            let answered = graphql(
                query,
                json!({"id": before.id, "input": {"kind": "twitter", "html": html}}),
                "addEmbed",
            )
            .await?;
            check_state(&answered, |s| {
                header(s)?;
                let n = before.embeds.len();
                if s.embeds.len() != n + 1
                    || s.embeds[..n] != before.embeds[..]
                    || s.embeds[n].kind != "twitter"
                    || s.resources != before.resources
                {
                    return Err(same("embeds", &s.embeds, &before.embeds));
                }
                Ok(())
            })
        }
        EditOp::RemoveEmbed(id) => {
            let query = format!("mutation($id: ID!) {{ removeEmbed(id: $id) {{ {STATE} }} }}");
            let answered = graphql(query, json!({"id": id}), "removeEmbed").await?;
            let want: Vec<Emb> = before
                .embeds
                .iter()
                .filter(|e| &e.id != id)
                .cloned()
                .collect();
            check_state(&answered, |s| {
                header(s)?;
                if s.embeds != want || s.resources != before.resources {
                    return Err(same("embeds", &s.embeds, &want));
                }
                Ok(())
            })
        }
    }
}

/// Reads an owned talk again (after a failure) with the token: its state, or None when it
/// does not exist (a create that was not applied).
async fn resync(ctx: &Ctx, slug: &str) -> Result<Option<TalkState>, Problem> {
    let reply = ctx
        .http
        .send(
            Method::GET,
            &format!("/api/v1/talks/{slug}"),
            true,
            &[],
            None,
        )
        .await?;
    if reply.status == 404 {
        return Ok(None);
    }
    if let Some(p) = answer_problem(&reply, 200) {
        return Err(p);
    }
    check_state(&reply.body, |_| Ok(())).map(Some)
}

/// One write (or the read that resynchronises a talk after a failure).
async fn write_one(ctx: &Ctx, worker: &mut Worker) -> (Kind, &'static str, Result<(), Problem>) {
    worker.writes += 1;
    let n = worker.writes;
    // A talk to read again first?
    if let Some(k) = worker.owned.iter().position(|o| o.stale) {
        let slug = worker.owned[k].slug.clone();
        let result = resync(ctx, &slug).await;
        return match result {
            Ok(Some(state)) => {
                let owned = &mut worker.owned[k];
                owned.acked = Some(state);
                owned.stale = false;
                (Kind::Read, "read: resync own talk", Ok(()))
            }
            Ok(None) => {
                worker.owned.remove(k);
                (Kind::Read, "read: resync own talk", Ok(()))
            }
            Err(p) => (Kind::Read, "read: resync own talk", Err(p)),
        };
    }
    let create_now = worker.owned.is_empty()
        || (worker.owned.len() < MAX_OWNED && n.is_multiple_of(6))
        || worker.owned.iter().all(|o| o.acked.is_none());
    if create_now && worker.owned.len() < MAX_OWNED {
        worker.creates += 1;
        let slug = format!("load-{}-c{}-{}", ctx.tag, worker.index, worker.creates);
        let gql = worker.creates.is_multiple_of(2);
        let op = if gql {
            "write: GraphQL createTalk"
        } else {
            "write: REST POST talk"
        };
        let result = create(ctx, worker, &slug, gql).await;
        let mut owned = Owned {
            slug,
            acked: None,
            acked_versions: Vec::new(),
            in_doubt: None,
            stale: false,
        };
        let outcome = settle(&mut owned, op, result);
        worker.owned.push(owned);
        return (Kind::Write, op, outcome);
    }
    let candidates: Vec<usize> = (0..worker.owned.len())
        .filter(|&k| worker.owned[k].acked.is_some())
        .collect();
    if candidates.is_empty() {
        for owned in &mut worker.owned {
            owned.stale = true;
        }
        return (
            Kind::Write,
            "write",
            Err(Problem::wrong("no acknowledged talk to edit".into())),
        );
    }
    // Each talk goes through the whole cycle of edits in turn.
    worker.edits += 1;
    let e = worker.edits - 1;
    let k = candidates[((e / 5) as usize) % candidates.len()];
    let Some(before) = worker.owned[k].acked.clone() else {
        return (Kind::Write, "write", Err(Problem::wrong("no state".into())));
    };
    let op = match e % 5 {
        0 => EditOp::Patch,
        1 => EditOp::UpdateGql,
        2 if before.resources.len() >= 4 => EditOp::RemoveResource(
            before.resources[worker.rng.next(before.resources.len() as u64) as usize]
                .id
                .clone(),
        ),
        2 => EditOp::AddResource,
        3 if before.resources.len() >= 2 => EditOp::Reorder,
        3 => EditOp::AddResource,
        _ if before.embeds.len() >= 3 => EditOp::RemoveEmbed(before.embeds[0].id.clone()),
        _ => EditOp::AddEmbed,
    };
    let name = op.name();
    let result = edit(ctx, worker, &before, &op).await;
    let outcome = settle(&mut worker.owned[k], name, result);
    (Kind::Write, name, outcome)
}

/// Records what a write's answer means for the talk's acknowledged state.
fn settle(
    owned: &mut Owned,
    op: &'static str,
    result: Result<TalkState, Problem>,
) -> Result<(), Problem> {
    match result {
        Ok(state) => {
            owned.acked_versions.push(state.version);
            owned.acked = Some(state);
            owned.in_doubt = None;
            Ok(())
        }
        Err(p) => {
            if p.maybe_applied {
                owned.in_doubt = Some(format!("{op}: {}", p.kind));
            }
            owned.stale = true;
            Err(p)
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
                Mode::Mixed => {}
            }
        }
    }
    worker
}

/// Runs every worker until `end`, and hands them back.
async fn run_workers(ctx: &Rc<Ctx>, workers: Vec<Worker>, end: Instant) -> Vec<Worker> {
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

fn new_workers(count: usize, seed: u64) -> Vec<Worker> {
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

/// The published talks' slugs and years, read anonymously through the REST list.
async fn corpus(http: &Http) -> Result<(Vec<String>, Vec<i64>), Error> {
    let mut slugs = Vec::new();
    let mut years = std::collections::BTreeSet::new();
    let mut path = "/api/v1/talks?limit=100".to_owned();
    for _ in 0..1000 {
        let reply = http
            .send(Method::GET, &path, false, &[], None)
            .await
            .map_err(|p| format!("GET {path}: {} {}", p.kind, p.detail))?;
        if reply.status != 200 {
            return Err(format!("GET {path}: {} {}", reply.status, reply.raw).into());
        }
        for talk in reply.body["data"].as_array().into_iter().flatten() {
            if let Some(slug) = talk["slug"].as_str() {
                slugs.push(slug.to_owned());
            }
            if let Some(year) = talk["date"].as_str().and_then(|d| d.get(..4)?.parse().ok()) {
                years.insert(year);
            }
        }
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/talks?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    if slugs.is_empty() {
        return Err("the server has no published talks to read; import the corpus first".into());
    }
    Ok((slugs, years.into_iter().collect()))
}

async fn context(mode: Mode, flags: &Flags, connections: usize) -> Result<Rc<Ctx>, Error> {
    let url = flags.url()?;
    let http = Http::new(&url, &token()?, connections);
    let (slugs, years) = corpus(&http).await?;
    let write_percent: u64 = flags.num("write-percent", 10)?;
    if write_percent > 100 {
        return Err("--write-percent must be within 0..=100".into());
    }
    let max_requests = flags.num("max-requests", DEFAULT_MAX_REQUESTS)?;
    if max_requests > DEFAULT_MAX_REQUESTS {
        return Err(format!("--max-requests must be at most {DEFAULT_MAX_REQUESTS}").into());
    }
    Ok(Rc::new(Ctx {
        mode,
        http,
        slugs,
        years,
        tag: run_tag(),
        write_permille: if mode == Mode::Writes {
            1000
        } else {
            write_percent * 10
        },
        max_requests,
        issued: Cell::new(0),
        stats: RefCell::new(Stats::default()),
        stop: Cell::new(false),
    }))
}

fn print_errors(stats: &Stats) {
    for (kind, count) in &stats.errors {
        println!("  error {count:>7} × {kind}");
    }
    for sample in &stats.samples {
        println!("  sample: {sample}");
    }
}

fn per_op(stats: &Stats) {
    for (op, (ok, failed)) in &stats.per_op {
        println!("  {op:<34} {ok:>8} ok {failed:>6} failed");
    }
}

// ---------------------------------------------------------------------------------------------
// mixed

async fn mixed(flags: Flags) -> Result<bool, Error> {
    let seconds = flags.seconds("seconds", 60.0)?;
    let warmup = flags.seconds("warmup", 10.0)?;
    let connections = flags.connections(32)?;
    let server_pid: Option<u32> = flags.0.get("server-pid").map(|p| p.parse()).transpose()?;
    let clk_tck: f64 = flags.num("clk-tck", 100.0)?;
    let ctx = context(Mode::Mixed, &flags, connections).await?;
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
    let cores = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", (b.saturating_sub(a)) as f64 / clk_tck / elapsed),
        _ => "?".into(),
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

// ---------------------------------------------------------------------------------------------
// writes (fault a)

async fn writes(flags: Flags) -> Result<bool, Error> {
    let seconds = flags.seconds("seconds", 20.0)?;
    let connections = flags.connections(8)?;
    let acks_path = flags.text("acks")?;
    let ctx = context(Mode::Writes, &flags, connections).await?;
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

// ---------------------------------------------------------------------------------------------
// verify (fault a)

fn state_from_ack(v: &Value) -> Option<TalkState> {
    TalkState::parse(v)
}

/// The stored talk and the latest event's payload, with timestamps at microseconds (what every
/// database keeps) and the search text (not in events) left out.
fn comparable(
    mut talk: entity::talk::Model,
    resources: Vec<entity::resource::Model>,
    embeds: Vec<entity::embed::Model>,
) -> (
    entity::talk::Model,
    Vec<entity::resource::Model>,
    Vec<entity::embed::Model>,
) {
    let micros = |t: chrono::DateTime<chrono::Utc>| {
        chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
    };
    talk.search_text = String::new();
    talk.created_at = micros(talk.created_at);
    talk.updated_at = micros(talk.updated_at);
    (talk, resources, embeds)
}

/// Where two JSON values differ, as `path: stored …, event …` (the stored talk, resources and
/// embeds against an event's payload: `/0` is the talk, `/1` the resources, `/2` the embeds).
fn diff_value(path: &str, stored: &Value, event: &Value, out: &mut Vec<String>) {
    match (stored, event) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                diff_value(
                    &format!("{path}/{k}"),
                    v,
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
            for (k, v) in b {
                if !a.contains_key(k) {
                    diff_value(&format!("{path}/{k}"), &Value::Null, v, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_value(&format!("{path}/{i}"), x, y, out);
            }
        }
        _ if stored != event => out.push(format!(
            "{path}: stored {}, event {}",
            excerpt(&stored.to_string())
                .chars()
                .take(60)
                .collect::<String>(),
            excerpt(&event.to_string())
                .chars()
                .take(60)
                .collect::<String>()
        )),
        _ => {}
    }
}

async fn verify(flags: Flags) -> Result<bool, Error> {
    use entity::{change_event, embed, resource, talk};
    use service::sea_orm::{EntityTrait, QueryOrder};

    let url = flags.url()?;
    let http = Http::new(&url, &token()?, 8);
    let acks: Value = serde_json::from_str(&std::fs::read_to_string(flags.text("acks")?)?)?;
    // `connect` (migrations are applied already: nothing to do) has the same signature before
    // and after the pool options were added to `service::db`.
    let db = service::db::connect(&flags.text("database-url")?).await?;
    let mut failures: Vec<String> = Vec::new();
    let mut fail = |what: String| {
        if failures.len() < 50 {
            println!("  FAIL {what}");
        }
        failures.push(what);
    };

    // The whole database, read once.
    let talks = talk::Entity::find().all(&db).await?;
    let mut resources: HashMap<uuid::Uuid, Vec<resource::Model>> = HashMap::new();
    for r in resource::Entity::find()
        .order_by_asc(resource::Column::Position)
        .all(&db)
        .await?
    {
        resources.entry(r.talk_id).or_default().push(r);
    }
    let mut embeds: HashMap<uuid::Uuid, Vec<embed::Model>> = HashMap::new();
    for e in embed::Entity::find()
        .order_by_asc(embed::Column::Position)
        .all(&db)
        .await?
    {
        embeds.entry(e.talk_id).or_default().push(e);
    }
    let mut events: HashMap<uuid::Uuid, Vec<change_event::Model>> = HashMap::new();
    let mut event_count = 0;
    for e in change_event::Entity::find()
        .order_by_asc(change_event::Column::Seq)
        .all(&db)
        .await?
    {
        event_count += 1;
        events.entry(e.aggregate_id).or_default().push(e);
    }
    let by_slug: HashMap<&str, &talk::Model> = talks.iter().map(|t| (t.slug.as_str(), t)).collect();
    println!(
        "== load verify: {} talks, {} change events in the database",
        talks.len(),
        event_count
    );

    // 1. The acknowledged writes, through the restarted server and in the database.
    let (mut checked, mut at_ack, mut later, mut absent) = (0, 0, 0, 0);
    for entry in acks["talks"].as_array().into_iter().flatten() {
        let slug = entry["slug"].as_str().unwrap_or_default();
        let in_doubt = entry["in_doubt"].as_str();
        let acked = state_from_ack(&entry["acked"]);
        let acked_versions: Vec<i64> = entry["acked_versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        checked += 1;
        let reply = http
            .send(
                Method::GET,
                &format!("/api/v1/talks/{slug}"),
                true,
                &[],
                None,
            )
            .await;
        let served = match reply {
            Ok(r) if r.status == 200 => TalkState::parse(&r.body),
            Ok(r) if r.status == 404 => None,
            Ok(r) => {
                fail(format!(
                    "{slug}: GET answered {} {}",
                    r.status,
                    excerpt(&r.body.to_string())
                ));
                continue;
            }
            Err(p) => {
                fail(format!("{slug}: GET failed: {} {}", p.kind, p.detail));
                continue;
            }
        };
        let stored = by_slug.get(slug);
        match (&acked, &served) {
            (None, None) => {
                absent += 1;
                if in_doubt.is_none() {
                    fail(format!(
                        "{slug}: never acknowledged nor in doubt, yet listed"
                    ));
                }
            }
            (None, Some(s)) => {
                if in_doubt.is_some() && s.version == 1 {
                    later += 1;
                } else {
                    fail(format!(
                        "{slug}: its create was not acknowledged, yet it is stored at version {}",
                        s.version
                    ));
                }
            }
            (Some(a), None) => fail(format!(
                "{slug}: acknowledged at version {}, but the restarted server does not have it",
                a.version
            )),
            (Some(a), Some(s)) => {
                if s.version == a.version {
                    if s == a {
                        at_ack += 1;
                    } else {
                        fail(format!(
                            "{slug}: at the acknowledged version {} but another state:\n    acknowledged {a:?}\n    served       {s:?}",
                            a.version
                        ));
                    }
                } else if s.version == a.version + 1 && in_doubt.is_some() {
                    later += 1;
                } else {
                    fail(format!(
                        "{slug}: acknowledged at version {}, in doubt: {in_doubt:?}; served at version {}",
                        a.version, s.version
                    ));
                }
            }
        }
        if let (Some(s), Some(t)) = (&served, stored)
            && (s.version != i64::from(t.version) || s.id != t.id.to_string())
        {
            fail(format!(
                "{slug}: the server serves version {} but the database holds {}",
                s.version, t.version
            ));
        }
        // Exactly one event per acknowledged version.
        if let Some(t) = stored {
            let history = events.get(&t.id).map_or(&[][..], Vec::as_slice);
            for v in &acked_versions {
                let n = history
                    .iter()
                    .filter(|e| i64::from(e.version) == *v)
                    .count();
                if n != 1 {
                    fail(format!(
                        "{slug}: {n} change events at the acknowledged version {v} (expected exactly one)"
                    ));
                }
            }
        } else if !acked_versions.is_empty() {
            fail(format!(
                "{slug}: acknowledged versions {acked_versions:?} but not in the database"
            ));
        }
    }
    // 2. Every talk in the database: positions without holes, event versions 1, 2, … (no gap,
    //    no repeat), the latest event = the stored state. Judged for this run's talks; for the
    //    others (the imported corpus) reported, as they were not written under the fault.
    let ours_prefix = format!("load-{}-", acks["tag"].as_str().unwrap_or("?"));
    let mut others: Vec<String> = Vec::new();
    let mut others_ids_only = 0;
    for t in &talks {
        let ours = t.slug.starts_with(&ours_prefix);
        let mut problems: Vec<String> = Vec::new();
        let mut ids_only = false;
        let rs = resources.remove(&t.id).unwrap_or_default();
        let es = embeds.remove(&t.id).unwrap_or_default();
        let positions_ok = rs.iter().enumerate().all(|(i, r)| r.position == i as i32)
            && es.iter().enumerate().all(|(i, e)| e.position == i as i32);
        if !positions_ok {
            problems.push(format!(
                "{}: resource/embed positions are not 0, 1, …: {:?} / {:?}",
                t.slug,
                rs.iter().map(|r| r.position).collect::<Vec<_>>(),
                es.iter().map(|e| e.position).collect::<Vec<_>>()
            ));
        }
        let history = events.get(&t.id).map_or(&[][..], Vec::as_slice);
        let versions: Vec<i32> = history.iter().map(|e| e.version).collect();
        let expected: Vec<i32> = (1..=t.version).collect();
        if versions != expected {
            problems.push(format!(
                "{}: stored at version {}, but its events have versions {versions:?}",
                t.slug, t.version
            ));
        }
        match history.last() {
            None => problems.push(format!("{}: no change event at all", t.slug)),
            Some(last) => {
                match serde_json::from_value::<service::events::State>(last.payload.clone()) {
                    Err(e) => problems.push(format!("{}: event {} payload: {e}", t.slug, last.seq)),
                    Ok(state) => {
                        let stored = comparable(t.clone(), rs, es);
                        let event = comparable(state.talk, state.resources, state.embeds);
                        if stored != event {
                            let mut diffs = Vec::new();
                            diff_value(
                                "",
                                &serde_json::to_value(&stored)?,
                                &serde_json::to_value(&event)?,
                                &mut diffs,
                            );
                            ids_only = diffs.iter().all(|d| d.contains("/id: "));
                            let more = diffs.len().saturating_sub(4);
                            diffs.truncate(4);
                            problems.push(format!(
                                "{} ({:?}, version {}): the latest event (seq {}) differs from the stored talk: {}{}",
                                t.slug,
                                t.origin,
                                t.version,
                                last.seq,
                                diffs.join("; "),
                                if more > 0 { format!("; and {more} more") } else { String::new() }
                            ));
                        }
                    }
                }
            }
        }
        if ours {
            for p in problems {
                fail(p);
            }
        } else if !problems.is_empty() {
            if ids_only && problems.len() == 1 {
                others_ids_only += 1;
            }
            others.extend(problems);
        }
    }
    for (talk_id, rs) in &resources {
        fail(format!(
            "{} resources of a talk {talk_id} that does not exist",
            rs.len()
        ));
    }
    for (talk_id, es) in &embeds {
        fail(format!(
            "{} embeds of a talk {talk_id} that does not exist",
            es.len()
        ));
    }

    if !others.is_empty() {
        println!(
            "  WARN {} of the other talks (not written by this run) fail the same checks; {} of them only \
             because the event's resource/embed ids are not the stored ones. The first 3:",
            others.len(),
            others_ids_only
        );
        for o in others.iter().take(3) {
            println!("    {}", excerpt(o));
        }
    }
    let acked_total: usize = acks["talks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["acked_versions"].as_array().map_or(0, Vec::len))
        .sum();
    println!(
        "acknowledged: {acked_total} writes to {checked} talks: {at_ack} talks at their acknowledged state, \
         {later} one write later (a write in doubt was applied), {absent} never created (a create in doubt was not applied)"
    );
    println!(
        "RESULT talks={checked} acked_writes={acked_total} at_ack={at_ack} later={later} absent={absent} failures={} \
         other_talks_mismatched={} other_talks_ids_only={others_ids_only}",
        failures.len(),
        others.len()
    );
    Ok(failures.is_empty() && checked > 0)
}

// ---------------------------------------------------------------------------------------------
// sigterm (fault b)

async fn sigterm(flags: Flags) -> Result<bool, Error> {
    let before = flags.seconds("before", 3.0)?;
    let bound = flags.seconds("bound", 30.0)?;
    let connections = flags.connections(32)?;
    let pid: u32 = flags.text("server-pid")?.parse()?;
    let ctx = context(Mode::Sigterm, &flags, connections).await?;
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

// ---------------------------------------------------------------------------------------------
// outage (fault c)

async fn outage(flags: Flags) -> Result<bool, Error> {
    let seconds = flags.seconds("seconds", 45.0)?;
    let connections = flags.connections(8)?;
    let grace = flags.seconds("grace", 15.0)?;
    let marks_path = flags.text("marks")?;
    let ctx = context(Mode::Outage, &flags, connections).await?;
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

// ---------------------------------------------------------------------------------------------

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let common = ["url", "connections", "write-percent", "max-requests"];
    let allowed: Vec<&str> = match mode.as_str() {
        "mixed" => vec!["seconds", "warmup", "server-pid", "clk-tck"],
        "writes" => vec!["seconds", "acks"],
        "verify" => vec!["acks", "database-url"],
        "sigterm" => vec!["before", "bound", "server-pid"],
        "outage" => vec!["seconds", "grace", "marks"],
        _ => {
            eprintln!(
                "usage: load mixed|writes|verify|sigterm|outage --url http://127.0.0.1:PORT …"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let allowed: Vec<&str> = common.iter().copied().chain(allowed).collect();
    let outcome = Flags::parse(args, &allowed).and_then(|flags| {
        actix_web::rt::System::new().block_on(async move {
            match mode.as_str() {
                "mixed" => mixed(flags).await,
                "writes" => writes(flags).await,
                "verify" => verify(flags).await,
                "sigterm" => sigterm(flags).await,
                _ => outage(flags).await,
            }
        })
    });
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("load: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
