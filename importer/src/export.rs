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
    /// A talk's file that cannot be written back (its path leaves the folder, say).
    #[error("talk {slug:?}: {problem}")]
    File {
        slug: String,
        problem: crate::files::FileProblem,
    },
    #[error("talk {slug:?}: {reference}: {source}")]
    Store {
        slug: String,
        reference: String,
        source: service::assets::AssetError,
    },
}

/// Writes into `folder` the stored file of every talk's `image`, `pdf` and resource link that
/// names one, at the path the talk names it by (an asset's own URL, `/assets/{id}/{name}`,
/// goes to `assets/{id}/{name}`), so that documents and files make the site again. Files that
/// are there with the same bytes are not rewritten.
pub async fn export_files(
    db: &DatabaseConnection,
    assets: &service::assets::Assets,
    folder: &crate::files::SiteFolder,
) -> Result<crate::files::ExportedFiles, ExportError> {
    let mut done = crate::files::ExportedFiles::default();
    let mut seen = std::collections::HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = page_by_slug(db, after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.talk.slug.clone());
        for record in &page {
            let talk = &record.talk;
            let urls: Vec<&str> = [talk.image.as_deref(), talk.pdf.as_deref()]
                .into_iter()
                .flatten()
                .chain(record.resources.iter().map(|r| r.url.as_str()))
                .collect();
            let named = service::assets::named_by(db, &urls).await?;
            for (url, asset) in urls.iter().zip(named) {
                let Some(asset) = asset else { continue };
                let reference = url.split(['?', '#']).next().unwrap_or(url).to_owned();
                if !seen.insert(reference.clone()) {
                    continue;
                }
                let slug = talk.slug.clone();
                let path = folder
                    .target(&reference)
                    .map_err(|problem| ExportError::File {
                        slug: slug.clone(),
                        problem,
                    })?;
                let bytes =
                    assets
                        .blobs
                        .get(&asset.hash)
                        .await
                        .map_err(|source| ExportError::Store {
                            slug: slug.clone(),
                            reference: reference.clone(),
                            source,
                        })?;
                match crate::files::write_if_changed(&path, &bytes) {
                    Ok(true) => done.written += 1,
                    Ok(false) => done.unchanged += 1,
                    Err(source) => return Err(ExportError::Io { path, source }),
                }
            }
        }
    }
    Ok(done)
}

/// Writes every talk into `out` (created if needed), in slug order, a page at a time.
/// Returns how many documents were written. The same database always gives the same bytes.
pub async fn export(db: &DatabaseConnection, out: &Path) -> Result<usize, ExportError> {
    export_selected(db, out, false).await
}

/// [`export`], of published talks only when `published_only`.
pub async fn export_selected(
    db: &DatabaseConnection,
    out: &Path,
    published_only: bool,
) -> Result<usize, ExportError> {
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
            if published_only && record.talk.status != service::entity::talk::Status::Published {
                continue;
            }
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
