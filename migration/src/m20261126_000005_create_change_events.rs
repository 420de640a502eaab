//! The outbox: one row per change to content, written in the same transaction as the change,
//! holding the talk's whole state after it (before it, for a delete).
//!
//! Columns follow the layout change-data-capture tools expect of an outbox table (Debezium's
//! outbox event router, for one): `id`, `aggregate_type`, `aggregate_id`, `type`, `payload`.
//! `seq` orders events as they were committed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChangeEvents::Table)
                    .col(
                        ColumnDef::new(ChangeEvents::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ChangeEvents::Id)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ChangeEvents::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChangeEvents::AggregateType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChangeEvents::AggregateId).uuid().not_null())
                    .col(ColumnDef::new(ChangeEvents::Type).string_len(32).not_null())
                    .col(ColumnDef::new(ChangeEvents::Version).integer().not_null())
                    .col(
                        ColumnDef::new(ChangeEvents::Actor)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChangeEvents::Payload)
                            .json_binary()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_events_aggregate")
                    .table(ChangeEvents::Table)
                    .col(ChangeEvents::AggregateId)
                    .col(ChangeEvents::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ChangeEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ChangeEvents {
    Table,
    Seq,
    Id,
    OccurredAt,
    AggregateType,
    AggregateId,
    Type,
    Version,
    Actor,
    Payload,
}
