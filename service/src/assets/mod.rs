//! Assets: the files a talk shows (its image, its slides, a resource).
//!
//! Bytes are stored once per content, under their SHA-256 ([`store::Blobs`]); the `assets`
//! table says what they are, read from the bytes ([`inspect`]): never from a name or a client.
//! Variants (resized images, a PDF's first page) are rendered once ([`transform`], [`pdf`]),
//! stored the same way and recorded in `asset_variants`.
//!
//! A talk links to an asset through the paths it already has: `image`, `pdf` and a resource's
//! `url`. A path `/assets/{id}` (or `/assets/{id}/{name}`) names the asset by id; any other
//! local path names the asset imported from that path (`asset_paths`). Every writer of a talk
//! resolves the links in [`resolve`], so they always agree with the paths.

pub mod inspect;
pub mod pdf;
pub mod store;
pub mod transform;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use entity::{asset, asset_path, asset_variant, change_event, resource, talk};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{FieldError, ServiceError};
use crate::events::ChangeType;
use crate::visibility::Audience;
pub use inspect::{MediaType, PixelLimits};
pub use store::Blobs;
pub use transform::{Transform, TransformQuery, TransformRules};

/// Why a file or a transform is refused, or could not be stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AssetError {
    /// The bytes are of a type Lectern does not store.
    #[error("{0}")]
    Unsupported(String),
    /// The bytes are damaged, or not what the name says.
    #[error("{0}")]
    Rejected(String),
    /// The image is larger than the configured dimensions.
    #[error("{0}")]
    TooManyPixels(String),
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// A transform outside the allowed set.
    #[error("{parameter}: {message}")]
    Transform { parameter: String, message: String },
    /// The store of bytes failed.
    #[error("asset storage failed: {0}")]
    Storage(String),
    #[error("{0}")]
    Internal(String),
}

/// Limits and rules of the asset store.
#[derive(Debug, Clone)]
pub struct AssetSettings {
    /// The largest file accepted, in bytes.
    pub max_bytes: u64,
    pub pixels: PixelLimits,
    /// How long reading a PDF (its pages and first page) may take.
    pub pdf_timeout: Duration,
    /// The width a PDF's first page is rendered at.
    pub page_width: u32,
    pub rules: TransformRules,
}

impl Default for AssetSettings {
    fn default() -> Self {
        Self {
            max_bytes: 50 * 1024 * 1024,
            pixels: PixelLimits {
                max_side: 12_000,
                max_pixels: 50_000_000,
            },
            pdf_timeout: Duration::from_secs(10),
            page_width: 1280,
            rules: TransformRules::default(),
        }
    }
}

/// The asset store: where bytes live, and the rules.
#[derive(Debug, Clone)]
pub struct Assets {
    pub blobs: Blobs,
    pub settings: Arc<AssetSettings>,
}

/// The folder of asset bytes when none is configured: next to an SQLite database file
/// (`lectern.db` keeps them in `lectern-assets`), else `lectern-assets` in the working
/// directory.
pub fn default_dir(database_url: &str) -> std::path::PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|path| !path.is_empty() && !path.contains(":memory:"));
    match file {
        Some(file) => {
            let file = std::path::Path::new(file);
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "lectern".into());
            file.with_file_name(format!("{stem}-assets"))
        }
        None => std::path::PathBuf::from("lectern-assets"),
    }
}

/// The store of bytes: S3 when `store` is an `s3://` URL, else the folder `dir`, else the
/// [`default_dir`] of the database.
pub fn open_blobs(
    store: Option<&str>,
    dir: Option<&std::path::Path>,
    database_url: &str,
) -> Result<Blobs, AssetError> {
    open_blobs_with(store, dir, database_url, &[])
}

