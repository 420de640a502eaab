//! Freshness: no answer is older than a committed write. The states of talks this driver saw
//! acknowledged (by a write's answer, or by a read with the token), per talk, and the check of
//! every talk a read answered against those acknowledged before the read was sent.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use serde_json::Value;

use crate::talk::TalkState;

/// Acknowledged states kept per talk, the newest (a read is checked against the newest one
/// acknowledged before it was sent, which is among the last few unless the read took seconds).
const HISTORY: usize = 16;
/// Stale answers described in the report.
const MAX_SAMPLES: usize = 8;

/// A state of a talk as a write's answer acknowledged it.
struct Acked {
    version: i64,
    title: String,
    location: Option<String>,
    at: Instant,
}

/// What the checks found since the last `take`.
#[derive(Default)]
pub(crate) struct Tally {
    /// Talks in answers that were checked against an acknowledged state.
    pub(crate) checked: u64,
    /// Talks answered older than a state acknowledged before the read was sent, or with
    /// another title or location than their version was acknowledged with.
    pub(crate) stale: u64,
    pub(crate) samples: Vec<String>,
}

/// The acknowledged states and what the checks found.
#[derive(Default)]
pub(crate) struct Fresh {
    talks: HashMap<String, VecDeque<Acked>>,
    tally: Tally,
}

impl Fresh {
    /// `state` is committed: a write was answered with it, or a read with the token found it,
    /// at `at`.
    pub(crate) fn acknowledge(&mut self, state: &TalkState, at: Instant) {
        let log = self.talks.entry(state.slug.clone()).or_default();
        if log.back().is_some_and(|last| last.version >= state.version) {
            // A resync that found what was already acknowledged.
            return;
        }
        log.push_back(Acked {
            version: state.version,
            title: state.title.clone(),
            location: state.location.clone(),
            at,
        });
        if log.len() > HISTORY {
            log.pop_front();
        }
    }

    /// Checks the talks a read `op`, sent at `sent`, answered: each talk this driver wrote
    /// must be at least at the version last acknowledged before `sent`, and at a version it
    /// saw acknowledged, with that version's title and location (when the answer has them).
    pub(crate) fn check(&mut self, op: &str, sent: Instant, talks: &[Value]) {
        if self.talks.is_empty() {
            return;
        }
        for talk in talks {
            let Some(log) = talk["slug"].as_str().and_then(|s| self.talks.get(s)) else {
                continue;
            };
            let Some(due) = log.iter().rev().find(|a| a.at < sent) else {
                continue;
            };
            self.tally.checked += 1;
            let slug = talk["slug"].as_str().unwrap_or("?");
            let problem = match talk["version"].as_i64() {
                None => Some("no version in the answer".to_owned()),
                Some(version) if version < due.version => Some(format!(
                    "at version {version}, {:.1} ms after version {} was acknowledged",
                    sent.duration_since(due.at).as_secs_f64() * 1000.0,
                    due.version
                )),
                Some(version) => log.iter().find(|a| a.version == version).and_then(|a| {
                    let title = talk["title"].as_str();
                    let location = talk.get("location").map(Value::as_str);
                    if title != Some(a.title.as_str()) {
                        Some(format!(
                            "at version {version} titled {title:?}, acknowledged as {:?}",
                            a.title
                        ))
                    } else if location.is_some_and(|l| l != a.location.as_deref()) {
                        Some(format!(
                            "at version {version} located {:?}, acknowledged as {:?}",
                            location.flatten(),
                            a.location
                        ))
                    } else {
                        None
                    }
                }),
            };
            if let Some(problem) = problem {
                self.tally.stale += 1;
                if self.tally.samples.len() < MAX_SAMPLES {
                    self.tally.samples.push(format!("{op}: {slug} {problem}"));
                }
            }
        }
    }

    /// Stale answers found since the last `take`.
    pub(crate) fn stale(&self) -> u64 {
        self.tally.stale
    }

    /// What the checks found since the last call.
    pub(crate) fn take(&mut self) -> Tally {
        std::mem::take(&mut self.tally)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn state(version: i64, title: &str) -> TalkState {
        TalkState {
            id: "1".into(),
            slug: "a-talk".into(),
            title: title.into(),
            location: Some("Paris".into()),
            version,
            resources: Vec::new(),
            embeds: Vec::new(),
        }
    }

    #[test]
    fn an_answer_older_than_an_acknowledged_write_is_stale() {
        let mut fresh = Fresh::default();
        let t0 = Instant::now();
        fresh.acknowledge(&state(1, "One"), t0);
        fresh.acknowledge(&state(2, "Two"), t0 + Duration::from_millis(10));
        let answer = |v: i64, title: &str| {
            vec![json!({"slug": "a-talk", "version": v, "title": title, "location": "Paris"})]
        };
        let sent = t0 + Duration::from_millis(20);
        // Sent after version 2 was acknowledged: version 1 is stale, 2 and 3 are not.
        fresh.check("read", sent, &answer(1, "One"));
        fresh.check("read", sent, &answer(2, "Two"));
        fresh.check("read", sent, &answer(3, "Three"));
        // Sent before version 2 was acknowledged: version 1 is fine.
        let early = t0 + Duration::from_millis(5);
        fresh.check("read", early, &answer(1, "One"));
        // Version 2 with another title is stale too; other talks are not judged.
        fresh.check("read", sent, &answer(2, "One"));
        fresh.check("read", sent, &[json!({"slug": "other", "version": 1})]);
        let tally = fresh.take();
        assert_eq!((tally.checked, tally.stale), (5, 2), "{:?}", tally.samples);
        assert!(tally.samples[0].contains("at version 1"));
        assert_eq!(fresh.take().checked, 0);
    }
}
