//! Opening the database: SQLite by default, PostgreSQL when the URL says so.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

/// The database used when none is configured: `lectern.db` in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lectern.db?mode=rwc";

/// How connections are made and how long a caller waits for one.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections in the pool; when None, [`SQLITE_CONNECTIONS`] on SQLite, the driver's
    /// default elsewhere.
    pub max_connections: Option<u32>,
    /// How long a caller waits for a connection from the pool, and on SQLite for the write
    /// lock, before giving up with an error that [`is_unavailable`] recognises.
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Connects to `url` and applies every pending migration (idempotent).
///
/// SQLite runs in WAL mode with `synchronous = NORMAL` (durable across crashes of the process,
/// fast commits) and foreign keys on; writers wait for a lock as long as a caller waits for a
/// connection.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, &DbOptions::default()).await
}

/// The request pool's connections on SQLite unless configured.
pub const SQLITE_CONNECTIONS: u32 = 16;

/// [`connect`] with the given options.
pub async fn connect_with(url: &str, options: &DbOptions) -> Result<DatabaseConnection, DbErr> {
    let mut options = options.clone();
    if options.max_connections.is_none() && url.starts_with("sqlite:") {
        // Readers do not wait for each other in WAL mode, but each connection serves one
        // statement at a time: with 4, requests waited for a connection while the cores idled
        // (`talk(slug:)` uncached 5,400 – 5,800 req/s against 7,200 – 7,600 with 16). Writers
        // still take the write lock one at a time. Each connection keeps its own page cache.
        options.max_connections = Some(SQLITE_CONNECTIONS);
    }
    // Migrated through a connection of its own, closed before the pool opens: a connection
    // opened before a migration that makes a virtual table again (14: the search index) may
    // keep the old one ("no such table: main.talks_fts" at the next write on SQLite).
    let migrating = open(
        url,
        &DbOptions {
            max_connections: Some(1),
            ..options.clone()
        },
    )
    .await?;
    Migrator::up(&migrating, None).await?;
    migrating.close().await?;
    open(url, &options).await
}

/// Connects to `url`, migrated already: a pool of its own for work beside the requests.
pub async fn open(url: &str, options: &DbOptions) -> Result<DatabaseConnection, DbErr> {
    let mut connect = ConnectOptions::new(url.to_owned());
    let wait = options.acquire_timeout;
    connect
        .sqlx_logging(false)
        .connect_timeout(wait.min(Duration::from_secs(10)))
        .acquire_timeout(wait)
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(wait)
                // Checkpoint the WAL every ~40 MB rather than every 4 MB: bulk imports write
                // each page once instead of many times.
                .pragma("wal_autocheckpoint", "10000")
        });
    if url.starts_with("sqlite:") {
        // sqlx pings a pooled connection each time it is handed out; on SQLite that is a round
        // trip to the connection's own thread before every statement, and it tests nothing: a
        // connection to a file is not lost the way one over a network is.
        connect.test_before_acquire(false);
    }
    if let Some(max) = options.max_connections {
        connect.max_connections(max);
    }
    Database::connect(connect).await
}

/// Whether an error says the database cannot be reached or used for now (no connection within
/// the wait, a connection lost, a server shutting down, SQLite's lock held too long) rather than
/// that the request or the data is at fault. Such errors answer 503 and heal by themselves.
pub fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = match error {
        // No connection could be had or made: whatever the server said (refused, shutting
        // down, not accepting connections, too many clients), it is not the request's fault.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_ref()
        }
        _ => return false,
    };
    match sqlx {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Protocol(_) => true,
        Sqlx::Database(e) => {
            let code = e.code().unwrap_or_default();
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            // PostgreSQL: class 08 (connection exception), 57P01..57P03 (admin shutdown,
            // crash shutdown, cannot connect now), 53300 (too many connections).
            let sqlite_busy = e
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
                && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy
                || code.starts_with("08")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }
        _ => false,
    }
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

/// Runs statements in order, in `txn`, and returns the rows they changed in all (not counting
/// changes made by triggers). On SQLite they go as one command: its driver binds the `?`
/// parameters of consecutive statements in order, and each command is a round trip to the
/// connection's worker thread, which a write makes while it holds the database's write lock.
/// Elsewhere, one by one.
pub async fn run_all(txn: &DatabaseTransaction, statements: Vec<Statement>) -> Result<u64, DbErr> {
    if txn.get_database_backend() != DbBackend::Sqlite {
        let mut changed = 0;
        for statement in statements {
            changed += txn.execute_raw(statement).await?.rows_affected();
        }
        return Ok(changed);
    }
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        sql.push_str(&statement.sql);
        sql.push_str(";\n");
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    let result = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    /// `.cargo/config.toml` compiles SQLite with the query planner stability guarantee, without
    /// which every statement with a bound LIMIT is prepared again at each execution, and
    /// without memory statistics, which put a process-wide mutex around every allocation.
    #[tokio::test]
    async fn sqlite_is_compiled_with_the_flags_of_cargo_config() {
        let db = open("sqlite::memory:", &DbOptions::default())
            .await
            .expect("an in-memory database opens");
        let options = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA compile_options",
            ))
            .await
            .expect("SQLite lists its compile options");
        let options: Vec<String> = options
            .iter()
            .filter_map(|row| row.try_get_by_index::<String>(0).ok())
            .collect();
        assert!(
            options.iter().any(|o| o == "ENABLE_QPSG"),
            "SQLite was compiled without SQLITE_ENABLE_QPSG (LIBSQLITE3_FLAGS in \
             .cargo/config.toml): {options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "SQLite was compiled with memory statistics (LIBSQLITE3_FLAGS in \
             .cargo/config.toml): {options:?}"
        );
    }
}