/// [`open_blobs`], with options for the S3 client on top of the environment's
/// ([`Blobs::s3_with`]).
pub fn open_blobs_with(
    store: Option<&str>,
    dir: Option<&std::path::Path>,
    database_url: &str,
    s3_options: &[(String, String)],
) -> Result<Blobs, AssetError> {
    match (store, dir) {
        (Some(url), _) => Blobs::s3_with(url, s3_options),
        (None, Some(dir)) => Blobs::local(dir),
        (None, None) => Blobs::local(&default_dir(database_url)),
    }
}

/// A file to store.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The name it was sent or found under; only its last component is kept.
    pub filename: String,
    pub bytes: Bytes,
    pub alt: Option<String>,
    /// As fractions of the width and height.
    pub focal: Option<(f64, f64)>,
}

/// What [`Assets::store`] did.
#[derive(Debug, Clone)]
pub enum Stored {
    Created(asset::Model),
    /// The same bytes were stored already, as this asset.
    Existing(asset::Model),
}

impl Stored {
    pub fn asset(&self) -> &asset::Model {
        match self {
            Self::Created(asset) | Self::Existing(asset) => asset,
        }
    }
}

/// What [`Assets::import_file`] did.
#[derive(Debug, Clone)]
pub enum Imported {
    /// The path already named these bytes: nothing was written.
    Unchanged(asset::Model),
    /// The path now names this asset (stored now, or earlier under another path).
    Stored(Stored),
}

impl Imported {
    pub fn asset(&self) -> &asset::Model {
        match self {
            Self::Unchanged(asset) => asset,
            Self::Stored(stored) => stored.asset(),
        }
    }
}

/// A stored rendering of an asset, or the asset itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub hash: String,
    pub media_type: String,
    pub size: u64,
}

/// The key of a PDF's first page among its variants.
pub const FIRST_PAGE: &str = "page1";

