//! One counter for all content, bumped in the same transaction as every write. A reader that
//! remembers the counter with a result knows the result is still current while the counter
//! has not moved, whichever process wrote since.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ContentVersion::Table)
                    .col(
                        ColumnDef::new(ContentVersion::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ContentVersion::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ContentVersion::Table)
                    .columns([ContentVersion::Id, ContentVersion::Version])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ContentVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ContentVersion {
    Table,
    Id,
    Version,
}
