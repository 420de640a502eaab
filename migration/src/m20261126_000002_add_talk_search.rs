//! Full-text search over a talk's title, event, location and abstract text: an FTS5 index kept
//! in step by triggers on SQLite, a generated `tsvector` with a GIN index on PostgreSQL.
//! `search_text` is written by the service on every write; existing rows start from their
//! title, event, location and raw abstract.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager
            .alter_table(
                Table::alter()
                    .table(Talks::Table)
                    .add_column(
                        ColumnDef::new(Talks::SearchText)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "UPDATE talks SET search_text = title || ' ' || COALESCE(event, '') || ' ' || COALESCE(location, '') || ' ' || body",
        )
        .await?;
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for statement in [
                    "CREATE VIRTUAL TABLE talks_fts USING fts5(search_text, content='talks', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2', detail='column')",
                    "INSERT INTO talks_fts(talks_fts) VALUES ('rebuild')",
                    "CREATE TRIGGER talks_fts_insert AFTER INSERT ON talks BEGIN
                       INSERT INTO talks_fts(rowid, search_text) VALUES (new.rowid, new.search_text);
                     END",
                    "CREATE TRIGGER talks_fts_delete AFTER DELETE ON talks BEGIN
                       INSERT INTO talks_fts(talks_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
                     END",
                    "CREATE TRIGGER talks_fts_update AFTER UPDATE OF search_text ON talks BEGIN
                       INSERT INTO talks_fts(talks_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
                       INSERT INTO talks_fts(rowid, search_text) VALUES (new.rowid, new.search_text);
                     END",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE talks ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
                )
                .await?;
                db.execute_unprepared("CREATE INDEX idx_talks_search ON talks USING GIN (search)").await?;
            }
            other => return Err(DbErr::Migration(format!("full-text search is not supported on {other:?}"))),
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for statement in [
                    "DROP TRIGGER IF EXISTS talks_fts_insert",
                    "DROP TRIGGER IF EXISTS talks_fts_delete",
                    "DROP TRIGGER IF EXISTS talks_fts_update",
                    "DROP TABLE IF EXISTS talks_fts",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
            _ => {
                db.execute_unprepared("DROP INDEX IF EXISTS idx_talks_search")
                    .await?;
                db.execute_unprepared("ALTER TABLE talks DROP COLUMN IF EXISTS search")
                    .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Talks::Table)
                    .drop_column(Talks::SearchText)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Talks {
    Table,
    SearchText,
}
