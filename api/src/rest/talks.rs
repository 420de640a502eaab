//! `/api/v1/talks` and what hangs off it, `/api/v1/events`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use entity::talk::Status;
use entity::{embed, resource, talk};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::accounts::Role;
use service::editing::{self, By, TalkPatch};
use service::listing::{self, Cursor, OrderField, PageRequest, TalkFilter, TalkOrder};
use service::sea_orm::DatabaseConnection;
use service::talks::{self, Markup, NewEmbed, NewResource, NewTalk, TalkRecord};
use service::visibility::{self, Audience, TalkKey};
use uuid::Uuid;

use super::http::{
    about_talk, conditional_json, integral, integral_text, json, json_body, next_link,
    optional_version, required_version, talk_etag, viewer,
};
use super::problem::Problem;
use super::view;
use crate::auth::{Authority, Viewer};
use crate::graphql::AssetBase;

type Db = web::Data<DatabaseConnection>;
type Auth = web::Data<Arc<Authority>>;
type Base = web::Data<AssetBase>;

/// A talk as written, with its new ETag.
pub(crate) fn written(
    status: StatusCode,
    record: &TalkRecord,
    base: &AssetBase,
) -> Result<HttpResponse, Problem> {
    let mut response = json(
        status,
        &view::Talk::from_record(record, base),
        talk_etag(record.talk.id, record.talk.version),
        false,
    )?;
    if status == StatusCode::CREATED
        && let Ok(location) =
            header::HeaderValue::from_str(&format!("/api/v1/talks/{}", record.talk.slug))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The talk at `slug` that this viewer may see ([`visibility`] decides), or 404.
async fn visible(
    db: &DatabaseConnection,
    viewer: &Viewer,
    slug: &str,
    markup: Markup,
) -> Result<TalkRecord, Problem> {
    visibility::talk_record(db, viewer.audience(), TalkKey::Slug(slug), markup)
        .await?
        .ok_or_else(Problem::not_found)
}

/// The viewer, who must be an editor, and the talk at `slug`.
pub(crate) async fn editable(
    db: &DatabaseConnection,
    authority: &Authority,
    request: &HttpRequest,
    slug: &str,
) -> Result<(String, TalkRecord), Problem> {
    let viewer = viewer(authority, request).await?;
    viewer.require(Role::Editor)?;
    // Its embeds' markup as written: a change of one field keeps the others as they are.
    let record = visible(db, &viewer, slug, Markup::AsWritten).await?;
    Ok((viewer.actor(), record))
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    event: Option<String>,
    location: Option<String>,
    #[serde(default, deserialize_with = "integral_text")]
    year: Option<i32>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    has_video: Option<bool>,
    sort: Option<String>,
    #[serde(default, deserialize_with = "integral_text")]
    limit: Option<u64>,
    cursor: Option<String>,
    include: Option<String>,
}

impl ListParams {
    /// 422 for a text parameter with a NUL character, which no talk holds and PostgreSQL
    /// refuses to compare.
    fn refuse_nul(&self) -> Result<(), Problem> {
        let with_nul = service::domain::nul_fields(
            "",
            [
                ("event", self.event.as_deref()),
                ("location", self.location.as_deref()),
                ("from", self.from.as_deref()),
                ("to", self.to.as_deref()),
                ("q", self.q.as_deref()),
                ("sort", self.sort.as_deref()),
                ("cursor", self.cursor.as_deref()),
                ("include", self.include.as_deref()),
            ],
        );
        match with_nul.first() {
            Some(name) => Err(Problem::invalid(name, service::domain::NUL_MESSAGE)),
            None => Ok(()),
        }
    }
}

fn date(name: &str, value: Option<&str>) -> Result<Option<NaiveDate>, Problem> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| Problem::invalid(name, "must be a date: YYYY-MM-DD"))
        })
        .transpose()
}

/// The service names the cursor `after`, as GraphQL does; here it is `cursor`.
fn cursor_errors(error: service::ServiceError) -> service::ServiceError {
    match error {
        service::ServiceError::Invalid(errors) => service::ServiceError::Invalid(
            errors
                .into_iter()
                .map(|e| match e.path.as_str() {
                    "after" => service::FieldError::new("cursor", e.message),
                    _ => e,
                })
                .collect(),
        ),
        other => other,
    }
}

