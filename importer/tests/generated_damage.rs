//! Talk documents generated in ten languages (see `examples/damage`), damaged the way the seed
//! was damaged, then repaired as an import run repairs them: no field may come back wrong
//! without being reported as a guess.

#![allow(clippy::unwrap_used)]

#[path = "../examples/damage/generator.rs"]
mod generator;

use generator::{Damage, LANGUAGES, documents, measure, table};
use importer::repair::KnownChars;

/// Documents per language: enough for every template, name and place to occur damaged.
const PER_LANGUAGE: usize = 12;

#[test]
fn no_generated_field_comes_back_wrong_without_a_report() {
    let docs = documents(PER_LANGUAGE, 2026);
    let mut context = KnownChars::default();
    for doc in documents(3, 2026 ^ 0x5EED) {
        context.observe(&doc.text);
    }
    for known in [KnownChars::default(), context] {
        let m = measure(&docs, &Damage::ALL, &known);
        println!("{}", table(&m));
        let total = m.total();
        assert_eq!(total.unparsable, 0, "damaged documents must still parse");
        assert_eq!(
            m.by_language.len(),
            LANGUAGES.len(),
            "every language is measured"
        );
        assert!(
            total.damaged >= PER_LANGUAGE * LANGUAGES.len() * 4 * 4,
            "too few damaged fields to measure: {}",
            total.damaged
        );
        assert_eq!(
            total.clean_touched, 0,
            "fields that were not damaged must stay as they are, unreported"
        );
        let silent: Vec<String> = m
            .silent
            .iter()
            .take(20)
            .map(|s| {
                format!(
                    "{} ({}) {}:\n  want {:?}\n  got  {:?}",
                    s.document,
                    s.damage.name(),
                    s.field,
                    s.want,
                    s.got
                )
            })
            .collect();
        assert!(
            silent.is_empty(),
            "{} fields wrong without a report, among them:\n{}",
            m.silent.len(),
            silent.join("\n")
        );
    }
}

#[test]
fn generated_damage_kept_as_c1_controls_is_restored_exactly() {
    // With no byte lost, each damaged sequence admits one reading: no guess is needed.
    let docs = documents(4, 7);
    let m = measure(
        &docs,
        &[Damage::Windows1252Kept, Damage::Windows1254Kept],
        &KnownChars::default(),
    );
    let total = m.total();
    assert!(total.damaged > 0);
    assert_eq!(
        total.exact,
        total.damaged,
        "lossless damage must come back exactly, and certain:\n{}",
        table(&m)
    );
}

#[test]
fn the_generator_writes_the_same_documents_for_the_same_seed() {
    let a: Vec<String> = documents(8, 11).into_iter().map(|d| d.text).collect();
    let b: Vec<String> = documents(8, 11).into_iter().map(|d| d.text).collect();
    let c: Vec<String> = documents(8, 12).into_iter().map(|d| d.text).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Every language's special letters are in its documents (the text is generated, not empty).
    let all = a.concat();
    for letters in [
        "ş", "ğ", "ı", "ł", "ż", "ð", "þ", "«", "ß", "œ", "ñ", "ã", "ř", "ț", "„",
    ] {
        assert!(all.contains(letters), "no {letters} in the generated text");
    }
}
