//! A link that belongs to a talk, in document order.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "resources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub talk_id: Uuid,
    /// Zero-based order in the document.
    pub position: i32,
    pub title: String,
    pub url: String,
    pub description: Option<String>,
    /// The stored file the link points to, when it is one.
    pub asset_id: Option<Uuid>,
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
