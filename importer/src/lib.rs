//! Talk documents in and out of Lectern: parsing, text repair, importing and exporting.
//! The binaries `lectern-import` and `lectern-export` are thin wrappers around [`import`] and
//! [`export`].

pub mod document;
pub mod export;
pub mod files;
pub mod fix;
pub mod follow;
pub mod import;
pub mod repair;

/// Opens (and migrates) the database for a command-line tool, or says on stderr why it cannot,
/// without printing the password.
pub async fn open_database(url: &str) -> Option<service::sea_orm::DatabaseConnection> {
    match service::db::connect(url).await {
        Ok(db) => Some(db),
        Err(e) => {
            eprintln!(
                "error: cannot open database {}: {e}",
                service::db::redact_url(url)
            );
            None
        }
    }
}
