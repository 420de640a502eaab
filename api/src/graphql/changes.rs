//! Change events over GraphQL: the `changes` feed, the `talkChanges` subscription, and the
//! admin operations on webhook endpoints.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Enum, ID, InputObject, Json, MaybeUndefined, Object, OutputType,
    Positioned, ServerResult, SimpleObject, Subscription, Value,
};
use chrono::{DateTime, Utc};
use entity::{change_event, webhook, webhook_attempt};
use futures_util::{Stream, StreamExt};
use service::accounts::Role;
use service::events::{self, ChangeType as Kind, FeedRequest};
use service::sea_orm::DatabaseConnection;
use service::webhooks::{self, NewWebhook, WebhookPatch};
use service::{FieldError, ServiceError};
use uuid::Uuid;

use super::errors::{auth_to_graphql, to_graphql};
use super::live::{LiveChange, SelectionKey};
use super::mutation::optional;
use super::query::viewer;
use crate::auth::Authority;
use crate::changes::{ChangeHub, LiveEvent};

/// How often a subscription's token is checked again.
#[derive(Debug, Clone, Copy)]
pub struct TokenRecheck(pub std::time::Duration);

/// The token a subscription was authenticated with.
#[derive(Clone)]
pub struct SessionToken(pub String);

/// What happened to a talk (or, for staff, to a stored asset).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    TalkCreated,
    TalkUpdated,
    TalkDeleted,
    TalkPublished,
    TalkUnpublished,
    AssetCreated,
    AssetUpdated,
    AssetDeleted,
}

impl From<ChangeType> for Kind {
    fn from(kind: ChangeType) -> Self {
        match kind {
            ChangeType::TalkCreated => Kind::Created,
            ChangeType::TalkUpdated => Kind::Updated,
            ChangeType::TalkDeleted => Kind::Deleted,
            ChangeType::TalkPublished => Kind::Published,
            ChangeType::TalkUnpublished => Kind::Unpublished,
            ChangeType::AssetCreated => Kind::AssetCreated,
            ChangeType::AssetUpdated => Kind::AssetUpdated,
            ChangeType::AssetDeleted => Kind::AssetDeleted,
        }
    }
}

/// One change of a talk, with the talk's whole state after it (before it, for a delete).
pub struct ChangeEvent(pub Arc<LiveEvent>);

impl From<change_event::Model> for ChangeEvent {
    fn from(model: change_event::Model) -> Self {
        Self(Arc::new(LiveEvent::new(model)))
    }
}

#[Object]
impl ChangeEvent {
    /// The event's place among all changes, in commit order; a cursor for `after`.
    async fn seq(&self) -> ID {
        ID(self.0.model.seq.to_string())
    }
    /// Unique; the same as a webhook delivery's `Lectern-Event-Id`.
    async fn id(&self) -> ID {
        ID(self.0.model.id.to_string())
    }
    /// `talk.created`, `talk.updated`, `talk.deleted`, `talk.published` or `talk.unpublished`;
    /// for staff also `asset.created`, `asset.updated` and `asset.deleted`.
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.model.kind
    }
    /// `talk`, or `asset`.
    async fn aggregate_type(&self) -> &str {
        &self.0.model.aggregate_type
    }
    /// The talk's (or the asset's) id.
    async fn aggregate_id(&self) -> ID {
        ID(self.0.model.aggregate_id.to_string())
    }
    /// The talk's version after the change (before it, for a delete).
    async fn version(&self) -> i32 {
        self.0.model.version
    }
    /// A user's id, `token:<jti>`, or `importer`.
    async fn actor(&self) -> &str {
        &self.0.model.actor
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.model.occurred_at
    }
    /// `{ talk, resources, embeds }`, with the abstract and embed markup sanitized.
    async fn state(&self) -> ServedState {
        ServedState(Arc::clone(&self.0))
    }
}

/// An event's state, served as the `JSON` scalar from the value the event converted once.
pub struct ServedState(Arc<LiveEvent>);

impl OutputType for ServedState {
    fn type_name() -> Cow<'static, str> {
        <Json<serde_json::Value> as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Json<serde_json::Value> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(self.0.served_value().clone())
    }
}

/// A page of the change feed.
#[derive(SimpleObject)]
pub struct ChangePage {
    pub events: Vec<ChangeEvent>,
    /// Pass it as `after` for the next page: the last event's `seq`, or `after` itself when
    /// the page is empty.
    pub next_cursor: ID,
    /// Whether more events were waiting when the page was read.
    pub has_more: bool,
}

