//! Indexes that give a page of talks in each order without sorting the table: by status (what
//! readers without a token see), then the order's key, then the id that breaks ties. A first
//! page reads its rows from the index and stops; counting by status reads the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index's name and its key column after `status`.
const ORDERS: [(&str, Talks); 3] = [
    ("idx_talks_status_date_id", Talks::Date),
    ("idx_talks_status_title_id", Talks::Title),
    ("idx_talks_status_updated_at_id", Talks::UpdatedAt),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, key) in ORDERS {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Talks::Table)
                        .col(Talks::Status)
                        .col(key)
                        .col(Talks::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in ORDERS {
            manager
                .drop_index(Index::drop().name(name).table(Talks::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Talks {
    Table,
    Id,
    Status,
    Date,
    Title,
    UpdatedAt,
}
