//! `/changes`, the change feed (with long polling), and `/webhooks`, the admin routes of
//! webhook endpoints.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use service::accounts::Role;
use service::events::{self, ChangeType, FeedRequest};
use service::sea_orm::DatabaseConnection;
use service::webhooks::{self, NewWebhook, WebhookPatch};
use uuid::Uuid;

use super::http::{integral, integral_text, json_body, next_link, viewer};
use super::problem::Problem;
use super::view;
use crate::auth::{Authority, Viewer};
use crate::changes::ChangeHub;

type Db = web::Data<DatabaseConnection>;
type Auth = web::Data<Arc<Authority>>;
type Hub = web::Data<Arc<ChangeHub>>;

/// The longest a feed request may wait for an event.
pub const MAX_WAIT_SECONDS: u64 = 30;

#[derive(Debug, Deserialize)]
pub struct FeedParams {
    #[serde(default, deserialize_with = "integral_text")]
    after: Option<i64>,
    #[serde(default, deserialize_with = "integral_text")]
    limit: Option<u64>,
    #[serde(default, deserialize_with = "integral_text")]
    wait: Option<u64>,
    /// Comma-separated types, e.g. `talk.published,talk.unpublished`.
    types: Option<String>,
}

fn types(param: Option<&str>) -> Result<Vec<ChangeType>, Problem> {
    let Some(param) = param else {
        return Ok(Vec::new());
    };
    param
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            ChangeType::parse(t).ok_or_else(|| {
                Problem::invalid(
                    "types",
                    &format!("`{t}` is not an event type: {}", ChangeType::names()),
                )
            })
        })
        .collect()
}

/// `GET /changes?after=SEQ&limit=N&wait=SECONDS&types=…`: events after `after`, oldest first,
/// and the cursor to pass next. With `wait`, an empty answer waits up to that long for an
/// event to arrive.
pub async fn feed(
    db: Db,
    authority: Auth,
    hub: Hub,
    request: HttpRequest,
    params: web::Query<FeedParams>,
) -> Result<HttpResponse, Problem> {
    let viewer = viewer(&authority, &request).await?;
    let wait = params.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(Problem::invalid(
            "wait",
            &format!("at most {MAX_WAIT_SECONDS} seconds"),
        ));
    }
    let feed_request = FeedRequest::page(
        ("after", params.after),
        (
            "limit",
            params.limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        ),
        viewer.audience(),
        types(params.types.as_deref())?,
    )?;
    let after = feed_request.after;
    let deadline = Instant::now() + Duration::from_secs(wait);
    let page = loop {
        // Read what the tail has reached before the database: an event committed after the
        // read below moves the tail past it.
        let seen = hub.latest().max(after);
        let page = events::page(db.get_ref(), &feed_request).await?;
        let left = deadline.saturating_duration_since(Instant::now());
        if !page.events.is_empty() || left.is_zero() {
            break page;
        }
        if !hub.wait_beyond(seen, left).await {
            break page;
        }
    };
    let (has_more, next) = (page.has_more, page.next_after);
    let body = view::ChangePage {
        data: page.events.iter().map(events::envelope).collect(),
        next_after: next,
        has_more,
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "private, no-store"));
    if has_more {
        response.insert_header((
            header::LINK,
            next_link(&request, "/api/v1/changes", "after", &next.to_string()),
        ));
    }
    Ok(response.json(&body))
}

async fn admin(authority: &Authority, request: &HttpRequest) -> Result<Viewer, Problem> {
    let viewer = viewer(authority, request).await?;
    viewer.require(Role::Admin)?;
    Ok(viewer)
}

fn webhook_id(id: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(id).map_err(|_| Problem::not_found())
}

fn no_store(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(body)
}

