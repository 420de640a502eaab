//! SeaORM entities for Lectern's tables. Models only: every query and write lives in `service`.

pub mod embed;
pub mod resource;
pub mod talk;

pub use embed::Entity as Embed;
pub use resource::Entity as Resource;
pub use talk::Entity as Talk;
