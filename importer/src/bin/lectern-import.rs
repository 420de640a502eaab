//! `lectern-import`: loads talk documents into Lectern.
//!
//! Exit status: 0 when nothing failed, 1 when any document failed or conflicted (with
//! `--on-guess=fail`, a document whose repair is a guess fails) or a file that a document names
//! (with `--assets`) was missing or refused, 2 for a usage or connection error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use importer::import::{ImportConfig, OnGuess, render_text, run_with};
use service::db::DEFAULT_DATABASE_URL;

/// Import talk documents (YAML front matter + HTML abstract) into Lectern.
///
/// Each document is upserted by slug in its own transaction; unchanged documents change nothing,
/// and talks edited through the API since their last import are reported as conflicts.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Database to import into (SQLite or PostgreSQL URL).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
    /// Report what would happen, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Store text as it is, without repairing mis-decoded characters.
    #[arg(long)]
    no_repair: bool,
    /// Overwrite (and with --prune, delete) talks edited through the API since their last import.
    #[arg(long)]
    force: bool,
    /// Delete imported talks whose documents are gone (never talks created through the API).
    #[arg(long)]
    prune: bool,
    /// What to do with a document whose repair is a guess (bytes were lost, or some text may
    /// still be damaged): import it and report the field, or fail it and import nothing of it.
    #[arg(long, value_enum, default_value_t = OnGuess::Report)]
    on_guess: OnGuess,
    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Documents larger than this many bytes are refused.
    #[arg(long, default_value_t = importer::document::DEFAULT_MAX_BYTES)]
    max_bytes: u64,
    /// The site's static folder: each file a document names (its `image` and `pdf`, paths
    /// such as /pdfs/x.pdf) is stored as an asset and linked to its talk.
    /// Missing files are reported by document and field; the rest is imported.
    #[arg(long)]
    assets: Option<PathBuf>,
    #[command(flatten)]
    store: importer::files::StoreArgs,
    /// Files or folders (searched recursively for `*.md`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    let Some(db) = importer::open_database(&args.database_url).await else {
        return ExitCode::from(2);
    };
    let assets = match &args.assets {
        None => None,
        Some(dir) => {
            let folder = match importer::files::SiteFolder::open(dir, false) {
                Ok(folder) => folder,
                Err(e) => {
                    eprintln!("error: --assets {}: {e}", dir.display());
                    return ExitCode::from(2);
                }
            };
            match args.store.open(&args.database_url) {
                Ok(store) => Some(importer::files::AssetImport { folder, store }),
                Err(e) => {
                    eprintln!("error: cannot open the asset store: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let config = ImportConfig {
        paths: args.paths,
        dry_run: args.dry_run,
        repair: !args.no_repair,
        force: args.force,
        prune: args.prune,
        max_bytes: args.max_bytes,
        progress: std::io::stderr().is_terminal(),
        assets,
    };
    let summary = match run_with(&db, &config, args.on_guess).await {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match args.format {
        Format::Text => print!("{}", render_text(&summary)),
        Format::Json => match serde_json::to_string_pretty(&summary) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    }
    if summary.has_problems() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
