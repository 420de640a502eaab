//! Generates talk documents in ten languages (with emoji and typographic punctuation), damages
//! them the way the seed document was damaged (UTF-8 read as Windows-1252 or Windows-1254, the
//! bytes the code page leaves undefined dropped or kept), and measures what the repair makes of
//! them: per language, the share of damaged fields restored exactly, reported as a guess, and
//! wrong without a report.
//!
//! ```sh
//! cargo run -p importer --example damage                      # print the measurement
//! cargo run -p importer --example damage -- --out /tmp/gen    # also write the documents
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use importer::repair::KnownChars;

mod generator;
use generator::{Damage, documents, measure, table};

/// Generate damaged talk documents and measure their repair.
#[derive(Parser, Debug)]
struct Args {
    /// Documents per language.
    #[arg(long, default_value_t = 40)]
    per_language: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Also write the clean documents to OUT/clean and each damaged set to OUT/<damage>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only the damage the seed shows (undefined bytes dropped), not the lossless variants.
    #[arg(long)]
    dropped_only: bool,
    /// Also print this many fields whose guess is wrong, with what their report says.
    #[arg(long, default_value_t = 0)]
    show_wrong_guesses: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let docs = documents(args.per_language, args.seed);
    let damages: &[Damage] = if args.dropped_only {
        &Damage::ALL[..2]
    } else {
        &Damage::ALL
    };
    if let Some(out) = &args.out {
        let mut sets = vec![("clean".to_owned(), None)];
        sets.extend(damages.iter().map(|d| {
            (
                d.name().replace([',', ' '], "-").replace("--", "-"),
                Some(*d),
            )
        }));
        for (folder, damage) in sets {
            let dir = out.join(folder);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return ExitCode::from(2);
            }
            for doc in &docs {
                let text = damage.map_or_else(|| doc.text.clone(), |d| d.apply(&doc.text));
                let path = dir.join(&doc.name);
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    }
    // What an import run knows besides the damaged document: the clean text of other documents
    // (another draw of the generator, in every language) and of the database.
    let mut context = KnownChars::default();
    for doc in documents(args.per_language.div_ceil(4), args.seed ^ 0x5EED) {
        context.observe(&doc.text);
    }
    let started = std::time::Instant::now();
    let m = measure(&docs, damages, &context);
    print!("{}", table(&m));
    println!(
        "{} documents per language, seed {}, {:.1?}",
        args.per_language,
        args.seed,
        started.elapsed()
    );
    for s in m.silent.iter().take(40) {
        println!(
            "wrong without report: {} ({}) {}:\n  want {:?}\n  got  {:?}",
            s.document,
            s.damage.name(),
            s.field,
            s.want,
            s.got
        );
    }
    for (w, guesses) in m.wrong_guesses.iter().take(args.show_wrong_guesses) {
        println!(
            "wrong guess: {} ({}) {}: {guesses:?}\n  want {:?}\n  got  {:?}",
            w.document,
            w.damage.name(),
            w.field,
            w.want,
            w.got
        );
    }
    if m.silent.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
