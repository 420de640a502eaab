//! Generated talk documents in several languages, damaged the way the seed document was
//! damaged, and the measurement of what the importer's repair makes of them.
//!
//! Shared by the `damage` example (which writes the documents and prints the table) and by the
//! test `generated_damage` (which fails when a field comes back wrong without being reported).

#![allow(dead_code)]

use std::collections::BTreeMap;

use importer::document::{Document, parse};
use importer::fix::repair_talk;
use importer::repair::KnownChars;
use service::talks::NewTalk;

#[path = "languages.rs"]
mod languages;
pub use languages::{EMOJI, LANGUAGES, Language};

/// A small deterministic generator (SplitMix64): the same seed gives the same documents on every
/// machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// One generated document: its language and its clean text.
pub struct Generated {
    pub language: &'static str,
    pub name: String,
    pub text: String,
}

fn fill(template: &str, language: &Language, rng: &mut Rng) -> String {
    let emoji = if rng.below(3) == 0 {
        rng.pick(language.emoji)
    } else {
        rng.pick(EMOJI)
    };
    let topic = rng.pick(language.topics);
    let mut topic2 = rng.pick(language.topics);
    if topic2 == topic {
        topic2 = language.topics[0];
    }
    template
        .replace("{person}", rng.pick(language.people))
        .replace("{place}", rng.pick(language.places))
        .replace("{company}", rng.pick(language.companies))
        .replace("{topic2}", topic2)
        .replace("{topic}", topic)
        .replace("{emoji}", emoji)
}

/// A title begins with a capital, as titles do.
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One talk document in `language`: title, event, location, two or three resources, one or
/// two tweets and an abstract of a few sentences.
pub fn document(language: &'static Language, n: usize, rng: &mut Rng) -> Generated {
    let slug = format!("{}-{n:03}", language.code);
    let title = capitalized(&fill(rng.pick(language.titles), language, rng));
    let event = format!("{} {}", rng.pick(language.events), 2015 + rng.below(10));
    let location = format!("{}, {}", rng.pick(language.places), language.country);
    let mut doc = String::new();
    doc.push_str("---\n");
    doc.push_str(&format!("title: {}\n", quoted(&title)));
    doc.push_str(&format!("slug: \"{slug}\"\n"));
    doc.push_str(&format!(
        "date: 20{:02}-{:02}-{:02}T09:30:00\n",
        15 + rng.below(10),
        1 + rng.below(12),
        1 + rng.below(28)
    ));
    doc.push_str(&format!("event: {}\n", quoted(&event)));
    doc.push_str(&format!("location: {}\n", quoted(&location)));
    doc.push_str("resources:\n");
    for i in 0..2 + rng.below(2) {
        let title = fill(rng.pick(language.resources), language, rng);
        doc.push_str(&format!("  - title: {}\n", quoted(&title)));
        doc.push_str(&format!("    url: \"https://example.com/{slug}/{i}\"\n"));
        if rng.below(2) == 0 {
            let description = fill(rng.pick(language.sentences), language, rng);
            doc.push_str(&format!("    description: {}\n", quoted(&description)));
        }
    }
    doc.push_str("embeds:\n");
    for i in 0..1 + rng.below(2) {
        let text = fill(rng.pick(language.sentences), language, rng);
        let person = rng.pick(language.people);
        doc.push_str("  - type: \"twitter\"\n    html: |\n");
        doc.push_str(&format!(
            "      <blockquote class=\"twitter-tweet\"><p lang=\"{}\" dir=\"ltr\">{text}</p>&mdash; {person} (@{}{i}) <a href=\"https://twitter.com/x/status/{}\">{}</a></blockquote>\n",
            language.code,
            language.code,
            rng.next() % 1_000_000_000,
            2015 + rng.below(10),
        ));
    }
    doc.push_str("---\n\n");
    for _ in 0..2 + rng.below(3) {
        doc.push_str(&format!(
            "<p>{}</p>\n",
            fill(rng.pick(language.sentences), language, rng)
        ));
    }
    Generated {
        language: language.name,
        name: format!("{slug}.md"),
        text: doc,
    }
}

