//! SeaORM entities for Lectern's tables, and how the derived columns among them are computed
//! from the others ([`html`], [`children`]). Every query and write lives in `service`.

pub mod asset;
pub mod asset_path;
pub mod asset_variant;
pub mod change_event;
pub mod children;
pub mod embed;
pub mod html;
pub mod machine_token;
pub mod relay_position;
pub mod resource;
pub mod setting;
pub mod studio_session;
pub mod talk;
pub mod user;
pub mod webhook;
pub mod webhook_attempt;

pub use embed::Entity as Embed;
pub use resource::Entity as Resource;
pub use talk::Entity as Talk;
pub use user::Entity as User;
