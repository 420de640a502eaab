//! The talk document format: YAML front matter between `---` lines, then the abstract as HTML.
//!
//! [`parse`] reads a document into a [`NewTalk`]; [`render`] writes a stored talk back out so that
//! parsing the result gives the same talk.

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};
use service::talks::{NewEmbed, NewResource, NewTalk, TalkRecord};

/// Documents larger than this are refused unread.
pub const DEFAULT_MAX_BYTES: u64 = 5 * 1024 * 1024;

/// Why a document could not be read as a talk. Lines and columns are 1-based, in the file.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("binary file (NUL byte at offset {offset})")]
    Binary { offset: usize },
    #[error("line {line}, column {column}: bytes are not valid UTF-8")]
    NotUtf8 { line: usize, column: usize },
    #[error("empty file")]
    Empty,
    #[error("line 1: no front matter (the document must start with a line '---')")]
    NoFrontMatter,
    #[error("line 1: front matter is not terminated (no closing line '---')")]
    Unterminated,
    #[error("line {line}, column {column}: invalid YAML: {message}")]
    Yaml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("line {line}: front matter must be a mapping of keys to values")]
    NotAMapping { line: usize },
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

/// A parsed document: a talk, or a page that is not one.
#[derive(Debug)]
pub enum Document {
    Talk(Box<NewTalk>),
    /// Not a talk (for instance a page without `date`), with the reason.
    NotATalk(String),
}

/// Reads a file as UTF-8 text, refusing large, binary and non-UTF-8 files.
pub fn read(path: &Path, max_bytes: u64) -> Result<String, DocumentError> {
    let size = std::fs::metadata(path)?.len();
    if size > max_bytes {
        return Err(DocumentError::TooLarge {
            size,
            limit: max_bytes,
        });
    }
    let bytes = std::fs::read(path)?;
    if let Some(offset) = bytes.iter().position(|b| *b == 0) {
        return Err(DocumentError::Binary { offset });
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        DocumentError::NotUtf8 { line, column }
    })
}

/// The known front-matter keys, in the order [`render`] writes them.
const KNOWN_KEYS: [&str; 10] = [
    "title",
    "slug",
    "date",
    "event",
    "location",
    "image",
    "pdf",
    "notist_id",
    "resources",
    "embeds",
];

/// Parses a document. `fallback_slug` (the file name) is used when the front matter has none.
pub fn parse(text: &str, fallback_slug: &str) -> Result<Document, DocumentError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(DocumentError::Empty);
    }
    let (yaml, body) = split(text)?;
    let mut value: Value = serde_yaml_ng::from_str(&shield(yaml)).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        DocumentError::Yaml {
            // The front matter starts on the file's second line.
            line: line + 1,
            column,
            message: strip_location(&e.to_string()),
        }
    })?;
    unshield(&mut value);
    let mut map = match value {
        Value::Mapping(map) => map,
        Value::Null => Mapping::new(),
        _ => return Err(DocumentError::NotAMapping { line: 2 }),
    };
    if map.get("date").is_none_or(Value::is_null) {
        return Ok(Document::NotATalk("no date: not a talk".to_owned()));
    }
    let mut talk = NewTalk {
        title: required_text(&mut map, "title")?,
        slug: optional_text(&mut map, "slug")?.unwrap_or_else(|| fallback_slug.to_owned()),
        date: required_text(&mut map, "date")?,
        event: optional_text(&mut map, "event")?,
        location: optional_text(&mut map, "location")?,
        image: optional_text(&mut map, "image")?,
        pdf: optional_text(&mut map, "pdf")?,
        notist_id: optional_text(&mut map, "notist_id")?,
        body: body.trim_start_matches(['\r', '\n']).trim_end().to_owned(),
        ..NewTalk::default()
    };
    for (i, mut item) in list(&mut map, "resources")?.into_iter().enumerate() {
        let path = format!("resources[{i}]");
        talk.resources.push(NewResource {
            title: required_text(&mut item, "title").map_err(|e| prefix(&path, e))?,
            url: required_text(&mut item, "url").map_err(|e| prefix(&path, e))?,
            description: optional_text(&mut item, "description").map_err(|e| prefix(&path, e))?,
        });
        reject_unknown(&item, &path)?;
    }
    for (i, mut item) in list(&mut map, "embeds")?.into_iter().enumerate() {
        let path = format!("embeds[{i}]");
        talk.embeds.push(NewEmbed {
            kind: required_text(&mut item, "type").map_err(|e| prefix(&path, e))?,
            html: required_text(&mut item, "html").map_err(|e| prefix(&path, e))?,
        });
        reject_unknown(&item, &path)?;
    }
    for (key, value) in map {
        let Value::String(key) = key else {
            return Err(field("front matter", "every key must be text"));
        };
        let json = serde_json::to_value(&value).map_err(|e| field(&key, &e.to_string()))?;
        talk.extra.insert(key, json);
    }
    Ok(Document::Talk(Box::new(talk)))
}

