//! Assets over HTTP: uploads and descriptions under `/api/v1/assets`, a talk's image and
//! slides under `/api/v1/talks/{slug}/image|slides`, and the files themselves at
//! `/assets/{id}` and `/assets/{id}/{filename}` (with transforms as query parameters).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, Range};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use entity::asset;
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use service::assets::{self, AssetError, Assets, MediaType, Slot, TransformQuery, Upload};
use service::editing;
use service::{FieldError, ServiceError};
use uuid::Uuid;

use super::http::{about_talk, json_body, optional_version, viewer};
use super::problem::Problem;
use super::talks::{editable, written};
use super::{Auth, Base, Db};
use crate::cache::{CachedResponse, Lookup, Responses};
use service::accounts::Role;

pub type Store = web::Data<Assets>;

#[derive(Debug, Serialize)]
pub struct FocalPoint {
    pub x: f64,
    pub y: f64,
}

/// An asset as the API shows it.
#[derive(Debug, Serialize)]
pub struct AssetView {
    pub id: Uuid,
    pub url: String,
    pub media_type: String,
    pub filename: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub pages: Option<i32>,
    /// A PDF's first page, as an image.
    pub thumbnail_url: Option<String>,
    pub alt: Option<String>,
    pub focal_point: Option<FocalPoint>,
    pub uploaded_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<asset::Model> for AssetView {
    fn from(asset: asset::Model) -> Self {
        let url = assets::url_of(&asset);
        let thumbnail_url =
            (asset.media_type == MediaType::Pdf.as_str()).then(|| format!("{url}?format=png"));
        Self {
            id: asset.id,
            url,
            media_type: asset.media_type,
            filename: asset.filename,
            size: asset.size,
            sha256: asset.hash,
            width: asset.width,
            height: asset.height,
            pages: asset.pages,
            thumbnail_url,
            alt: asset.alt,
            focal_point: asset
                .focal_x
                .zip(asset.focal_y)
                .map(|(x, y)| FocalPoint { x, y }),
            uploaded_by: asset.uploaded_by,
            created_at: asset.created_at,
        }
    }
}

/// The multipart fields an upload may have.
const FIELDS: [&str; 4] = ["file", "alt", "focal_x", "focal_y"];

/// Room for the other fields and the multipart framing, beyond the file's own limit.
const FRAMING: u64 = 64 * 1024;

/// Reads an upload from a `multipart/form-data` body: the file (`file`), and optionally `alt`,
/// `focal_x` and `focal_y`. The file is refused as soon as its first bytes say it is of no
/// accepted type, and as soon as it grows past the limit: it is never read whole first.
pub async fn read_upload(
    request: &HttpRequest,
    payload: web::Payload,
    max_bytes: u64,
) -> Result<Upload, Problem> {
    let mut parts = read_parts(request, payload, max_bytes, &FIELDS).await?;
    let (filename, bytes) = parts
        .file
        .take()
        .ok_or_else(|| invalid("file", "the upload has no `file` field".into()))?;
    Ok(Upload {
        filename,
        bytes,
        focal: parts.focal()?,
        alt: parts.fields.remove("alt"),
    })
}

fn invalid(path: &str, message: String) -> Problem {
    Problem::from(ServiceError::Invalid(vec![FieldError::new(path, message)]))
}

/// The parts of a `multipart/form-data` body: the file, if one was sent, and the text of
/// every other field.
#[derive(Debug, Default)]
pub struct Parts {
    /// Its name and bytes.
    pub file: Option<(String, Bytes)>,
    pub fields: std::collections::HashMap<String, String>,
}

impl Parts {
    /// The focal point from `focal_x` and `focal_y` (both or neither; empty is neither).
    pub fn focal(&self) -> Result<Option<(f64, f64)>, Problem> {
        let number = |path: &str| -> Result<Option<f64>, Problem> {
            self.fields
                .get(path)
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse::<f64>()
                        .map_err(|_| invalid(path, format!("`{t}` is not a number")))
                })
                .transpose()
        };
        match (number("focal_x")?, number("focal_y")?) {
            (Some(x), Some(y)) => Ok(Some((x, y))),
            (None, None) => Ok(None),
            _ => Err(invalid(
                "focal_x",
                "focal_x and focal_y are given together".into(),
            )),
        }
    }
}

