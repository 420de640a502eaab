//! The change-event benchmark (`bench/events.sh` runs it): writes through the REST API at a
//! fixed rate while webhook endpoints and GraphQL subscriptions listen, and reports the write
//! latency, the end-to-end delivery latency per channel, and what was delivered.
//!
//! Usage:
//!
//! ```text
//! events_bench --url http://127.0.0.1:PORT --email E --password P
//!              [--rate 1000] [--seconds 30] [--warmup 3] [--connections 64]
//!              [--webhooks 10] [--subscribers 100] [--talks 2000] [--drain 120]
//!              [--label NAME] [--server-pid PID] [--clk-tck 100]
//! ```
//!
//! The database must hold the talks `talk-000000` … (as `seed_talks` writes them) and an admin
//! account `E`. Everything runs on loopback:
//!
//! 1. Warm-up: `--warmup` seconds of the same writes, before anyone listens (not measured).
//! 2. `--webhooks` receivers (actix-web on 127.0.0.1:0, answering 204) are registered through
//!    `POST /api/v1/webhooks` for `talk.*`; `--subscribers` websockets on `/graphql`
//!    (graphql-transport-ws, authenticated in `connection_init`) subscribe to
//!    `talkChanges(after: S0)` with the talk's `state`, S0 being the last event before the
//!    measured run.
//! 3. The measured run: write number i is due at `start + i / rate` (an open-loop schedule: a
//!    slow server does not slow the schedule down) and is a `PATCH /api/v1/talks/{slug}` of the
//!    title of talk `i mod talks`, with `If-Match` the version last seen (412: the version is
//!    read from the problem and the write retried, at most twice), over a pool of
//!    `--connections` HTTP/1.1 connections. Writes to one talk go one after another (a write
//!    due while the previous one to its talk is in flight waits for it), so that a server that
//!    falls behind does not also get the client's own version conflicts. Its latency is taken from the time it was due
//!    (what a client with that schedule sees: a request waiting for a free connection waits)
//!    and from the time it was sent.
//! 4. When the last response is in, the events committed after S0 are read back through
//!    GraphQL `changes`; the listeners are given until every one of them has them all, or until
//!    nothing arrives for 20 s, or `--drain` seconds.
//! 5. Each delivery (listener, seq, time received) is matched to its event (and so to the
//!    write that caused it: the talk and version the PATCH answered): latency from the write's
//!    send, and from the event's `occurred_at`; per listener, missing events, duplicates and
//!    events out of order.
//!
//! A webhook receiver reads the seq from `Lectern-Event-Seq`; it parses every 100th body and
//! checks its `seq`, `aggregate_id` and `occurred_at` (parsing every one would take CPU the
//! server needs). Signatures are not checked. Times are wall-clock microseconds, so that a
//! receive time and the server's `occurred_at` compare (one machine, one clock).
//!
//! Output: a report, and one `RESULT key=value …` line for the script.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

/// Writes waiting or in flight beyond which the schedule skips writes (and says so).
const MAX_IN_FLIGHT: usize = 20_000;
/// How long one write may take before it counts as failed.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
/// A graphql-transport-ws ping this often keeps the server from closing an idle subscriber.
const PING_EVERY: Duration = Duration::from_secs(20);
/// The drain ends when no listener received anything for this long.
const NO_PROGRESS: Duration = Duration::from_secs(20);

const SUBSCRIPTION: &str = "subscription($after: ID) { talkChanges(after: $after) { seq type aggregateId version occurredAt state } }";
const CHANGES: &str = "query($after: ID) { changes(after: $after, first: 500) { events { seq aggregateId version occurredAt } nextCursor hasMore } }";

type Error = Box<dyn std::error::Error>;

/// A graphql-transport-ws message, as far as a subscriber reads each one.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    payload: Option<Payload>,
}

#[derive(serde::Deserialize)]
struct Payload {
    data: Option<Data>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    talk_changes: Option<Change>,
}

#[derive(serde::Deserialize)]
struct Change {
    seq: String,
}

