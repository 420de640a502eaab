//! `lectern-export`: writes every talk as a document, one file per talk.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use service::db::DEFAULT_DATABASE_URL;

/// Export every talk in Lectern as a talk document (`<slug>.md`), in the format
/// `lectern-import` reads.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Database to export from (SQLite or PostgreSQL URL).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
    /// Folder to write the documents into (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Also write the stored files that talks name (slides, images) into this folder, at the
    /// paths the documents give; files already there with the same bytes are left alone.
    #[arg(long)]
    assets: Option<PathBuf>,
    #[command(flatten)]
    store: importer::files::StoreArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some(db) = importer::open_database(&args.database_url).await else {
        return ExitCode::from(2);
    };
    match importer::export::export(&db, &args.out).await {
        Ok(count) => println!("exported {count} talks to {}", args.out.display()),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    }
    let Some(dir) = &args.assets else {
        return ExitCode::SUCCESS;
    };
    let store = match args.store.open(&args.database_url) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: cannot open the asset store: {e}");
            return ExitCode::from(2);
        }
    };
    let folder = match importer::files::SiteFolder::open(dir, true) {
        Ok(folder) => folder,
        Err(e) => {
            eprintln!("error: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    match importer::export::export_files(&db, &store, &folder).await {
        Ok(files) => {
            println!(
                "files: wrote {}, unchanged {} in {}",
                files.written,
                files.unchanged,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
