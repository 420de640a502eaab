//! The talks: the list, the editor (new and existing talks), publishing and deleting.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use entity::talk::Status;
use serde::Deserialize;
use service::accounts::Role;
use service::editing::{self, By};
use service::listing::{self, Cursor, OrderField, PageRequest, TalkFilter, TalkOrder};
use service::sea_orm::DatabaseConnection;
use service::talks::{self, TalkRecord};
use service::{FieldError, ServiceError};
use uuid::Uuid;

use super::error::StudioError;
use super::form::{Difference, TalkForm};
use super::session::Signed;
use super::{Assets, from_htmx, html, see_other};
use crate::rest::problem::Problem;

type Db = web::Data<DatabaseConnection>;

/// Talks on one page of the list.
pub const PAGE_SIZE: u64 = 50;

pub(super) fn render(template: &impl Template) -> Result<String, StudioError> {
    template
        .render()
        .map_err(|e| StudioError::Internal(format!("cannot render a page: {e}")))
}

/// Who an `updated_by` names, for people: a user's email, a machine token, the importer.
pub(super) fn who(by: Option<&str>, emails: &HashMap<Uuid, String>) -> String {
    match by {
        None => "—".into(),
        Some(by) => match Uuid::parse_str(by).ok().and_then(|id| emails.get(&id)) {
            Some(email) => email.clone(),
            None if by.starts_with("token:") => "a machine token".into(),
            None => by.to_owned(),
        },
    }
}

pub(super) fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

// ------------------------------------------------------------------------------------------
// The list.

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    sort: String,
    after: Option<String>,
    before: Option<String>,
}

pub struct Row {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    /// The date as stored, and its day (the list shows the day).
    pub date: String,
    pub day: String,
    pub event: String,
    pub published: bool,
    pub version: i32,
    pub editor: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "studio/talks.html")]
struct ListPage<'a> {
    assets: &'static Assets,
    signed: &'a Signed,
    query: &'a ListQuery,
    events: Vec<String>,
    rows: Vec<Row>,
    total: u64,
    next: Option<String>,
    previous: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "studio/talks_results.html")]
struct ListResults {
    rows: Vec<Row>,
    total: u64,
    next: Option<String>,
    previous: Option<String>,
}

const SORTS: [(&str, OrderField, bool); 5] = [
    ("date-desc", OrderField::Date, true),
    ("date-asc", OrderField::Date, false),
    ("title", OrderField::Title, false),
    ("updated", OrderField::UpdatedAt, true),
    ("relevance", OrderField::Relevance, false),
];

impl ListQuery {
    fn filter(&self) -> Result<TalkFilter, StudioError> {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let status = match self.status.as_str() {
            "" => None,
            "draft" => Some(Status::Draft),
            "published" => Some(Status::Published),
            _ => return Err(Problem::invalid("status", "must be draft or published").into()),
        };
        let year = match text(&self.year) {
            None => None,
            Some(year) => Some(
                year.parse::<i32>()
                    .ok()
                    .filter(|y| (0..=9999).contains(y))
                    .ok_or_else(|| {
                        StudioError::from(Problem::invalid("year", "must be a year such as 2024"))
                    })?,
            ),
        };
        Ok(TalkFilter {
            event: text(&self.event),
            year,
            search: text(&self.q),
            status,
            audience: service::visibility::Audience::Staff,
            ..TalkFilter::default()
        })
    }

    fn order(&self, filter: &TalkFilter) -> Result<TalkOrder, StudioError> {
        if self.sort.is_empty() {
            return Ok(TalkOrder::chosen(None, filter));
        }
        let (_, field, descending) = SORTS
            .iter()
            .find(|(name, ..)| *name == self.sort)
            .ok_or_else(|| {
                StudioError::from(Problem::invalid(
                    "sort",
                    "must be date-desc, date-asc, title, updated or relevance",
                ))
            })?;
        if *field == OrderField::Relevance && filter.search.is_none() {
            return Err(Problem::invalid("sort", "relevance needs a search").into());
        }
        Ok(TalkOrder {
            field: *field,
            descending: *descending,
        })
    }

    /// This list's URL with another page.
    fn link(&self, param: &str, cursor: &str) -> String {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("q", &self.q),
            ("status", &self.status),
            ("event", &self.event),
            ("year", &self.year),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                url.append_pair(name, value);
            }
        }
        url.append_pair(param, cursor);
        format!("/studio/talks?{}", url.finish())
    }

    pub fn selected(&self, field: &str, value: &str) -> bool {
        match field {
            "status" => self.status == value,
            "sort" => self.sort == value,
            _ => false,
        }
    }
}