/// Whether a `next` message's state is the state of the talk the event is about.
fn state_matches(bytes: &[u8]) -> bool {
    let Ok(message) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    let change = &message["payload"]["data"]["talkChanges"];
    let id = &change["state"]["talk"]["id"];
    id.is_string()
        && *id == change["aggregateId"]
        && change["state"]["talk"]["version"] == change["version"]
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn rfc3339_us(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

// ---------------------------------------------------------------------------------------------
// Arguments

struct Args {
    url: String,
    email: String,
    password: String,
    rate: f64,
    seconds: f64,
    warmup: f64,
    connections: usize,
    webhooks: usize,
    subscribers: usize,
    talks: usize,
    drain: f64,
    label: String,
    server_pid: Option<u32>,
    clk_tck: f64,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        url: String::new(),
        email: String::new(),
        password: std::env::var("LECTERN_PASSWORD").unwrap_or_default(),
        rate: 1000.0,
        seconds: 30.0,
        warmup: 3.0,
        connections: 64,
        webhooks: 10,
        subscribers: 100,
        talks: 2000,
        drain: 120.0,
        label: "run".into(),
        server_pid: None,
        clk_tck: 100.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => a.url = value.trim_end_matches('/').to_owned(),
            "--email" => a.email = value,
            "--password" => a.password = value,
            "--rate" => a.rate = value.parse()?,
            "--seconds" => a.seconds = value.parse()?,
            "--warmup" => a.warmup = value.parse()?,
            "--connections" => a.connections = value.parse()?,
            "--webhooks" => a.webhooks = value.parse()?,
            "--subscribers" => a.subscribers = value.parse()?,
            "--talks" => a.talks = value.parse()?,
            "--drain" => a.drain = value.parse()?,
            "--label" => a.label = value,
            "--server-pid" => a.server_pid = Some(value.parse()?),
            "--clk-tck" => a.clk_tck = value.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.url.is_empty() || a.email.is_empty() || a.password.is_empty() {
        return Err("usage: events_bench --url URL --email E --password P (or LECTERN_PASSWORD) [--rate R] [--seconds S] …".into());
    }
    if !(a.rate > 0.0 && a.seconds > 0.0 && a.talks > 0 && a.connections > 0) {
        return Err("--rate, --seconds, --talks and --connections must be positive".into());
    }
    if a.rate * a.seconds > 1_000_000.0 {
        return Err("at most 1,000,000 writes per run".into());
    }
    if a.webhooks > 100 || a.subscribers > 1000 {
        return Err("at most 100 webhooks and 1000 subscribers".into());
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

struct Summary {
    n: usize,
    p50: i64,
    p90: i64,
    p99: i64,
    max: i64,
}

fn summary(mut values: Vec<i64>) -> Summary {
    values.sort_unstable();
    Summary {
        n: values.len(),
        p50: pct(&values, 50.0),
        p90: pct(&values, 90.0),
        p99: pct(&values, 99.0),
        max: values.last().copied().unwrap_or(0),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.n == 0 {
            return write!(f, "no samples");
        }
        write!(
            f,
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            self.n
        )
    }
}

/// CPU time (user + system) of a process, in clock ticks, from /proc.
fn proc_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// (busy, total) clock ticks of the whole machine.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

struct CpuMark {
    at: Instant,
    server: Option<u64>,
    client: Option<u64>,
    machine: Option<(u64, u64)>,
}

fn cpu_mark(server_pid: Option<u32>) -> CpuMark {
    CpuMark {
        at: Instant::now(),
        server: server_pid.and_then(|p| proc_ticks(&p.to_string())),
        client: proc_ticks("self"),
        machine: machine_ticks(),
    }
}

/// Server and client CPU in cores, and the machine's busy share, between two marks.
fn cpu_between(a: &CpuMark, b: &CpuMark, clk_tck: f64) -> String {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let cores = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (Some(x), Some(y)) => format!("{:.2} cores", (y - x) as f64 / clk_tck / secs),
        _ => "?".into(),
    };
    let machine = match (a.machine, b.machine) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            format!("{:.0}% busy", 100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
        }
        _ => "?".into(),
    };
    format!(
        "server {}, this benchmark {}, machine {}",
        cores(a.server, b.server),
        cores(a.client, b.client),
        machine
    )
}

// ---------------------------------------------------------------------------------------------
// Listeners

/// What one listener (a webhook receiver or a subscriber) received, in the order it arrived.
#[derive(Default)]
struct Listener {
    /// (seq, wall-clock µs when received).
    received: Mutex<Vec<(i64, i64)>>,
    count: AtomicU64,
    /// Bodies or messages that were not what they should be, and why the listener stopped.
    problems: Mutex<Vec<String>>,
    bad: AtomicU64,
}

impl Listener {
    fn record(&self, seq: i64, at: i64) {
        self.received.lock().expect("unpoisoned").push((seq, at));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn problem(&self, what: String) {
        self.bad.fetch_add(1, Ordering::Relaxed);
        let mut problems = self.problems.lock().expect("unpoisoned");
        if problems.len() < 5 {
            problems.push(what);
        }
    }
}

type Hooks = Arc<Vec<Arc<Listener>>>;

async fn receive(
    hooks: web::Data<Hooks>,
    index: web::Path<usize>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let at = now_us();
    let Some(listener) = hooks.get(index.into_inner()) else {
        return HttpResponse::NotFound().finish();
    };
    let seq = request
        .headers()
        .get("lectern-event-seq")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let Some(seq) = seq else {
        listener.problem("a delivery without Lectern-Event-Seq".into());
        return HttpResponse::NoContent().finish();
    };
    if listener.count.load(Ordering::Relaxed) % 100 == 0 {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v)
                if v["seq"].as_i64() == Some(seq)
                    && v["aggregate_id"].is_string()
                    && v["occurred_at"].as_str().and_then(rfc3339_us).is_some()
                    && request.headers().contains_key("lectern-signature") => {}
            Ok(v) => listener.problem(format!(
                "seq {seq}: unexpected body {}",
                v.to_string().chars().take(200).collect::<String>()
            )),
            Err(e) => listener.problem(format!("seq {seq}: the body is not JSON: {e}")),
        }
    }
    listener.record(seq, at);
    HttpResponse::NoContent().finish()
}

/// Starts `hooks.len()` receivers, one port each, on a thread of their own; their URLs and a
/// handle to stop them.
fn start_receivers(
    hooks: Hooks,
) -> Result<
    (
        Vec<String>,
        actix_web::dev::ServerHandle,
        std::thread::JoinHandle<()>,
    ),
    Error,
> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let count = hooks.len();
            let data = web::Data::new(hooks);
            let mut server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                    .route("/hook/{index}", web::post().to(receive))
            })
            .workers(1)
            .disable_signals()
            .backlog(1024);
            for _ in 0..count {
                server = match server.bind("127.0.0.1:0") {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
            }
            let addrs = server.addrs();
            let server = server.run();
            let urls = addrs
                .iter()
                .enumerate()
                .map(|(i, a)| format!("http://{a}/hook/{i}"))
                .collect::<Vec<_>>();
            let _ = tx.send(Ok((urls, server.handle())));
            let _ = server.await;
        });
    });
    let (urls, handle) = rx.recv()??;
    Ok((urls, handle, thread))
}

