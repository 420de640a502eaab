//! A talk: one row per talk, with its resources and embeds in their own tables.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Whether readers can see a talk.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "published")]
    Published,
}

/// How a talk came into the database; only imported talks are ever pruned by the importer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    #[sea_orm(string_value = "import")]
    Import,
    #[sea_orm(string_value = "api")]
    Api,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "talks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub title: String,
    /// The date as the document wrote it (ISO 8601: a date or a date and time).
    pub date: String,
    pub event: Option<String>,
    pub location: Option<String>,
    pub image: Option<String>,
    pub pdf: Option<String>,
    #[sea_orm(unique)]
    pub notist_id: Option<String>,
    /// The abstract as HTML, as written.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub status: Status,
    /// Starts at 1 and grows by one on every change.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Every front-matter key the model does not know, as a JSON object in document order.
    pub extra: Json,
    pub origin: Origin,
    /// Digest of the document content at the last import that wrote this talk.
    pub import_hash: Option<String>,
    /// `version` right after the last import that wrote this talk; a different `version`
    /// means the talk was edited since.
    pub imported_version: Option<i32>,
    /// Title, event, location and the abstract's text, for full-text search.
    #[sea_orm(column_type = "Text")]
    #[serde(skip)]
    pub search_text: String,
    /// Who created the talk: a user's id, `token:<jti>` for a machine token, or `importer`.
    pub created_by: Option<String>,
    /// Who changed it last, in the same form.
    pub updated_by: Option<String>,
    /// Derived from `body` when it is written ([`crate::html::Abstract`]): the abstract
    /// sanitized, its text, and its excerpt. Not part of a talk's state in events.
    #[sea_orm(column_type = "Text")]
    #[serde(skip)]
    pub body_html: String,
    #[sea_orm(column_type = "Text")]
    #[serde(skip)]
    pub body_text: String,
    #[sea_orm(column_type = "Text")]
    #[serde(skip)]
    pub excerpt: String,
    /// The asset shown as the talk's image, when one is stored.
    pub image_asset_id: Option<Uuid>,
    /// The asset holding the talk's slides (a PDF), when one is stored.
    pub slides_asset_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::resource::Entity")]
    Resource,
    #[sea_orm(has_many = "super::embed::Entity")]
    Embed,
}

impl Related<super::resource::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Resource.def()
    }
}

impl Related<super::embed::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Embed.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The columns derived from `body`, as they are stored.
    pub fn stored_abstract(&self) -> crate::html::Abstract {
        crate::html::Abstract {
            html: self.body_html.clone(),
            text: self.body_text.clone(),
            excerpt: self.excerpt.clone(),
        }
    }
}

impl ActiveModel {
    /// Sets `body` and the columns derived from it (`derived` is [`crate::html::Abstract::of`]
    /// the same body, computed by the caller once).
    pub fn set_body(&mut self, body: String, derived: crate::html::Abstract) {
        use sea_orm::ActiveValue::Set;
        self.body = Set(body);
        self.body_html = Set(derived.html);
        self.body_text = Set(derived.text);
        self.excerpt = Set(derived.excerpt);
    }
}
