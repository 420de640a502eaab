//! Assets: files a talk shows (its image, its slides, a resource), stored by the SHA-256 of
//! their bytes. `assets` holds what was read from the bytes and what editors say of them;
//! `asset_variants` the stored transforms of an asset (a resized image, a PDF's first page);
//! `asset_paths` the site paths an imported asset was found at (`/images/x/slide_000.jpg`).
//! Talks and resources link to assets by id; no foreign key on those columns, which SQLite
//! cannot add to an existing table: the service keeps them right and `assets gc` reads them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Assets::Table)
                    .col(ColumnDef::new(Assets::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Assets::Hash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Assets::MediaType).string_len(64).not_null())
                    .col(ColumnDef::new(Assets::Filename).string_len(255).not_null())
                    .col(ColumnDef::new(Assets::Size).big_integer().not_null())
                    .col(ColumnDef::new(Assets::Width).integer())
                    .col(ColumnDef::new(Assets::Height).integer())
                    .col(ColumnDef::new(Assets::Pages).integer())
                    .col(ColumnDef::new(Assets::Alt).text())
                    .col(ColumnDef::new(Assets::FocalX).double())
                    .col(ColumnDef::new(Assets::FocalY).double())
                    .col(ColumnDef::new(Assets::UploadedBy).string())
                    .col(
                        ColumnDef::new(Assets::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssetVariants::Table)
                    .col(ColumnDef::new(AssetVariants::AssetId).uuid().not_null())
                    .col(ColumnDef::new(AssetVariants::Key).string_len(64).not_null())
                    .col(
                        ColumnDef::new(AssetVariants::Hash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AssetVariants::MediaType)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AssetVariants::Size).big_integer().not_null())
                    .col(ColumnDef::new(AssetVariants::Width).integer().not_null())
                    .col(ColumnDef::new(AssetVariants::Height).integer().not_null())
                    .col(
                        ColumnDef::new(AssetVariants::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AssetVariants::AssetId)
                            .col(AssetVariants::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AssetVariants::Table, AssetVariants::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_asset_variants_hash")
                    .table(AssetVariants::Table)
                    .col(AssetVariants::Hash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssetPaths::Table)
                    .col(
                        ColumnDef::new(AssetPaths::Path)
                            .string_len(1024)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AssetPaths::AssetId).uuid().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(AssetPaths::Table, AssetPaths::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for column in [Talks::ImageAssetId, Talks::SlidesAssetId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Talks::Table)
                        .add_column(ColumnDef::new(column.clone()).uuid())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Resources::Table)
                    .add_column(ColumnDef::new(Resources::AssetId).uuid())
                    .to_owned(),
            )
            .await?;
        for (name, table, column) in [
            ("idx_talks_image_asset", Talks::Table, Talks::ImageAssetId),
            ("idx_talks_slides_asset", Talks::Table, Talks::SlidesAssetId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_resources_asset")
                    .table(Resources::Table)
                    .col(Resources::AssetId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_talks_image_asset", "idx_talks_slides_asset"] {
            manager
                .drop_index(Index::drop().name(name).table(Talks::Table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_resources_asset")
                    .table(Resources::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Talks::ImageAssetId, Talks::SlidesAssetId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Talks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Resources::Table)
                    .drop_column(Resources::AssetId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AssetPaths::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AssetVariants::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Assets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
    Hash,
    MediaType,
    Filename,
    Size,
    Width,
    Height,
    Pages,
    Alt,
    FocalX,
    FocalY,
    UploadedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AssetVariants {
    Table,
    AssetId,
    Key,
    Hash,
    MediaType,
    Size,
    Width,
    Height,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AssetPaths {
    Table,
    Path,
    AssetId,
}

#[derive(DeriveIden, Clone)]
enum Talks {
    Table,
    ImageAssetId,
    SlidesAssetId,
}

#[derive(DeriveIden)]
enum Resources {
    Table,
    AssetId,
}
