//! Where each relay of the outbox to a log (NATS JetStream) stands: the last event it handed
//! over, and the lease that lets one process at a time relay.
//!
//! `seq` advances only after the log acknowledged every event up to it, so a relay that stops
//! anywhere starts again after the last acknowledged event (the log drops the duplicates it
//! then sends by their event id). `holder` and `lease_until` say which process relays now; another
//! takes over once the lease has run out. Pruning the outbox keeps every event after the lowest
//! `seq`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RelayPositions::Table)
                    .col(
                        ColumnDef::new(RelayPositions::Name)
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RelayPositions::Seq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(RelayPositions::Holder)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RelayPositions::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RelayPositions::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RelayPositions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RelayPositions {
    Table,
    Name,
    Seq,
    Holder,
    LeaseUntil,
    UpdatedAt,
}