/// `GET /talks`: a page of talks, `{ data, next_cursor }` with a `Link` to the next page.
pub async fn list(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    let params = params.into_inner();
    params.refuse_nul()?;
    let limit = params.limit.unwrap_or(listing::DEFAULT_PAGE_SIZE);
    if !(1..=listing::MAX_PAGE_SIZE).contains(&limit) {
        return Err(Problem::invalid(
            "limit",
            &format!("must be 1 to {}", listing::MAX_PAGE_SIZE),
        ));
    }
    let (mut with_resources, mut with_embeds) = (false, false);
    for part in params
        .include
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
    {
        match part {
            "" => {}
            "resources" => with_resources = true,
            "embeds" => with_embeds = true,
            other => {
                return Err(Problem::invalid(
                    "include",
                    &format!("{other:?} is not resources or embeds"),
                ));
            }
        }
    }
    let requested = match params.sort.as_deref() {
        None => None,
        Some(sort) => {
            let (field, descending) = match sort.strip_prefix('-') {
                Some(field) => (field, true),
                None => (sort, false),
            };
            let field = match field {
                "date" => OrderField::Date,
                "title" => OrderField::Title,
                "updated_at" => OrderField::UpdatedAt,
                _ => {
                    return Err(Problem::invalid(
                        "sort",
                        "must be date, -date, title, -title, updated_at or -updated_at",
                    ));
                }
            };
            Some(TalkOrder { field, descending })
        }
    };
    let after = match params.cursor.as_deref() {
        None => None,
        Some(text) => Some(
            Cursor::decode(text)
                .ok_or_else(|| Problem::invalid("cursor", "is not a cursor of this list"))?,
        ),
    };
    let filter = TalkFilter {
        event: params.event.clone(),
        location: params.location.clone(),
        year: params.year,
        from: date("from", params.from.as_deref())?,
        to: date("to", params.to.as_deref())?,
        has_video: params.has_video,
        search: params.q.clone(),
        status: None,
        audience: viewer.audience(),
    };
    let order = TalkOrder::chosen(requested, &filter);
    let page = listing::list(
        db.get_ref(),
        &filter,
        order,
        &PageRequest {
            first: Some(limit),
            after,
            ..Default::default()
        },
    )
    .await
    .map_err(cursor_errors)?;
    let ids: Vec<Uuid> = page.talks.iter().map(|t| t.id).collect();
    let resources: HashMap<Uuid, Vec<resource::Model>> = if with_resources {
        talks::resources_of(db.get_ref(), &ids).await?
    } else {
        HashMap::new()
    };
    let embeds: HashMap<Uuid, Vec<embed::Model>> = if with_embeds {
        talks::embeds_of(db.get_ref(), &ids).await?
    } else {
        HashMap::new()
    };
    let next_cursor = page
        .has_next_page
        .then(|| listing::cursors(order, &page).last().map(Cursor::encode))
        .flatten();
    let body = view::TalkList {
        data: page
            .talks
            .iter()
            .map(|t| {
                view::Talk::new(
                    t,
                    with_resources.then(|| resources.get(&t.id).map_or(&[][..], Vec::as_slice)),
                    with_embeds.then(|| embeds.get(&t.id).map_or(&[][..], Vec::as_slice)),
                    &base,
                )
            })
            .collect(),
        next_cursor,
    };
    let public = matches!(viewer, Viewer::Anonymous);
    let mut response = conditional_json(&request, StatusCode::OK, &body, None, public)?;
    if let Some(cursor) = &body.next_cursor
        && let Ok(link) =
            header::HeaderValue::from_str(&next_link(&request, "/api/v1/talks", "cursor", cursor))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `GET /talks/{slug}`: one talk with its resources and embeds.
pub async fn show(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    let record = visible(&db, &viewer, &slug, Markup::Left).await?;
    read_of(
        &request,
        &viewer,
        &record.talk,
        &view::Talk::from_record(&record, &base),
    )
}

/// A read of a talk or of one of its items: the talk's ETag (`If-None-Match` gives 304), and
/// public caching for anonymous readers of a published talk.
fn read_of(
    request: &HttpRequest,
    viewer: &Viewer,
    talk: &talk::Model,
    body: &impl Serialize,
) -> Result<HttpResponse, Problem> {
    // Cached by anyone only what anyone may see.
    let public = viewer.audience() == Audience::Public && Audience::Public.sees(talk);
    conditional_json(
        request,
        StatusCode::OK,
        body,
        Some(talk_etag(talk.id, talk.version)),
        public,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    title: String,
    url: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedBody {
    kind: String,
    html: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    slug: String,
    title: String,
    date: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    pdf: Option<String>,
    #[serde(default)]
    notist_id: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    extra: serde_json::Map<String, Value>,
    #[serde(default)]
    resources: Vec<ResourceBody>,
    #[serde(default)]
    embeds: Vec<EmbedBody>,
}

impl From<ResourceBody> for NewResource {
    fn from(r: ResourceBody) -> Self {
        Self {
            title: r.title,
            url: r.url,
            description: r.description,
        }
    }
}

impl From<EmbedBody> for NewEmbed {
    fn from(e: EmbedBody) -> Self {
        Self {
            kind: e.kind,
            html: e.html,
        }
    }
}

/// `POST /talks`: a new draft (editor).
pub async fn create(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    viewer.require(Role::Editor)?;
    let input: CreateBody = json_body(&request, payload, false).await?;
    let new = NewTalk {
        slug: input.slug,
        title: input.title,
        date: input.date,
        event: input.event,
        location: input.location,
        image: input.image,
        pdf: input.pdf,
        notist_id: input.notist_id,
        body: input.body,
        extra: input.extra,
        resources: input.resources.into_iter().map(Into::into).collect(),
        embeds: input.embeds.into_iter().map(Into::into).collect(),
    };
    let record = editing::create_talk(&db, new, &viewer.actor()).await?;
    written(StatusCode::CREATED, &record, &base)
}

/// Absent stays (None), `null` clears (Some(None)).
pub(crate) fn double<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "double")]
    slug: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    date: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    event: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    location: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    image: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    pdf: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    notist_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    body: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    extra: Option<Option<serde_json::Map<String, Value>>>,
}