/// One subscriber: connects, authenticates, subscribes after `after`, records until `stop`.
async fn subscriber(
    client: awc::Client,
    url: String,
    token: Rc<String>,
    after: i64,
    listener: Arc<Listener>,
    stop: Arc<AtomicBool>,
    ready: Arc<AtomicUsize>,
) {
    let setup = async {
        let (_, mut socket) = client
            .ws(&url)
            .protocols(["graphql-transport-ws"])
            .connect()
            .await
            .map_err(|e| format!("the websocket upgrade failed: {e}"))?;
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
        socket
            .send(ws::Message::Text(init.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        let ack = actix_web::rt::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .map_err(|_| "no connection_ack within 30 s".to_string())?;
        match ack {
            Some(Ok(ws::Frame::Text(bytes)))
                if serde_json::from_slice::<Value>(&bytes)
                    .is_ok_and(|m| m["type"] == "connection_ack") => {}
            other => return Err(format!("no connection_ack: {other:?}")),
        }
        let subscribe = json!({
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIPTION, "variables": {"after": after.to_string()}},
        });
        socket
            .send(ws::Message::Text(subscribe.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(socket)
    };
    let mut socket = match setup.await {
        Ok(socket) => socket,
        Err(e) => {
            listener.problem(e);
            ready.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    ready.fetch_add(1, Ordering::SeqCst);
    let mut last_ping = Instant::now();
    let mut received: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        if last_ping.elapsed() > PING_EVERY {
            last_ping = Instant::now();
            let ping = json!({"type": "ping"}).to_string();
            if socket.send(ws::Message::Text(ping.into())).await.is_err() {
                listener.problem("cannot send a ping".into());
                return;
            }
        }
        let frame =
            match actix_web::rt::time::timeout(Duration::from_millis(200), socket.next()).await {
                Err(_) => continue,
                Ok(frame) => frame,
            };
        match frame {
            Some(Ok(ws::Frame::Text(bytes))) => {
                let at = now_us();
                received += 1;
                // Each message is parsed for its type and seq only, skipping the state; every
                // 100th is parsed whole and its state checked. A listener elsewhere would pay
                // for reading the state, not this machine's server.
                let message: Envelope = match serde_json::from_slice(&bytes) {
                    Ok(message) => message,
                    Err(e) => {
                        listener.problem(format!("a message that is not JSON: {e}"));
                        continue;
                    }
                };
                let whole = || {
                    String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(300)
                        .collect::<String>()
                };
                match message.kind.as_str() {
                    "next" => {
                        let change = message
                            .payload
                            .and_then(|p| p.data)
                            .and_then(|d| d.talk_changes);
                        let seq = change.as_ref().and_then(|c| c.seq.parse::<i64>().ok());
                        let Some(seq) = seq else {
                            listener.problem(format!("a next message without a seq: {}", whole()));
                            continue;
                        };
                        if received.is_multiple_of(100) && !state_matches(&bytes) {
                            listener
                                .problem(format!("a state that is not the talk's: {}", whole()));
                            continue;
                        }
                        listener.record(seq, at);
                    }
                    "ping" => {
                        let pong = json!({"type": "pong"}).to_string();
                        let _ = socket.send(ws::Message::Text(pong.into())).await;
                    }
                    "pong" => {}
                    _ => {
                        listener.problem(format!("the subscription ended: {}", whole()));
                        return;
                    }
                }
            }
            Some(Ok(ws::Frame::Ping(bytes))) => {
                let _ = socket.send(ws::Message::Pong(bytes)).await;
            }
            Some(Ok(ws::Frame::Close(reason))) => {
                listener.problem(format!("the server closed the websocket: {reason:?}"));
                return;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                listener.problem(format!("websocket error: {e}"));
                return;
            }
            None => {
                listener.problem("the websocket ended".into());
                return;
            }
        }
    }
    let _ = socket.send(ws::Message::Close(None)).await;
}

/// Runs the subscribers on a thread of their own.
fn start_subscribers(
    url: String,
    token: String,
    after: i64,
    listeners: Vec<Arc<Listener>>,
    stop: Arc<AtomicBool>,
    ready: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish();
            let token = Rc::new(token);
            let tasks: Vec<_> = listeners
                .into_iter()
                .map(|listener| {
                    actix_web::rt::spawn(subscriber(
                        client.clone(),
                        url.clone(),
                        token.clone(),
                        after,
                        listener,
                        stop.clone(),
                        ready.clone(),
                    ))
                })
                .collect();
            for task in tasks {
                let _ = task.await;
            }
        });
    })
}