/// Reads a `multipart/form-data` body with the fields `allowed` (a file in `file`), refusing
/// the file as soon as its first bytes say it is of no accepted type or it grows past
/// `max_bytes`, and any other field beyond 4 KiB.
pub async fn read_parts(
    request: &HttpRequest,
    payload: web::Payload,
    max_bytes: u64,
    allowed: &[&'static str],
) -> Result<Parts, Problem> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        AssetError::Unsupported("the body must be multipart/form-data with a boundary".into())
    })?;
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_bytes + FRAMING) {
        return Err(AssetError::TooLarge { limit: max_bytes }.into());
    }
    let constraints = multer::Constraints::new()
        .allowed_fields(allowed.to_vec())
        .size_limit(
            multer::SizeLimit::new()
                .whole_stream(max_bytes + FRAMING)
                .per_field(4096)
                .for_field("file", max_bytes),
        );
    // The request body is read on this worker's thread; multer wants a `Send` stream, so a
    // small channel carries the chunks (and stops the reading when the upload is refused).
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let mut payload = payload;
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            if sender.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut parts = Parts::default();
    let error = |e| multipart_error(e, max_bytes, allowed);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(error(e)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let filename = field.file_name().unwrap_or("file").to_owned();
            let mut bytes = BytesMut::new();
            let mut field = field;
            loop {
                let chunk = match field.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(e) => return Err(error(e)),
                };
                let before = bytes.len();
                bytes.extend_from_slice(&chunk);
                // Refused as soon as the type is known, before the rest is read.
                if before < assets::inspect::SNIFF_LEN && bytes.len() >= assets::inspect::SNIFF_LEN
                {
                    let media = assets::inspect::sniff(&bytes[..assets::inspect::SNIFF_LEN])?;
                    assets::inspect::check_name(&filename, media)?;
                }
            }
            parts.file = Some((filename, bytes.freeze()));
        } else {
            let text = field.text().await.map_err(error)?;
            parts.fields.insert(name, text);
        }
    }
    Ok(parts)
}

fn multipart_error(error: multer::Error, max_bytes: u64, allowed: &[&str]) -> Problem {
    match error {
        multer::Error::FieldSizeExceeded { field_name, .. }
            if field_name.as_deref() == Some("file") =>
        {
            ServiceError::from(AssetError::TooLarge { limit: max_bytes }).into()
        }
        multer::Error::StreamSizeExceeded { .. } => {
            ServiceError::from(AssetError::TooLarge { limit: max_bytes }).into()
        }
        multer::Error::UnknownField { field_name } => ServiceError::Invalid(vec![FieldError::new(
            field_name.unwrap_or_default(),
            format!(
                "is not a field of this form; the fields are {}",
                allowed.join(", ")
            ),
        )])
        .into(),
        other => Problem::bad_request(format!("the multipart body cannot be read: {other}")),
    }
}

/// `POST /assets`: stores a file (editor). 201 with the new asset; 200 with the stored one
/// when the same bytes were uploaded before.
pub async fn upload(
    db: Db,
    authority: Auth,
    store: Store,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    viewer.require(Role::Editor)?;
    let upload = read_upload(&request, payload, store.settings.max_bytes).await?;
    let stored = store.store(&db, upload, &viewer.actor()).await?;
    let status = match stored {
        assets::Stored::Created(_) => StatusCode::CREATED,
        assets::Stored::Existing(_) => StatusCode::OK,
    };
    let view = AssetView::from(stored.asset().clone());
    Ok(HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/api/v1/assets/{}", view.id)))
        .json(view))
}

fn asset_id(text: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(text).map_err(|_| Problem::not_found())
}

