//! Where asset bytes live: a local folder, or S3-compatible object storage, through
//! `object_store`. Each content is stored once, under the SHA-256 of its bytes
//! (`ab/abcdef…`), and never changes; a put of bytes already there writes nothing.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::AssetError;

/// The bytes of every asset and variant, by hash.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where, for messages: a folder or an `s3://` URL.
    place: String,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blobs({})", self.place)
    }
}

fn storage(error: impl std::fmt::Display) -> AssetError {
    AssetError::Storage(error.to_string())
}

impl Blobs {
    /// A local folder, created when missing.
    pub fn local(folder: &Path) -> Result<Self, AssetError> {
        std::fs::create_dir_all(folder)
            .map_err(|e| storage(format!("cannot create {}: {e}", folder.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(folder)
            .map_err(storage)?
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            place: folder.display().to_string(),
        })
    }

    /// An S3 bucket, from a URL such as `s3://bucket` or `s3://bucket/prefix`; credentials,
    /// region and endpoint come from the usual `AWS_*` environment variables
    /// (`AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for a local emulator).
    pub fn s3(url: &str) -> Result<Self, AssetError> {
        Self::s3_with(url, &[])
    }

    /// [`Self::s3`], with options on top of the environment's, by `object_store`'s names
    /// (`aws_endpoint`, `aws_allow_http`, `aws_access_key_id`, …).
    pub fn s3_with(url: &str, options: &[(String, String)]) -> Result<Self, AssetError> {
        let parsed = url::Url::parse(url).map_err(|e| storage(format!("{url}: {e}")))?;
        if parsed.scheme() != "s3" {
            return Err(storage(format!("{url}: the URL must start with s3://")));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(url);
        for (key, value) in options {
            let key: object_store::aws::AmazonS3ConfigKey =
                key.parse().map_err(|e| storage(format!("{key}: {e}")))?;
            builder = builder.with_config(key, value);
        }
        let store = builder.build().map_err(storage)?;
        let prefix = parsed.path().trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self {
            store,
            place: url.to_owned(),
        })
    }

    fn path(hash: &str) -> ObjectPath {
        ObjectPath::from(format!("{}/{hash}", &hash[..2.min(hash.len())]))
    }

    /// Stores bytes under their hash, unless they are there already; whether it wrote.
    pub async fn put(&self, hash: &str, bytes: Bytes) -> Result<bool, AssetError> {
        let path = Self::path(hash);
        match self.store.head(&path).await {
            Ok(meta) if meta.size == bytes.len() as u64 => return Ok(false),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage(e)),
        }
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map_err(storage)?;
        Ok(true)
    }

    pub async fn get(&self, hash: &str) -> Result<Bytes, AssetError> {
        let result = self.store.get(&Self::path(hash)).await.map_err(not_found)?;
        result.bytes().await.map_err(storage)
    }

    /// The bytes as a stream, for a response body.
    pub async fn stream(
        &self,
        hash: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, AssetError>>, AssetError> {
        let result = self.store.get(&Self::path(hash)).await.map_err(not_found)?;
        Ok(result
            .into_stream()
            .map(|part| part.map_err(storage))
            .boxed())
    }

    pub async fn range(&self, hash: &str, range: Range<u64>) -> Result<Bytes, AssetError> {
        self.store
            .get_range(&Self::path(hash), range)
            .await
            .map_err(not_found)
    }

    pub async fn exists(&self, hash: &str) -> Result<bool, AssetError> {
        match self.store.head(&Self::path(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(storage(e)),
        }
    }

    pub async fn delete(&self, hash: &str) -> Result<(), AssetError> {
        match self.store.delete(&Self::path(hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }

    /// Every stored hash, with when it was last written.
    pub async fn hashes(&self) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, AssetError> {
        let mut listing = self.store.list(None);
        let mut hashes = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(storage)?;
            if let Some(name) = meta.location.filename()
                && name.len() == 64
                && name.bytes().all(|b| b.is_ascii_hexdigit())
            {
                hashes.push((name.to_owned(), meta.last_modified));
            }
        }
        Ok(hashes)
    }

    pub fn place(&self) -> &str {
        &self.place
    }
}

fn not_found(error: object_store::Error) -> AssetError {
    match error {
        object_store::Error::NotFound { path, .. } => {
            AssetError::Storage(format!("stored bytes are missing: {path}"))
        }
        other => storage(other),
    }
}
