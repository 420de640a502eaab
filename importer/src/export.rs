//! Writing every stored talk as a document, one file per talk named `<slug>.md`.

use std::path::{Path, PathBuf};

use service::ServiceError;
use service::sea_orm::DatabaseConnection;
use service::talks::page_by_slug;

use crate::document::render;

/// How many talks are read from the database at a time.
const PAGE: u64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Service(#[from] ServiceError),
}

/// Writes every talk into `out` (created if needed), in slug order, a page at a time.
/// Returns how many documents were written. The same database always gives the same bytes.
pub async fn export(db: &DatabaseConnection, out: &Path) -> Result<usize, ExportError> {
    std::fs::create_dir_all(out).map_err(|source| ExportError::Io {
        path: out.to_owned(),
        source,
    })?;
    let mut written = 0;
    let mut after: Option<String> = None;
    loop {
        let page = page_by_slug(db, after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.talk.slug.clone());
        for record in &page {
            // Slugs are ASCII letters, digits, '-' and '_' only, so they are safe file names.
            let path = out.join(format!("{}.md", record.talk.slug));
            std::fs::write(&path, render(record))
                .map_err(|source| ExportError::Io { path, source })?;
            written += 1;
        }
    }
    Ok(written)
}
