//! The benchmark's steps, in order: log in, warm up, start the listeners, write on schedule,
//! drain, and match what was delivered to what was written.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tests::bench::env::Secret;
use tests::bench::now_us;
use tests::bench::stats::{Summary, ms};

use crate::api::Api;
use crate::cpu::{cpu_between, cpu_mark, server_seconds};
use crate::delivery::{Channel, analyse, print_channel};
use crate::listener::Listener;
use crate::subscriptions::start_subscribers;
use crate::webhooks::start_receivers;
use crate::writes::{MAX_IN_FLIGHT, drive, load_talks};
use crate::{Args, Error};

/// The drain ends when no listener received anything for this long.
const NO_PROGRESS: Duration = Duration::from_secs(20);

/// Runs the benchmark and prints its report; an error when it could not run (no login, no
/// talks, a listener that could not be set up).
pub(crate) async fn run(a: Args, password: Secret) -> Result<(), Error> {
    let connections = a.connections as usize;
    let webhooks = a.webhooks as usize;
    let subscribers = a.subscribers as usize;
    let talk_count = a.talks as usize;
    let (api, token) = Api::login(&a.url, connections, &a.email, &password).await?;
    let api = Rc::new(api);
    let talks = Rc::new(load_talks(&api, talk_count).await?);
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
            Summary::of(w.from_due)
        );
    }

    // 2. The listeners.
    let s0 = api.events_after(0).await?.last().map_or(0, |e| e.seq);
    let hooks: Vec<Arc<Listener>> = (0..webhooks).map(|_| Arc::default()).collect();
    let subs: Vec<Arc<Listener>> = (0..subscribers).map(|_| Arc::default()).collect();
    let receivers = if webhooks > 0 {
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
    let subscriber_thread = (subscribers > 0).then(|| {
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
    while ready.load(Ordering::SeqCst) < subscribers && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let failed: u64 = subs
        .iter()
        .filter(|l| l.bad.load(Ordering::Relaxed) > 0)
        .count() as u64;
    if ready.load(Ordering::SeqCst) < subscribers || failed > 0 {
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
    let from_due = Summary::of(writes.from_due.clone());
    let from_send = Summary::of(writes.from_send.clone());
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
    // The server's CPU from the first write until every listener had every event: what the
    // writes and their deliveries cost it (the duplicates' wait below is not counted).
    let drained = cpu_mark(a.server_pid);
    let server_cpu = server_seconds(&before, &drained, a.clk_tck);
    let delivered =
        |ls: &[Arc<Listener>]| -> u64 { ls.iter().map(|l| l.count.load(Ordering::Relaxed)).sum() };
    let (hook_messages, sub_messages) = (delivered(&hooks), delivered(&subs));
    println!(
        "server CPU from the first write to the end of the drain: {}; {hook_messages} webhook deliveries, {sub_messages} subscription messages",
        server_cpu.map_or_else(|| "?".to_owned(), |s| format!("{s:.2} s")),
    );
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
         subs_delivered={} subs_p50_ms={} subs_p99_ms={} subs_commit_p50_ms={} subs_commit_p99_ms={} \
         server_cpu_s={} hook_messages={hook_messages} sub_messages={sub_messages}",
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
        server_cpu.map_or_else(|| "-".to_owned(), |s| format!("{s:.2}")),
    );
    Ok(())
}