// ---------------------------------------------------------------------------------------------
// The API

struct Api {
    client: awc::Client,
    base: String,
    bearer: String,
}

impl Api {
    async fn post_json(&self, path: &str, body: &Value) -> Result<(u16, Value), Error> {
        let mut response = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("Authorization", self.bearer.as_str()))
            .insert_header(("Content-Type", "application/json"))
            .send_body(body.to_string())
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let bytes = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((response.status().as_u16(), value))
    }

    /// Every event after `after`, oldest first: (seq, talk id, version, occurred_at µs).
    async fn events_after(&self, mut after: i64) -> Result<Vec<Event>, Error> {
        let mut events = Vec::new();
        loop {
            let (status, body) = self
                .post_json(
                    "/graphql",
                    &json!({"query": CHANGES, "variables": {"after": after.to_string()}}),
                )
                .await?;
            let page = &body["data"]["changes"];
            if status != 200 || !page.is_object() {
                return Err(format!("changes: {status} {body}").into());
            }
            for e in page["events"].as_array().into_iter().flatten() {
                events.push(Event {
                    seq: e["seq"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or("seq")?,
                    talk: e["aggregateId"].as_str().ok_or("aggregateId")?.to_owned(),
                    version: e["version"].as_i64().ok_or("version")? as i32,
                    occurred_us: e["occurredAt"]
                        .as_str()
                        .and_then(rfc3339_us)
                        .ok_or("occurredAt")?,
                });
            }
            after = page["nextCursor"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or("nextCursor")?;
            if page["hasMore"] != true {
                return Ok(events);
            }
        }
    }
}

struct Event {
    seq: i64,
    talk: String,
    version: i32,
    occurred_us: i64,
}

struct Talk {
    slug: String,
    id: String,
    version: Cell<i32>,
    /// A write to the talk is in flight; later ones wait here, in order, so that the client
    /// does not race itself into 412s when the server falls behind.
    busy: Cell<bool>,
    waiting: RefCell<VecDeque<(u64, Instant)>>,
}

async fn load_talks(api: &Api, count: usize) -> Result<Vec<Talk>, Error> {
    let mut talks = Vec::with_capacity(count);
    let slugs: Vec<String> = (0..count).map(|n| format!("talk-{n:06}")).collect();
    for chunk in slugs.chunks(32) {
        let replies = futures_util::future::join_all(chunk.iter().map(|slug| async move {
            let mut response = api
                .client
                .get(format!("{}/api/v1/talks/{slug}", api.base))
                .insert_header(("Authorization", api.bearer.as_str()))
                .send()
                .await
                .map_err(|e| format!("GET {slug}: {e}"))?;
            let bytes = response
                .body()
                .limit(16 * 1024 * 1024)
                .await
                .map_err(|e| format!("GET {slug}: {e}"))?;
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            match (
                response.status().as_u16(),
                body["id"].as_str(),
                body["version"].as_i64(),
            ) {
                (200, Some(id), Some(version)) => Ok(Talk {
                    slug: slug.clone(),
                    id: id.to_owned(),
                    version: Cell::new(version as i32),
                    busy: Cell::new(false),
                    waiting: RefCell::new(VecDeque::new()),
                }),
                (status, _, _) => Err(format!("GET /api/v1/talks/{slug}: {status} {body}")),
            }
        }))
        .await;
        for reply in replies {
            talks.push(reply?);
        }
    }
    Ok(talks)
}

// ---------------------------------------------------------------------------------------------
// The writes

#[derive(Default)]
struct Writes {
    scheduled: u64,
    ok: u64,
    /// 412 answers that were retried.
    conflicts: u64,
    skipped: u64,
    errors: BTreeMap<String, u64>,
    /// From the time the write was due, and from the time it was sent, in µs.
    from_due: Vec<i64>,
    from_send: Vec<i64>,
    /// (talk index, version written, wall-clock µs sent).
    written: Vec<(u32, i32, i64)>,
    in_flight: usize,
    last_done: Option<Instant>,
}

async fn write_one(
    api: Rc<Api>,
    talks: Rc<Vec<Talk>>,
    state: Rc<RefCell<Writes>>,
    i: u64,
    tag: &'static str,
    due: Instant,
) {
    let sent = Instant::now();
    let sent_us = now_us();
    let k = (i % talks.len() as u64) as usize;
    let talk = &talks[k];
    let body = json!({"title": format!("Talk {k}, {tag} write {i}")}).to_string();
    let url = format!("{}/api/v1/talks/{}", api.base, talk.slug);
    let mut outcome: Result<i32, String> = Err("412 three times".into());
    let mut conflicts = 0;
    for _ in 0..3 {
        let reply = api
            .client
            .patch(&url)
            .insert_header(("Authorization", api.bearer.as_str()))
            .insert_header((
                "If-Match",
                format!("\"{}.{}\"", talk.id, talk.version.get()),
            ))
            .insert_header(("Content-Type", "application/merge-patch+json"))
            .send_body(body.clone())
            .await;
        let mut response = match reply {
            Ok(response) => response,
            Err(e) => {
                outcome = Err(format!("{e}"));
                break;
            }
        };
        let status = response.status().as_u16();
        let bytes = match response.body().limit(16 * 1024 * 1024).await {
            Ok(bytes) => bytes,
            Err(e) => {
                outcome = Err(format!("{status}, body: {e}"));
                break;
            }
        };
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status {
            200 => {
                outcome = value["version"]
                    .as_i64()
                    .map(|v| v as i32)
                    .ok_or_else(|| "200 without a version".to_string());
                break;
            }
            412 => {
                conflicts += 1;
                if let Some(current) = value["current_version"].as_i64() {
                    talk.version.set(current as i32);
                }
            }
            other => {
                outcome = Err(format!("{other}"));
                break;
            }
        }
    }
    let done = Instant::now();
    let state_rc = state.clone();
    let mut state = state.borrow_mut();
    state.conflicts += conflicts;
    state.in_flight -= 1;
    state.last_done = Some(done);
    match outcome {
        Ok(version) => {
            if version > talk.version.get() {
                talk.version.set(version);
            }
            state.ok += 1;
            state
                .from_due
                .push(done.duration_since(due).as_micros() as i64);
            state
                .from_send
                .push(done.duration_since(sent).as_micros() as i64);
            state.written.push((k as u32, version, sent_us));
        }
        Err(e) => *state.errors.entry(e).or_default() += 1,
    }
    drop(state);
    let next = talk.waiting.borrow_mut().pop_front();
    match next {
        Some((j, due)) => {
            actix_web::rt::spawn(write_one(api.clone(), talks.clone(), state_rc, j, tag, due));
        }
        None => talk.busy.set(false),
    }
}

/// Writes at `rate` for `seconds` on an open-loop schedule; returns when every response is in.
async fn drive(
    api: &Rc<Api>,
    talks: &Rc<Vec<Talk>>,
    rate: f64,
    seconds: f64,
    tag: &'static str,
) -> (Writes, Duration) {
    let state = Rc::new(RefCell::new(Writes::default()));
    let total = (rate * seconds).round() as u64;
    state.borrow_mut().scheduled = total;
    let start = Instant::now() + Duration::from_millis(20);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if due > Instant::now() {
            actix_web::rt::time::sleep_until(actix_web::rt::time::Instant::from_std(due)).await;
        }
        {
            let mut s = state.borrow_mut();
            if s.in_flight >= MAX_IN_FLIGHT {
                s.skipped += 1;
                continue;
            }
            s.in_flight += 1;
        }
        let talk = &talks[(i % talks.len() as u64) as usize];
        if talk.busy.replace(true) {
            talk.waiting.borrow_mut().push_back((i, due));
        } else {
            actix_web::rt::spawn(write_one(
                api.clone(),
                talks.clone(),
                state.clone(),
                i,
                tag,
                due,
            ));
        }
    }
    while state.borrow().in_flight > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = state
        .borrow()
        .last_done
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(start));
    let writes = std::mem::take(&mut *state.borrow_mut());
    (writes, elapsed)
}