/// `GET /studio/talks`: the list, newest first, with search, filters, order and pages. To
/// htmx, only the results.
pub async fn list(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, StudioError> {
    let query = query.into_inner();
    let filter = query.filter()?;
    let order = query.order(&filter)?;
    let cursor = |name: &str, text: &Option<String>| match text {
        None => Ok(None),
        Some(text) => Cursor::decode(text).map(Some).ok_or_else(|| {
            StudioError::from(Problem::invalid(name, "is not a cursor of this list"))
        }),
    };
    let before = cursor("before", &query.before)?;
    let page_request = if before.is_some() {
        PageRequest {
            last: Some(PAGE_SIZE),
            before,
            ..PageRequest::default()
        }
    } else {
        PageRequest {
            first: Some(PAGE_SIZE),
            after: cursor("after", &query.after)?,
            ..PageRequest::default()
        }
    };
    let (page, total) = tokio::try_join!(
        listing::list(db.get_ref(), &filter, order, &page_request),
        listing::count(db.get_ref(), &filter),
    )?;
    let cursors = listing::cursors(order, &page);
    let next = page
        .has_next_page
        .then(|| cursors.last().map(|c| query.link("after", &c.encode())))
        .flatten();
    let previous = page
        .has_previous_page
        .then(|| cursors.first().map(|c| query.link("before", &c.encode())))
        .flatten();
    let editors = page.talks.iter().filter_map(|t| {
        t.updated_by
            .as_deref()
            .and_then(|by| Uuid::parse_str(by).ok())
    });
    let emails = service::accounts::emails_of(&db, editors).await?;
    let rows = page
        .talks
        .iter()
        .map(|t| Row {
            id: t.id,
            title: t.title.clone(),
            slug: t.slug.clone(),
            day: t.date.split('T').next().unwrap_or_default().to_owned(),
            date: t.date.clone(),
            event: t.event.clone().unwrap_or_default(),
            published: t.status == Status::Published,
            version: t.version,
            editor: who(t.updated_by.as_deref(), &emails),
            updated: when(t.updated_at),
        })
        .collect();
    if from_htmx(&request) {
        let results = ListResults {
            rows,
            total,
            next,
            previous,
        };
        return Ok(html(StatusCode::OK, render(&results)?));
    }
    let events = listing::event_names(db.get_ref()).await?;
    let notice =
        query_param(&request, "deleted").map(|slug| format!("The talk {slug} was deleted."));
    let page = ListPage {
        assets: Assets::get(),
        signed: &signed,
        query: &query,
        events,
        rows,
        total,
        next,
        previous,
        notice,
    };
    Ok(html(StatusCode::OK, render(&page)?))
}

// ------------------------------------------------------------------------------------------
// The editor.

/// The talk being edited, as stored.
pub struct Stored {
    pub id: Uuid,
    pub published: bool,
    pub version: i32,
    pub editor: String,
    pub updated: String,
    pub slug: String,
    /// Its image and slides (on the edit page).
    pub media: Option<super::media::Media>,
}

/// Another editor's change, met when saving.
pub struct Conflict {
    /// The version now stored, which "save mine over theirs" replaces.
    pub current_version: i32,
    /// The version this form was read at.
    pub read_version: i32,
    pub editor: String,
    pub updated: String,
    /// What the other editor changed: each field as read, and as it is now.
    pub theirs: Vec<Difference>,
}

#[derive(Template)]
#[template(path = "studio/edit.html")]
struct EditPage<'a> {
    assets: &'static Assets,
    signed: &'a Signed,
    stored: Option<Stored>,
    form: &'a TalkForm,
    /// The version the form was read at (None for a new talk).
    version: Option<i32>,
    errors: Vec<FieldError>,
    conflict: Option<Conflict>,
    notice: Option<String>,
    preview: String,
    /// The field to focus after a change to the rows.
    focus: Option<String>,
    /// Whether the form holds changes not saved yet.
    dirty: bool,
}

/// The fields the form shows, by path; errors on other paths are listed at the top.
const FIELDS: [&str; 10] = [
    "slug",
    "title",
    "date",
    "event",
    "location",
    "image",
    "pdf",
    "notist_id",
    "body",
    "extra",
];

