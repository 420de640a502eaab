//! What admins manage: accounts (add, change role, disable), machine tokens (create, shown
//! once; revoke) and webhooks (add, pause, resume, delivery attempts, replay). Each action is
//! the service's (and the Authority's, for tokens), as GraphQL and REST call it.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use service::accounts::{self, Role};
use service::sea_orm::DatabaseConnection;
use service::webhooks::{self, NewWebhook, WebhookPatch};
use service::{FieldError, ServiceError};
use uuid::Uuid;

use super::error::StudioError;
use super::form::pairs;
use super::session::Signed;
use super::talks::{query_param, read_form, render, when};
use super::{Assets, html, see_other};
use crate::auth::{AuthError, Authority, parse_ttl};
use crate::changes::ChangeHub;
use crate::rest::problem::Problem;

type Db = web::Data<DatabaseConnection>;

/// Delivery attempts the page of one webhook lists.
const ATTEMPTS_SHOWN: u64 = 50;

pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub role: &'static str,
    pub disabled: bool,
    pub created: String,
}

pub struct TokenRow {
    pub jti: Uuid,
    pub name: String,
    pub role: &'static str,
    pub expires: String,
    pub revoked: bool,
}

pub struct WebhookRow {
    pub id: Uuid,
    pub url: String,
    pub events: String,
    pub state: &'static str,
    pub delivered_seq: i64,
    pub last_error: String,
}

/// Something to show once: a new token or a webhook's secret.
pub struct Secret {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "studio/admin.html")]
struct AdminPage<'a> {
    assets: &'static Assets,
    signed: &'a Signed,
    users: Vec<UserRow>,
    tokens: Vec<TokenRow>,
    webhooks: Vec<WebhookRow>,
    notice: Option<String>,
    secret: Option<Secret>,
    errors: Vec<FieldError>,
    /// Which form the errors belong to: `user`, `token` or `webhook`.
    errors_of: &'static str,
    roles: [&'static str; 3],
}

impl AdminPage<'_> {
    pub fn error(&self, form: &str, path: &str) -> Option<&str> {
        (self.errors_of == form)
            .then(|| self.errors.iter().find(|e| e.path == path))
            .flatten()
            .map(|e| e.message.as_str())
    }
}

#[derive(Default)]
struct Shown {
    notice: Option<String>,
    secret: Option<Secret>,
    errors: Vec<FieldError>,
    errors_of: &'static str,
}

async fn page(
    signed: &Signed,
    db: &DatabaseConnection,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, StudioError> {
    let users = accounts::list_users(db)
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            email: u.email,
            role: u.role.as_str(),
            disabled: u.disabled,
            created: when(u.created_at),
        })
        .collect();
    let tokens = accounts::list_tokens(db)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            jti: t.jti,
            name: t.name,
            role: t.role.as_str(),
            expires: when(t.expires_at),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let webhooks = webhooks::list(db)
        .await?
        .into_iter()
        .map(|w| WebhookRow {
            id: w.id,
            url: w.url,
            events: events_text(&w.events),
            state: w.state.as_str(),
            delivered_seq: w.delivered_seq,
            last_error: w.last_error.unwrap_or_default(),
        })
        .collect();
    let page = AdminPage {
        assets: Assets::get(),
        signed,
        users,
        tokens,
        webhooks,
        notice: shown.notice,
        secret: shown.secret,
        errors: shown.errors,
        errors_of: shown.errors_of,
        roles: ["viewer", "editor", "admin"],
    };
    Ok(html(status, render(&page)?))
}

