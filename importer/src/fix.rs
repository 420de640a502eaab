//! Applies [`crate::repair`] to every text field of a talk, recording what changed where.

use serde::Serialize;
use service::talks::NewTalk;

use crate::repair::{KnownChars, repair_with};

/// One repaired field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRepair {
    /// The field's path in the document (`title`, `resources[0].title`, `extra.aliases[1]`).
    pub field: String,
    /// Each damaged run and its replacement, `before → after`.
    pub changes: Vec<String>,
    /// True when some change had to choose between candidates for lost bytes.
    pub guess: bool,
}

/// Repairs every text field of `talk` in place. Slugs, dates, URLs and paths are left alone:
/// they are ASCII by nature, and a change there would change identity or links.
/// `known` counts the characters of text known to be clean, to choose among candidates for
/// lost bytes.
pub fn repair_talk(talk: &mut NewTalk, known: &KnownChars) -> Vec<FieldRepair> {
    let mut repairs = Vec::new();
    let mut fix = |path: &dyn Fn() -> String, value: &mut String| {
        if let Some(repaired) = repair_with(value, known) {
            repairs.push(FieldRepair {
                field: path(),
                changes: repaired
                    .repairs
                    .iter()
                    .map(|r| format!("{} → {}", r.before, r.after))
                    .collect(),
                guess: repaired.repairs.iter().any(|r| r.guess),
            });
            *value = repaired.text;
        }
    };
    fix(&|| "title".into(), &mut talk.title);
    for (name, value) in [("event", &mut talk.event), ("location", &mut talk.location)] {
        if let Some(value) = value {
            fix(&|| name.into(), value);
        }
    }
    fix(&|| "body".into(), &mut talk.body);
    for (i, r) in talk.resources.iter_mut().enumerate() {
        fix(&|| format!("resources[{i}].title"), &mut r.title);
        if let Some(description) = &mut r.description {
            fix(&|| format!("resources[{i}].description"), description);
        }
    }
    for (i, e) in talk.embeds.iter_mut().enumerate() {
        fix(&|| format!("embeds[{i}].html"), &mut e.html);
    }
    for (key, value) in talk.extra.iter_mut() {
        fix_json(&format!("extra.{key}"), value, &mut fix);
    }
    repairs
}

fn fix_json(
    path: &str,
    value: &mut serde_json::Value,
    fix: &mut impl FnMut(&dyn Fn() -> String, &mut String),
) {
    match value {
        serde_json::Value::String(s) => fix(&|| path.to_owned(), s),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                fix_json(&format!("{path}[{i}]"), item, fix);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                fix_json(&format!("{path}.{key}"), item, fix);
            }
        }
        _ => {}
    }
}

/// Counts the characters of every text field of a stored talk.
pub fn observe_record(known: &mut KnownChars, record: &service::talks::TalkRecord) {
    let talk = &record.talk;
    for text in [&talk.title, &talk.body]
        .into_iter()
        .chain(talk.event.iter())
        .chain(talk.location.iter())
    {
        known.observe(text);
    }
    for r in &record.resources {
        known.observe(&r.title);
        if let Some(description) = &r.description {
            known.observe(description);
        }
    }
    for e in &record.embeds {
        known.observe(&e.html);
    }
}