/// `per_language` documents in each language, from `seed`.
pub fn documents(per_language: usize, seed: u64) -> Vec<Generated> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for language in LANGUAGES {
        for n in 0..per_language {
            out.push(document(language, n, &mut rng));
        }
    }
    out
}

/// How a converter damaged a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// UTF-8 read as Windows-1252, the bytes it leaves undefined dropped.
    Windows1252Dropped,
    /// UTF-8 read as Windows-1254, the bytes it leaves undefined dropped (as the seed).
    Windows1254Dropped,
    /// UTF-8 read as Windows-1252, the undefined bytes kept as C1 controls.
    Windows1252Kept,
    /// UTF-8 read as Windows-1254, the undefined bytes kept as C1 controls.
    Windows1254Kept,
}

impl Damage {
    pub const ALL: [Damage; 4] = [
        Damage::Windows1252Dropped,
        Damage::Windows1254Dropped,
        Damage::Windows1252Kept,
        Damage::Windows1254Kept,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Damage::Windows1252Dropped => "windows-1252, undefined bytes dropped",
            Damage::Windows1254Dropped => "windows-1254, undefined bytes dropped",
            Damage::Windows1252Kept => "windows-1252, undefined bytes kept",
            Damage::Windows1254Kept => "windows-1254, undefined bytes kept",
        }
    }

    pub fn apply(self, text: &str) -> String {
        let (encoding, drop) = match self {
            Damage::Windows1252Dropped => (encoding_rs::WINDOWS_1252, true),
            Damage::Windows1254Dropped => (encoding_rs::WINDOWS_1254, true),
            Damage::Windows1252Kept => (encoding_rs::WINDOWS_1252, false),
            Damage::Windows1254Kept => (encoding_rs::WINDOWS_1254, false),
        };
        let undefined: &[u8] = if encoding == encoding_rs::WINDOWS_1254 {
            &[0x81, 0x8D, 0x8E, 0x8F, 0x90, 0x9D, 0x9E]
        } else {
            &[0x81, 0x8D, 0x8F, 0x90, 0x9D]
        };
        let bytes: Vec<u8> = text
            .bytes()
            .filter(|b| !(drop && undefined.contains(b)))
            .collect();
        encoding.decode_without_bom_handling(&bytes).0.into_owned()
    }
}

/// The text fields of a talk, by path, as the importer names them.
pub fn fields(talk: &NewTalk) -> Vec<(String, String)> {
    let mut out = vec![
        ("title".to_owned(), talk.title.clone()),
        ("event".to_owned(), talk.event.clone().unwrap_or_default()),
        (
            "location".to_owned(),
            talk.location.clone().unwrap_or_default(),
        ),
        ("body".to_owned(), talk.body.clone()),
    ];
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

pub fn talk(text: &str) -> Option<NewTalk> {
    match parse(text, "x") {
        Ok(Document::Talk(talk)) => Some(*talk),
        _ => None,
    }
}

/// What became of the damaged fields of one language (or of all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Fields whose damaged text differs from the clean text.
    pub damaged: usize,
    /// Restored to the character, and not reported as a guess.
    pub exact: usize,
    /// Reported as a guess, and the guess is right.
    pub guessed_right: usize,
    /// Reported as a guess, and the text is not what it was.
    pub guessed_wrong: usize,
    /// Not what it was, and not reported: what must never happen.
    pub silent_wrong: usize,
    /// Fields that were not damaged but were changed or reported.
    pub clean_touched: usize,
    /// Damaged documents that no longer parse.
    pub unparsable: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.damaged += other.damaged;
        self.exact += other.exact;
        self.guessed_right += other.guessed_right;
        self.guessed_wrong += other.guessed_wrong;
        self.silent_wrong += other.silent_wrong;
        self.clean_touched += other.clean_touched;
        self.unparsable += other.unparsable;
    }

    pub fn share(&self, n: usize) -> f64 {
        100.0 * n as f64 / self.damaged.max(1) as f64
    }
}

/// One field that came back wrong without a report.
#[derive(Debug, Clone)]
pub struct SilentWrong {
    pub document: String,
    pub damage: Damage,
    pub field: String,
    pub want: String,
    pub got: String,
}