fn seq(name: &str, value: Option<ID>) -> async_graphql::Result<Option<i64>> {
    value
        .map(|id| {
            id.parse::<i64>().ok().filter(|s| *s >= 0).ok_or_else(|| {
                to_graphql(&ServiceError::Invalid(vec![FieldError::new(
                    name,
                    "not an event seq",
                )]))
            })
        })
        .transpose()
}

fn kinds(types: Option<Vec<ChangeType>>) -> Vec<Kind> {
    types
        .unwrap_or_default()
        .into_iter()
        .map(Kind::from)
        .collect()
}

fn db<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

#[derive(Default)]
pub struct ChangesQuery;

#[Object]
impl ChangesQuery {
    /// Changes after the event `after` (from the first when absent), oldest first: those of
    /// published talks, or with a token of drafts too. 100 per page unless `first` says
    /// otherwise; at most 500. Each event counts 2 towards the query's complexity, whatever
    /// fields are selected.
    #[graphql(complexity = "5 + first.max(0) as usize * 2")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
        #[graphql(default = 100)] first: i32,
        types: Option<Vec<ChangeType>>,
    ) -> async_graphql::Result<ChangePage> {
        let request = FeedRequest::page(
            ("after", seq("after", after)?),
            ("first", Some(i64::from(first))),
            viewer(ctx).audience(),
            kinds(types),
        )
        .map_err(|e| to_graphql(&e))?;
        let page = events::page(db(ctx)?, &request)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(ChangePage {
            events: page.events.into_iter().map(ChangeEvent::from).collect(),
            next_cursor: ID(page.next_after.to_string()),
            has_more: page.has_more,
        })
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Changes as they are committed, in order. With `after`, the changes after that event
    /// come first, then live ones, with no gap and none twice. Readers without a token (in
    /// `connection_init`) get the changes of published talks only.
    async fn talk_changes(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
        types: Option<Vec<ChangeType>>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LiveChange>> + use<>> {
        let after = seq("after", after)?;
        let hub = ctx.data::<Arc<ChangeHub>>()?.clone();
        let audience = viewer(ctx).audience();
        let session = ctx.data_opt::<SessionToken>().cloned();
        let authority = ctx.data::<Arc<Authority>>()?.clone();
        let recheck = ctx
            .data_opt::<TokenRecheck>()
            .map_or(std::time::Duration::from_secs(30), |r| r.0);
        let selection = SelectionKey::of(ctx);
        let events = hub.follow(after, audience, kinds(types)).map(move |event| {
            event
                .map(|event| LiveChange {
                    event,
                    selection: selection.clone(),
                })
                .map_err(|e| to_graphql(&e))
        });
        Ok(async_stream::stream! {
            let mut events = std::pin::pin!(events);
            // A subscription outlives requests: its token is checked again every so often, so
            // that an expired or revoked token, or a disabled account, stops receiving drafts.
            let mut check = tokio::time::interval(recheck);
            check.tick().await;
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(event) => yield event,
                        None => return,
                    },
                    _ = check.tick(), if session.is_some() => {
                        if let Some(SessionToken(token)) = &session
                            && let Err(e) = authority.verify(token).await
                        {
                            yield Err(auth_to_graphql(&e));
                            return;
                        }
                    }
                }
            }
        })
    }
}

/// Whether the dispatcher delivers to an endpoint.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum WebhookState {
    Active,
    /// An event was refused on every attempt; `replayWebhook` resumes delivery.
    Failing,
    Paused,
}

/// An endpoint change events are posted to.
pub struct Webhook(pub webhook::Model);

#[Object]
impl Webhook {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The patterns of the types delivered (`talk.*`, `talk.published`).
    async fn events(&self) -> Vec<String> {
        self.0
            .events
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn state(&self) -> WebhookState {
        match self.0.state {
            webhook::State::Active => WebhookState::Active,
            webhook::State::Failing => WebhookState::Failing,
            webhook::State::Paused => WebhookState::Paused,
        }
    }
    /// Every event up to this `seq` has been delivered (or was not selected).
    async fn delivered_seq(&self) -> ID {
        ID(self.0.delivered_seq.to_string())
    }
    /// Failed attempts at the next event.
    async fn failed_attempts(&self) -> i32 {
        self.0.attempt
    }
    /// When the next event will be tried, when the last attempt failed.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.attempt > 0).then_some(self.0.next_attempt_at)
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    /// Delivery attempts, newest first; `before` is an attempt's id.
    #[graphql(complexity = "first.max(0) as usize * child_complexity")]
    async fn attempts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        before: Option<ID>,
    ) -> async_graphql::Result<Vec<WebhookAttempt>> {
        let before = seq("before", before)?;
        let first = u64::try_from(first).map_err(|_| {
            to_graphql(&ServiceError::Invalid(vec![FieldError::new(
                "first",
                "must not be negative",
            )]))
        })?;
        let attempts = webhooks::attempts(db(ctx)?, self.0.id, before, first)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(attempts.into_iter().map(WebhookAttempt).collect())
    }
}