// ---------------------------------------------------------------------------------------------
// Delivery analysis

struct Channel {
    listeners: usize,
    expected: u64,
    delivered: u64,
    missing: u64,
    duplicates: u64,
    out_of_order: u64,
    unknown: u64,
    problems: u64,
    in_window: u64,
    from_send: Summary,
    from_commit: Summary,
    per_listener_min: u64,
    per_listener_max: u64,
    caught_up_after: Option<f64>,
    first_problems: Vec<String>,
}

/// Matches each listener's deliveries to the events (by seq) and to the writes.
fn analyse(
    listeners: &[Arc<Listener>],
    events: &[Event],
    send_us: &[Option<i64>],
    window_end_us: i64,
) -> Channel {
    let index: HashMap<i64, usize> = events.iter().enumerate().map(|(i, e)| (e.seq, i)).collect();
    let mut c = Channel {
        listeners: listeners.len(),
        expected: (listeners.len() * events.len()) as u64,
        delivered: 0,
        missing: 0,
        duplicates: 0,
        out_of_order: 0,
        unknown: 0,
        problems: 0,
        in_window: 0,
        from_send: summary(Vec::new()),
        from_commit: summary(Vec::new()),
        per_listener_min: u64::MAX,
        per_listener_max: 0,
        caught_up_after: Some(0.0),
        first_problems: Vec::new(),
    };
    let mut from_send = Vec::new();
    let mut from_commit = Vec::new();
    for listener in listeners {
        let received = listener.received.lock().expect("unpoisoned");
        let mut seen = vec![false; events.len()];
        let mut last_seq = i64::MIN;
        let mut unique = 0u64;
        let mut last_at = i64::MIN;
        for &(seq, at) in received.iter() {
            if seq <= last_seq {
                c.out_of_order += 1;
            }
            last_seq = last_seq.max(seq);
            let Some(&i) = index.get(&seq) else {
                c.unknown += 1;
                continue;
            };
            if seen[i] {
                c.duplicates += 1;
                continue;
            }
            seen[i] = true;
            unique += 1;
            last_at = last_at.max(at);
            if at <= window_end_us {
                c.in_window += 1;
            }
            from_commit.push(at - events[i].occurred_us);
            if let Some(sent) = send_us[i] {
                from_send.push(at - sent);
            }
        }
        c.delivered += unique;
        c.missing += events.len() as u64 - unique;
        c.per_listener_min = c.per_listener_min.min(unique);
        c.per_listener_max = c.per_listener_max.max(unique);
        c.caught_up_after = match c.caught_up_after {
            Some(worst) if unique == events.len() as u64 => {
                Some(worst.max((last_at - window_end_us) as f64 / 1e6))
            }
            _ => None,
        };
        c.problems += listener.bad.load(Ordering::Relaxed);
        let problems = listener.problems.lock().expect("unpoisoned");
        for p in problems.iter() {
            if c.first_problems.len() < 5 {
                c.first_problems.push(p.clone());
            }
        }
    }
    if listeners.is_empty() {
        c.per_listener_min = 0;
    }
    c.from_send = summary(from_send);
    c.from_commit = summary(from_commit);
    c
}