fn events_text(events: &serde_json::Value) -> String {
    events
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// A 303 back to `page`, which says what was `done` (as `?done=…`).
fn done(page: &str, done: &str) -> HttpResponse {
    let done: String = url::form_urlencoded::byte_serialize(done.as_bytes()).collect();
    see_other(&format!("{page}?done={done}"))
}

/// A form post of an admin: the CSRF token, then the role, then its fields.
async fn admin_form(
    request: &HttpRequest,
    signed: &Signed,
    payload: web::Payload,
) -> Result<Vec<(String, String)>, StudioError> {
    let body = read_form(request, payload).await?;
    let fields = pairs(&body)?;
    let csrf = fields
        .iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v.as_str());
    signed.check_csrf(request, csrf)?;
    signed.require(Role::Admin)?;
    Ok(fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn role(text: &str) -> Result<Role, FieldError> {
    match text {
        "viewer" => Ok(Role::Viewer),
        "editor" => Ok(Role::Editor),
        "admin" => Ok(Role::Admin),
        _ => Err(FieldError::new("role", "must be viewer, editor or admin")),
    }
}

fn uuid(text: &str) -> Result<Uuid, StudioError> {
    Uuid::parse_str(text).map_err(|_| {
        StudioError::from(Problem::new(
            StatusCode::NOT_FOUND,
            format!("there is nothing with the id {text}"),
        ))
    })
}

/// The admin page again with the form's problems at its fields, or an error page.
async fn refused(
    signed: &Signed,
    db: &DatabaseConnection,
    form: &'static str,
    error: ServiceError,
) -> Result<HttpResponse, StudioError> {
    let errors = match error {
        ServiceError::Invalid(errors) => errors,
        ServiceError::Duplicate { field } => vec![FieldError::new(field, "is already taken")],
        other => return Err(other.into()),
    };
    page(
        signed,
        db,
        StatusCode::UNPROCESSABLE_ENTITY,
        Shown {
            errors,
            errors_of: form,
            ..Shown::default()
        },
    )
    .await
}

/// `POST /studio/admin/users`: adds an account.
pub async fn add_user(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let fields = admin_form(&request, &signed, payload).await?;
    let role = match role(field(&fields, "role")) {
        Ok(role) => role,
        Err(error) => {
            return refused(&signed, &db, "user", ServiceError::Invalid(vec![error])).await;
        }
    };
    match accounts::add_user(
        &db,
        field(&fields, "email"),
        field(&fields, "password"),
        role,
    )
    .await
    {
        Ok(user) => Ok(done("/studio/admin", &format!("added {}", user.email))),
        Err(error) => refused(&signed, &db, "user", error).await,
    }
}

/// `POST /studio/admin/users/{id}`: changes an account's role, or disables or enables it.
pub async fn change_user(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let fields = admin_form(&request, &signed, payload).await?;
    let id = uuid(&id)?;
    let user = match field(&fields, "action") {
        "role" => {
            let role = role(field(&fields, "role"))
                .map_err(|e| StudioError::from(ServiceError::Invalid(vec![e])))?;
            accounts::set_role_by_id(&db, id, role).await?
        }
        "disable" => accounts::set_disabled_by_id(&db, id, true).await?,
        "enable" => accounts::set_disabled_by_id(&db, id, false).await?,
        other => {
            return Err(Problem::bad_request(format!("unknown action {other:?}")).into());
        }
    };
    Ok(done("/studio/admin", &format!("changed {}", user.email)))
}

/// `POST /studio/admin/tokens`: issues a machine token, shown on this answer only.
pub async fn issue_token(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    authority: web::Data<Arc<Authority>>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let fields = admin_form(&request, &signed, payload).await?;
    let mut errors = Vec::new();
    let role = role(field(&fields, "role"))
        .map_err(|e| errors.push(e))
        .ok();
    let ttl = parse_ttl(field(&fields, "ttl"))
        .map_err(|e| errors.push(FieldError::new("ttl", e)))
        .ok();
    let (Some(role), Some(ttl)) = (role, ttl) else {
        return refused(&signed, &db, "token", ServiceError::Invalid(errors)).await;
    };
    match authority
        .issue_machine_token(field(&fields, "name"), role, ttl)
        .await
    {
        Ok((token, record)) => {
            page(
                &signed,
                &db,
                StatusCode::CREATED,
                Shown {
                    notice: Some(format!(
                        "Token {} issued. Copy it now: it is not shown again.",
                        record.name
                    )),
                    secret: Some(Secret {
                        label: "Bearer token".into(),
                        value: token,
                    }),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(AuthError::Service(error)) => refused(&signed, &db, "token", error).await,
        Err(other) => Err(Problem::from(other).into()),
    }
}

/// `POST /studio/admin/tokens/{jti}/revoke`.
pub async fn revoke_token(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    jti: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    admin_form(&request, &signed, payload).await?;
    let token = accounts::revoke_token(&db, uuid(&jti)?).await?;
    Ok(done("/studio/admin", &format!("revoked {}", token.name)))
}

/// `POST /studio/admin/webhooks`: registers an endpoint; its secret is shown this once.
pub async fn add_webhook(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    hub: web::Data<Arc<ChangeHub>>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let fields = admin_form(&request, &signed, payload).await?;
    let events = field(&fields, "events")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    let description =
        Some(field(&fields, "description").trim().to_owned()).filter(|d| !d.is_empty());
    let new = NewWebhook {
        url: field(&fields, "url").trim().to_owned(),
        events,
        secret: None,
        description,
    };
    match webhooks::create(&db, new, &signed.viewer().actor()).await {
        Ok(hook) => {
            hub.webhooks_changed();
            page(
                &signed,
                &db,
                StatusCode::CREATED,
                Shown {
                    notice: Some(format!(
                        "Webhook {} added. Copy its signing secret now: it is not shown again.",
                        hook.url
                    )),
                    secret: Some(Secret {
                        label: "Signing secret".into(),
                        value: hook.secret,
                    }),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(error) => refused(&signed, &db, "webhook", error).await,
    }
}

pub struct AttemptRow {
    pub at: String,
    pub event_seq: i64,
    pub attempt: i32,
    pub outcome: String,
    pub status: String,
    pub duration_ms: i32,
    pub error: String,
}

#[derive(Template)]
#[template(path = "studio/webhook.html")]
struct WebhookPage<'a> {
    assets: &'static Assets,
    signed: &'a Signed,
    hook: WebhookRow,
    description: String,
    attempts: Vec<AttemptRow>,
    notice: Option<String>,
}

/// `GET /studio/admin/webhooks/{id}`: the endpoint and its latest delivery attempts.
pub async fn webhook(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    id: web::Path<String>,
) -> Result<HttpResponse, StudioError> {
    signed.require(Role::Admin)?;
    let id = uuid(&id)?;
    let hook = webhooks::get(db.get_ref(), id).await?;
    let attempts = webhooks::attempts(db.get_ref(), id, None, ATTEMPTS_SHOWN)
        .await?
        .into_iter()
        .map(|a| AttemptRow {
            at: when(a.attempted_at),
            event_seq: a.event_seq,
            attempt: a.attempt,
            outcome: a.outcome,
            status: a.status_code.map(|s| s.to_string()).unwrap_or_default(),
            duration_ms: a.duration_ms,
            error: a.error.unwrap_or_default(),
        })
        .collect();
    let notice = query_param(&request, "done").map(|done| format!("Done: {done}."));
    let page = WebhookPage {
        assets: Assets::get(),
        signed: &signed,
        description: hook.description.clone().unwrap_or_default(),
        hook: WebhookRow {
            id: hook.id,
            url: hook.url,
            events: events_text(&hook.events),
            state: hook.state.as_str(),
            delivered_seq: hook.delivered_seq,
            last_error: hook.last_error.unwrap_or_default(),
        },
        attempts,
        notice,
    };
    Ok(html(StatusCode::OK, render(&page)?))
}

/// `POST /studio/admin/webhooks/{id}`: pause, resume, or replay from an event.
pub async fn change_webhook(
    request: HttpRequest,
    signed: Signed,
    db: Db,
    hub: web::Data<Arc<ChangeHub>>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, StudioError> {
    let fields = admin_form(&request, &signed, payload).await?;
    let id = uuid(&id)?;
    let outcome = match field(&fields, "action") {
        "pause" | "resume" => {
            let paused = field(&fields, "action") == "pause";
            webhooks::update(
                &db,
                id,
                WebhookPatch {
                    paused: Some(Some(paused)),
                    ..WebhookPatch::default()
                },
            )
            .await?;
            if paused { "paused" } else { "resumed" }.to_owned()
        }
        "replay" => {
            let from: i64 = field(&fields, "from_seq").trim().parse().map_err(|_| {
                StudioError::from(Problem::invalid("from_seq", "must be a whole number"))
            })?;
            webhooks::replay(&db, id, from).await?;
            format!("replaying from event {from}")
        }
        other => {
            return Err(Problem::bad_request(format!("unknown action {other:?}")).into());
        }
    };
    hub.webhooks_changed();
    Ok(done(&format!("/studio/admin/webhooks/{id}"), &outcome))
}

/// `GET /studio/admin` (`?done=…` after an action, as a notice).
pub async fn index(
    request: HttpRequest,
    signed: Signed,
    db: Db,
) -> Result<HttpResponse, StudioError> {
    signed.require(Role::Admin)?;
    let notice = query_param(&request, "done").map(|done| format!("Done: {done}."));
    page(
        &signed,
        &db,
        StatusCode::OK,
        Shown {
            notice,
            ..Shown::default()
        },
    )
    .await
}
