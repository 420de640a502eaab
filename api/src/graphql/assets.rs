//! Stored files in GraphQL: a talk's image and slides with URLs of their transforms, the
//! asset itself, uploads (the GraphQL multipart request spec) and the mutations that attach
//! and describe assets.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject, Upload};
use chrono::{DateTime, Utc};
use entity::{asset, asset_variant};
use service::ServiceError;
use service::accounts::Role;
use service::assets::{self, Assets, MediaType, Slot, TransformQuery};
use service::editing;
use service::sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::AssetBase;
use super::errors::{auth_to_graphql, coded, to_graphql};
use super::query::viewer;
use super::types::{Talk, absolute};

/// Assets by id, one query per batch.
pub struct AssetLoader(pub DatabaseConnection);
/// The first page of PDFs, by the PDF's id, one query per batch.
pub struct FirstPageLoader(pub DatabaseConnection);

impl Loader<Uuid> for AssetLoader {
    type Value = asset::Model;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        assets::find_many(&self.0, keys).await.map_err(Arc::new)
    }
}

impl Loader<Uuid> for FirstPageLoader {
    type Value = asset_variant::Model;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        assets::first_pages(&self.0, keys).await.map_err(Arc::new)
    }
}

pub async fn load_asset(
    ctx: &Context<'_>,
    id: Option<Uuid>,
) -> async_graphql::Result<Option<asset::Model>> {
    let Some(id) = id else { return Ok(None) };
    ctx.data::<DataLoader<AssetLoader>>()?
        .load_one(id)
        .await
        .map_err(|e| to_graphql(&e))
}