/// One attempt to deliver one event.
pub struct WebhookAttempt(pub webhook_attempt::Model);

#[Object]
impl WebhookAttempt {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn event_seq(&self) -> ID {
        ID(self.0.event_seq.to_string())
    }
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }
    /// 1 for the first try at the event.
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempted_at
    }
    async fn duration_ms(&self) -> i32 {
        self.0.duration_ms
    }
    /// The receiver's HTTP status, when it answered.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    async fn delivered(&self) -> bool {
        self.0.outcome == "delivered"
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
}

/// A registered endpoint with its secret, shown only when it is set.
#[derive(SimpleObject)]
pub struct WebhookSecret {
    pub webhook: Webhook,
    /// The HMAC key of `Lectern-Signature`.
    pub secret: String,
}

#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// An http:// or https:// URL.
    pub url: String,
    /// `talk.*` for all, or types such as `talk.published`.
    pub events: Vec<String>,
    /// At least 16 characters; generated when absent.
    pub secret: Option<String>,
    pub description: Option<String>,
}

/// Absent fields stay; `null` clears `description`, and is refused for the others.
#[derive(InputObject)]
pub struct UpdateWebhookInput {
    pub url: MaybeUndefined<String>,
    pub events: MaybeUndefined<Vec<String>>,
    pub secret: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    /// Pause (true) or resume (false) delivery; resuming delivers what was missed.
    pub paused: MaybeUndefined<bool>,
}

fn webhook_id(id: &ID) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| {
        to_graphql(&ServiceError::Invalid(vec![FieldError::new(
            "id",
            "is not an id",
        )]))
    })
}

/// Tells this process's dispatcher that an endpoint may have become due.
fn wake_dispatcher(ctx: &Context<'_>) {
    if let Ok(hub) = ctx.data::<Arc<ChangeHub>>() {
        hub.webhooks_changed();
    }
}

fn admin(ctx: &Context<'_>) -> async_graphql::Result<String> {
    let viewer = viewer(ctx);
    viewer
        .require(Role::Admin)
        .map_err(|e| auth_to_graphql(&e))?;
    Ok(viewer.actor())
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every webhook endpoint (admin).
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        admin(ctx)?;
        let hooks = webhooks::list(db(ctx)?).await.map_err(|e| to_graphql(&e))?;
        Ok(hooks.into_iter().map(Webhook).collect())
    }

    /// One webhook endpoint (admin).
    async fn webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Webhook>> {
        admin(ctx)?;
        match webhooks::get(db(ctx)?, webhook_id(&id)?).await {
            Ok(hook) => Ok(Some(Webhook(hook))),
            Err(ServiceError::NotFound) => Ok(None),
            Err(e) => Err(to_graphql(&e)),
        }
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint; it receives the changes committed from now on (admin).
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> async_graphql::Result<WebhookSecret> {
        let actor = admin(ctx)?;
        let hook = webhooks::create(
            db(ctx)?,
            NewWebhook {
                url: input.url,
                events: input.events,
                secret: input.secret,
                description: input.description,
            },
            &actor,
        )
        .await
        .map_err(|e| to_graphql(&e))?;
        Ok(WebhookSecret {
            secret: hook.secret.clone(),
            webhook: Webhook(hook),
        })
    }

    /// Changes an endpoint (admin).
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookInput,
    ) -> async_graphql::Result<Webhook> {
        admin(ctx)?;
        let patch = WebhookPatch {
            url: optional(input.url),
            events: optional(input.events),
            secret: optional(input.secret),
            description: optional(input.description),
            paused: optional(input.paused),
        };
        let hook = webhooks::update(db(ctx)?, webhook_id(&id)?, patch)
            .await
            .map_err(|e| to_graphql(&e))?;
        wake_dispatcher(ctx);
        Ok(Webhook(hook))
    }

    /// Removes an endpoint and its attempt log (admin).
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        admin(ctx)?;
        webhooks::delete(db(ctx)?, webhook_id(&id)?)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(id)
    }

    /// Delivers again from the event `fromSeq` on, and makes the endpoint active (admin).
    async fn replay_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        from_seq: ID,
    ) -> async_graphql::Result<Webhook> {
        admin(ctx)?;
        let from = seq("fromSeq", Some(from_seq))?.unwrap_or(0);
        let hook = webhooks::replay(db(ctx)?, webhook_id(&id)?, from)
            .await
            .map_err(|e| to_graphql(&e))?;
        wake_dispatcher(ctx);
        Ok(Webhook(hook))
    }
}