/// `GET /webhooks` (admin).
pub async fn list(db: Db, authority: Auth, request: HttpRequest) -> Result<HttpResponse, Problem> {
    admin(&authority, &request).await?;
    let hooks = webhooks::list(db.get_ref()).await?;
    let body = view::WebhookList {
        data: hooks.iter().map(view::Webhook::from).collect(),
    };
    Ok(no_store(StatusCode::OK, &body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// `POST /webhooks` (admin): 201 with the endpoint and its secret, shown this once.
pub async fn create(
    db: Db,
    authority: Auth,
    hub: Hub,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let viewer = admin(&authority, &request).await?;
    let body: CreateBody = json_body(&request, payload, false).await?;
    let hook = webhooks::create(
        db.get_ref(),
        NewWebhook {
            url: body.url,
            events: body.events,
            secret: body.secret,
            description: body.description,
        },
        &viewer.actor(),
    )
    .await?;
    hub.webhooks_changed();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/webhooks/{}", hook.id)))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(view::CreatedWebhook::from(&hook)))
}

/// `GET /webhooks/{id}` (admin).
pub async fn show(
    db: Db,
    authority: Auth,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    admin(&authority, &request).await?;
    let hook = webhooks::get(db.get_ref(), webhook_id(&id)?).await?;
    Ok(no_store(StatusCode::OK, &view::Webhook::from(&hook)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "super::talks::double")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::talks::double")]
    events: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "super::talks::double")]
    secret: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::talks::double")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::talks::double")]
    paused: Option<Option<bool>>,
}

/// `PATCH /webhooks/{id}` (admin): absent fields stay; `paused` pauses or resumes.
pub async fn patch(
    db: Db,
    authority: Auth,
    hub: Hub,
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    admin(&authority, &request).await?;
    let id = webhook_id(&id)?;
    let body: PatchBody = json_body(&request, payload, true).await?;
    let patch = WebhookPatch {
        url: body.url,
        events: body.events,
        secret: body.secret,
        description: body.description,
        paused: body.paused,
    };
    let hook = webhooks::update(db.get_ref(), id, patch).await?;
    hub.webhooks_changed();
    Ok(no_store(StatusCode::OK, &view::Webhook::from(&hook)))
}

/// `DELETE /webhooks/{id}` (admin): 204.
pub async fn delete(
    db: Db,
    authority: Auth,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    admin(&authority, &request).await?;
    webhooks::delete(db.get_ref(), webhook_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    #[serde(deserialize_with = "integral")]
    from_seq: i64,
}

/// `POST /webhooks/{id}/replay` with `{"from_seq": N}` (admin): delivers again from that event
/// on and makes the endpoint active.
pub async fn replay(
    db: Db,
    authority: Auth,
    hub: Hub,
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    admin(&authority, &request).await?;
    let id = webhook_id(&id)?;
    let body: ReplayBody = json_body(&request, payload, false).await?;
    let hook = webhooks::replay(db.get_ref(), id, body.from_seq).await?;
    hub.webhooks_changed();
    Ok(no_store(StatusCode::OK, &view::Webhook::from(&hook)))
}

#[derive(Debug, Deserialize)]
pub struct AttemptParams {
    #[serde(default, deserialize_with = "integral_text")]
    before: Option<i64>,
    #[serde(default, deserialize_with = "integral_text")]
    limit: Option<u64>,
}

/// `GET /webhooks/{id}/attempts?before=&limit=` (admin): delivery attempts, newest first.
pub async fn attempts(
    db: Db,
    authority: Auth,
    request: HttpRequest,
    id: web::Path<String>,
    params: web::Query<AttemptParams>,
) -> Result<HttpResponse, Problem> {
    admin(&authority, &request).await?;
    let id = webhook_id(&id)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=webhooks::MAX_ATTEMPT_PAGE).contains(&limit) {
        return Err(Problem::invalid(
            "limit",
            &format!("must be 1 to {}", webhooks::MAX_ATTEMPT_PAGE),
        ));
    }
    let page = webhooks::attempts(db.get_ref(), id, params.before, limit).await?;
    let next_before = (page.len() as u64 == limit)
        .then(|| page.last().map(|a| a.id))
        .flatten();
    let body = view::WebhookAttemptList {
        data: page.iter().map(view::WebhookAttempt::from).collect(),
        next_before,
    };
    Ok(no_store(StatusCode::OK, &body))
}
