//! A site's static files that talk documents name (their `image` and `pdf`):
//! stored as assets by `lectern-import --assets DIR`, written back by
//! `lectern-export --assets DIR`.
//!
//! A document names a file by its path on the site (`/images/A4pLsH/slide_000.jpg`), which is
//! taken relative to the folder given. Paths that would leave the folder (`..`, a link that
//! points outside) are refused, both ways.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use service::ServiceError;
use service::assets::{Assets, Imported};
use service::sea_orm::DatabaseConnection;
use service::talks::NewTalk;
use sha2::{Digest, Sha256};

/// Why one referenced file was not stored (or not written back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("`{reference}` leaves the assets folder; refused")]
    Outside { reference: String },
    #[error("`{reference}`: no such file in {folder}")]
    Missing { reference: String, folder: String },
    #[error("`{reference}`: {message}")]
    Refused { reference: String, message: String },
}

/// A referenced file that was not stored, by document and field.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The document.
    pub path: String,
    /// The field that names the file: `image` or `pdf`.
    pub field: String,
    pub message: String,
}

/// What happened to the referenced files of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileCounts {
    /// Stored now, or named by a new path.
    pub stored: usize,
    /// Stored and named already: nothing written.
    pub unchanged: usize,
    /// Missing, outside the folder, or refused.
    pub problems: usize,
}

/// The folder of a site's static files.
#[derive(Debug, Clone)]
pub struct SiteFolder {
    root: PathBuf,
    /// The folder with every link resolved, to tell where a file really is.
    canonical: PathBuf,
}

impl SiteFolder {
    /// The folder `root`, which must exist when `create` is false.
    pub fn open(root: &Path, create: bool) -> std::io::Result<Self> {
        if create {
            std::fs::create_dir_all(root)?;
        }
        let canonical = root.canonicalize()?;
        if !canonical.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        Ok(Self {
            root: root.to_owned(),
            canonical,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the site's `path` is in this folder, without reading it: refused when a component
    /// is `..` or `.`, or anything but a plain name.
    pub fn place(&self, reference: &str) -> Result<PathBuf, FileProblem> {
        let outside = || FileProblem::Outside {
            reference: reference.to_owned(),
        };
        let mut relative = PathBuf::new();
        for part in reference.split('/').filter(|p| !p.is_empty()) {
            let mut components = Path::new(part).components();
            match (components.next(), components.next()) {
                (Some(Component::Normal(name)), None) if !part.contains(['\\', '\0']) => {
                    relative.push(name)
                }
                _ => return Err(outside()),
            }
        }
        if relative.as_os_str().is_empty() {
            return Err(outside());
        }
        Ok(self.root.join(relative))
    }

    /// Where to write the site's `path`: [`Self::place`], with its folders created and checked
    /// to be inside this folder (a link among them could lead out).
    pub fn target(&self, reference: &str) -> Result<PathBuf, FileProblem> {
        let path = self.place(reference)?;
        let refused = |message: String| FileProblem::Refused {
            reference: reference.to_owned(),
            message,
        };
        let parent = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(|e| refused(e.to_string()))?;
        let real = parent.canonicalize().map_err(|e| refused(e.to_string()))?;
        if !real.starts_with(&self.canonical) {
            return Err(FileProblem::Outside {
                reference: reference.to_owned(),
            });
        }
        Ok(path)
    }

    /// The file the site serves at `reference`, checked to be a regular file inside the
    /// folder (a link may point elsewhere inside it, never outside).
    pub fn locate(&self, reference: &str) -> Result<PathBuf, FileProblem> {
        let path = self.place(reference)?;
        let real = match path.canonicalize() {
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FileProblem::Missing {
                    reference: reference.to_owned(),
                    folder: self.root.display().to_string(),
                });
            }
            Err(e) => {
                return Err(FileProblem::Refused {
                    reference: reference.to_owned(),
                    message: e.to_string(),
                });
            }
        };
        if !real.starts_with(&self.canonical) {
            return Err(FileProblem::Outside {
                reference: reference.to_owned(),
            });
        }
        if !real.is_file() {
            return Err(FileProblem::Refused {
                reference: reference.to_owned(),
                message: "is not a regular file".into(),
            });
        }
        Ok(real)
    }

    /// Reads the file of `reference`, refusing it unread when it is larger than `max_bytes`.
    pub fn read(&self, reference: &str, max_bytes: u64) -> Result<Vec<u8>, FileProblem> {
        let path = self.locate(reference)?;
        let refused = |message: String| FileProblem::Refused {
            reference: reference.to_owned(),
            message,
        };
        let size = std::fs::metadata(&path)
            .map_err(|e| refused(e.to_string()))?
            .len();
        if size > max_bytes {
            return Err(refused(format!(
                "the file is larger than the limit of {max_bytes} bytes"
            )));
        }
        std::fs::read(&path).map_err(|e| refused(e.to_string()))
    }
}

/// The site files a document names, with the field that names each: its `image` and its
/// `pdf` when they are paths on the site (resource links are absolute URLs).
pub fn references(talk: &NewTalk) -> Vec<(String, String)> {
    [("image", &talk.image), ("pdf", &talk.pdf)]
        .into_iter()
        .filter_map(|(field, url)| {
            let path = url.as_deref().and_then(service::assets::site_path)?;
            Some((field.to_owned(), path))
        })
        .collect()
}

/// Where asset bytes are stored: the same keys as the server's configuration.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// The folder of stored asset bytes (the server's `asset_dir`); next to the SQLite file
    /// when absent.
    #[arg(long, env = "LECTERN_ASSET_DIR")]
    pub asset_dir: Option<PathBuf>,
    /// S3-compatible object storage for asset bytes instead (the server's `asset_store`):
    /// s3://bucket[/prefix], credentials from AWS_* variables.
    #[arg(long, env = "LECTERN_ASSET_STORE")]
    pub asset_store: Option<String>,
    /// The largest file stored, in MiB (the server's `asset_max_mb`).
    #[arg(long, env = "LECTERN_ASSET_MAX_MB", default_value_t = 50)]
    pub asset_max_mb: u64,
}