impl EditPage<'_> {
    /// The message for the field at `path`.
    pub fn error(&self, path: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.message.as_str())
    }

    /// Messages no field of the form shows.
    pub fn general_errors(&self) -> Vec<&FieldError> {
        self.errors
            .iter()
            .filter(|e| {
                !(FIELDS.contains(&e.path.as_str())
                    || e.path.starts_with("resources[")
                    || e.path.starts_with("embeds["))
            })
            .collect()
    }

    pub fn action(&self) -> String {
        match &self.stored {
            Some(stored) => format!("/studio/talks/{}", stored.id),
            None => "/studio/talks".into(),
        }
    }

    /// Where the browser keeps this form's unsaved values.
    pub fn draft_key(&self) -> String {
        match &self.stored {
            Some(stored) => format!("lectern-draft:{}", stored.id),
            None => "lectern-draft:new".into(),
        }
    }

    pub fn path(&self, list: &str, index: impl std::fmt::Display, field: &str) -> String {
        format!("{list}[{index}].{field}")
    }
}

/// 409: the talk is no longer at the version the page showed.
pub(super) fn changed_since(current_version: i32, outcome: &str) -> StudioError {
    Problem::new(
        StatusCode::CONFLICT,
        format!(
            "the talk changed since this page was loaded: it is at version {current_version}; {outcome}"
        ),
    )
    .into()
}