/// A merge-patch member of a field that cannot be cleared: absent stays (None), `null` is an
/// error at `name`.
fn uncleared(
    errors: &mut Vec<service::FieldError>,
    name: &str,
    value: Option<Option<String>>,
) -> Option<String> {
    if matches!(value, Some(None)) {
        errors.push(service::FieldError::new(name, "cannot be cleared"));
    }
    value.flatten()
}

/// Fails with every field error found, if any.
fn valid(errors: Vec<service::FieldError>) -> Result<(), Problem> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(service::ServiceError::Invalid(errors).into())
    }
}

impl PatchBody {
    fn into_patch(self) -> Result<TalkPatch, Problem> {
        Ok(TalkPatch::merge(
            self.slug,
            self.title,
            self.date,
            self.body,
            self.event,
            self.location,
            self.image,
            self.pdf,
            self.notist_id,
            self.extra,
        )?)
    }
}

/// `PATCH /talks/{slug}`: a JSON merge patch (editor; `If-Match` required).
pub async fn patch(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let (actor, record) = editable(&db, &authority, &request, &slug).await?;
    let version = required_version(&request, record.talk.id, record.talk.version)?;
    let body: PatchBody = json_body(&request, payload, true).await?;
    let patch = body.into_patch()?;
    let talk = record.talk.id;
    let record = editing::update_talk_from(&db, record, patch, version, &actor)
        .await
        .map_err(about_talk(talk))?;
    written(StatusCode::OK, &record, &base)
}

/// `DELETE /talks/{slug}` (editor; `If-Match` required).
pub async fn delete(
    db: Db,
    authority: Auth,
    request: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let (actor, record) = editable(&db, &authority, &request, &slug).await?;
    let version = required_version(&request, record.talk.id, record.talk.version)?;
    editing::delete_talk(&db, record.talk.id, version, &actor)
        .await
        .map_err(about_talk(record.talk.id))?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_status(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: &str,
    status: Status,
) -> Result<HttpResponse, Problem> {
    let (actor, record) = editable(&db, &authority, &request, slug).await?;
    let if_version = optional_version(&request, record.talk.id, record.talk.version)?;
    let by = By {
        actor: &actor,
        if_version,
    };
    let record = editing::set_status(&db, record.talk.id, status, by)
        .await
        .map_err(about_talk(record.talk.id))?;
    written(StatusCode::OK, &record, &base)
}

/// `POST /talks/{slug}/publish` (editor).
pub async fn publish(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    set_status(db, authority, base, request, &slug, Status::Published).await
}

/// `POST /talks/{slug}/unpublish` (editor).
pub async fn unpublish(
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    set_status(db, authority, base, request, &slug, Status::Draft).await
}

/// Resources or embeds: which list of a talk a request is about.
pub use service::visibility::Part;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddResourceBody {
    title: String,
    url: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "integral")]
    position: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddEmbedBody {
    kind: String,
    html: String,
    #[serde(default, deserialize_with = "integral")]
    position: Option<i32>,
}

