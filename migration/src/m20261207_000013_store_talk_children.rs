//! A talk's resources and embeds stored on its row as readers are served them
//! (`talks.resources_json`, `talks.embeds_json`; see [`entity::children`]), so that a page of
//! talks is read without building them from their rows each time. Every writer of a talk's
//! children rewrites them in the same transaction from then on; this fills them for the talks
//! that exist, with the same statement.

use entity::children::{EMBEDS_COLUMN, RESOURCES_COLUMN, refresh};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [RESOURCES_COLUMN, EMBEDS_COLUMN] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("talks"))
                        .add_column(
                            ColumnDef::new(Alias::new(column))
                                .text()
                                .not_null()
                                .default("[]"),
                        )
                        .to_owned(),
                )
                .await?;
        }
        let backend = manager.get_database_backend();
        manager.exec_stmt(refresh(backend)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [RESOURCES_COLUMN, EMBEDS_COLUMN] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("talks"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
