//! Talks, their resources and their embeds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Talks::Table)
                    .col(ColumnDef::new(Talks::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Talks::Slug)
                            .string_len(200)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Talks::Title).text().not_null())
                    .col(ColumnDef::new(Talks::Date).string_len(40).not_null())
                    .col(ColumnDef::new(Talks::Event).text().null())
                    .col(ColumnDef::new(Talks::Location).text().null())
                    .col(ColumnDef::new(Talks::Image).text().null())
                    .col(ColumnDef::new(Talks::Pdf).text().null())
                    .col(
                        ColumnDef::new(Talks::NotistId)
                            .string_len(200)
                            .null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Talks::Body).text().not_null())
                    .col(ColumnDef::new(Talks::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Talks::Version).integer().not_null())
                    .col(
                        ColumnDef::new(Talks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Talks::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Talks::Extra).json().not_null())
                    .col(ColumnDef::new(Talks::Origin).string_len(16).not_null())
                    .col(ColumnDef::new(Talks::ImportHash).string_len(64).null())
                    .col(ColumnDef::new(Talks::ImportedVersion).integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_talks_date")
                    .table(Talks::Table)
                    .col(Talks::Date)
                    .to_owned(),
            )
            .await?;
        let resources = child_table(Children::Resources, "resources")
            .col(ColumnDef::new(Children::Title).text().not_null())
            .col(ColumnDef::new(Children::Url).text().not_null())
            .col(ColumnDef::new(Children::Description).text().null())
            .to_owned();
        let embeds = child_table(Children::Embeds, "embeds")
            .col(ColumnDef::new(Children::Kind).string_len(64).not_null())
            .col(ColumnDef::new(Children::Html).text().not_null())
            .to_owned();
        for (table, name, create) in [
            (Children::Resources, "resources", resources),
            (Children::Embeds, "embeds", embeds),
        ] {
            manager.create_table(create).await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("idx_{name}_talk_position"))
                        .table(table)
                        .col(Children::TalkId)
                        .col(Children::Position)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Children::Embeds).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Children::Resources).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Talks::Table).to_owned())
            .await?;
        Ok(())
    }
}

/// A table of things that belong to a talk, in document order, deleted with it.
fn child_table(table: Children, name: &str) -> TableCreateStatement {
    Table::create()
        .table(table)
        .col(ColumnDef::new(Children::Id).uuid().not_null().primary_key())
        .col(ColumnDef::new(Children::TalkId).uuid().not_null())
        .col(ColumnDef::new(Children::Position).integer().not_null())
        .foreign_key(
            ForeignKey::create()
                .name(format!("fk_{name}_talk"))
                .from(table, Children::TalkId)
                .to(Talks::Table, Talks::Id)
                .on_delete(ForeignKeyAction::Cascade)
                .on_update(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
enum Talks {
    Table,
    Id,
    Slug,
    Title,
    Date,
    Event,
    Location,
    Image,
    Pdf,
    NotistId,
    Body,
    Status,
    Version,
    CreatedAt,
    UpdatedAt,
    Extra,
    Origin,
    ImportHash,
    ImportedVersion,
}

#[derive(DeriveIden, Clone, Copy)]
enum Children {
    Resources,
    Embeds,
    Id,
    TalkId,
    Position,
    Title,
    Url,
    Description,
    Kind,
    Html,
}
