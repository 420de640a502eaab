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
    /// A stored slug that is no safe file name (written around validation, say): nothing is
    /// written for it, least of all outside the output folder.
    #[error("the slug {slug:?} is not a safe file name ({reason}); the export stops")]
    UnsafeSlug { slug: String, reason: String },
    /// The file to write is a link (or another non-file), which could lead outside the folder.
    #[error("{path}: is not a regular file; the export does not write through links")]
    NotAFile { path: PathBuf },
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
            let path = document_path(out, &record.talk.slug)?;
            std::fs::write(&path, render(record))
                .map_err(|source| ExportError::Io { path, source })?;
            written += 1;
        }
    }
    Ok(written)
}

/// Where the document of `slug` goes: `<out>/<slug>.md`. A valid slug (ASCII letters, digits and
/// '-') is a safe file name; any other stored slug is refused, and so is a path that exists as
/// anything but a regular file (a link could point outside `out`).
fn document_path(out: &Path, slug: &str) -> Result<PathBuf, ExportError> {
    service::domain::Slug::parse(slug).map_err(|e| ExportError::UnsafeSlug {
        slug: slug.to_owned(),
        reason: e.to_string(),
    })?;
    let path = out.join(format!("{slug}.md"));
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.file_type().is_file() => Err(ExportError::NotAFile { path }),
        _ => Ok(path),
    }
}
