//! A talk's history, from the outbox: every version with who and when, the difference between
//! any version and the current one, and restoring a version (written as a new version).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use service::ServiceError;
use service::accounts::Role;
use service::sea_orm::DatabaseConnection;
use service::talks::TalkRecord;
use uuid::Uuid;

use super::error::StudioError;
use super::form::{Difference, TalkForm};
use super::session::Signed;
use super::talks::{changed_since, emails_for_all, find, talk_id, when, who};
use super::{Assets, html, see_other};
use crate::rest::problem::Problem;

/// The most events of one talk the history page lists (the newest).
const MAX_EVENTS: u64 = 1000;

pub struct Entry {
    pub seq: i64,
    pub kind: String,
    pub version: i32,
    pub actor: String,
    pub at: String,
    /// Whether the state after this event can be compared and restored (not a delete).
    pub comparable: bool,
}

#[derive(Template)]
#[template(path = "studio/history.html")]
struct HistoryPage<'a> {
    assets: &'static Assets,
    signed: &'a Signed,
    id: Uuid,
    title: String,
    current: i32,
    entries: Vec<Entry>,
}

fn kind_label(kind: &str) -> String {
    kind.strip_prefix("talk.").unwrap_or(kind).to_owned()
}

/// `GET /studio/talks/{id}/history`.
pub async fn list(
    signed: Signed,
    db: web::Data<DatabaseConnection>,
    id: web::Path<String>,
) -> Result<HttpResponse, StudioError> {
    let record = find(&db, talk_id(&id)?).await?;
    let id = record.talk.id;
    let events = service::events::history(db.get_ref(), id, None, MAX_EVENTS).await?;
    let emails = emails_for_all(&db, events.iter().map(|e| e.actor.as_str())).await?;
    let mut entries: Vec<Entry> = events
        .into_iter()
        .map(|event| Entry {
            seq: event.seq,
            comparable: event.kind != "talk.deleted",
            kind: kind_label(&event.kind),
            version: event.version,
            actor: who(Some(&event.actor), &emails),
            at: when(event.occurred_at),
        })
        .collect();
    entries.reverse();
    let page = HistoryPage {
        assets: Assets::get(),
        signed: &signed,
        id,
        title: record.talk.title,
        current: record.talk.version,
        entries,
    };
    Ok(html(StatusCode::OK, super::talks::render(&page)?))
}

#[derive(Template)]
#[template(path = "studio/version.html")]
struct VersionPage<'a> {
    assets: &'static Assets,
    signed: &'a Signed,
    id: Uuid,
    title: String,
    version: i32,
    current: i32,
    /// From that version to the current one.
    differences: Vec<Difference>,
}

/// `GET /studio/talks/{id}/history/{version}`: that version against the current one.
pub async fn version(
    signed: Signed,
    db: web::Data<DatabaseConnection>,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, StudioError> {
    let (id, version) = path.into_inner();
    let record = find(&db, talk_id(&id)?).await?;
    let id = record.talk.id;
    let Some(old) = service::events::state_at(db.get_ref(), id, version).await? else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("the talk has no version {version} in its history"),
        )
        .into());
    };
    let old = TalkForm::of(&TalkRecord {
        talk: old.talk,
        resources: old.resources,
        embeds: old.embeds,
    });
    let page = VersionPage {
        assets: Assets::get(),
        signed: &signed,
        id,
        title: record.talk.title.clone(),
        version,
        current: record.talk.version,
        differences: old.differences(&TalkForm::of(&record)),
    };
    Ok(html(StatusCode::OK, super::talks::render(&page)?))
}

#[derive(Debug, serde::Deserialize)]
pub struct RestoreForm {
    csrf: Option<String>,
    /// The version to write back.
    version: i32,
    /// The version the page was showing as current.
    current: i32,
}

/// `POST /studio/talks/{id}/restore`: writes an old version back as a new one.
pub async fn restore(
    request: HttpRequest,
    signed: Signed,
    db: web::Data<DatabaseConnection>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let id = talk_id(&id)?;
    let body = super::talks::read_form(&request, payload).await?;
    let csrf = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    signed.check_csrf(&request, csrf.as_deref())?;
    signed.require(Role::Editor)?;
    let form: RestoreForm = serde_urlencoded::from_bytes(&body).map_err(|e| {
        Problem::bad_request(format!(
            "the form needs the version to restore and the current one: {e}"
        ))
    })?;
    let _ = form.csrf;
    match service::editing::restore_talk(
        &db,
        id,
        form.version,
        form.current,
        &signed.viewer().actor(),
    )
    .await
    {
        Ok(record) => Ok(see_other(&format!(
            "/studio/talks/{id}?saved={}",
            record.talk.version
        ))),
        Err(ServiceError::Conflict { current_version }) => {
            Err(changed_since(current_version, "nothing was restored"))
        }
        Err(other) => Err(other.into()),
    }
}
