//! Indexes for lists of every talk, drafts included (what editors see in the Studio, and
//! readers with a token through the API): each order's key, then the id that breaks ties, so a
//! first page is read from the index without sorting the table; and the event, so that the
//! event names are listed from the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index's name and its columns.
const INDEXES: [(&str, &[Talks]); 3] = [
    ("idx_talks_title_id", &[Talks::Title, Talks::Id]),
    ("idx_talks_updated_at_id", &[Talks::UpdatedAt, Talks::Id]),
    ("idx_talks_event", &[Talks::Event]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Talks::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
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
    Title,
    UpdatedAt,
    Event,
}
