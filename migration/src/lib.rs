//! Lectern's schema migrations, one file each, applied in the order listed here.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_talks;
mod m20261126_000002_add_talk_search;
mod m20261126_000003_create_content_version;
mod m20261126_000004_create_accounts;
mod m20261126_000005_create_change_events;
mod m20261127_000006_create_webhooks;
mod m20261204_000007_store_derived_html;
mod m20261204_000008_index_talk_orders;
mod m20261206_000009_create_studio_sessions;
mod m20261206_000010_index_staff_orders;
mod m20261206_000011_create_assets;
mod m20261206_000012_create_relay_positions;
mod m20261207_000013_store_talk_children;
mod m20261207_000014_index_search_positions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_talks::Migration),
            Box::new(m20261126_000002_add_talk_search::Migration),
            Box::new(m20261126_000003_create_content_version::Migration),
            Box::new(m20261126_000004_create_accounts::Migration),
            Box::new(m20261126_000005_create_change_events::Migration),
            Box::new(m20261127_000006_create_webhooks::Migration),
            Box::new(m20261204_000007_store_derived_html::Migration),
            Box::new(m20261204_000008_index_talk_orders::Migration),
            Box::new(m20261206_000009_create_studio_sessions::Migration),
            Box::new(m20261206_000010_index_staff_orders::Migration),
            Box::new(m20261206_000011_create_assets::Migration),
            Box::new(m20261206_000012_create_relay_positions::Migration),
            Box::new(m20261207_000013_store_talk_children::Migration),
            Box::new(m20261207_000014_index_search_positions::Migration),
        ]
    }
}
