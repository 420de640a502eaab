//! What the REST API answers with: one type per response schema of `openapi.yaml`
//! (`components/schemas`), named as there, built from the same models and `service::html`
//! readings as the GraphQL types (`crate::graphql::types`). Members are declared in the order
//! they are written; a member that may be absent says so with `skip_serializing_if`, every
//! other one is always written (`null` when it has no value).

use chrono::{DateTime, Utc};
use entity::talk::Status;
use entity::{embed, resource, talk, webhook, webhook_attempt};
use serde::{Serialize, Serializer};
use serde_json::Value;
use service::html;
use service::listing::EventSummary;
use service::talks::TalkRecord;
use uuid::Uuid;

use crate::graphql::AssetBase;
use crate::graphql::types::absolute;

/// A talk's times as GraphQL writes them (`+00:00`, not `Z`), so that both read the same.
fn rfc3339<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339())
}

/// `Talk`: a talk; `resources` and `embeds` when given (always on a single talk and on
/// writes, in a list only when `include` asks for them).
#[derive(Debug, Serialize)]
pub struct Talk<'a> {
    pub id: Uuid,
    pub slug: &'a str,
    pub title: &'a str,
    pub date: &'a str,
    pub event: Option<&'a str>,
    pub location: Option<&'a str>,
    pub notist_id: Option<&'a str>,
    pub image_url: Option<String>,
    pub pdf_url: Option<String>,
    /// The stored asset behind `imageUrl`, when it is one (`GET /api/v1/assets/{id}`).
    pub image_asset_id: Option<Uuid>,
    /// The stored PDF behind `pdfUrl`, when it is one.
    pub slides_asset_id: Option<Uuid>,
    pub body_html: &'a str,
    pub body_text: &'a str,
    pub excerpt: &'a str,
    pub status: TalkStatus,
    pub version: i32,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    pub created_by: Option<&'a str>,
    pub updated_by: Option<&'a str>,
    pub extra: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<Resource<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeds: Option<Vec<Embed<'a>>>,
}

impl<'a> Talk<'a> {
    /// The talk, with these resources and embeds when given; image and PDF paths made absolute
    /// against `base`.
    pub fn new(
        talk: &'a talk::Model,
        resources: Option<&'a [resource::Model]>,
        embeds: Option<&'a [embed::Model]>,
        base: &AssetBase,
    ) -> Self {
        Self {
            id: talk.id,
            slug: &talk.slug,
            title: &talk.title,
            date: &talk.date,
            event: talk.event.as_deref(),
            location: talk.location.as_deref(),
            notist_id: talk.notist_id.as_deref(),
            image_url: absolute(base.0.as_deref(), talk.image.as_deref()),
            pdf_url: absolute(base.0.as_deref(), talk.pdf.as_deref()),
            image_asset_id: talk.image_asset_id,
            slides_asset_id: talk.slides_asset_id,
            body_html: &talk.body_html,
            excerpt: &talk.excerpt,
            body_text: &talk.body_text,
            status: talk.status.into(),
            version: talk.version,
            created_at: talk.created_at,
            updated_at: talk.updated_at,
            created_by: talk.created_by.as_deref(),
            updated_by: talk.updated_by.as_deref(),
            extra: &talk.extra,
            resources: resources.map(|r| r.iter().map(Resource::from).collect()),
            embeds: embeds.map(|e| e.iter().map(Embed::from).collect()),
        }
    }

    /// A talk with all its resources and embeds.
    pub fn from_record(record: &'a TalkRecord, base: &AssetBase) -> Self {
        Self::new(
            &record.talk,
            Some(&record.resources),
            Some(&record.embeds),
            base,
        )
    }
}

/// `Talk.status`.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TalkStatus {
    Draft,
    Published,
}

impl From<Status> for TalkStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Draft => Self::Draft,
            Status::Published => Self::Published,
        }
    }
}

/// `Resource`: a link about a talk.
#[derive(Debug, Serialize)]
pub struct Resource<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub url: &'a str,
    pub description: Option<&'a str>,
    /// The stored asset behind `url`, when it is one.
    pub asset_id: Option<Uuid>,
}

impl<'a> From<&'a resource::Model> for Resource<'a> {
    fn from(resource: &'a resource::Model) -> Self {
        Self {
            id: resource.id,
            title: &resource.title,
            url: &resource.url,
            description: resource.description.as_deref(),
            asset_id: resource.asset_id,
        }
    }
}