/// Where C1 control characters are carried through the YAML parser, which refuses them.
const SHIELD: u32 = 0x10_FF00;

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// Replaces C1 control characters (text decoded with a wrong code page keeps them where the
/// code page has no character) by private-use characters, one for one, so lines and columns
/// stay true. [`unshield`] puts them back, for the repair to read.
fn shield(yaml: &str) -> std::borrow::Cow<'_, str> {
    if !yaml.chars().any(is_c1) {
        return yaml.into();
    }
    yaml.chars()
        .map(|c| {
            if is_c1(c) {
                char::from_u32(SHIELD + c as u32).unwrap_or(c)
            } else {
                c
            }
        })
        .collect::<String>()
        .into()
}

fn unshield(value: &mut Value) {
    match value {
        Value::String(s) => {
            let shielded = SHIELD + 0x80..=SHIELD + 0x9f;
            if s.chars().any(|c| shielded.contains(&(c as u32))) {
                *s = s
                    .chars()
                    .map(|c| {
                        if shielded.contains(&(c as u32)) {
                            char::from_u32(c as u32 - SHIELD).unwrap_or(c)
                        } else {
                            c
                        }
                    })
                    .collect();
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(unshield),
        Value::Mapping(map) => map.values_mut().for_each(unshield),
        Value::Tagged(tagged) => unshield(&mut tagged.value),
        _ => {}
    }
}

/// Splits a document into its front matter and its body.
fn split(text: &str) -> Result<(&str, &str), DocumentError> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != "---" {
        return Err(DocumentError::NoFrontMatter);
    }
    let start = first.len();
    let mut offset = start;
    for line in lines {
        if line.trim_end() == "---" {
            return Ok((&text[start..offset], &text[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(DocumentError::Unterminated)
}

fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(pos) => message[..pos].to_owned(),
        None => message.to_owned(),
    }
}

fn field(path: &str, message: &str) -> DocumentError {
    DocumentError::Field {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn prefix(parent: &str, error: DocumentError) -> DocumentError {
    match error {
        DocumentError::Field { path, message } => DocumentError::Field {
            path: format!("{parent}.{path}"),
            message,
        },
        other => other,
    }
}

/// Text of a scalar: strings as they are, numbers and booleans as YAML wrote them.
fn text(value: Value, key: &str) -> Result<Option<String>, DocumentError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(field(key, "must be text, not a list or a mapping")),
    }
}

fn optional_text(map: &mut Mapping, key: &str) -> Result<Option<String>, DocumentError> {
    map.shift_remove(key).map_or(Ok(None), |v| text(v, key))
}

fn required_text(map: &mut Mapping, key: &str) -> Result<String, DocumentError> {
    optional_text(map, key)?.ok_or_else(|| field(key, "is missing"))
}

fn list(map: &mut Mapping, key: &str) -> Result<Vec<Mapping>, DocumentError> {
    match map.shift_remove(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Mapping(m) => Ok(m),
                _ => Err(field(&format!("{key}[{i}]"), "must be a mapping")),
            })
            .collect(),
        Some(_) => Err(field(key, "must be a list")),
    }
}

fn reject_unknown(item: &Mapping, path: &str) -> Result<(), DocumentError> {
    match item.keys().next() {
        None => Ok(()),
        Some(key) => Err(field(
            &format!("{path}.{}", key.as_str().unwrap_or("?")),
            "is not a known key here",
        )),
    }
}

/// Writes a stored talk as a document: known keys in a fixed order, then `extra` keys in
/// their stored order, then the body. The same talk always gives the same bytes.
pub fn render(record: &TalkRecord) -> String {
    let talk = &record.talk;
    let mut map = Mapping::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(value) = value {
            map.insert(key.into(), value.into());
        }
    };
    put(KNOWN_KEYS[0], Some(&talk.title));
    put(KNOWN_KEYS[1], Some(&talk.slug));
    put(KNOWN_KEYS[2], Some(&talk.date));
    put(KNOWN_KEYS[3], talk.event.as_deref());
    put(KNOWN_KEYS[4], talk.location.as_deref());
    put(KNOWN_KEYS[5], talk.image.as_deref());
    put(KNOWN_KEYS[6], talk.pdf.as_deref());
    put(KNOWN_KEYS[7], talk.notist_id.as_deref());
    if !record.resources.is_empty() {
        let items = record
            .resources
            .iter()
            .map(|r| {
                let mut item = Mapping::new();
                item.insert("title".into(), r.title.as_str().into());
                item.insert("url".into(), r.url.as_str().into());
                if let Some(description) = &r.description {
                    item.insert("description".into(), description.as_str().into());
                }
                Value::Mapping(item)
            })
            .collect();
        map.insert(KNOWN_KEYS[8].into(), Value::Sequence(items));
    }
    if !record.embeds.is_empty() {
        let items = record
            .embeds
            .iter()
            .map(|e| {
                let mut item = Mapping::new();
                item.insert("type".into(), e.kind.as_str().into());
                item.insert("html".into(), e.html.as_str().into());
                Value::Mapping(item)
            })
            .collect();
        map.insert(KNOWN_KEYS[9].into(), Value::Sequence(items));
    }
    if let serde_json::Value::Object(extra) = &talk.extra {
        for (key, value) in extra {
            if let Ok(value) = serde_yaml_ng::to_value(value) {
                map.insert(key.as_str().into(), value);
            }
        }
    }
    // Strings holding a Unicode line break other than '\n' (U+0085, U+2028, U+2029) are written
    // as escaped double-quoted scalars: the emitter would put them in block scalars, which
    // read back with a '\n' more after a final one. Each stands in the mapping as a token of
    // its own, replaced once the rest is written.
    let mut quoted = Vec::new();
    let prefix = token_prefix(&map);
    let mut map = Value::Mapping(map);
    quote_line_breaks(&mut map, &prefix, &mut quoted);
    // A mapping of strings, lists and JSON-born values always serializes.
    let mut yaml = serde_yaml_ng::to_string(&map).unwrap_or_default();
    // Replaced from the last token on, so that `…-1` is not taken for the start of `…-12`.
    for (token, text) in quoted.iter().rev() {
        yaml = yaml.replace(token.as_str(), text);
    }
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    format!("---\n{yaml}---\n\n{}\n", talk.body)
}

/// Unicode line breaks that YAML readers take as line breaks, besides '\n' and '\r'.
const UNICODE_BREAKS: [char; 3] = ['\u{85}', '\u{2028}', '\u{2029}'];

/// A prefix for tokens that no string of `map` contains.
fn token_prefix(map: &Mapping) -> String {
    let text = format!("{map:?}");
    (0u32..)
        .map(|n| format!("lectern-quoted-{n}-"))
        .find(|prefix| !text.contains(prefix.as_str()))
        .unwrap_or_default()
}

/// Replaces each string (value or key) of `value` that holds a [`UNICODE_BREAKS`] character
/// with a token, and records the token and the string as a double-quoted scalar.
fn quote_line_breaks(value: &mut Value, prefix: &str, quoted: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) if text.contains(UNICODE_BREAKS) => {
            let token = format!("{prefix}{}", quoted.len());
            quoted.push((token.clone(), double_quoted(text)));
            *text = token;
        }
        Value::Sequence(items) => {
            for item in items {
                quote_line_breaks(item, prefix, quoted);
            }
        }
        Value::Mapping(members) => {
            let old = std::mem::take(members);
            for (mut key, mut member) in old {
                quote_line_breaks(&mut key, prefix, quoted);
                quote_line_breaks(&mut member, prefix, quoted);
                members.insert(key, member);
            }
        }
        Value::Tagged(tagged) => quote_line_breaks(&mut tagged.value, prefix, quoted),
        _ => {}
    }
}

/// `text` as a YAML double-quoted scalar that reads back as exactly `text`: every character a
/// YAML reader would fold, normalize or refuse is escaped.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..
                if !UNICODE_BREAKS.contains(&c) && c != '\u{FEFF}' =>
            {
                out.push(c);
            }
            // Controls, the line breaks above, the byte order mark, U+FFFE and U+FFFF: all in
            // the Basic Multilingual Plane.
            c => out.push_str(&format!("\\u{:04X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}