/// The measurement: per language, and the fields that came back wrong without a report.
pub struct Measurement {
    pub by_language: BTreeMap<&'static str, Tally>,
    pub by_damage: Vec<(Damage, Tally)>,
    pub silent: Vec<SilentWrong>,
    /// Fields reported as a guess that came back wrong, with what the report says.
    pub wrong_guesses: Vec<(SilentWrong, Vec<String>)>,
}

impl Measurement {
    pub fn total(&self) -> Tally {
        let mut total = Tally::default();
        for t in self.by_language.values() {
            total.add(t);
        }
        total
    }
}

/// Damages each document each way in `damages`, parses it, repairs it as an import run would
/// (knowing the clean text of `context`, the other documents of the run and the database), and
/// compares every field with the clean document.
pub fn measure(documents: &[Generated], damages: &[Damage], context: &KnownChars) -> Measurement {
    let mut by_language: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut by_damage = Vec::new();
    let mut silent = Vec::new();
    let mut wrong_guesses = Vec::new();
    for &damage in damages {
        let mut tally_damage = Tally::default();
        for doc in documents {
            let mut tally = Tally::default();
            let Some(clean) = talk(&doc.text) else {
                tally.unparsable += 1;
                continue;
            };
            let Some(mut damaged) = talk(&damage.apply(&doc.text)) else {
                tally.unparsable += 1;
                by_language.entry(doc.language).or_default().add(&tally);
                tally_damage.add(&tally);
                continue;
            };
            let before = fields(&damaged);
            let reports = repair_talk(&mut damaged, context);
            let after = fields(&damaged);
            for (((path, want), (_, was)), (_, got)) in
                fields(&clean).iter().zip(&before).zip(&after)
            {
                let report = reports.iter().find(|r| &r.field == path);
                let guess = report.is_some_and(|r| r.guess);
                if want == was {
                    if got != want || report.is_some() {
                        tally.clean_touched += 1;
                    }
                    continue;
                }
                tally.damaged += 1;
                match (got == want, guess) {
                    (true, false) => tally.exact += 1,
                    (true, true) => tally.guessed_right += 1,
                    (false, true) => {
                        tally.guessed_wrong += 1;
                        wrong_guesses.push((
                            SilentWrong {
                                document: doc.name.clone(),
                                damage,
                                field: path.clone(),
                                want: want.clone(),
                                got: got.clone(),
                            },
                            report.map(|r| r.guesses.clone()).unwrap_or_default(),
                        ));
                    }
                    (false, false) => {
                        tally.silent_wrong += 1;
                        silent.push(SilentWrong {
                            document: doc.name.clone(),
                            damage,
                            field: path.clone(),
                            want: want.clone(),
                            got: got.clone(),
                        });
                    }
                }
            }
            by_language.entry(doc.language).or_default().add(&tally);
            tally_damage.add(&tally);
        }
        by_damage.push((damage, tally_damage));
    }
    Measurement {
        by_language,
        by_damage,
        silent,
        wrong_guesses,
    }
}

/// The measurement as a Markdown table.
pub fn table(m: &Measurement) -> String {
    let mut out = String::new();
    out.push_str("| language | damaged fields | restored exactly | reported guess (right / wrong) | wrong without report |\n");
    out.push_str("|---|---|---|---|---|\n");
    let row = |name: &str, t: &Tally| {
        format!(
            "| {name} | {} | {:.1}% | {:.1}% ({:.1}% / {:.1}%) | {} ({:.1}%) |\n",
            t.damaged,
            t.share(t.exact),
            t.share(t.guessed_right + t.guessed_wrong),
            t.share(t.guessed_right),
            t.share(t.guessed_wrong),
            t.silent_wrong,
            t.share(t.silent_wrong),
        )
    };
    for (name, t) in &m.by_language {
        out.push_str(&row(name, t));
    }
    out.push_str(&row("**all**", &m.total()));
    out.push('\n');
    out.push_str("| damage | damaged fields | restored exactly | reported guess (right / wrong) | wrong without report |\n");
    out.push_str("|---|---|---|---|---|\n");
    for (damage, t) in &m.by_damage {
        out.push_str(&row(damage.name(), t));
    }
    let total = m.total();
    out.push_str(&format!(
        "\nclean fields changed or reported: {}; damaged documents that no longer parse: {}\n",
        total.clean_touched, total.unparsable
    ));
    out
}
