//! The writes: `PATCH`es of the talks' titles on an open-loop schedule, one at a time per talk,
//! with `If-Match` the version last seen.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::bench::now_us;

use crate::Error;
use crate::api::Api;

/// Writes waiting or in flight beyond which the schedule skips writes (and says so).
pub(crate) const MAX_IN_FLIGHT: usize = 20_000;

/// A talk the writes go to, and the writes waiting for it.
pub(crate) struct Talk {
    pub(crate) slug: String,
    pub(crate) id: String,
    pub(crate) version: Cell<i32>,
    /// A write to the talk is in flight; later ones wait here, in order, so that the client
    /// does not race itself into 412s when the server falls behind.
    pub(crate) busy: Cell<bool>,
    pub(crate) waiting: RefCell<VecDeque<(u64, Instant)>>,
}

/// The talks `talk-000000` … (`count` of them), read with their versions.
pub(crate) async fn load_talks(api: &Api, count: usize) -> Result<Vec<Talk>, Error> {
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

/// What the writes of one schedule were answered.
#[derive(Default)]
pub(crate) struct Writes {
    pub(crate) scheduled: u64,
    pub(crate) ok: u64,
    /// 412 answers that were retried.
    pub(crate) conflicts: u64,
    pub(crate) skipped: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    /// From the time the write was due, and from the time it was sent, in µs.
    pub(crate) from_due: Vec<i64>,
    pub(crate) from_send: Vec<i64>,
    /// (talk index, version written, wall-clock µs sent).
    pub(crate) written: Vec<(u32, i32, i64)>,
    pub(crate) in_flight: usize,
    pub(crate) last_done: Option<Instant>,
}

/// Write number `i`, due at `due`; then the next one waiting for its talk, if any.
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
pub(crate) async fn drive(
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