/// The value of `name` in the request's query, decoded.
pub(super) fn query_param(request: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.uri().query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn stored_of(record: &TalkRecord, emails: &HashMap<Uuid, String>) -> Stored {
    Stored {
        id: record.talk.id,
        published: record.talk.status == Status::Published,
        version: record.talk.version,
        editor: who(record.talk.updated_by.as_deref(), emails),
        updated: when(record.talk.updated_at),
        slug: record.talk.slug.clone(),
        media: None,
    }
}

/// The emails of the users among `actors` (ids, tokens, the importer), by id.
pub(super) async fn emails_for_all(
    db: &DatabaseConnection,
    actors: impl IntoIterator<Item = &str>,
) -> Result<HashMap<Uuid, String>, StudioError> {
    let ids = actors
        .into_iter()
        .filter_map(|actor| Uuid::parse_str(actor).ok());
    Ok(service::accounts::emails_of(db, ids).await?)
}

async fn emails_for(
    db: &DatabaseConnection,
    by: Option<&str>,
) -> Result<HashMap<Uuid, String>, StudioError> {
    let ids = by.and_then(|by| Uuid::parse_str(by).ok());
    Ok(service::accounts::emails_of(db, ids).await?)
}

pub(super) fn talk_id(text: &str) -> Result<Uuid, StudioError> {
    Uuid::parse_str(text).map_err(|_| {
        StudioError::from(Problem::new(
            StatusCode::NOT_FOUND,
            format!("there is no talk {text}"),
        ))
    })
}

pub(super) async fn find(db: &DatabaseConnection, id: Uuid) -> Result<TalkRecord, StudioError> {
    talks::find_by_id(db, id).await?.ok_or_else(|| {
        StudioError::from(Problem::new(
            StatusCode::NOT_FOUND,
            format!("there is no talk {id} (it may have been deleted)"),
        ))
    })
}

#[derive(Default)]
struct Shown {
    errors: Vec<FieldError>,
    conflict: Option<Conflict>,
    notice: Option<String>,
    focus: Option<String>,
    dirty: bool,
}

fn edit_page(
    signed: &Signed,
    stored: Option<Stored>,
    form: &TalkForm,
    version: Option<i32>,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, StudioError> {
    let page = EditPage {
        assets: Assets::get(),
        signed,
        stored,
        form,
        version,
        preview: service::html::Abstract::of(&form.body).html,
        errors: shown.errors,
        conflict: shown.conflict,
        notice: shown.notice,
        focus: shown.focus,
        dirty: shown.dirty,
    };
    Ok(html(status, render(&page)?))
}

/// `GET /studio/talks/new`.
pub async fn new(signed: Signed) -> Result<HttpResponse, StudioError> {
    signed.require(Role::Editor)?;
    edit_page(
        &signed,
        None,
        &TalkForm::default(),
        None,
        StatusCode::OK,
        Shown::default(),
    )
}

#[derive(Debug, Deserialize)]
pub struct EditQuery {
    saved: Option<i32>,
    /// What a change to the image or slides did ([`super::media::notice`]).
    done: Option<String>,
}

/// `GET /studio/talks/{id}`.
pub async fn edit(
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, StudioError> {
    let record = find(&db, talk_id(&id)?).await?;
    let emails = emails_for(&db, record.talk.updated_by.as_deref()).await?;
    let notice = query
        .saved
        .map(|version| format!("Saved as version {version}."))
        .or_else(|| {
            query
                .done
                .as_deref()
                .and_then(super::media::notice)
                .map(str::to_owned)
        });
    let mut stored = stored_of(&record, &emails);
    stored.media = Some(super::media::Media::of(&db, &record).await?);
    edit_page(
        &signed,
        Some(stored),
        &TalkForm::of(&record),
        Some(record.talk.version),
        StatusCode::OK,
        Shown {
            notice,
            ..Shown::default()
        },
    )
}

pub(super) async fn read_form(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<web::BytesMut, StudioError> {
    Ok(
        crate::rest::http::read_body(request, payload, &["application/x-www-form-urlencoded"])
            .await?,
    )
}

/// A form post, checked: the CSRF token first, then the role; nothing is read before.
async fn posted_form(
    request: &HttpRequest,
    signed: &Signed,
    payload: web::Payload,
) -> Result<(TalkForm, super::form::Posted), StudioError> {
    let body = read_form(request, payload).await?;
    // The token is checked before any other problem with the form is reported.
    let csrf = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    signed.check_csrf(request, csrf.as_deref())?;
    signed.require(Role::Editor)?;
    TalkForm::parse(&body)
}

/// A service error as messages at their fields, or as an error page.
fn field_errors(error: ServiceError) -> Result<Vec<FieldError>, StudioError> {
    match error {
        ServiceError::Invalid(errors) => Ok(errors),
        ServiceError::Duplicate { field } => Ok(vec![FieldError::new(
            field,
            "is already taken by another talk",
        )]),
        other => Err(other.into()),
    }
}

/// `POST /studio/talks`: creates a talk (a draft), or applies a change to the form's rows.
pub async fn create(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let (mut form, posted) = posted_form(&request, &signed, payload).await?;
    if let Some(op) = &posted.op {
        let focus = form.apply(op)?;
        return edit_page(
            &signed,
            None,
            &form,
            None,
            StatusCode::OK,
            Shown {
                focus: Some(focus),
                dirty: true,
                ..Shown::default()
            },
        );
    }
    let result = match form.to_new_talk() {
        Ok(new) => editing::create_talk(&db, new, &signed.viewer().actor())
            .await
            .map_err(field_errors),
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(record) => Ok(see_other(&format!(
            "/studio/talks/{}?saved={}",
            record.talk.id, record.talk.version
        ))),
        Err(Ok(errors)) => edit_page(
            &signed,
            None,
            &form,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            Shown {
                errors,
                dirty: true,
                ..Shown::default()
            },
        ),
        Err(Err(error)) => Err(error),
    }
}

/// `POST /studio/talks/{id}`: saves the form over the version it was read at; when another
/// editor saved since, shows what they changed beside the editor's own text, which stays.
pub async fn save(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let id = talk_id(&id)?;
    let (mut form, posted) = posted_form(&request, &signed, payload).await?;
    let Some(version) = posted.version else {
        return Err(
            Problem::invalid("version", "is required: the version the form was read at").into(),
        );
    };
    if let Some(op) = &posted.op {
        let focus = form.apply(op)?;
        let record = find(&db, id).await?;
        let emails = emails_for(&db, record.talk.updated_by.as_deref()).await?;
        return edit_page(
            &signed,
            Some(stored_of(&record, &emails)),
            &form,
            Some(version),
            StatusCode::OK,
            Shown {
                focus: Some(focus),
                dirty: true,
                ..Shown::default()
            },
        );
    }
    let expected = posted.overwrite.unwrap_or(version);
    let result = match form.to_new_talk() {
        Ok(new) => editing::replace_talk(&db, id, new, expected, &signed.viewer().actor()).await,
        Err(errors) => Err(ServiceError::Invalid(errors)),
    };
    let error = match result {
        Ok(record) => {
            return Ok(see_other(&format!(
                "/studio/talks/{id}?saved={}",
                record.talk.version
            )));
        }
        Err(error) => error,
    };
    let record = find(&db, id).await?;
    let emails = emails_for(&db, record.talk.updated_by.as_deref()).await?;
    let stored = stored_of(&record, &emails);
    match error {
        ServiceError::Conflict { .. } => {
            // What the other editor changed: the talk as this form read it, against now.
            let read = service::events::state_at(db.get_ref(), id, version).await?;
            let now = TalkForm::of(&record);
            let theirs = match read {
                Some(state) => TalkForm::of(&TalkRecord {
                    talk: state.talk,
                    resources: state.resources,
                    embeds: state.embeds,
                })
                .differences(&now),
                None => form.differences(&now),
            };
            let conflict = Conflict {
                current_version: record.talk.version,
                read_version: version,
                editor: stored.editor.clone(),
                updated: stored.updated.clone(),
                theirs,
            };
            edit_page(
                &signed,
                Some(stored),
                &form,
                Some(version),
                StatusCode::CONFLICT,
                Shown {
                    conflict: Some(conflict),
                    dirty: true,
                    ..Shown::default()
                },
            )
        }
        other => {
            let errors = field_errors(other)?;
            edit_page(
                &signed,
                Some(stored),
                &form,
                Some(version),
                StatusCode::UNPROCESSABLE_ENTITY,
                Shown {
                    errors,
                    dirty: true,
                    ..Shown::default()
                },
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct VersionForm {
    csrf: Option<String>,
    version: Option<String>,
}

/// A small form (publish, unpublish, delete, removing an image): CSRF token and role checked,
/// then the version the page showed.
pub(super) async fn small_form(
    request: &HttpRequest,
    signed: &Signed,
    payload: web::Payload,
) -> Result<Option<i32>, StudioError> {
    let body = read_form(request, payload).await?;
    let form: VersionForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| Problem::bad_request(format!("the form cannot be read: {e}")))?;
    signed.check_csrf(request, form.csrf.as_deref())?;
    signed.require(Role::Editor)?;
    form.version
        .map(|v| {
            v.trim()
                .parse::<i32>()
                .map_err(|_| Problem::invalid("version", "must be a whole number").into())
        })
        .transpose()
}

async fn set_status(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
    status: Status,
) -> Result<HttpResponse, StudioError> {
    let id = talk_id(&id)?;
    let version = small_form(&request, &signed, payload).await?;
    let actor = signed.viewer().actor();
    match editing::set_status(
        &db,
        id,
        status,
        By {
            actor: &actor,
            if_version: version,
        },
    )
    .await
    {
        Ok(record) => Ok(see_other(&format!(
            "/studio/talks/{id}?saved={}",
            record.talk.version
        ))),
        Err(ServiceError::Conflict { current_version }) => {
            Err(changed_since(current_version, "reload it and try again"))
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /studio/talks/{id}/publish`.
pub async fn publish(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    set_status(request, signed, db, id, payload, Status::Published).await
}

/// `POST /studio/talks/{id}/unpublish`.
pub async fn unpublish(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    set_status(request, signed, db, id, payload, Status::Draft).await
}

#[derive(Template)]
#[template(path = "studio/delete.html")]
struct DeletePage<'a> {
    assets: &'static Assets,
    signed: &'a Signed,
    id: Uuid,
    title: String,
    slug: String,
    version: i32,
}

/// `GET /studio/talks/{id}/delete`: asks first.
pub async fn confirm_delete(
    signed: Signed,
    db: Db,
    id: web::Path<String>,
) -> Result<HttpResponse, StudioError> {
    signed.require(Role::Editor)?;
    let record = find(&db, talk_id(&id)?).await?;
    let page = DeletePage {
        assets: Assets::get(),
        signed: &signed,
        id: record.talk.id,
        title: record.talk.title,
        slug: record.talk.slug,
        version: record.talk.version,
    };
    Ok(html(StatusCode::OK, render(&page)?))
}

/// `POST /studio/talks/{id}/delete`: deletes the talk at the version the confirmation showed.
pub async fn delete(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let id = talk_id(&id)?;
    let Some(version) = small_form(&request, &signed, payload).await? else {
        return Err(Problem::invalid("version", "is required: the version the page showed").into());
    };
    let record = find(&db, id).await?;
    match editing::delete_talk(&db, id, version, &signed.viewer().actor()).await {
        Ok(()) => {
            let slug: String =
                url::form_urlencoded::byte_serialize(record.talk.slug.as_bytes()).collect();
            Ok(see_other(&format!("/studio/talks?deleted={slug}")))
        }
        Err(ServiceError::Conflict { current_version }) => {
            Err(changed_since(current_version, "nothing was deleted"))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct PreviewForm {
    #[serde(default)]
    body: String,
}

/// `POST /studio/preview`: the abstract as frontends are served it (sanitized the same way).
pub async fn preview(
    request: HttpRequest,
    _signed: Signed,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let body = read_form(&request, payload).await?;
    let form: PreviewForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| Problem::bad_request(format!("the form cannot be read: {e}")))?;
    Ok(html(
        StatusCode::OK,
        service::html::Abstract::of(&form.body).html,
    ))
}