pub fn hash_of(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

const MAX_ALT: usize = 1000;

fn check_meta(alt: Option<&str>, focal: Option<(f64, f64)>) -> Result<(), ServiceError> {
    let mut errors = Vec::new();
    if alt.is_some_and(|alt| alt.chars().count() > MAX_ALT) {
        errors.push(FieldError::new(
            "alt",
            format!("must be at most {MAX_ALT} characters"),
        ));
    }
    if let Some((x, y)) = focal {
        for (path, value) in [("focal_point.x", x), ("focal_point.y", y)] {
            if !(0.0..=1.0).contains(&value) {
                errors.push(FieldError::new(path, "must be between 0 and 1"));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

impl Assets {
    pub fn new(blobs: Blobs, settings: AssetSettings) -> Self {
        Self {
            blobs,
            settings: Arc::new(settings),
        }
    }

    /// Checks a file and stores it, unless the same bytes are stored already. Nothing is
    /// recorded until the bytes (and a PDF's first page) are stored; an upload is an
    /// `asset.created` event.
    ///
    /// Errors: [`ServiceError::Asset`] for a refused file; [`ServiceError::Invalid`] for the
    /// alt text or the focal point.
    pub async fn store(
        &self,
        db: &DatabaseConnection,
        upload: Upload,
        actor: &str,
    ) -> Result<Stored, ServiceError> {
        let hash = hash_of(&upload.bytes);
        self.store_hashed(db, upload, hash, actor).await
    }

    /// [`Self::store`], for bytes whose SHA-256 (`hash`, lower-case hex) the caller computed.
    pub async fn store_hashed(
        &self,
        db: &DatabaseConnection,
        upload: Upload,
        hash: String,
        actor: &str,
    ) -> Result<Stored, ServiceError> {
        let limits = &self.settings;
        if upload.bytes.len() as u64 > limits.max_bytes {
            return Err(AssetError::TooLarge {
                limit: limits.max_bytes,
            }
            .into());
        }
        check_meta(upload.alt.as_deref(), upload.focal)?;
        let head = &upload.bytes[..upload.bytes.len().min(inspect::SNIFF_LEN)];
        let media = inspect::sniff(head)?;
        inspect::check_name(&upload.filename, media)?;
        if let Some(existing) = find_by_hash(db, &hash).await? {
            // Put back bytes that a broken store lost; writes nothing when they are there.
            self.blobs.put(&hash, upload.bytes.clone()).await?;
            return Ok(Stored::Existing(existing));
        }
        let mut page = None;
        let (width, height, pages) = if media.is_image() {
            let bytes = upload.bytes.clone();
            let pixels = limits.pixels;
            let (w, h) =
                tokio::task::spawn_blocking(move || inspect::image_size(&bytes, media, pixels))
                    .await
                    .map_err(|e| AssetError::Internal(e.to_string()))??;
            (Some(w as i32), Some(h as i32), None)
        } else {
            let read = pdf::read(&upload.bytes, limits.page_width, limits.pdf_timeout).await?;
            let first = Bytes::from(read.first_page);
            let (w, h) = inspect::declared_size(&first, MediaType::Jpeg)?;
            page = Some((first, w, h));
            (None, None, Some(read.pages as i32))
        };
        self.blobs.put(&hash, upload.bytes.clone()).await?;
        let now = Utc::now().trunc_subsecs_micros();
        let model = asset::Model {
            id: Uuid::now_v7(),
            hash: hash.clone(),
            media_type: media.as_str().to_owned(),
            filename: inspect::safe_filename(&upload.filename, media),
            size: upload.bytes.len() as i64,
            width,
            height,
            pages,
            alt: upload.alt.filter(|alt| !alt.trim().is_empty()),
            focal_x: upload.focal.map(|f| f.0),
            focal_y: upload.focal.map(|f| f.1),
            uploaded_by: Some(actor.to_owned()),
            created_at: now,
        };
        let mut variants = Vec::new();
        if let Some((first, w, h)) = page {
            let page_hash = hash_of(&first);
            let size = first.len() as i64;
            self.blobs.put(&page_hash, first).await?;
            variants.push(asset_variant::Model {
                asset_id: model.id,
                key: FIRST_PAGE.to_owned(),
                hash: page_hash,
                media_type: MediaType::Jpeg.as_str().to_owned(),
                size,
                width: w as i32,
                height: h as i32,
                created_at: now,
            });
        }
        let txn = crate::db::begin_write(db).await?;
        let inserted = asset::Entity::insert(asset::ActiveModel::from(model.clone()))
            .on_conflict(
                OnConflict::column(asset::Column::Hash)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        if inserted == 0 {
            // Stored by another upload of the same bytes meanwhile.
            drop(txn);
            return find_by_hash(db, &hash)
                .await?
                .map(Stored::Existing)
                .ok_or(ServiceError::NotFound);
        }
        for variant in variants {
            asset_variant::Entity::insert(asset_variant::ActiveModel::from(variant))
                .exec_without_returning(&txn)
                .await?;
        }
        append(&txn, ChangeType::AssetCreated, &model, actor).await?;
        txn.commit().await?;
        Ok(Stored::Created(model))
    }

    /// Stores the file that a site serves at `path` (such as `/images/x/slide_000.jpg`; `hash`
    /// is the SHA-256 of `bytes`), unless its bytes are stored already, and records that `path`
    /// names it. Writes nothing
    /// when both hold: an import of unchanged files changes nothing.
    pub async fn import_file(
        &self,
        db: &DatabaseConnection,
        path: &str,
        bytes: Bytes,
        hash: String,
        actor: &str,
    ) -> Result<Imported, ServiceError> {
        let named = asset_path::Entity::find_by_id(path.to_owned())
            .find_also_related(asset::Entity)
            .one(db)
            .await?
            .and_then(|(_, asset)| asset);
        if let Some(asset) = named.filter(|a| a.hash == hash)
            && self.blobs.exists(&hash).await?
        {
            return Ok(Imported::Unchanged(asset));
        }
        let filename = path.rsplit('/').next().unwrap_or(path).to_owned();
        let stored = self
            .store_hashed(
                db,
                Upload {
                    filename,
                    bytes,
                    alt: None,
                    focal: None,
                },
                hash,
                actor,
            )
            .await?;
        name_path(db, path, stored.asset().id).await?;
        Ok(Imported::Stored(stored))
    }

    /// The bytes to serve for a transform of `asset` (the original when `transform` is
    /// `None`), rendered and stored the first time it is asked for.
    pub async fn stream(
        &self,
        db: &DatabaseConnection,
        asset: &asset::Model,
        transform: Option<Transform>,
    ) -> Result<Stream, ServiceError> {
        let media = MediaType::parse(&asset.media_type)
            .ok_or_else(|| AssetError::Internal(format!("unknown type {}", asset.media_type)))?;
        let Some(transform) = transform else {
            return Ok(Stream {
                hash: asset.hash.clone(),
                media_type: asset.media_type.clone(),
                size: asset.size as u64,
            });
        };
        let focal = (asset.focal_x.unwrap_or(0.5), asset.focal_y.unwrap_or(0.5));
        let mut key = transform.key(media);
        if transform.fit == transform::Fit::Cover && transform.width.zip(transform.height).is_some()
        {
            key.push_str(&format!("-f{:.3}x{:.3}", focal.0, focal.1));
        }
        if let Some(variant) = find_variant(db, asset.id, &key).await? {
            return Ok(Stream {
                hash: variant.hash,
                media_type: variant.media_type,
                size: variant.size as u64,
            });
        }
        let (source, source_media) = if media == MediaType::Pdf {
            let page = find_variant(db, asset.id, FIRST_PAGE)
                .await?
                .ok_or_else(|| AssetError::Internal("the PDF's first page is missing".into()))?;
            let media = MediaType::parse(&page.media_type).unwrap_or(MediaType::Jpeg);
            (self.blobs.get(&page.hash).await?, media)
        } else {
            (self.blobs.get(&asset.hash).await?, media)
        };
        let rendered = tokio::task::spawn_blocking(move || {
            transform::render(&source, source_media, &transform, focal)
        })
        .await
        .map_err(|e| AssetError::Internal(e.to_string()))??;
        let hash = hash_of(&rendered.bytes);
        let size = rendered.bytes.len() as i64;
        self.blobs.put(&hash, Bytes::from(rendered.bytes)).await?;
        let variant = asset_variant::Model {
            asset_id: asset.id,
            key,
            hash: hash.clone(),
            media_type: rendered.media.as_str().to_owned(),
            size,
            width: rendered.width as i32,
            height: rendered.height as i32,
            created_at: Utc::now(),
        };
        asset_variant::Entity::insert(asset_variant::ActiveModel::from(variant.clone()))
            .on_conflict(
                OnConflict::columns([asset_variant::Column::AssetId, asset_variant::Column::Key])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        Ok(Stream {
            hash,
            media_type: variant.media_type,
            size: size as u64,
        })
    }
}

trait Micros {
    fn trunc_subsecs_micros(self) -> Self;
}

impl Micros for DateTime<Utc> {
    /// As the databases store it (PostgreSQL keeps microseconds).
    fn trunc_subsecs_micros(self) -> Self {
        use chrono::SubsecRound;
        self.trunc_subsecs(6)
    }
}

/// Appends an asset's event (`asset.created`, `asset.updated`, `asset.deleted`): staff only.
async fn append<C: ConnectionTrait>(
    conn: &C,
    kind: ChangeType,
    asset: &asset::Model,
    actor: &str,
) -> Result<(), ServiceError> {
    crate::content::bump(conn).await?;
    let event = change_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(Utc::now()),
        aggregate_type: Set("asset".to_owned()),
        aggregate_id: Set(asset.id),
        kind: Set(kind.as_str().to_owned()),
        version: Set(1),
        actor: Set(actor.to_owned()),
        payload: Set(json!({ "asset": asset })),
        public: Set(false),
        ..Default::default()
    };
    change_event::Entity::insert(event)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<asset::Model>, ServiceError> {
    Ok(asset::Entity::find_by_id(id).one(conn).await?)
}

pub async fn find_by_hash<C: ConnectionTrait>(
    conn: &C,
    hash: &str,
) -> Result<Option<asset::Model>, ServiceError> {
    Ok(asset::Entity::find()
        .filter(asset::Column::Hash.eq(hash))
        .one(conn)
        .await?)
}

pub async fn find_variant<C: ConnectionTrait>(
    conn: &C,
    asset_id: Uuid,
    key: &str,
) -> Result<Option<asset_variant::Model>, ServiceError> {
    Ok(
        asset_variant::Entity::find_by_id((asset_id, key.to_owned()))
            .one(conn)
            .await?,
    )
}

/// These assets, by id (those that exist).
pub async fn find_many<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, asset::Model>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(asset::Entity::find()
        .filter(asset::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect())
}

/// The first page of each of these PDFs, by asset id.
pub async fn first_pages<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, asset_variant::Model>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(asset_variant::Entity::find()
        .filter(asset_variant::Column::AssetId.is_in(ids.iter().copied()))
        .filter(asset_variant::Column::Key.eq(FIRST_PAGE))
        .all(conn)
        .await?
        .into_iter()
        .map(|v| (v.asset_id, v))
        .collect())
}

/// Whether `audience` may read an asset: staff always; readers without a token when a
/// published talk shows it (as its image, its slides or a resource). For readers, the talk
/// found is noted as read (`crate::reads`): a cached response holds while that talk does.
pub async fn readable<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    audience: Audience,
) -> Result<bool, ServiceError> {
    if audience.sees_drafts() {
        return Ok(true);
    }
    let published = talk::Column::Status.eq(talk::Status::Published);
    let by_talk = talk::Entity::find()
        .select_only()
        .column(talk::Column::Id)
        .filter(published.clone())
        .filter(
            talk::Column::ImageAssetId
                .eq(id)
                .or(talk::Column::SlidesAssetId.eq(id)),
        )
        .limit(1)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?;
    // A response that serves the asset to readers holds while the talk that shows it does.
    if let Some(talk) = by_talk {
        crate::reads::note(|reads| {
            reads.talks.insert(talk);
        });
        return Ok(true);
    }
    let by_resource = resource::Entity::find()
        .select_only()
        .column(resource::Column::TalkId)
        .filter(resource::Column::AssetId.eq(id))
        .filter(
            resource::Column::TalkId.in_subquery(
                Query::select()
                    .column(talk::Column::Id)
                    .from(talk::Entity)
                    .and_where(Expr::col(talk::Column::Status).eq("published"))
                    .to_owned(),
            ),
        )
        .limit(1)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?;
    if let Some(talk) = by_resource {
        crate::reads::note(|reads| {
            reads.talks.insert(talk);
        });
    }
    Ok(by_resource.is_some())
}

/// Changes an asset's alt text and focal point (`None`: unchanged; `Some(None)`: removed):
/// an `asset.updated` event.
pub async fn describe(
    db: &DatabaseConnection,
    id: Uuid,
    alt: Option<Option<String>>,
    focal: Option<Option<(f64, f64)>>,
    actor: &str,
) -> Result<asset::Model, ServiceError> {
    check_meta(alt.as_ref().and_then(|a| a.as_deref()), focal.flatten())?;
    let txn = crate::db::begin_write(db).await?;
    let mut model = find(&txn, id).await?.ok_or(ServiceError::NotFound)?;
    if let Some(alt) = alt {
        model.alt = alt.filter(|alt| !alt.trim().is_empty());
    }
    if let Some(focal) = focal {
        model.focal_x = focal.map(|f| f.0);
        model.focal_y = focal.map(|f| f.1);
    }
    asset::Entity::update(asset::ActiveModel {
        id: Set(model.id),
        alt: Set(model.alt.clone()),
        focal_x: Set(model.focal_x),
        focal_y: Set(model.focal_y),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    append(&txn, ChangeType::AssetUpdated, &model, actor).await?;
    txn.commit().await?;
    Ok(model)
}

/// Where an asset is served: `/assets/{id}/{filename}`.
pub fn url_of(asset: &asset::Model) -> String {
    format!("/assets/{}/{}", asset.id, asset.filename)
}

/// Where a talk shows an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Its cover image: an image.
    Image,
    /// Its slides: a PDF.
    Slides,
}

impl Slot {
    /// The change to a talk that shows `url` in this slot (`None`: shows nothing there).
    pub fn patch(self, url: Option<String>) -> crate::editing::TalkPatch {
        let mut patch = crate::editing::TalkPatch::default();
        match self {
            Self::Image => patch.image = Some(url),
            Self::Slides => patch.pdf = Some(url),
        }
        patch
    }
}

/// The URL a talk's `image` or `pdf` takes to show asset `id` in `slot`; refused, naming
/// `field`, when there is no such asset or it is of the wrong kind.
pub async fn slot_url<C: ConnectionTrait>(
    conn: &C,
    slot: Slot,
    id: Uuid,
    field: &str,
) -> Result<String, ServiceError> {
    let invalid = |message: String| ServiceError::Invalid(vec![FieldError::new(field, message)]);
    let asset = find(conn, id)
        .await?
        .ok_or_else(|| invalid(format!("there is no asset {id}")))?;
    let is_pdf = asset.media_type == MediaType::Pdf.as_str();
    match slot {
        Slot::Image if is_pdf => Err(invalid("a talk's image must be an image, not a PDF".into())),
        Slot::Slides if !is_pdf => Err(invalid("a talk's slides must be a PDF".into())),
        _ => Ok(url_of(&asset)),
    }
}

/// Records that the file at a site's `path` (such as `/images/x/slide_000.jpg`) is `asset`.
pub async fn name_path<C: ConnectionTrait>(
    conn: &C,
    path: &str,
    asset: Uuid,
) -> Result<(), ServiceError> {
    asset_path::Entity::insert(asset_path::ActiveModel {
        path: Set(path.to_owned()),
        asset_id: Set(asset),
    })
    .on_conflict(
        OnConflict::column(asset_path::Column::Path)
            .update_column(asset_path::Column::AssetId)
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// What a path names: an asset by id (`/assets/{id}…`), or a site path that may have been
/// imported. Absolute URLs and anything else name nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reference {
    Id(Uuid),
    Path(String),
}

/// Whether `url` is a stored asset's URL, `/assets/{id}` or `/assets/{id}/{filename}`.
pub fn is_asset_url(url: &str) -> bool {
    matches!(reference(url), Some(Reference::Id(_)))
}

fn reference(path: &str) -> Option<Reference> {
    if !path.starts_with('/') || path.starts_with("//") {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if let Some(rest) = path.strip_prefix("/assets/") {
        let id = rest.split('/').next().unwrap_or_default();
        if let Ok(id) = Uuid::parse_str(id) {
            return Some(Reference::Id(id));
        }
    }
    Some(Reference::Path(path.to_owned()))
}

/// The path of a site's file that `url` names (`/images/x.jpg` without its query), or `None`
/// for an asset's own URL (`/assets/{id}/…`), an absolute URL or a relative one.
pub fn site_path(url: &str) -> Option<String> {
    match reference(url) {
        Some(Reference::Path(path)) => Some(path),
        _ => None,
    }
}

/// The stored asset each of `urls` names, by site path or by `/assets/{id}` URL; `None` where
/// a URL names none.
pub async fn named_by<C: ConnectionTrait>(
    conn: &C,
    urls: &[&str],
) -> Result<Vec<Option<asset::Model>>, ServiceError> {
    let references: Vec<Option<Reference>> = urls.iter().map(|url| reference(url)).collect();
    let paths: Vec<&str> = references
        .iter()
        .filter_map(|r| match r {
            Some(Reference::Path(p)) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    let named: HashMap<String, Uuid> = if paths.is_empty() {
        HashMap::new()
    } else {
        asset_path::Entity::find()
            .filter(asset_path::Column::Path.is_in(paths.iter().copied()))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.path, p.asset_id))
            .collect()
    };
    let ids: Vec<Option<Uuid>> = references
        .iter()
        .map(|r| match r {
            Some(Reference::Id(id)) => Some(*id),
            Some(Reference::Path(path)) => named.get(path).copied(),
            None => None,
        })
        .collect();
    let wanted: Vec<Uuid> = ids.iter().flatten().copied().collect();
    let found = find_many(conn, &wanted).await?;
    Ok(ids
        .into_iter()
        .map(|id| id.and_then(|id| found.get(&id).cloned()))
        .collect())
}

/// The assets a talk's paths name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    pub image: Option<Uuid>,
    pub slides: Option<Uuid>,
    /// One for each resource, in order.
    pub resources: Vec<Option<Uuid>>,
}

/// Resolves the assets that a talk's `image`, `pdf` and resource URLs name. A path that names
/// no stored asset links nothing (the site may serve it); an `/assets/{id}` path of an asset
/// that does not exist is refused, with the field's path.
pub async fn resolve<C: ConnectionTrait>(
    conn: &C,
    image: Option<&str>,
    pdf: Option<&str>,
    resources: &[&str],
) -> Result<Links, ServiceError> {
    let fields: Vec<(String, Option<Reference>)> =
        [("image".to_owned(), image), ("pdf".to_owned(), pdf)]
            .into_iter()
            .chain(
                resources
                    .iter()
                    .enumerate()
                    .map(|(i, url)| (format!("resources[{i}].url"), Some(*url))),
            )
            .map(|(field, path)| (field, path.and_then(reference)))
            .collect();
    let paths: Vec<&str> = fields
        .iter()
        .filter_map(|(_, r)| match r {
            Some(Reference::Path(p)) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    let ids: Vec<Uuid> = fields
        .iter()
        .filter_map(|(_, r)| match r {
            Some(Reference::Id(id)) => Some(*id),
            _ => None,
        })
        .collect();
    if paths.is_empty() && ids.is_empty() {
        return Ok(Links {
            resources: vec![None; resources.len()],
            ..Links::default()
        });
    }
    let named: HashMap<String, Uuid> = if paths.is_empty() {
        HashMap::new()
    } else {
        asset_path::Entity::find()
            .filter(asset_path::Column::Path.is_in(paths.iter().copied()))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.path, p.asset_id))
            .collect()
    };
    let existing: Vec<Uuid> = if ids.is_empty() {
        Vec::new()
    } else {
        asset::Entity::find()
            .select_only()
            .column(asset::Column::Id)
            .filter(asset::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?
    };
    let mut errors = Vec::new();
    let mut links: Vec<Option<Uuid>> = Vec::with_capacity(fields.len());
    for (field, reference) in &fields {
        links.push(match reference {
            None => None,
            Some(Reference::Path(path)) => named.get(path).copied(),
            Some(Reference::Id(id)) if existing.contains(id) => Some(*id),
            Some(Reference::Id(id)) => {
                errors.push(FieldError::new(
                    field.clone(),
                    format!("there is no asset {id}"),
                ));
                None
            }
        });
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let mut links = links.into_iter();
    Ok(Links {
        image: links.next().flatten(),
        slides: links.next().flatten(),
        resources: links.collect(),
    })
}

/// What [`gc`] found, and removed unless it was a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Assets no talk or resource links to, uploaded before the cut-off.
    pub assets: Vec<Uuid>,
    /// Bytes of the removed assets' originals.
    pub bytes: u64,
    /// Stored contents (originals and variants) that nothing refers to, written before the
    /// cut-off: removed.
    pub blobs: usize,
}

/// Removes the assets that no talk or resource links to and that were uploaded before
/// `before`, their variants, their paths, and the stored bytes that nothing refers to any more.
pub async fn gc(
    db: &DatabaseConnection,
    assets: &Assets,
    before: DateTime<Utc>,
    dry_run: bool,
) -> Result<GcReport, ServiceError> {
    let linked = |column: talk::Column| {
        Query::select()
            .column(column)
            .from(talk::Entity)
            .and_where(Expr::col(column).is_not_null())
            .to_owned()
    };
    let unused: Vec<asset::Model> = asset::Entity::find()
        .filter(asset::Column::CreatedAt.lt(before))
        .filter(asset::Column::Id.not_in_subquery(linked(talk::Column::ImageAssetId)))
        .filter(asset::Column::Id.not_in_subquery(linked(talk::Column::SlidesAssetId)))
        .filter(
            asset::Column::Id.not_in_subquery(
                Query::select()
                    .column(resource::Column::AssetId)
                    .from(resource::Entity)
                    .and_where(Expr::col(resource::Column::AssetId).is_not_null())
                    .to_owned(),
            ),
        )
        .all(db)
        .await?;
    let mut report = GcReport {
        assets: unused.iter().map(|a| a.id).collect(),
        ..GcReport::default()
    };
    let ids: Vec<Uuid> = report.assets.clone();
    if !dry_run && !ids.is_empty() {
        let txn = crate::db::begin_write(db).await?;
        asset::Entity::delete_many()
            .filter(asset::Column::Id.is_in(ids.iter().copied()))
            .exec(&txn)
            .await?;
        for model in &unused {
            append(&txn, ChangeType::AssetDeleted, model, "gc").await?;
        }
        txn.commit().await?;
    }
    // The bytes still referred to, after the deletion (or as if, for a dry run).
    let mut kept: std::collections::HashSet<String> = asset::Entity::find()
        .select_only()
        .column(asset::Column::Hash)
        .filter(asset::Column::Id.is_not_in(ids.iter().copied()))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    kept.extend(
        asset_variant::Entity::find()
            .select_only()
            .column(asset_variant::Column::Hash)
            .filter(asset_variant::Column::AssetId.is_not_in(ids.iter().copied()))
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    let stored = assets.blobs.hashes().await?;
    let sizes: HashMap<String, u64> = unused
        .iter()
        .map(|a| (a.hash.clone(), a.size as u64))
        .collect();
    // Bytes written after the cut-off may belong to an upload not yet recorded.
    let orphans = stored
        .iter()
        .filter(|(hash, written)| *written < before && !kept.contains(hash))
        .map(|(hash, _)| hash);
    for hash in orphans {
        report.blobs += 1;
        report.bytes += sizes.get(hash).copied().unwrap_or(0);
        if !dry_run {
            assets.blobs.delete(hash).await?;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_live_next_to_the_sqlite_file() {
        use std::path::PathBuf;
        assert_eq!(
            default_dir("sqlite://lectern.db?mode=rwc"),
            PathBuf::from("lectern-assets")
        );
        assert_eq!(
            default_dir("sqlite:///var/lib/lectern/site.db"),
            PathBuf::from("/var/lib/lectern/site-assets")
        );
        assert_eq!(
            default_dir("sqlite::memory:"),
            PathBuf::from("lectern-assets")
        );
        assert_eq!(
            default_dir("postgres://u@h/db"),
            PathBuf::from("lectern-assets")
        );
    }

    #[test]
    fn paths_name_assets_by_id_or_by_site_path() {
        let id = Uuid::now_v7();
        assert_eq!(
            reference(&format!("/assets/{id}/slides.pdf?x=1")),
            Some(Reference::Id(id))
        );
        assert_eq!(reference(&format!("/assets/{id}")), Some(Reference::Id(id)));
        assert_eq!(
            reference("/images/a/slide_000.jpg#top"),
            Some(Reference::Path("/images/a/slide_000.jpg".into()))
        );
        assert_eq!(reference("https://example.com/x.pdf"), None);
        assert_eq!(reference("//cdn.example.com/x.pdf"), None);
        assert_eq!(reference("x.pdf"), None);
    }
}
