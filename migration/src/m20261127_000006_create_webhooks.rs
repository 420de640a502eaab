//! Delivery of change events: which events the public may see, the webhook endpoints with
//! their delivery state, and a log of every delivery attempt.
//!
//! `change_events.public` marks the events of published talks (and of a talk leaving
//! publication), which readers without a token may follow.
//!
//! A webhook's `delivered_seq` is its cursor: every event up to it has been delivered (or did
//! not match the endpoint's filter). `attempt` counts the failed tries at the event after it,
//! `next_attempt_at` says when to try again, and `lease_owner`/`lease_until` name the server
//! process delivering to the endpoint right now, so that several processes never deliver the
//! same event to one endpoint at once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChangeEvents::Table)
                    .add_column(
                        ColumnDef::new(ChangeEvents::Public)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "UPDATE change_events SET public = TRUE \
                 WHERE type = 'talk.unpublished' OR payload->'talk'->>'status' = 'published'"
            }
            _ => {
                "UPDATE change_events SET public = 1 \
                 WHERE type = 'talk.unpublished' \
                 OR json_extract(payload, '$.talk.status') = 'published'"
            }
        };
        manager
            .get_connection()
            .execute_unprepared(backfill)
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_events_public")
                    .table(ChangeEvents::Table)
                    .col(ChangeEvents::Public)
                    .col(ChangeEvents::Seq)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(ColumnDef::new(Webhooks::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Webhooks::Url).string_len(2048).not_null())
                    .col(ColumnDef::new(Webhooks::Events).json_binary().not_null())
                    .col(ColumnDef::new(Webhooks::Secret).string_len(200).not_null())
                    .col(ColumnDef::new(Webhooks::Description).text().null())
                    .col(ColumnDef::new(Webhooks::State).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Webhooks::DeliveredSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Webhooks::Attempt).integer().not_null())
                    .col(
                        ColumnDef::new(Webhooks::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Webhooks::LeaseOwner).uuid().null())
                    .col(
                        ColumnDef::new(Webhooks::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Webhooks::LastError).text().null())
                    .col(
                        ColumnDef::new(Webhooks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Webhooks::CreatedBy)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Webhooks::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(
                        ColumnDef::new(WebhookAttempts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::WebhookId).uuid().not_null())
                    .col(
                        ColumnDef::new(WebhookAttempts::EventSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::EventId).uuid().not_null())
                    .col(
                        ColumnDef::new(WebhookAttempts::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookAttempts::AttemptedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookAttempts::DurationMs)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::StatusCode).integer().null())
                    .col(
                        ColumnDef::new(WebhookAttempts::Outcome)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::Error).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempts::Table, WebhookAttempts::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_webhook")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::WebhookId)
                    .col(WebhookAttempts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookAttempts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_change_events_public")
                    .table(ChangeEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChangeEvents::Table)
                    .drop_column(ChangeEvents::Public)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ChangeEvents {
    Table,
    Seq,
    Public,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    Url,
    Events,
    Secret,
    Description,
    State,
    DeliveredSeq,
    Attempt,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    CreatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    WebhookId,
    EventSeq,
    EventId,
    Attempt,
    AttemptedAt,
    DurationMs,
    StatusCode,
    Outcome,
    Error,
}
