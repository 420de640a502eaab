//! A stored file (see the migration that creates `assets`): one row per distinct content.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the bytes, in hex: where they are stored, and the strong ETag.
    #[sea_orm(unique)]
    pub hash: String,
    /// Read from the bytes, never taken from a name or a client.
    pub media_type: String,
    /// The name it was uploaded or imported under, made safe for a URL path.
    pub filename: String,
    pub size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Pages of a PDF.
    pub pages: Option<i32>,
    pub alt: Option<String>,
    /// Where the subject is, as fractions of the width and height from the top left; crops
    /// keep it in view.
    pub focal_x: Option<f64>,
    pub focal_y: Option<f64>,
    /// A user's id, `token:<jti>` or `importer`.
    pub uploaded_by: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::asset_variant::Entity")]
    Variant,
}

impl Related<super::asset_variant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Variant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
