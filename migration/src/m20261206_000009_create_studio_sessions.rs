//! Sessions of the Studio, the editors' web app: one row per signed-in browser.
//!
//! The browser holds a random token in a cookie; the table keeps only its SHA-256, so that a
//! copy of the database signs nobody in. `csrf_token` is the session's token for forms, and
//! `last_seen_at` says when the session was last used: a session unused for longer than the
//! configured idle time is over.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StudioSessions::Table)
                    .col(
                        ColumnDef::new(StudioSessions::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StudioSessions::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(StudioSessions::CsrfToken)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StudioSessions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StudioSessions::LastSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StudioSessions::Table, StudioSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_studio_sessions_user")
                    .table(StudioSessions::Table)
                    .col(StudioSessions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StudioSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StudioSessions {
    Table,
    TokenHash,
    UserId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
