//! Embedded content about a talk (a tweet, the video), in document order.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "embeds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub talk_id: Uuid,
    /// Zero-based order in the document.
    pub position: i32,
    /// The document's `type`: `twitter`, `notist_video`, or any other string.
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub html: String,
    /// Derived from `html` when it is written ([`crate::html::EmbedFacts`]): the markup
    /// sanitized, and the tweet or video it holds. Not part of a talk's state in events.
    #[sea_orm(column_type = "Text")]
    #[serde(skip)]
    pub safe_html: String,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    #[serde(skip)]
    pub tweet: Option<crate::html::Tweet>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    #[serde(skip)]
    pub video: Option<crate::html::Video>,
}

impl Model {
    /// The derived columns as they are stored.
    pub fn facts(&self) -> crate::html::EmbedFacts {
        crate::html::EmbedFacts {
            html: self.safe_html.clone(),
            tweet: self.tweet.clone(),
            video: self.video.clone(),
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::talk::Entity",
        from = "Column::TalkId",
        to = "super::talk::Column::Id",
        on_delete = "Cascade"
    )]
    Talk,
}

impl Related<super::talk::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Talk.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl ActiveModel {
    /// Sets `html` and the columns derived from it (`facts` is
    /// [`crate::html::EmbedFacts::of`] the same markup, computed by the caller once).
    pub fn set_html(&mut self, html: String, facts: crate::html::EmbedFacts) {
        use sea_orm::ActiveValue::Set;
        self.html = Set(html);
        self.safe_html = Set(facts.html);
        self.tweet = Set(facts.tweet);
        self.video = Set(facts.video);
    }
}
