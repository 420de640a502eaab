//! Applies [`crate::repair`] to every text field of a talk, recording what changed where.
//!
//! A document is damaged as a whole or not at all when a converter read it with the wrong code
//! page. So the fields are read twice: first each on its own, and when any of them holds damage,
//! again with what the whole document tells (its code page, the letters of its certain repairs,
//! and that every character that can be a piece of damage is one). Then every field the importer
//! changes is either repaired for certain or reported as a guess, and a field of a damaged
//! document that keeps characters which may be damage is reported too, although it is not changed.

use serde::Serialize;
use service::talks::NewTalk;

use crate::repair::{DocumentHints, KnownChars, Repaired, code_page_of, damage_pieces, repair_in};

/// One repaired field, or one that may still be damaged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRepair {
    /// The field's path in the document (`title`, `resources[0].title`, `extra.aliases[1]`).
    pub field: String,
    /// Each damaged run and its replacement, `before → after`.
    pub changes: Vec<String>,
    /// True when the field is not certainly what the document meant: some change had to choose
    /// among several readings, or characters that may be damage were left as they were.
    pub guess: bool,
    /// What makes it a guess: each change chosen among readings (`before → after`), and the
    /// characters left as they were that may be damage. Empty when `guess` is false.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub guesses: Vec<String>,
}

/// Every text field of `talk`, by path. Slugs, dates, URLs and paths are left out: they are
/// ASCII by nature, and a change there would change identity or links.
fn text_fields(talk: &mut NewTalk) -> Vec<(String, &mut String)> {
    let mut fields: Vec<(String, &mut String)> = vec![("title".into(), &mut talk.title)];
    if let Some(event) = &mut talk.event {
        fields.push(("event".into(), event));
    }
    if let Some(location) = &mut talk.location {
        fields.push(("location".into(), location));
    }
    fields.push(("body".into(), &mut talk.body));
    for (i, r) in talk.resources.iter_mut().enumerate() {
        fields.push((format!("resources[{i}].title"), &mut r.title));
        if let Some(description) = &mut r.description {
            fields.push((format!("resources[{i}].description"), description));
        }
    }
    for (i, e) in talk.embeds.iter_mut().enumerate() {
        fields.push((format!("embeds[{i}].html"), &mut e.html));
    }
    for (key, value) in talk.extra.iter_mut() {
        json_fields(format!("extra.{key}"), value, &mut fields);
    }
    fields
}

fn json_fields<'a>(
    path: String,
    value: &'a mut serde_json::Value,
    out: &mut Vec<(String, &'a mut String)>,
) {
    match value {
        serde_json::Value::String(s) => out.push((path, s)),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                json_fields(format!("{path}[{i}]"), item, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                json_fields(format!("{path}.{key}"), item, out);
            }
        }
        _ => {}
    }
}

/// Repairs every text field of `talk` in place and reports each field it changed, and each
/// field of a damaged document that may still hold damage. `known` counts the characters of text
/// known to be clean (the other documents of the run, the database), to choose among candidates
/// for lost bytes.
pub fn repair_talk(talk: &mut NewTalk, known: &KnownChars) -> Vec<FieldRepair> {
    let mut fields = text_fields(talk);
    let all: String = fields.iter().map(|(_, v)| v.as_str()).collect();
    let mut hints = DocumentHints {
        code_page: code_page_of(&all),
        ..DocumentHints::default()
    };
    // First each field on its own.
    let mut first: Vec<Option<Repaired>> = fields
        .iter()
        .map(|(_, v)| repair_in(v, known, &hints))
        .collect();
    if first.iter().any(Option::is_some) {
        // The document is damaged: read every field again with what the document tells.
        hints.damaged = true;
        for repaired in first.iter().flatten() {
            hints.letters.observe(&repaired.certain);
        }
        first = fields
            .iter()
            .map(|(_, v)| repair_in(v, known, &hints))
            .collect();
    }
    let mut reports = Vec::new();
    for ((path, value), repaired) in fields.iter_mut().zip(first) {
        let (changes, mut guesses, leftovers) = match repaired {
            Some(repaired) => {
                let changes = repaired
                    .repairs
                    .iter()
                    .map(|r| format!("{} → {}", r.before, r.after))
                    .collect();
                let guesses: Vec<String> = repaired
                    .repairs
                    .iter()
                    .filter(|r| r.guess)
                    .map(|r| format!("{} → {}", r.before, r.after))
                    .collect();
                **value = repaired.text;
                (changes, guesses, repaired.leftovers)
            }
            None if hints.damaged => (Vec::new(), Vec::new(), damage_pieces(value)),
            None => continue,
        };
        if hints.damaged && !leftovers.is_empty() {
            let mut kept: Vec<char> = leftovers;
            kept.dedup();
            guesses.push(format!(
                "left as it was, may be damage: {}",
                kept.into_iter().collect::<String>()
            ));
        }
        if changes.is_empty() && guesses.is_empty() {
            continue;
        }
        reports.push(FieldRepair {
            field: std::mem::take(path),
            changes,
            guess: !guesses.is_empty(),
            guesses,
        });
    }
    reports
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
