//! The content version: one counter for all content, bumped in the same transaction as every
//! write, by this process or any other sharing the database (an import run, say). A result
//! read at version `v` is current for as long as the counter reads `v`.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// The PostgreSQL channel notified when a write commits (`LISTEN lectern_changes`).
pub const CHANGES_CHANNEL: &str = "lectern_changes";

/// The statement that bumps the content version (and changes one row).
pub const BUMP: &str = "UPDATE content_version SET version = version + 1 WHERE id = 1";

/// Bumps the content version; call it inside the transaction that changes content.
///
/// On PostgreSQL it also notifies [`CHANGES_CHANNEL`]; the database delivers the notification
/// when, and only if, the transaction commits, to every process listening.
pub async fn bump<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    conn.execute_unprepared(BUMP).await?;
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared("NOTIFY lectern_changes").await?;
    }
    Ok(())
}

/// The content version as last committed.
pub async fn current<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT version FROM content_version WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the content_version row is missing".into()))?;
    row.try_get_by_index(0)
}
