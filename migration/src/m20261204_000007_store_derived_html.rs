//! What readers are served of stored HTML, stored beside it: a talk's abstract sanitized, its
//! text and its excerpt (`talks.body_html`, `body_text`, `excerpt`), and an embed's markup
//! sanitized with the tweet or video it holds (`embeds.safe_html`, `tweet`, `video`). Every
//! writer keeps them current from then on; this fills them for the rows that exist, with the
//! same functions ([`entity::html`]).

use entity::html::{Abstract, EmbedFacts};
use entity::{embed, talk};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows read and rewritten at a time.
const BATCH: u64 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [Talks::BodyHtml, Talks::BodyText, Talks::Excerpt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Talks::Table)
                        .add_column(ColumnDef::new(column).text().not_null().default(""))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Embeds::Table)
                    .add_column(
                        ColumnDef::new(Embeds::SafeHtml)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        for column in [Embeds::Tweet, Embeds::Video] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Embeds::Table)
                        .add_column(ColumnDef::new(column).json_binary().null())
                        .to_owned(),
                )
                .await?;
        }
        fill(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Talks::BodyHtml, Talks::BodyText, Talks::Excerpt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Talks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Embeds::SafeHtml, Embeds::Tweet, Embeds::Video] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Embeds::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Computes the derived columns of every talk and embed from their HTML, a batch at a time.
pub async fn fill<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = talk::Entity::find()
            .select_only()
            .column(talk::Column::Id)
            .column(talk::Column::Body)
            .order_by_asc(talk::Column::Id)
            .limit(BATCH);
        if let Some(after) = after {
            query = query.filter(talk::Column::Id.gt(after));
        }
        let rows: Vec<(Uuid, String)> = query.into_tuple().all(db).await?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(*last);
        for (id, body) in rows {
            let derived = Abstract::of(&body);
            talk::Entity::update_many()
                .set(talk::ActiveModel {
                    body_html: Set(derived.html),
                    body_text: Set(derived.text),
                    excerpt: Set(derived.excerpt),
                    ..Default::default()
                })
                .filter(talk::Column::Id.eq(id))
                .exec(db)
                .await?;
        }
    }
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = embed::Entity::find()
            .select_only()
            .column(embed::Column::Id)
            .column(embed::Column::Html)
            .order_by_asc(embed::Column::Id)
            .limit(BATCH);
        if let Some(after) = after {
            query = query.filter(embed::Column::Id.gt(after));
        }
        let rows: Vec<(Uuid, String)> = query.into_tuple().all(db).await?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(*last);
        for (id, html) in rows {
            let facts = EmbedFacts::of(&html);
            embed::Entity::update_many()
                .set(embed::ActiveModel {
                    safe_html: Set(facts.html),
                    tweet: Set(facts.tweet),
                    video: Set(facts.video),
                    ..Default::default()
                })
                .filter(embed::Column::Id.eq(id))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

#[derive(DeriveIden)]
enum Talks {
    Table,
    BodyHtml,
    BodyText,
    Excerpt,
}

#[derive(DeriveIden)]
enum Embeds {
    Table,
    SafeHtml,
    Tweet,
    Video,
}
