//! The repair measured on damage of our own making: every talk of the corpus, damaged the four
//! ways real exports damage text, then parsed and repaired field by field.

#![allow(clippy::unwrap_used)]

use importer::document::{Document, parse};
use importer::fix::repair_talk;
use importer::repair::KnownChars;
use service::talks::NewTalk;

/// UTF-8 bytes read with a single-byte code page; undefined bytes kept as C1 or dropped.
fn damage(text: &str, encoding: &'static encoding_rs::Encoding, drop_undefined: bool) -> String {
    let undefined: &[u8] = if encoding == encoding_rs::WINDOWS_1254 {
        &[0x81, 0x8D, 0x8E, 0x8F, 0x90, 0x9D, 0x9E]
    } else {
        &[0x81, 0x8D, 0x8F, 0x90, 0x9D]
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| !(drop_undefined && undefined.contains(b)))
        .collect();
    encoding.decode_without_bom_handling(&bytes).0.into_owned()
}

fn latin1(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

fn fields(talk: &NewTalk) -> Vec<(String, String)> {
    let mut out = vec![
        ("title".to_owned(), talk.title.clone()),
        ("body".to_owned(), talk.body.clone()),
    ];
    out.push(("event".into(), talk.event.clone().unwrap_or_default()));
    out.push(("location".into(), talk.location.clone().unwrap_or_default()));
    for (i, r) in talk.resources.iter().enumerate() {
        out.push((format!("resources[{i}].title"), r.title.clone()));
        out.push((
            format!("resources[{i}].description"),
            r.description.clone().unwrap_or_default(),
        ));
    }
    for (i, e) in talk.embeds.iter().enumerate() {
        out.push((format!("embeds[{i}].html"), e.html.clone()));
    }
    out
}

fn talk(text: &str) -> Option<NewTalk> {
    match parse(text, "x") {
        Ok(Document::Talk(talk)) => Some(*talk),
        _ => None,
    }
}

#[test]
fn damaged_corpus_fields_are_restored() {
    let dir = tests::corpus_talks();
    let mut documents: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|text| talk(text).is_some())
        .collect();
    documents.sort();
    assert_eq!(documents.len(), 121);

    type Damage = fn(&str) -> String;
    let variants: [(&str, Damage, bool); 5] = [
        (
            "windows-1252, undefined kept",
            |t| damage(t, encoding_rs::WINDOWS_1252, false),
            false,
        ),
        (
            "windows-1254, undefined kept",
            |t| damage(t, encoding_rs::WINDOWS_1254, false),
            false,
        ),
        ("latin-1", latin1, false),
        (
            "windows-1252, undefined dropped",
            |t| damage(t, encoding_rs::WINDOWS_1252, true),
            true,
        ),
        (
            "windows-1254, undefined dropped",
            |t| damage(t, encoding_rs::WINDOWS_1254, true),
            true,
        ),
    ];
    // The context of a document: the clean text of the other half of the collection, as an
    // import run sees the documents around a damaged one (never the document itself).
    let half = documents.len() / 2;
    let mut halves = [KnownChars::default(), KnownChars::default()];
    for (n, text) in documents.iter().enumerate() {
        halves[usize::from(n < half)].observe(text);
    }
    for with_context in [false, true] {
        for (name, damage, lossy) in variants {
            let (mut damaged_fields, mut restored, mut broken_clean, mut unparsable) = (0, 0, 0, 0);
            for (n, text) in documents.iter().enumerate() {
                let none = KnownChars::default();
                let known = if with_context {
                    &halves[usize::from(n >= half)]
                } else {
                    &none
                };
                let clean = talk(text).unwrap();
                let Some(mut damaged) = talk(&damage(text)) else {
                    unparsable += 1;
                    continue;
                };
                let before = fields(&damaged);
                repair_talk(&mut damaged, known);
                for (((path, want), (_, was)), (_, got)) in
                    fields(&clean).iter().zip(&before).zip(&fields(&damaged))
                {
                    if want == was {
                        if got != want {
                            broken_clean += 1;
                            println!("{name}: clean field {path} was changed: {got:?}");
                        }
                    } else {
                        damaged_fields += 1;
                        if got == want {
                            restored += 1;
                        } else if with_context {
                            println!("{name}: {path}: want {want:?}\n    got {got:?}");
                        }
                    }
                }
            }
            let share = f64::from(restored) / f64::from(damaged_fields.max(1));
            println!(
                "{name} (context: {with_context}): {restored}/{damaged_fields} damaged fields restored exactly ({:.1}%), {unparsable} documents unparsable",
                share * 100.0
            );
            assert_eq!(unparsable, 0, "{name}: damaged documents must still parse");
            assert_eq!(
                broken_clean, 0,
                "{name}: fields that were not damaged must stay as they are"
            );
            let floor = match (lossy, with_context) {
                (false, _) => 1.0,
                (true, false) => 0.78,
                (true, true) => 0.95,
            };
            assert!(
                share >= floor,
                "{name}: only {:.1}% restored, expected at least {:.0}%",
                share * 100.0,
                floor * 100.0
            );
        }
    }
}