fn print_channel(name: &str, c: &Channel, events: usize) {
    if c.listeners == 0 {
        return;
    }
    let share = |n: u64| {
        if c.expected == 0 {
            0.0
        } else {
            100.0 * n as f64 / c.expected as f64
        }
    };
    println!(
        "{name} ({} listeners): delivered {} of {} expected ({:.2}%): missing {}, duplicates {}, out of order {}, unknown seq {}, bad messages {}",
        c.listeners,
        c.delivered,
        c.expected,
        share(c.delivered),
        c.missing,
        c.duplicates,
        c.out_of_order,
        c.unknown,
        c.problems
    );
    println!(
        "  per listener: {}..{} of {} events; {:.2}% arrived before the last write's response; {}",
        c.per_listener_min,
        c.per_listener_max,
        events,
        share(c.in_window),
        match c.caught_up_after {
            Some(s) => format!("the last listener had everything {s:.2} s after it"),
            None => "some listener never had everything".into(),
        }
    );
    println!("  latency from the write's send:   {}", c.from_send);
    println!("  latency from the event's commit: {}", c.from_commit);
    for p in &c.first_problems {
        println!("  problem: {p}");
    }
}

// ---------------------------------------------------------------------------------------------

fn main() -> Result<(), Error> {
    let args = args()?;
    actix_web::rt::System::new().block_on(run(args))
}