/// `POST /talks/{slug}/resources` and `…/embeds`: adds one at `position` (the end when left
/// out); 201 with the talk, `Location` naming the new item.
pub async fn add(
    part: Part,
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let (actor, record) = editable(&db, &authority, &request, &slug).await?;
    let if_version = optional_version(&request, record.talk.id, record.talk.version)?;
    let by = By {
        actor: &actor,
        if_version,
    };
    let (record, added) = match part {
        Part::Resources => {
            let body: AddResourceBody = json_body(&request, payload, false).await?;
            let before: Vec<Uuid> = record.resources.iter().map(|r| r.id).collect();
            let resource = NewResource {
                title: body.title,
                url: body.url,
                description: body.description,
            };
            let record = editing::add_resource(&db, record.talk.id, resource, body.position, by)
                .await
                .map_err(about_talk(record.talk.id))?;
            let added = record
                .resources
                .iter()
                .map(|r| r.id)
                .find(|id| !before.contains(id));
            (record, added)
        }
        Part::Embeds => {
            let body: AddEmbedBody = json_body(&request, payload, false).await?;
            let before: Vec<Uuid> = record.embeds.iter().map(|e| e.id).collect();
            let embed = NewEmbed {
                kind: body.kind,
                html: body.html,
            };
            let record = editing::add_embed(&db, record.talk.id, embed, body.position, by)
                .await
                .map_err(about_talk(record.talk.id))?;
            let added = record
                .embeds
                .iter()
                .map(|e| e.id)
                .find(|id| !before.contains(id));
            (record, added)
        }
    };
    let mut response = written(StatusCode::CREATED, &record, &base)?;
    if let Some(id) = added {
        let noun = match part {
            Part::Resources => "resources",
            Part::Embeds => "embeds",
        };
        if let Ok(location) = header::HeaderValue::from_str(&format!(
            "/api/v1/talks/{}/{noun}/{id}",
            record.talk.slug
        )) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchResourceBody {
    #[serde(default, deserialize_with = "double")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    description: Option<Option<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEmbedBody {
    #[serde(default, deserialize_with = "double")]
    kind: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    html: Option<Option<String>>,
}

/// The id of a resource or embed. Anything else names no item: 404, or 405 when the path is
/// another route's (`PATCH …/resources/order`).
fn item_id(request: &HttpRequest, text: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(text).map_err(|_| super::route_problem(request))
}

/// `PATCH /talks/{slug}/resources/{id}` and `…/embeds/{id}`: a merge patch (`If-Match`
/// required).
pub async fn patch_item(
    part: Part,
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let (id, actor, record, version) = item_target(part, &db, &authority, &request, path).await?;
    let by = By {
        actor: &actor,
        if_version: Some(version),
    };
    let record = match part {
        Part::Resources => {
            let body: PatchResourceBody = json_body(&request, payload, true).await?;
            let mut errors = Vec::new();
            let title = uncleared(&mut errors, "title", body.title);
            let url = uncleared(&mut errors, "url", body.url);
            valid(errors)?;
            let Some(current) = record.resources.iter().find(|r| r.id == id) else {
                return Err(Problem::not_found());
            };
            let resource = NewResource {
                title: title.unwrap_or_else(|| current.title.clone()),
                url: url.unwrap_or_else(|| current.url.clone()),
                description: body
                    .description
                    .unwrap_or_else(|| current.description.clone()),
            };
            editing::update_resource(&db, id, resource, by)
                .await
                .map_err(about_talk(record.talk.id))?
        }
        Part::Embeds => {
            let body: PatchEmbedBody = json_body(&request, payload, true).await?;
            let mut errors = Vec::new();
            let kind = uncleared(&mut errors, "kind", body.kind);
            let html = uncleared(&mut errors, "html", body.html);
            valid(errors)?;
            let Some(current) = record.embeds.iter().find(|e| e.id == id) else {
                return Err(Problem::not_found());
            };
            let embed = NewEmbed {
                kind: kind.unwrap_or_else(|| current.kind.clone()),
                html: html.unwrap_or_else(|| current.html.clone()),
            };
            editing::update_embed(&db, id, embed, by)
                .await
                .map_err(about_talk(record.talk.id))?
        }
    };
    written(StatusCode::OK, &record, &base)
}

/// `GET /talks/{slug}/resources/{id}` and `…/embeds/{id}`: one item, as the talk lists it,
/// with the talk's ETag (the one `If-Match` takes to change the item). 404 unless the talk is
/// visible to the reader and holds the item.
pub async fn show_item(
    part: Part,
    db: Db,
    authority: Auth,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Problem> {
    let (slug, id) = path.into_inner();
    let id = item_id(&request, &id)?;
    let viewer = viewer(&authority, &request).await?;
    let record = visibility::item(
        db.get_ref(),
        viewer.audience(),
        TalkKey::Slug(&slug),
        part,
        id,
    )
    .await?
    .ok_or_else(Problem::not_found)?;
    let found = match part {
        Part::Resources => record
            .resources
            .iter()
            .find(|r| r.id == id)
            .map(|r| read_of(&request, &viewer, &record.talk, &view::Resource::from(r))),
        Part::Embeds => record
            .embeds
            .iter()
            .find(|e| e.id == id)
            .map(|e| read_of(&request, &viewer, &record.talk, &view::Embed::from(e))),
    };
    found.unwrap_or_else(|| Err(Problem::not_found()))
}

/// The item a child route names, checked: its id, the editor, the talk as it is, and the
/// version `If-Match` requires. 404 unless the talk holds the item.
async fn item_target(
    part: Part,
    db: &Db,
    authority: &Auth,
    request: &HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<(Uuid, String, TalkRecord, i32), Problem> {
    let (slug, id) = path.into_inner();
    let id = item_id(request, &id)?;
    let (actor, record) = editable(db, authority, request, &slug).await?;
    if !part.holds(&record, id) {
        return Err(Problem::not_found());
    }
    let version = required_version(request, record.talk.id, record.talk.version)?;
    Ok((id, actor, record, version))
}

/// `DELETE /talks/{slug}/resources/{id}` and `…/embeds/{id}` (`If-Match` required); the
/// talk as it is now.
pub async fn delete_item(
    part: Part,
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Problem> {
    let (id, actor, record, version) = item_target(part, &db, &authority, &request, path).await?;
    let by = By {
        actor: &actor,
        if_version: Some(version),
    };
    let record = match part {
        Part::Resources => editing::remove_resource(&db, id, by).await,
        Part::Embeds => editing::remove_embed(&db, id, by).await,
    }
    .map_err(about_talk(record.talk.id))?;
    written(StatusCode::OK, &record, &base)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    ids: Vec<Uuid>,
}

/// `PUT /talks/{slug}/resources/order` and `…/embeds/order`: `{ "ids": [...] }`, each once.
pub async fn reorder(
    part: Part,
    db: Db,
    authority: Auth,
    base: Base,
    request: HttpRequest,
    slug: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let (actor, record) = editable(&db, &authority, &request, &slug).await?;
    let if_version = optional_version(&request, record.talk.id, record.talk.version)?;
    let body: OrderBody = json_body(&request, payload, false).await?;
    let by = By {
        actor: &actor,
        if_version,
    };
    let talk = record.talk.id;
    let record = match part {
        Part::Resources => editing::reorder_resources(&db, talk, body.ids, by).await,
        Part::Embeds => editing::reorder_embeds(&db, talk, body.ids, by).await,
    }
    .map_err(about_talk(talk))?;
    written(StatusCode::OK, &record, &base)
}

/// `GET /events`: each event with published talks.
pub async fn events(
    db: Db,
    authority: Auth,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    let events = listing::events(db.get_ref()).await?;
    let body: Vec<view::Event> = events.iter().map(view::Event::from).collect();
    conditional_json(
        &request,
        StatusCode::OK,
        &body,
        None,
        matches!(viewer, Viewer::Anonymous),
    )
}
