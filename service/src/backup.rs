//! Backups of an SQLite database, and restoring one. PostgreSQL has its own tools (`pg_dump`,
//! `pg_restore`), which these functions point to.
//!
//! A backup is a consistent copy made while the server runs (`VACUUM INTO`: one read
//! transaction, so it holds every write committed before it began and none after). A restore
//! checks the backup, brings its schema up to date in a copy, and only then puts that copy in
//! place of the database, so a failed restore leaves the database as it was.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{self, Connection, SqliteConnection};

/// What went wrong, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{0} is a PostgreSQL database: back it up with `pg_dump --format=custom --file=FILE URL` and restore it with `pg_restore --clean --dbname=URL FILE`"
    )]
    Postgres(String),
    #[error("{0} is not an SQLite database URL")]
    NotSqlite(String),
    #[error("{0} is an in-memory database; there is nothing to back up or restore")]
    InMemory(String),
    #[error("{} exists already; choose another file", .0.display())]
    OutputExists(PathBuf),
    #[error("the database {} exists; stop every server that uses it and pass --force to replace it", .0.display())]
    TargetExists(PathBuf),
    #[error("{}: no such file", .0.display())]
    Missing(PathBuf),
    #[error("{}: not a Lectern backup: {reason}", .path.display())]
    NotABackup { path: PathBuf, reason: String },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", .path.display())]
    Database { path: PathBuf, message: String },
}

/// The database file an SQLite URL names.
fn sqlite_file(url: &str) -> Result<PathBuf, BackupError> {
    if url.starts_with("postgres") {
        return Err(BackupError::Postgres(crate::db::redact_url(url)));
    }
    if !url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite(crate::db::redact_url(url)));
    }
    let options =
        SqliteConnectOptions::from_str(url).map_err(|_| BackupError::NotSqlite(url.to_owned()))?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
        return Err(BackupError::InMemory(url.to_owned()));
    }
    Ok(file.to_path_buf())
}

fn db_error(path: &Path) -> impl Fn(sqlx::Error) -> BackupError + '_ {
    move |e| BackupError::Database {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes a consistent copy of the database `url` to `out`; returns its size in bytes.
pub async fn backup(url: &str, out: &Path) -> Result<u64, BackupError> {
    let file = sqlite_file(url)?;
    if !file.is_file() {
        return Err(BackupError::Missing(file));
    }
    if out.exists() {
        return Err(BackupError::OutputExists(out.to_path_buf()));
    }
    let mut connection = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true)
            .busy_timeout(std::time::Duration::from_secs(30)),
    )
    .await
    .map_err(db_error(&file))?;
    sqlx::query("VACUUM INTO ?")
        .bind(out.to_string_lossy().into_owned())
        .execute(&mut connection)
        .await
        .map_err(db_error(out))?;
    connection.close().await.map_err(db_error(&file))?;
    std::fs::metadata(out)
        .map(|m| m.len())
        .map_err(|source| BackupError::Io {
            path: out.to_path_buf(),
            source,
        })
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The database file replaced (or created).
    pub database: PathBuf,
    /// Migrations the backup lacked and that were applied to it.
    pub migrated: usize,
}

/// Replaces the database `url` with the backup `from`. The backup must be an intact Lectern
/// database whose migrations this version knows; a database that exists is replaced only with
/// `force`. Every server using the database must be stopped first.
pub async fn restore(url: &str, from: &Path, force: bool) -> Result<Restored, BackupError> {
    let target = sqlite_file(url)?;
    if !from.is_file() {
        return Err(BackupError::Missing(from.to_path_buf()));
    }
    if target.exists() && !force {
        return Err(BackupError::TargetExists(target));
    }
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let not_a_backup = |reason: String| BackupError::NotABackup {
        path: from.to_path_buf(),
        reason,
    };
    let mut source = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(from)
            .read_only(true)
            .immutable(true),
    )
    .await
    .map_err(|e| not_a_backup(e.to_string()))?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut source)
        .await
        .map_err(|e| not_a_backup(e.to_string()))?;
    if integrity != "ok" {
        return Err(not_a_backup(format!("integrity check: {integrity}")));
    }
    let applied: Vec<String> = sqlx::query_scalar("SELECT version FROM seaql_migrations")
        .fetch_all(&mut source)
        .await
        .map_err(|_| not_a_backup("it has no migration table".into()))?;
    if applied.is_empty() {
        return Err(not_a_backup("no migration was ever applied to it".into()));
    }
    if let Some(unknown) = applied.iter().find(|v| !known.contains(v)) {
        return Err(not_a_backup(format!(
            "it has migration {unknown}, which this version of Lectern does not know (a newer version made it)"
        )));
    }
    // The copy is made next to the database, so that the rename below replaces it at once.
    let staged = target.with_extension("restoring");
    remove_if_exists(&staged)?;
    sqlx::query("VACUUM INTO ?")
        .bind(staged.to_string_lossy().into_owned())
        .execute(&mut source)
        .await
        .map_err(db_error(&staged))?;
    source.close().await.map_err(db_error(from))?;
    let staged_url = format!("sqlite://{}?mode=rw", staged.display());
    let staged_db = crate::db::connect(&staged_url)
        .await
        .map_err(|e| BackupError::Database {
            path: staged.clone(),
            message: e.to_string(),
        })?;
    staged_db.close().await.map_err(|e| BackupError::Database {
        path: staged.clone(),
        message: e.to_string(),
    })?;
    // The staged copy is in WAL mode now; fold its log in, so one file holds it all.
    checkpoint(&staged).await?;
    if target.exists() {
        checkpoint(&target).await?;
    }
    for stale in [wal(&target, "-wal"), wal(&target, "-shm")] {
        remove_if_exists(&stale)?;
    }
    std::fs::rename(&staged, &target).map_err(|source| BackupError::Io {
        path: target.clone(),
        source,
    })?;
    for leftover in [wal(&staged, "-wal"), wal(&staged, "-shm")] {
        remove_if_exists(&leftover)?;
    }
    Ok(Restored {
        database: target,
        migrated: known.len().saturating_sub(applied.len()),
    })
}

/// Moves everything in the write-ahead log of `file` into the file itself.
async fn checkpoint(file: &Path) -> Result<(), BackupError> {
    let mut connection =
        SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(file))
            .await
            .map_err(db_error(file))?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut connection)
        .await
        .map_err(db_error(file))?;
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut connection)
        .await
        .map_err(db_error(file))?;
    connection.close().await.map_err(db_error(file))
}

fn wal(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_exists(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BackupError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