async fn run(a: Args) -> Result<(), Error> {
    let client = awc::Client::builder()
        .connector(
            awc::Connector::new()
                .limit(a.connections)
                .conn_keep_alive(Duration::from_secs(120)),
        )
        .timeout(WRITE_TIMEOUT)
        .finish();
    let mut api = Api {
        client,
        base: a.url.clone(),
        bearer: String::new(),
    };
    let (status, body) = api
        .post_json(
            "/auth/login",
            &json!({"email": a.email, "password": a.password}),
        )
        .await?;
    let token = body["accessToken"]
        .as_str()
        .ok_or_else(|| format!("login: {status} {body}"))?
        .to_owned();
    api.bearer = format!("Bearer {token}");
    let api = Rc::new(api);
    let talks = Rc::new(load_talks(&api, a.talks).await?);
    println!(
        "== events_bench [{}]: {} writes/s for {} s ({} writes), {} talks, {} connections, {} webhooks, {} subscribers",
        a.label,
        a.rate,
        a.seconds,
        (a.rate * a.seconds).round(),
        a.talks,
        a.connections,
        a.webhooks,
        a.subscribers
    );

    // 1. Warm-up, before anyone listens.
    if a.warmup > 0.0 {
        let (w, _) = drive(&api, &talks, a.rate, a.warmup, "warm-up").await;
        println!(
            "warm-up: {} of {} writes ok, errors {:?}; from due {}",
            w.ok,
            w.scheduled,
            w.errors,
            summary(w.from_due)
        );
    }

    // 2. The listeners.
    let s0 = api.events_after(0).await?.last().map_or(0, |e| e.seq);
    let hooks: Vec<Arc<Listener>> = (0..a.webhooks).map(|_| Arc::default()).collect();
    let subs: Vec<Arc<Listener>> = (0..a.subscribers).map(|_| Arc::default()).collect();
    let receivers = if a.webhooks > 0 {
        let (urls, handle, thread) = start_receivers(Arc::new(hooks.clone()))?;
        for url in &urls {
            let (status, body) = api
                .post_json(
                    "/api/v1/webhooks",
                    &json!({"url": url, "events": ["talk.*"], "description": "events_bench"}),
                )
                .await?;
            if status != 201 {
                return Err(format!("POST /api/v1/webhooks: {status} {body}").into());
            }
        }
        Some((handle, thread))
    } else {
        None
    };
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicUsize::new(0));
    let subscriber_thread = (a.subscribers > 0).then(|| {
        let ws_url = format!("{}/graphql", a.url.replacen("http://", "ws://", 1));
        start_subscribers(
            ws_url,
            token.clone(),
            s0,
            subs.clone(),
            stop.clone(),
            ready.clone(),
        )
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready.load(Ordering::SeqCst) < a.subscribers && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let failed: u64 = subs
        .iter()
        .filter(|l| l.bad.load(Ordering::Relaxed) > 0)
        .count() as u64;
    if ready.load(Ordering::SeqCst) < a.subscribers || failed > 0 {
        println!(
            "warning: {} of {} subscribers ready, {failed} failed to subscribe",
            ready.load(Ordering::SeqCst),
            a.subscribers
        );
    }
    // Let the subscriptions and the dispatcher settle before the clock starts.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;

    // 3. The measured writes.
    let before = cpu_mark(a.server_pid);
    let (writes, elapsed) = drive(&api, &talks, a.rate, a.seconds, "measured").await;
    let after = cpu_mark(a.server_pid);
    let window_end_us = now_us();
    let achieved = writes.ok as f64 / elapsed.as_secs_f64().max(1e-9);
    let from_due = summary(writes.from_due.clone());
    let from_send = summary(writes.from_send.clone());
    println!(
        "writes: {} scheduled, {} ok, {} failed {:?}, {} skipped (more than {MAX_IN_FLIGHT} waiting), {} conflicts (412) retried",
        writes.scheduled,
        writes.ok,
        writes.errors.values().sum::<u64>(),
        writes.errors,
        writes.skipped,
        writes.conflicts
    );
    println!(
        "  achieved {:.1} ok writes/s ({} over {:.2} s, from the first due time to the last response; target {})",
        achieved,
        writes.ok,
        elapsed.as_secs_f64(),
        a.rate
    );
    println!("  latency from due time: {from_due}");
    println!("  latency from send:     {from_send}");
    println!(
        "  CPU while writing: {}",
        cpu_between(&before, &after, a.clk_tck)
    );

    // 4. Drain.
    let events = api.events_after(s0).await?;
    let listeners: Vec<&Arc<Listener>> = hooks.iter().chain(subs.iter()).collect();
    let drain_start = Instant::now();
    let mut last_total = 0;
    let mut last_progress = Instant::now();
    loop {
        let counts: Vec<u64> = listeners
            .iter()
            .map(|l| l.count.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if counts.iter().all(|&c| c >= events.len() as u64) {
            break;
        }
        if total != last_total {
            last_total = total;
            last_progress = Instant::now();
        }
        if last_progress.elapsed() > NO_PROGRESS
            || drain_start.elapsed() > Duration::from_secs_f64(a.drain)
        {
            println!(
                "drain: gave up after {:.1} s ({} of {} deliveries)",
                drain_start.elapsed().as_secs_f64(),
                total,
                events.len() * listeners.len()
            );
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // A moment for duplicates, if any were coming.
    if !listeners.is_empty() {
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, Ordering::SeqCst);
    if let Some(thread) = subscriber_thread {
        let _ = thread.join();
    }
    if let Some((handle, thread)) = receivers {
        handle.stop(false).await;
        let _ = thread.join();
    }

    // 5. Matching.
    let position: HashMap<&str, u32> = talks
        .iter()
        .enumerate()
        .map(|(k, t)| (t.id.as_str(), k as u32))
        .collect();
    let sent: HashMap<(u32, i32), i64> = writes
        .written
        .iter()
        .map(|&(k, v, at)| ((k, v), at))
        .collect();
    let send_us: Vec<Option<i64>> = events
        .iter()
        .map(|e| {
            position
                .get(e.talk.as_str())
                .and_then(|&k| sent.get(&(k, e.version)).copied())
        })
        .collect();
    let unmatched = send_us.iter().filter(|s| s.is_none()).count();
    println!(
        "events committed after seq {s0}: {} ({} not matched to an ok write response)",
        events.len(),
        unmatched
    );
    let hook_channel = analyse(&hooks, &events, &send_us, window_end_us);
    let sub_channel = analyse(&subs, &events, &send_us, window_end_us);
    print_channel("webhooks", &hook_channel, events.len());
    print_channel("subscriptions", &sub_channel, events.len());

    let rate_of = |c: &Channel| {
        if c.listeners == 0 {
            "-".to_string()
        } else {
            format!("{:.4}", c.delivered as f64 / c.expected.max(1) as f64)
        }
    };
    let lat = |c: &Channel, s: &Summary, p: fn(&Summary) -> i64| {
        if c.listeners == 0 || s.n == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", ms(p(s)))
        }
    };
    println!(
        "RESULT label={} rate={} seconds={} scheduled={} ok={} failed={} skipped={} achieved={:.1} \
         write_p50_ms={:.2} write_p99_ms={:.2} write_max_ms={:.2} send_p50_ms={:.2} send_p99_ms={:.2} \
         hooks_delivered={} hooks_p50_ms={} hooks_p99_ms={} hooks_commit_p50_ms={} hooks_commit_p99_ms={} \
         subs_delivered={} subs_p50_ms={} subs_p99_ms={} subs_commit_p50_ms={} subs_commit_p99_ms={}",
        a.label,
        a.rate,
        a.seconds,
        writes.scheduled,
        writes.ok,
        writes.errors.values().sum::<u64>(),
        writes.skipped,
        achieved,
        ms(from_due.p50),
        ms(from_due.p99),
        ms(from_due.max),
        ms(from_send.p50),
        ms(from_send.p99),
        rate_of(&hook_channel),
        lat(&hook_channel, &hook_channel.from_send, |s| s.p50),
        lat(&hook_channel, &hook_channel.from_send, |s| s.p99),
        lat(&hook_channel, &hook_channel.from_commit, |s| s.p50),
        lat(&hook_channel, &hook_channel.from_commit, |s| s.p99),
        rate_of(&sub_channel),
        lat(&sub_channel, &sub_channel.from_send, |s| s.p50),
        lat(&sub_channel, &sub_channel.from_send, |s| s.p99),
        lat(&sub_channel, &sub_channel.from_commit, |s| s.p50),
        lat(&sub_channel, &sub_channel.from_commit, |s| s.p99),
    );
    Ok(())
}
