//! Lectern's domain: validated inputs, every query and every write.
//!
//! The API and the importer both call this crate; no SQL or business rule lives anywhere else.
//! Every write runs in one database transaction.

pub mod accounts;
pub mod assets;
pub mod backup;
pub mod content;
pub mod db;
pub mod domain;
pub mod editing;
pub mod error;
pub mod events;
pub mod import;
pub mod listing;
pub mod reads;
pub mod relay;
pub mod sessions;
pub mod talks;
pub mod visibility;
pub mod webhooks;

/// Re-exported so every crate uses the same SeaORM.
pub use entity;
/// What is served of stored HTML; its home is `entity`, which derives the stored columns.
pub use entity::html;
pub use error::{FieldError, ServiceError};
pub use sea_orm;
