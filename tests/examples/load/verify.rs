//! `load verify` (fault a, after the restart): the acknowledged writes of `load writes`
//! against the restarted server and the database itself, and every talk's change events
//! against its stored state.

use std::collections::HashMap;
use std::path::PathBuf;

use entity::{change_event, embed, resource, talk};
use serde_json::Value;
use service::sea_orm::{EntityTrait, QueryOrder};
use tests::bench::env::Secret;
use tests::bench::excerpt;

use crate::http::Http;
use crate::talk::TalkState;
use crate::{Error, Target};

/// The flags of `load verify`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
    /// The file `load writes` wrote the acknowledged writes to.
    #[arg(long, env = "LECTERN_LOAD_ACKS")]
    acks: PathBuf,
    /// The server's database, read directly (it may hold a password: better passed through
    /// the environment).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

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

/// Runs `load verify`: true when every check passed for this run's talks.
pub(crate) async fn run(args: Args, token: &Secret) -> Result<bool, Error> {
    let http = Http::new(&args.target.url, token, 8);
    let acks = std::fs::read_to_string(&args.acks)
        .map_err(|e| format!("--acks {}: {e}", args.acks.display()))?;
    let acks: Value =
        serde_json::from_str(&acks).map_err(|e| format!("--acks {}: {e}", args.acks.display()))?;
    // `connect` (migrations are applied already: nothing to do) has the same signature before
    // and after the pool options were added to `service::db`.
    let db = service::db::connect(&args.database_url).await?;
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
        let reply = http.get_talk(slug, true).await;
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