impl StoreArgs {
    pub fn open(&self, database_url: &str) -> Result<Assets, service::assets::AssetError> {
        let blobs = service::assets::open_blobs(
            self.asset_store.as_deref(),
            self.asset_dir.as_deref(),
            database_url,
        )?;
        Ok(Assets::new(
            blobs,
            service::assets::AssetSettings {
                max_bytes: self.asset_max_mb.saturating_mul(1024 * 1024),
                ..Default::default()
            },
        ))
    }
}

/// Where the files of an import come from and go to.
#[derive(Debug, Clone)]
pub struct AssetImport {
    pub folder: SiteFolder,
    pub store: Assets,
}

/// What storing one document's files gave: the path and hash of each file that is there
/// (for the document's digest), the counts, and the problems.
#[derive(Debug, Default)]
pub struct DocumentFiles {
    /// The files the document names, by field (before they are stored).
    pub references: Vec<(String, String)>,
    pub hashes: Vec<(String, String)>,
    pub counts: FileCounts,
    pub problems: Vec<FileReport>,
}

impl AssetImport {
    /// Stores the files that `document` names (on a dry run, only reads and checks them).
    /// A file that is missing or refused is reported; a store that fails stops the run.
    pub async fn import(
        &self,
        db: &DatabaseConnection,
        document: &str,
        references: &[(String, String)],
        dry_run: bool,
        actor: &str,
    ) -> Result<DocumentFiles, ServiceError> {
        let mut out = DocumentFiles::default();
        let max_bytes = self.store.settings.max_bytes;
        for (field, reference) in references {
            let mut problem = |message: String| {
                out.counts.problems += 1;
                out.problems.push(FileReport {
                    path: document.to_owned(),
                    field: field.clone(),
                    message,
                });
            };
            let (folder, wanted) = (self.folder.clone(), reference.clone());
            let read = tokio::task::spawn_blocking(move || {
                folder.read(&wanted, max_bytes).map(|bytes| {
                    let hash = service::assets::hash_of(&bytes);
                    (bytes, hash)
                })
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("reading a file failed: {e}")))?;
            let (bytes, hash) = match read {
                Ok(read) => read,
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            };
            if dry_run {
                let head = &bytes[..bytes.len().min(service::assets::inspect::SNIFF_LEN)];
                match service::assets::inspect::sniff(head) {
                    Ok(_) => out.hashes.push((reference.clone(), hash)),
                    Err(e) => problem(format!("`{reference}`: {e}")),
                }
                continue;
            }
            match self
                .store
                .import_file(db, reference, bytes.into(), hash.clone(), actor)
                .await
            {
                Ok(imported) => {
                    match imported {
                        Imported::Unchanged(_) => out.counts.unchanged += 1,
                        Imported::Stored(_) => out.counts.stored += 1,
                    }
                    out.hashes.push((reference.clone(), hash));
                }
                Err(ServiceError::Asset(e))
                    if !matches!(
                        e,
                        service::assets::AssetError::Storage(_)
                            | service::assets::AssetError::Internal(_)
                    ) =>
                {
                    problem(format!("`{reference}`: {e}"))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// What [`export_files`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedFiles {
    pub written: usize,
    /// Already there with the same bytes: not rewritten.
    pub unchanged: usize,
}

/// Writes `bytes` at `path` unless the file there has the same bytes; through a temporary file
/// and a rename, so that a reader never sees half a file. Whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is not a regular file; files are not written through links",
            ));
        }
        if meta.len() == bytes.len() as u64
            && Sha256::digest(std::fs::read(path)?) == Sha256::digest(bytes)
        {
            return Ok(false);
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = SiteFolder::open(dir.path(), false).unwrap();
        for bad in [
            "/../../etc/passwd",
            "/images/../../x.jpg",
            "/./x.jpg",
            "/",
            "/a\\..\\b.jpg",
        ] {
            assert!(
                matches!(folder.place(bad), Err(FileProblem::Outside { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            folder.place("/images/a/slide_000.jpg").unwrap(),
            dir.path().join("images/a/slide_000.jpg")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_folder_is_refused_and_a_missing_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.jpg"), dir.path().join("a.jpg"))
            .unwrap();
        let folder = SiteFolder::open(dir.path(), false).unwrap();
        assert!(matches!(
            folder.locate("/a.jpg"),
            Err(FileProblem::Outside { .. })
        ));
        assert!(matches!(
            folder.locate("/b.jpg"),
            Err(FileProblem::Missing { .. })
        ));
    }

    #[test]
    fn unchanged_files_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pdfs/x.pdf");
        assert!(write_if_changed(&path, b"one").unwrap());
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(!write_if_changed(&path, b"one").unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        assert!(write_if_changed(&path, b"two").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
    }
}