async fn first_page(
    ctx: &Context<'_>,
    id: Uuid,
) -> async_graphql::Result<Option<asset_variant::Model>> {
    ctx.data::<DataLoader<FirstPageLoader>>()?
        .load_one(id)
        .await
        .map_err(|e| to_graphql(&e))
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ImageFit {
    /// Fills the box, cropping around the focal point.
    Cover,
    /// Fits inside the box; the box's size, with the rest transparent (white in JPEG).
    Contain,
    /// Fits inside the box; only as large as the image needs.
    Inside,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Webp,
    Jpeg,
    Png,
}

/// A transform as a field's arguments give it.
#[derive(Default)]
struct Wanted {
    width: Option<i32>,
    height: Option<i32>,
    fit: Option<ImageFit>,
    format: Option<ImageFormat>,
    quality: Option<i32>,
    preset: Option<String>,
}

impl Wanted {
    fn query(&self) -> TransformQuery {
        TransformQuery {
            width: self.width.map(|w| w.to_string()),
            height: self.height.map(|h| h.to_string()),
            fit: self.fit.map(|fit| {
                match fit {
                    ImageFit::Cover => "cover",
                    ImageFit::Contain => "contain",
                    ImageFit::Inside => "inside",
                }
                .to_owned()
            }),
            format: self.format.map(|format| {
                match format {
                    ImageFormat::Webp => "webp",
                    ImageFormat::Jpeg => "jpeg",
                    ImageFormat::Png => "png",
                }
                .to_owned()
            }),
            quality: self.quality.map(|q| q.to_string()),
            preset: self.preset.clone(),
        }
    }
}

/// The URL of an asset, or of a transform of it, checked against the configured rules (a
/// size, quality or preset outside them is `BAD_USER_INPUT`, naming the argument). A PDF's
/// URL as an image is its first page (`format=png` unless another format is asked for).
fn transform_url(
    ctx: &Context<'_>,
    asset: &asset::Model,
    wanted: Wanted,
    as_image: bool,
) -> async_graphql::Result<String> {
    let mut query = wanted.query();
    if as_image && asset.media_type == MediaType::Pdf.as_str() && query.format.is_none() {
        query.format = Some("png".to_owned());
    }
    if let Some(store) = ctx.data_opt::<Assets>() {
        store
            .settings
            .rules
            .check(&query)
            .map_err(|e| to_graphql(&ServiceError::from(e)))?;
    }
    let path = match query.query_string() {
        q if q.is_empty() => assets::url_of(asset),
        q => format!("{}?{q}", assets::url_of(asset)),
    };
    Ok(served_url(ctx, &path))
}

/// A path made absolute against the asset base, when one is configured.
fn served_url(ctx: &Context<'_>, path: &str) -> String {
    let base = ctx.data_opt::<AssetBase>().and_then(|b| b.0.as_deref());
    absolute(base, Some(path)).unwrap_or_else(|| path.to_owned())
}

#[derive(SimpleObject, Clone, Copy)]
pub struct FocalPoint {
    /// From the left, 0 to 1.
    pub x: f64,
    /// From the top, 0 to 1.
    pub y: f64,
}

#[derive(InputObject, Clone, Copy)]
pub struct FocalPointInput {
    pub x: f64,
    pub y: f64,
}

fn focal_point(asset: &asset::Model) -> Option<FocalPoint> {
    Some(FocalPoint {
        x: asset.focal_x?,
        y: asset.focal_y?,
    })
}

/// A talk's image: a stored image, the first page of its slides when it has no image, or a
/// path the site serves (which Lectern does not transform).
pub enum Image {
    Stored(asset::Model),
    FirstPage(asset::Model, Option<asset_variant::Model>),
    Path(String),
}

#[Object]
impl Image {
    /// The stored asset, when the image is one (for a first page, the PDF).
    async fn asset_id(&self) -> Option<ID> {
        match self {
            Self::Stored(a) | Self::FirstPage(a, _) => Some(ID(a.id.to_string())),
            Self::Path(_) => None,
        }
    }
    /// Where the image is served; with arguments, a transform of it (sizes, qualities and
    /// presets from the server's configuration). A path that is no stored asset is given as
    /// it is, whatever the arguments.
    #[allow(clippy::too_many_arguments)]
    async fn url(
        &self,
        ctx: &Context<'_>,
        width: Option<i32>,
        height: Option<i32>,
        fit: Option<ImageFit>,
        format: Option<ImageFormat>,
        quality: Option<i32>,
        preset: Option<String>,
    ) -> async_graphql::Result<String> {
        let wanted = Wanted {
            width,
            height,
            fit,
            format,
            quality,
            preset,
        };
        match self {
            Self::Stored(a) | Self::FirstPage(a, _) => transform_url(ctx, a, wanted, true),
            Self::Path(path) => Ok(served_url(ctx, path)),
        }
    }
    /// Pixels of the original (of the page, for slides' first page).
    async fn width(&self) -> Option<i32> {
        match self {
            Self::Stored(a) => a.width,
            Self::FirstPage(_, page) => page.as_ref().map(|p| p.width),
            Self::Path(_) => None,
        }
    }
    async fn height(&self) -> Option<i32> {
        match self {
            Self::Stored(a) => a.height,
            Self::FirstPage(_, page) => page.as_ref().map(|p| p.height),
            Self::Path(_) => None,
        }
    }
    async fn alt(&self) -> Option<&str> {
        match self {
            Self::Stored(a) | Self::FirstPage(a, _) => a.alt.as_deref(),
            Self::Path(_) => None,
        }
    }
    async fn focal_point(&self) -> Option<FocalPoint> {
        match self {
            Self::Stored(a) | Self::FirstPage(a, _) => focal_point(a),
            Self::Path(_) => None,
        }
    }
    /// True when this is the first page of the talk's slides, standing in for an image.
    async fn from_slides(&self) -> bool {
        matches!(self, Self::FirstPage(..))
    }
}

/// A talk's slides: a stored PDF, or a path the site serves.
pub enum Slides {
    Stored(asset::Model),
    Path(String),
}

#[Object]
impl Slides {
    async fn asset_id(&self) -> Option<ID> {
        match self {
            Self::Stored(a) => Some(ID(a.id.to_string())),
            Self::Path(_) => None,
        }
    }
    /// Where the PDF is served.
    async fn url(&self, ctx: &Context<'_>) -> String {
        match self {
            Self::Stored(a) => served_url(ctx, &assets::url_of(a)),
            Self::Path(path) => served_url(ctx, path),
        }
    }
    async fn pages(&self) -> Option<i32> {
        match self {
            Self::Stored(a) => a.pages,
            Self::Path(_) => None,
        }
    }
    /// The first page as an image (PNG unless `format` says otherwise); null for a PDF that
    /// is not stored here.
    async fn thumbnail(
        &self,
        ctx: &Context<'_>,
        width: Option<i32>,
        height: Option<i32>,
        fit: Option<ImageFit>,
        format: Option<ImageFormat>,
        preset: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        match self {
            Self::Stored(a) => {
                let wanted = Wanted {
                    width,
                    height,
                    fit,
                    format,
                    preset,
                    ..Wanted::default()
                };
                transform_url(ctx, a, wanted, true).map(Some)
            }
            Self::Path(_) => Ok(None),
        }
    }
}

/// The image a talk shows: its own, else its slides' first page, else none.
pub async fn image_of(
    ctx: &Context<'_>,
    talk: &entity::talk::Model,
) -> async_graphql::Result<Option<Image>> {
    if let Some(asset) = load_asset(ctx, talk.image_asset_id).await? {
        return Ok(Some(Image::Stored(asset)));
    }
    if let Some(path) = &talk.image {
        return Ok(absolute(None, Some(path)).map(Image::Path));
    }
    match load_asset(ctx, talk.slides_asset_id).await? {
        Some(pdf) => {
            let page = first_page(ctx, pdf.id).await?;
            Ok(Some(Image::FirstPage(pdf, page)))
        }
        None => Ok(None),
    }
}

pub async fn slides_of(
    ctx: &Context<'_>,
    talk: &entity::talk::Model,
) -> async_graphql::Result<Option<Slides>> {
    if let Some(asset) = load_asset(ctx, talk.slides_asset_id).await? {
        return Ok(Some(Slides::Stored(asset)));
    }
    Ok(talk
        .pdf
        .as_deref()
        .and_then(|path| absolute(None, Some(path)))
        .map(Slides::Path))
}

/// A stored file.
pub struct Asset(pub asset::Model);

#[Object]
impl Asset {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where it is served; with arguments, a transform of it (a PDF's transforms are of its
    /// first page).
    #[allow(clippy::too_many_arguments)]
    async fn url(
        &self,
        ctx: &Context<'_>,
        width: Option<i32>,
        height: Option<i32>,
        fit: Option<ImageFit>,
        format: Option<ImageFormat>,
        quality: Option<i32>,
        preset: Option<String>,
    ) -> async_graphql::Result<String> {
        let wanted = Wanted {
            width,
            height,
            fit,
            format,
            quality,
            preset,
        };
        transform_url(ctx, &self.0, wanted, false)
    }
    /// Read from the bytes: `image/jpeg`, `image/png`, `image/webp`, `image/gif` or
    /// `application/pdf`.
    async fn media_type(&self) -> &str {
        &self.0.media_type
    }
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// Bytes.
    async fn size(&self) -> i64 {
        self.0.size
    }
    /// SHA-256 of the bytes, hex.
    async fn sha256(&self) -> &str {
        &self.0.hash
    }
    async fn width(&self) -> Option<i32> {
        self.0.width
    }
    async fn height(&self) -> Option<i32> {
        self.0.height
    }
    /// Pages of a PDF.
    async fn pages(&self) -> Option<i32> {
        self.0.pages
    }
    async fn alt(&self) -> Option<&str> {
        self.0.alt.as_deref()
    }
    async fn focal_point(&self) -> Option<FocalPoint> {
        focal_point(&self.0)
    }
    async fn uploaded_by(&self) -> Option<&str> {
        self.0.uploaded_by.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

fn parse_id(name: &str, id: &str) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| coded(&format!("{name}: not an id"), "BAD_USER_INPUT"))
}

fn store<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Assets> {
    ctx.data_opt::<Assets>()
        .ok_or_else(|| coded("this server stores no assets", "INTERNAL"))
}

#[derive(Default)]
pub struct AssetQuery;

#[Object]
impl AssetQuery {
    /// A stored file: readers without a token see those of published talks, staff every one;
    /// null otherwise.
    async fn asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Asset>> {
        let id = parse_id("id", &id)?;
        let db = ctx.data::<DatabaseConnection>()?;
        if !assets::readable(db, id, viewer(ctx).audience())
            .await
            .map_err(|e| to_graphql(&e))?
        {
            return Ok(None);
        }
        Ok(assets::find(db, id)
            .await
            .map_err(|e| to_graphql(&e))?
            .map(Asset))
    }
}

#[derive(Default)]
pub struct AssetMutation;

fn editor(ctx: &Context<'_>) -> async_graphql::Result<String> {
    let viewer = viewer(ctx);
    viewer
        .require(Role::Editor)
        .map_err(|e| auth_to_graphql(&e))?;
    Ok(viewer.actor())
}

/// Shows `asset` in a talk's `slot`, or nothing there (`None`), as one edit of the talk.
async fn set_slot(
    ctx: &Context<'_>,
    talk: &ID,
    slot: Slot,
    asset: Option<&ID>,
    expected_version: Option<i32>,
) -> async_graphql::Result<Talk> {
    let actor = editor(ctx)?;
    let db = ctx.data::<DatabaseConnection>()?;
    let talk = parse_id("talkId", talk)?;
    let url = match asset {
        Some(asset) => {
            let asset = parse_id("assetId", asset)?;
            Some(
                assets::slot_url(db, slot, asset, "assetId")
                    .await
                    .map_err(|e| to_graphql(&e))?,
            )
        }
        None => None,
    };
    let patch = slot.patch(url);
    let record = match expected_version {
        Some(version) => editing::update_talk(db, talk, patch, version, &actor).await,
        None => {
            let record = service::talks::find_by_id(db, talk)
                .await
                .map_err(|e| to_graphql(&e))?
                .ok_or_else(|| to_graphql(&ServiceError::NotFound))?;
            let version = record.talk.version;
            editing::update_talk_from(db, record, patch, version, &actor).await
        }
    };
    record.map(Talk::from).map_err(|e| to_graphql(&e))
}

#[Object]
impl AssetMutation {
    /// Stores a file sent as the GraphQL multipart request spec says (editor): JPEG, PNG,
    /// WebP, GIF or PDF, known by its bytes. The same bytes sent again give the asset stored
    /// before. Refusals are `BAD_USER_INPUT` (or `LIMIT_EXCEEDED` for the size) and say why.
    async fn upload_asset(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        alt: Option<String>,
        focal_point: Option<FocalPointInput>,
    ) -> async_graphql::Result<Asset> {
        let actor = editor(ctx)?;
        let store = store(ctx)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let value = file.value(ctx)?;
        let filename = value.filename.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            value.into_read().read_to_end(&mut bytes).map(|_| bytes)
        })
        .await
        .map_err(|e| coded(&format!("the upload could not be read: {e}"), "INTERNAL"))?
        .map_err(|e| {
            coded(
                &format!("the upload could not be read: {e}"),
                "BAD_USER_INPUT",
            )
        })?;
        let upload = assets::Upload {
            filename,
            bytes: bytes.into(),
            alt,
            focal: focal_point.map(|f| (f.x, f.y)),
        };
        let stored = store
            .store(db, upload, &actor)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(Asset(stored.asset().clone()))
    }

    /// Changes an asset's alt text or focal point (editor); an argument left out stays as it
    /// is, `null` clears it.
    async fn describe_asset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        alt: MaybeUndefined<String>,
        focal_point: MaybeUndefined<FocalPointInput>,
    ) -> async_graphql::Result<Asset> {
        let actor = editor(ctx)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id("id", &id)?;
        let alt = match alt {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(alt) => Some(Some(alt)),
        };
        let focal = match focal_point {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(f) => Some(Some((f.x, f.y))),
        };
        assets::describe(db, id, alt, focal, &actor)
            .await
            .map(Asset)
            .map_err(|e| to_graphql(&e))
    }

    /// Shows a stored image as the talk's image (editor). Without `expectedVersion`, the
    /// current version; with it, `CONFLICT` unless it is the stored one.
    async fn attach_image(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        asset_id: ID,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Talk> {
        set_slot(
            ctx,
            &talk_id,
            Slot::Image,
            Some(&asset_id),
            expected_version,
        )
        .await
    }

    /// The talk shows no image (editor); the asset stays stored.
    async fn detach_image(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Talk> {
        set_slot(ctx, &talk_id, Slot::Image, None, expected_version).await
    }

    /// Shows a stored PDF as the talk's slides (editor).
    async fn attach_slides(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        asset_id: ID,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Talk> {
        set_slot(
            ctx,
            &talk_id,
            Slot::Slides,
            Some(&asset_id),
            expected_version,
        )
        .await
    }

    /// The talk has no slides (editor); the asset stays stored.
    async fn detach_slides(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Talk> {
        set_slot(ctx, &talk_id, Slot::Slides, None, expected_version).await
    }
}