/// `Embed`: its markup sanitized, and what it holds of a tweet or a video (`null` when
/// nothing).
#[derive(Debug, Serialize)]
pub struct Embed<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub html: &'a str,
    /// `Tweet`.
    pub tweet: Option<&'a html::Tweet>,
    /// `Video`.
    pub video: Option<&'a html::Video>,
}

impl<'a> From<&'a embed::Model> for Embed<'a> {
    fn from(embed: &'a embed::Model) -> Self {
        Self {
            id: embed.id,
            kind: &embed.kind,
            html: &embed.safe_html,
            tweet: embed.tweet.as_ref(),
            video: embed.video.as_ref(),
        }
    }
}

/// `TalkList`: a page of talks and the cursor of the next (`null` on the last page).
#[derive(Debug, Serialize)]
pub struct TalkList<'a> {
    pub data: Vec<Talk<'a>>,
    pub next_cursor: Option<String>,
}

/// `Event`: an event with published talks.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub name: &'a str,
    pub location: Option<&'a str>,
    pub talk_count: i64,
    pub first_date: &'a str,
    pub last_date: &'a str,
}

impl<'a> From<&'a EventSummary> for Event<'a> {
    fn from(event: &'a EventSummary) -> Self {
        Self {
            name: &event.name,
            location: event.location.as_deref(),
            talk_count: event.talk_count,
            first_date: &event.first_date,
            last_date: &event.last_date,
        }
    }
}

/// `ChangePage`: events as `service::events::envelope` writes them for every channel (feed,
/// subscriptions, webhooks), and where to read on.
#[derive(Debug, Serialize)]
pub struct ChangePage {
    pub data: Vec<Value>,
    pub next_after: i64,
    pub has_more: bool,
}

/// `Webhook`: an endpoint and its delivery state, never its secret.
#[derive(Debug, Serialize)]
pub struct Webhook<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub events: &'a Value,
    pub description: Option<&'a str>,
    pub state: webhook::State,
    pub delivered_seq: i64,
    pub failed_attempts: i32,
    /// Only after a failed attempt at the next event.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub created_by: &'a str,
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a webhook::Model> for Webhook<'a> {
    fn from(hook: &'a webhook::Model) -> Self {
        Self {
            id: hook.id,
            url: &hook.url,
            events: &hook.events,
            description: hook.description.as_deref(),
            state: hook.state,
            delivered_seq: hook.delivered_seq,
            failed_attempts: hook.attempt,
            next_attempt_at: (hook.attempt > 0).then_some(hook.next_attempt_at),
            last_error: hook.last_error.as_deref(),
            created_at: hook.created_at,
            created_by: &hook.created_by,
            updated_at: hook.updated_at,
        }
    }
}

/// `CreatedWebhook`: a new endpoint with its secret, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedWebhook<'a> {
    #[serde(flatten)]
    pub webhook: Webhook<'a>,
    pub secret: &'a str,
}

impl<'a> From<&'a webhook::Model> for CreatedWebhook<'a> {
    fn from(hook: &'a webhook::Model) -> Self {
        Self {
            webhook: Webhook::from(hook),
            secret: &hook.secret,
        }
    }
}

/// `WebhookList`.
#[derive(Debug, Serialize)]
pub struct WebhookList<'a> {
    pub data: Vec<Webhook<'a>>,
}

/// `WebhookAttempt`: one attempt to deliver one event.
#[derive(Debug, Serialize)]
pub struct WebhookAttempt<'a> {
    pub id: i64,
    pub event_seq: i64,
    pub event_id: Uuid,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    pub delivered: bool,
    pub error: Option<&'a str>,
}

impl<'a> From<&'a webhook_attempt::Model> for WebhookAttempt<'a> {
    fn from(attempt: &'a webhook_attempt::Model) -> Self {
        Self {
            id: attempt.id,
            event_seq: attempt.event_seq,
            event_id: attempt.event_id,
            attempt: attempt.attempt,
            attempted_at: attempt.attempted_at,
            duration_ms: attempt.duration_ms,
            status_code: attempt.status_code,
            delivered: attempt.outcome == "delivered",
            error: attempt.error.as_deref(),
        }
    }
}

/// `WebhookAttemptList`: a page of attempts, and the `before` of the next (`null` when this
/// page is not full).
#[derive(Debug, Serialize)]
pub struct WebhookAttemptList<'a> {
    pub data: Vec<WebhookAttempt<'a>>,
    pub next_before: Option<i64>,
}
