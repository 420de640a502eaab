//! Opening the database: SQLite by default, PostgreSQL when the URL says so.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// The database used when none is configured: `lectern.db` in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lectern.db?mode=rwc";

/// Connects to `url` and applies every pending migration (idempotent).
///
/// SQLite runs in WAL mode with `synchronous = NORMAL` (durable across crashes of the process,
/// fast commits) and foreign keys on; writers wait up to 10 s for a lock.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    // One writer at a time is all SQLite allows; a small pool avoids lock contention.
    let db = open(url, url.starts_with("sqlite:").then_some(4)).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Connects to `url`, migrated already, with at most `max_connections` (the driver's default
/// when None): a pool of its own for work beside the requests.
pub async fn open(url: &str, max_connections: Option<u32>) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Checkpoint the WAL every ~40 MB rather than every 4 MB: bulk imports write
                // each page once instead of many times.
                .pragma("wal_autocheckpoint", "10000")
        });
    if let Some(max) = max_connections {
        options.max_connections(max);
    }
    Database::connect(options).await
}

/// Hides the password of a database URL so it can be printed.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("*****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Begins a transaction that is going to write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), waiting for it like any writer, rather than failing when a read
/// transaction later finds another writer committed in between.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
