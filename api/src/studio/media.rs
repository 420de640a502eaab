//! A talk's cover image and slides in the Studio: uploaded, previewed (a PDF by its first
//! page), described (alt text, a focal point picked on the image) and replaced or removed from
//! the talk's edit page. Every change goes through the same service calls as the API: an
//! upload is an `asset.created` event, attaching and removing are talk updates that check the
//! version the page showed.

use actix_web::{HttpRequest, HttpResponse, web};
use entity::asset;
use service::ServiceError;
use service::accounts::Role;
use service::assets::{self, MediaType, Slot, Upload};
use service::editing;
use service::sea_orm::DatabaseConnection;
use service::talks::TalkRecord;
use uuid::Uuid;

type Db = web::Data<DatabaseConnection>;

use super::error::StudioError;
use super::see_other;
use super::session::Signed;
use super::talks::{changed_since, find, small_form, talk_id};
use crate::rest::assets::{Store, read_parts, serve_to};
use crate::rest::problem::Problem;

/// The fields of the image and slides forms.
const FIELDS: [&str; 6] = ["csrf", "version", "file", "alt", "focal_x", "focal_y"];

/// What the edit page shows of a talk's image and slides.
#[derive(Debug, Clone, Default)]
pub struct Media {
    pub image: Option<ImageView>,
    /// The talk's `image` when it names a file that Lectern does not store.
    pub image_path: Option<String>,
    pub slides: Option<SlidesView>,
    pub pdf_path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ImageView {
    /// The Studio's preview of it (a draft's assets are served to signed-in staff only).
    pub preview: String,
    pub url: String,
    pub filename: String,
    pub width: i32,
    pub height: i32,
    pub alt: String,
    /// As text for the form's fields (empty when none is set).
    pub focal_x: String,
    pub focal_y: String,
}

#[derive(Debug, Clone)]
pub struct SlidesView {
    pub url: String,
    pub thumbnail: String,
    pub filename: String,
    pub pages: i32,
    pub size: String,
}

impl Media {
    /// The image and slides of `record`, from its links.
    pub async fn of(db: &DatabaseConnection, record: &TalkRecord) -> Result<Self, StudioError> {
        let talk = &record.talk;
        let ids: Vec<Uuid> = [talk.image_asset_id, talk.slides_asset_id]
            .into_iter()
            .flatten()
            .collect();
        let found = assets::find_many(db, &ids).await?;
        let image = talk
            .image_asset_id
            .and_then(|id| found.get(&id))
            .map(image_view);
        let slides = talk
            .slides_asset_id
            .and_then(|id| found.get(&id))
            .map(slides_view);
        Ok(Self {
            image_path: talk.image.clone().filter(|_| image.is_none()),
            pdf_path: talk.pdf.clone().filter(|_| slides.is_none()),
            image,
            slides,
        })
    }
}

fn studio_url(asset: &asset::Model) -> String {
    format!("/studio/assets/{}/{}", asset.id, asset.filename)
}

fn image_view(asset: &asset::Model) -> ImageView {
    ImageView {
        preview: format!("{}?width=640", studio_url(asset)),
        url: studio_url(asset),
        filename: asset.filename.clone(),
        width: asset.width.unwrap_or_default(),
        height: asset.height.unwrap_or_default(),
        alt: asset.alt.clone().unwrap_or_default(),
        focal_x: asset.focal_x.map(|x| format!("{x:.3}")).unwrap_or_default(),
        focal_y: asset.focal_y.map(|y| format!("{y:.3}")).unwrap_or_default(),
    }
}

fn slides_view(asset: &asset::Model) -> SlidesView {
    SlidesView {
        url: studio_url(asset),
        thumbnail: format!("{}?width=320&format=png", studio_url(asset)),
        filename: asset.filename.clone(),
        pages: asset.pages.unwrap_or_default(),
        size: human_size(asset.size),
    }
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// `GET /studio/assets/{id}[/{filename}]`: an asset for a signed-in account, drafts' included
/// (the API serves those only with a token).
pub async fn serve(
    signed: Signed,
    db: Db,
    store: Store,
    request: HttpRequest,
) -> Result<HttpResponse, StudioError> {
    signed.require(Role::Viewer)?;
    Ok(serve_to(&db, &store, &request, true).await?)
}

/// `POST /studio/talks/{id}/image`: uploads a new cover image (when a file is chosen) and
/// sets its alt text and focal point, or describes the one shown.
pub async fn save_image(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    store: Store,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    save(request, signed, db, store, id, payload, Slot::Image).await
}

/// `POST /studio/talks/{id}/slides`: uploads new slides (a PDF).
pub async fn save_slides(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    store: Store,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    save(request, signed, db, store, id, payload, Slot::Slides).await
}

fn invalid(path: &str, message: &str) -> StudioError {
    Problem::invalid(path, message).into()
}

async fn save(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    store: Store,
    id: web::Path<String>,
    payload: web::Payload,
    slot: Slot,
) -> Result<HttpResponse, StudioError> {
    let id = talk_id(&id)?;
    let parts = read_parts(&request, payload, store.settings.max_bytes, &FIELDS).await?;
    signed.check_csrf(&request, parts.fields.get("csrf").map(String::as_str))?;
    signed.require(Role::Editor)?;
    let version = version_of(parts.fields.get("version").map(String::as_str))?;
    let record = find(&db, id).await?;
    if record.talk.version != version {
        return Err(changed_since(
            record.talk.version,
            "reload it and upload again",
        ));
    }
    let actor = signed.viewer().actor();
    let focal = parts.focal()?;
    let alt = parts.fields.get("alt").cloned();
    // A form sent without a chosen file has an empty `file` part.
    let file = parts.file.clone().filter(|(_, bytes)| !bytes.is_empty());
    let (asset, done) = match file {
        Some((filename, bytes)) => {
            let head = &bytes[..bytes.len().min(assets::inspect::SNIFF_LEN)];
            let media = assets::inspect::sniff(head).map_err(ServiceError::from)?;
            match slot {
                Slot::Slides if media != MediaType::Pdf => {
                    return Err(invalid("file", "the slides must be a PDF"));
                }
                Slot::Image if media == MediaType::Pdf => {
                    return Err(invalid(
                        "file",
                        "the cover image must be an image (JPEG, PNG, WebP or GIF); upload a PDF as the slides",
                    ));
                }
                _ => {}
            }
            let stored = store
                .store(
                    &db,
                    Upload {
                        filename,
                        bytes,
                        alt: alt.clone(),
                        focal,
                    },
                    &actor,
                )
                .await?;
            let asset = stored.asset().clone();
            let url = assets::slot_url(db.get_ref(), slot, asset.id, "file").await?;
            let patch = slot.patch(Some(url));
            match editing::update_talk_from(&db, record, patch, version, &actor).await {
                Ok(_) => {}
                Err(ServiceError::Conflict { current_version }) => {
                    return Err(changed_since(current_version, "reload it and upload again"));
                }
                Err(other) => return Err(other.into()),
            }
            (asset, slot_done(slot))
        }
        None => {
            let shown = match slot {
                Slot::Image => record.talk.image_asset_id,
                Slot::Slides => record.talk.slides_asset_id,
            };
            let Some(shown) = shown else {
                return Err(invalid("file", "choose a file to upload"));
            };
            let asset = assets::find(db.get_ref(), shown)
                .await?
                .ok_or_else(|| invalid("file", "choose a file to upload"))?;
            (asset, "described")
        }
    };
    // The alt text and focal point the form shows apply to the asset now shown.
    let alt = alt.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
    let current_focal = asset.focal_x.zip(asset.focal_y);
    if slot == Slot::Image && (alt != asset.alt || focal != current_focal) {
        assets::describe(&db, asset.id, Some(alt), Some(focal), &actor).await?;
    }
    Ok(see_other(&format!("/studio/talks/{id}?done={done}#media")))
}

fn slot_done(slot: Slot) -> &'static str {
    match slot {
        Slot::Image => "image",
        Slot::Slides => "slides",
    }
}

fn version_of(text: Option<&str>) -> Result<i32, StudioError> {
    text.and_then(|v| v.trim().parse::<i32>().ok())
        .ok_or_else(|| invalid("version", "must be the version the page showed"))
}

/// `POST /studio/talks/{id}/image/remove`: the talk shows no cover image (the asset stays).
pub async fn remove_image(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    remove(request, signed, db, id, payload, Slot::Image).await
}

/// `POST /studio/talks/{id}/slides/remove`: the talk shows no slides (the asset stays).
pub async fn remove_slides(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    remove(request, signed, db, id, payload, Slot::Slides).await
}

async fn remove(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
    slot: Slot,
) -> Result<HttpResponse, StudioError> {
    let id = talk_id(&id)?;
    let version = small_form(&request, &signed, payload)
        .await?
        .ok_or_else(|| invalid("version", "must be the version the page showed"))?;
    let record = find(&db, id).await?;
    let patch = slot.patch(None);
    match editing::update_talk_from(&db, record, patch, version, &signed.viewer().actor()).await {
        Ok(_) => Ok(see_other(&format!(
            "/studio/talks/{id}?done={}-removed#media",
            slot_done(slot)
        ))),
        Err(ServiceError::Conflict { current_version }) => {
            Err(changed_since(current_version, "reload it and try again"))
        }
        Err(other) => Err(other.into()),
    }
}

/// The notice after a change to the image or slides, from the `done` the redirect names.
pub fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "image" => "The cover image is uploaded and shown.",
        "slides" => "The slides are uploaded and shown.",
        "described" => "The image's alt text and focal point are saved.",
        "image-removed" => "The talk shows no cover image now (the file stays stored).",
        "slides-removed" => "The talk shows no slides now (the file stays stored).",
        _ => return None,
    })
}
