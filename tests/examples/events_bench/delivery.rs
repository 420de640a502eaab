//! The delivery analysis: each listener's deliveries matched to the events (by seq) and to the
//! writes that caused them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tests::bench::stats::Summary;

use crate::api::Event;
use crate::listener::Listener;

/// What one channel (webhooks or subscriptions) delivered.
pub(crate) struct Channel {
    pub(crate) listeners: usize,
    pub(crate) expected: u64,
    pub(crate) delivered: u64,
    pub(crate) missing: u64,
    pub(crate) duplicates: u64,
    pub(crate) out_of_order: u64,
    pub(crate) unknown: u64,
    pub(crate) problems: u64,
    pub(crate) in_window: u64,
    pub(crate) from_send: Summary,
    pub(crate) from_commit: Summary,
    pub(crate) per_listener_min: u64,
    pub(crate) per_listener_max: u64,
    pub(crate) caught_up_after: Option<f64>,
    pub(crate) first_problems: Vec<String>,
}

/// Matches each listener's deliveries to the events (by seq) and to the writes.
pub(crate) fn analyse(
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
        from_send: Summary::of(Vec::new()),
        from_commit: Summary::of(Vec::new()),
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
    c.from_send = Summary::of(from_send);
    c.from_commit = Summary::of(from_commit);
    c
}

/// The report of one channel (nothing when it had no listener).
pub(crate) fn print_channel(name: &str, c: &Channel, events: usize) {
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