/// `GET /assets/{id}` under the API: what is stored (staff; readers for a published talk's
/// asset).
pub async fn show(
    db: Db,
    authority: Auth,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    let id = asset_id(&id)?;
    if !assets::readable(db.get_ref(), id, viewer.audience()).await? {
        return Err(Problem::not_found());
    }
    let asset = assets::find(db.get_ref(), id)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(HttpResponse::Ok().json(AssetView::from(asset)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocalBody {
    x: f64,
    y: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescribeBody {
    #[serde(default, deserialize_with = "super::talks::double")]
    alt: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::talks::double")]
    focal_point: Option<Option<FocalBody>>,
}

/// `PATCH /assets/{id}`: its alt text and focal point (editor).
pub async fn describe(
    db: Db,
    authority: Auth,
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    viewer.require(Role::Editor)?;
    let id = asset_id(&id)?;
    let body: DescribeBody = json_body(&request, payload, true).await?;
    let focal = body.focal_point.map(|focal| focal.map(|f| (f.x, f.y)));
    let asset = assets::describe(&db, id, body.alt, focal, &viewer.actor()).await?;
    Ok(HttpResponse::Ok().json(AssetView::from(asset)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
    asset_id: Uuid,
}

pub async fn attach_image(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    attach(db, authority, base, request, &slug, Slot::Image, payload).await
}

pub async fn attach_slides(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    attach(db, authority, base, request, &slug, Slot::Slides, payload).await
}

pub async fn detach_image(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    detach(db, authority, base, request, &slug, Slot::Image).await
}

pub async fn detach_slides(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    detach(db, authority, base, request, &slug, Slot::Slides).await
}

/// `PUT /talks/{slug}/image|slides`: shows an asset there (editor; `If-Match` optional).
async fn attach(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: &str,
    slot: Slot,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let (actor, record) = editable(&db, &authority, &request, slug).await?;
    let version = optional_version(&request, record.talk.id, record.talk.version)?
        .unwrap_or(record.talk.version);
    let body: AttachBody = json_body(&request, payload, false).await?;
    let url = assets::slot_url(db.get_ref(), slot, body.asset_id, "asset_id").await?;
    let patch = slot.patch(Some(url));
    let talk = record.talk.id;
    let record = editing::update_talk_from(&db, record, patch, version, &actor)
        .await
        .map_err(about_talk(talk))?;
    written(StatusCode::OK, &record, &base)
}

/// `DELETE /talks/{slug}/image|slides`: the talk shows no image or slides any more; the
/// asset stays stored (editor; `If-Match` optional).
async fn detach(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: &str,
    slot: Slot,
) -> Result<HttpResponse, Problem> {
    let (actor, record) = editable(&db, &authority, &request, slug).await?;
    let version = optional_version(&request, record.talk.id, record.talk.version)?
        .unwrap_or(record.talk.version);
    let patch = slot.patch(None);
    let talk = record.talk.id;
    let record = editing::update_talk_from(&db, record, patch, version, &actor)
        .await
        .map_err(about_talk(talk))?;
    written(StatusCode::OK, &record, &base)
}

/// How long a response whose bytes can change under the same URL is kept: a crop around the
/// focal point, which an editor may move.
const COVER_MAX_AGE: &str = "public, max-age=3600";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /assets/{id}` and `GET /assets/{id}/{filename}`: the file, or a transform of it.
pub async fn serve(
    db: Db,
    authority: Auth,
    store: Store,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let cache = request
        .app_data::<web::Data<Responses>>()
        .cloned()
        .filter(|responses| responses.0.is_some() && kept_in_cache(&request, &store));
    let Some(responses) = cache else {
        let viewer = viewer(&authority, &request).await?;
        return serve_to(&db, &store, &request, viewer.audience().sees_drafts()).await;
    };
    let Some(cache) = &responses.0 else {
        return serve_to(&db, &store, &request, false).await;
    };
    // As the API's anonymous reads (`super::cached`): read before the response is computed,
    // served while the talk that shows the asset stays as it was.
    let key = Bytes::from(format!("A{}?{}", request.path(), request.query_string()));
    let position = cache.position().await.ok();
    let mut _computing = None;
    if let Some(now) = position {
        match cache.lookup(&key, now).await {
            Lookup::Hit(hit) => return Ok(hit.replay()),
            Lookup::Compute(computing) => _computing = computing,
        }
    }
    let (response, reads) = service::reads::recording(serve_to(&db, &store, &request, false)).await;
    let response = response?;
    let small = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|length| length <= MAX_CACHED_BYTES);
    let Some(position) = position.filter(|_| response.status() == StatusCode::OK && small) else {
        return Ok(response);
    };
    let (head, body) = response.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| Problem::from(ServiceError::from(AssetError::Storage(e.to_string()))))?;
    let kept = CachedResponse {
        status: head.status(),
        headers: head
            .headers()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        body,
    };
    cache.insert(key, position, reads, kept.clone());
    Ok(kept.replay())
}

/// The largest file or variant kept in the response cache.
const MAX_CACHED_BYTES: u64 = 512 * 1024;

/// Whether a request for an asset may be answered from the response cache: an anonymous whole
/// `GET`, of the original or of a transform that is not a crop around the focal point (an
/// editor may move the point; those answers are cached an hour by HTTP caches instead).
fn kept_in_cache(request: &HttpRequest, store: &Assets) -> bool {
    let headers = request.headers();
    if request.method() != actix_web::http::Method::GET
        || [
            header::AUTHORIZATION,
            header::RANGE,
            header::IF_RANGE,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
        ]
        .iter()
        .any(|name| headers.contains_key(name))
    {
        return false;
    }
    let Ok(Strict(query)) = serde_urlencoded::from_str::<Strict>(request.query_string()) else {
        return false;
    };
    match store.settings.rules.check(&query) {
        Ok(None) => true,
        Ok(Some(t)) => {
            !(t.fit == service::assets::transform::Fit::Cover
                && t.width.is_some()
                && t.height.is_some())
        }
        Err(_) => false,
    }
}

/// The file (or a transform of it) that `request` asks for, to a caller who may see drafts'
/// assets or not: the API's [`serve`], and the Studio's previews for signed-in editors.
pub async fn serve_to(
    db: &service::sea_orm::DatabaseConnection,
    store: &Assets,
    request: &HttpRequest,
    sees_drafts: bool,
) -> Result<HttpResponse, Problem> {
    let id = asset_id(request.match_info().get("id").unwrap_or_default())?;
    let query: TransformQuery = serde_urlencoded::from_str::<Strict>(request.query_string())
        .map_err(|e| Problem::bad_request(format!("a query parameter is wrong: {e}")))?
        .0;
    // What readers see is what a published talk shows; anything else is not there for them.
    let public = assets::readable(db, id, service::visibility::Audience::Public).await?;
    if !public && !sees_drafts {
        return Err(Problem::not_found());
    }
    let asset = assets::find(db, id).await?.ok_or_else(Problem::not_found)?;
    let transform = store
        .settings
        .rules
        .check(&query)
        .map_err(ServiceError::from)?;
    // A PDF's transforms are of its first page; `?format=png` alone is that page.
    let stream = store.stream(db, &asset, transform).await?;
    let etag = format!("\"{}\"", stream.hash);
    let cache_control = if !public {
        "private, no-cache"
    } else if transform.is_some_and(|t| {
        t.fit == service::assets::transform::Fit::Cover && t.width.is_some() && t.height.is_some()
    }) {
        COVER_MAX_AGE
    } else {
        IMMUTABLE
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, stream.media_type.clone()))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    if stream.media_type == MediaType::Pdf.as_str() {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}\"", asset.filename),
        ));
    }
    if !public {
        response.insert_header((header::VARY, "Authorization"));
    }
    if matches_etag(request, header::IF_NONE_MATCH, &etag) {
        return Ok(response.status(StatusCode::NOT_MODIFIED).finish());
    }
    let size = stream.size;
    if let Some(range) = wanted_range(request, &etag, size)? {
        let bytes = store
            .blobs
            .range(&stream.hash, range.clone())
            .await
            .map_err(ServiceError::from)?;
        return Ok(response
            .status(StatusCode::PARTIAL_CONTENT)
            .insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", range.start, range.end - 1),
            ))
            .body(bytes));
    }
    if request.method() == actix_web::http::Method::HEAD {
        // The length of what a GET would send; actix writes no body for a HEAD.
        let nothing = futures_util::stream::empty::<Result<bytes::Bytes, actix_web::Error>>();
        return Ok(response.no_chunking(size).streaming(nothing));
    }
    let body = store
        .blobs
        .stream(&stream.hash)
        .await
        .map_err(ServiceError::from)?
        .map_err(|e| actix_web::error::ErrorServiceUnavailable(e.to_string()));
    Ok(response.no_chunking(size).streaming(body))
}

/// Only the transform's parameters; any other is named in a 400.
#[derive(Deserialize)]
#[serde(transparent)]
struct Strict(#[serde(with = "strict")] TransformQuery);

mod strict {
    use serde::{Deserialize, Deserializer};
    use service::assets::TransformQuery;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        width: Option<String>,
        height: Option<String>,
        fit: Option<String>,
        format: Option<String>,
        quality: Option<String>,
        preset: Option<String>,
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TransformQuery, D::Error> {
        let f = Fields::deserialize(d)?;
        Ok(TransformQuery {
            width: f.width,
            height: f.height,
            fit: f.fit,
            format: f.format,
            quality: f.quality,
            preset: f.preset,
        })
    }
}

fn matches_etag(request: &HttpRequest, name: header::HeaderName, etag: &str) -> bool {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
}

/// The one range a request asks for, if it asks for one that applies: `None` for the whole
/// file (no `Range`, several ranges, or an `If-Range` of another version); 416 when it lies
/// beyond the end.
fn wanted_range(
    request: &HttpRequest,
    etag: &str,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, Problem> {
    let Some(value) = request.headers().get(header::RANGE) else {
        return Ok(None);
    };
    if let Some(if_range) = request.headers().get(header::IF_RANGE)
        && if_range.as_bytes() != etag.as_bytes()
    {
        return Ok(None);
    }
    let Ok(Range::Bytes(specs)) = value.to_str().unwrap_or_default().parse::<Range>() else {
        return Ok(None);
    };
    let [spec] = specs.as_slice() else {
        return Ok(None);
    };
    let unsatisfiable = || {
        Problem::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the range is beyond the file's {size} bytes"),
        )
        .header(header::CONTENT_RANGE, format!("bytes */{size}"))
    };
    let (start, end) = spec.to_satisfiable_range(size).ok_or_else(unsatisfiable)?;
    Ok(Some(start..end + 1))
}
