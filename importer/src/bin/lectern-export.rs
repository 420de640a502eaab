//! `lectern-export`: writes every talk as a document, one file per talk.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use service::db::DEFAULT_DATABASE_URL;

/// Export every talk in Lectern as a talk document (`<slug>.md`), in the format
/// `lectern-import` reads; or, with `--follow`, keep a folder of documents up to date from the
/// events `lectern relay` publishes to NATS JetStream, without the database.
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
    /// Only published talks (a talk that is unpublished loses its document).
    #[arg(long)]
    published_only: bool,
    #[command(flatten)]
    store: importer::files::StoreArgs,
    /// Follow the relay's stream on this NATS server (`nats://127.0.0.1:4222`) instead of
    /// reading the database: write and remove documents as talks change, until SIGINT or
    /// SIGTERM. The place in the stream is kept by a durable consumer.
    #[arg(long, value_name = "URL", conflicts_with = "assets")]
    follow: Option<String>,
    /// The stream to follow.
    #[arg(long, default_value = "LECTERN", requires = "follow")]
    stream: String,
    /// The relay's subject prefix.
    #[arg(long, default_value = "lectern", requires = "follow")]
    subject_prefix: String,
    /// The durable consumer that keeps this folder's place in the stream.
    #[arg(long, default_value = "lectern-export", requires = "follow")]
    durable: String,
    /// Stop once the stream has nothing more instead of following it.
    #[arg(long, requires = "follow")]
    once: bool,
}

/// Follows the stream into the folder; the exit code says how it ended.
async fn follow(args: &Args, url: &str) -> ExitCode {
    let settings = importer::follow::FollowSettings {
        stream: args.stream.clone(),
        subject_prefix: args.subject_prefix.clone(),
        durable: args.durable.clone(),
        published_only: args.published_only,
        ..importer::follow::FollowSettings::new(url, &args.out)
    };
    let mut follower = match importer::follow::Follower::open(settings).await {
        Ok(follower) => follower,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let done = if args.once {
        follower.catch_up().await
    } else {
        println!("following {url} into {}", args.out.display());
        follower.run(stopped()).await
    };
    match done {
        Ok(done) => {
            println!(
                "{} events: wrote {} documents, removed {} in {}",
                done.events,
                done.written,
                done.removed,
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Resolves at SIGINT or SIGTERM.
async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(url) = &args.follow {
        return follow(&args, url).await;
    }
    let Some(db) = importer::open_database(&args.database_url).await else {
        return ExitCode::from(2);
    };
    match importer::export::export_selected(&db, &args.out, args.published_only).await {
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
