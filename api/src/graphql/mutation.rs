//! Changing content, logging in, and managing accounts. Every change goes through the service
//! crate, in one transaction, and records who made it.

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, InputObject, Json, MaybeUndefined, MergedObject, Object, SimpleObject,
};
use chrono::{DateTime, Utc};
use entity::talk::Status;
use entity::{machine_token, user};
use service::accounts::{self, Role};
use service::editing::{self, TalkPatch};
use service::sea_orm::DatabaseConnection;
use service::talks::{NewEmbed, NewResource, NewTalk};
use service::{FieldError, ServiceError};
use uuid::Uuid;

use super::changes::WebhookMutation;
use super::errors::{auth_to_graphql, to_graphql};
use super::query::viewer;
use super::types::Talk;
use crate::auth::Authority;

/// The client's address, for rate limits.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AuthMutation,
    TalkMutation,
    AdminMutation,
    WebhookMutation,
    super::assets::AssetMutation,
);

/// A role, as GraphQL names it.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum RoleName {
    Viewer,
    Editor,
    Admin,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => Self::Viewer,
            Role::Editor => Self::Editor,
            Role::Admin => Self::Admin,
        }
    }
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Viewer => Self::Viewer,
            RoleName::Editor => Self::Editor,
            RoleName::Admin => Self::Admin,
        }
    }
}

/// A bearer token to send as `Authorization: Bearer <accessToken>`.
#[derive(SimpleObject)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// An account.
#[derive(SimpleObject)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub role: RoleName,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<user::Model> for User {
    fn from(user: user::Model) -> Self {
        Self {
            id: ID(user.id.to_string()),
            email: user.email,
            role: user.role.into(),
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

/// A token issued to a deploy job or an integration (`lectern token issue`).
#[derive(SimpleObject)]
pub struct MachineToken {
    pub jti: ID,
    pub name: String,
    pub role: RoleName,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<machine_token::Model> for MachineToken {
    fn from(token: machine_token::Model) -> Self {
        Self {
            jti: ID(token.jti.to_string()),
            name: token.name,
            role: token.role.into(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
        }
    }
}

#[derive(InputObject)]
pub struct ResourceInput {
    pub title: String,
    /// Absolute http or https URL.
    pub url: String,
    pub description: Option<String>,
}

impl From<ResourceInput> for NewResource {
    fn from(input: ResourceInput) -> Self {
        Self {
            title: input.title,
            url: input.url,
            description: input.description,
        }
    }
}

#[derive(InputObject)]
pub struct EmbedInput {
    /// What the embed is, e.g. `tweet` or `video`.
    pub kind: String,
    /// Its markup; sanitized when served.
    pub html: String,
}

impl From<EmbedInput> for NewEmbed {
    fn from(input: EmbedInput) -> Self {
        Self {
            kind: input.kind,
            html: input.html,
        }
    }
}

/// A new talk; it starts as a draft.
#[derive(InputObject)]
pub struct CreateTalkInput {
    /// ASCII letters, digits and hyphens; unique.
    pub slug: String,
    /// At most 300 characters.
    pub title: String,
    /// ISO 8601: a date, or a date and time.
    pub date: String,
    pub event: Option<String>,
    pub location: Option<String>,
    /// A path (resolved against the asset base URL) or an absolute URL.
    pub image: Option<String>,
    pub pdf: Option<String>,
    pub notist_id: Option<String>,
    /// The abstract as HTML, at most 1 MiB.
    #[graphql(default)]
    pub body: String,
    /// Further fields, as a JSON object.
    pub extra: Option<Json<serde_json::Map<String, serde_json::Value>>>,
    #[graphql(default)]
    pub resources: Vec<ResourceInput>,
    #[graphql(default)]
    pub embeds: Vec<EmbedInput>,
}

/// Changes to a talk: a field left out stays as it is; `null` clears an optional field.
#[derive(InputObject, Default)]
pub struct UpdateTalkInput {
    pub slug: MaybeUndefined<String>,
    pub title: MaybeUndefined<String>,
    pub date: MaybeUndefined<String>,
    pub event: MaybeUndefined<String>,
    pub location: MaybeUndefined<String>,
    pub image: MaybeUndefined<String>,
    pub pdf: MaybeUndefined<String>,
    pub notist_id: MaybeUndefined<String>,
    pub body: MaybeUndefined<String>,
    pub extra: MaybeUndefined<Json<serde_json::Map<String, serde_json::Value>>>,
}

/// A merge-patch field: absent stays (None), `null` clears (Some(None)).
pub(crate) fn optional<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

impl UpdateTalkInput {
    fn into_patch(self) -> Result<TalkPatch, ServiceError> {
        TalkPatch::merge(
            optional(self.slug),
            optional(self.title),
            optional(self.date),
            optional(self.body),
            optional(self.event),
            optional(self.location),
            optional(self.image),
            optional(self.pdf),
            optional(self.notist_id),
            optional(self.extra).map(|extra| extra.map(|Json(extra)| extra)),
        )
    }
}

fn parse_id(name: &str, id: &ID) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| {
        to_graphql(&ServiceError::Invalid(vec![FieldError::new(
            name,
            "is not an id",
        )]))
    })
}

/// The viewer's actor name, when it has `role`.
fn allowed(ctx: &Context<'_>, role: Role) -> async_graphql::Result<String> {
    let viewer = viewer(ctx);
    viewer.require(role).map_err(|e| auth_to_graphql(&e))?;
    Ok(viewer.actor())
}

fn db<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

fn talk(result: Result<service::talks::TalkRecord, ServiceError>) -> async_graphql::Result<Talk> {
    result.map(Talk::from).map_err(|e| to_graphql(&e))
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Logs in; the answer is the same for an unknown email and a wrong password. Limited per
    /// client address and per email (`RATE_LIMITED` with `retryAfter` seconds).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AccessToken> {
        let authority = ctx.data::<Arc<Authority>>()?;
        let client = ctx.data_opt::<ClientAddr>().and_then(|c| c.0);
        let token = authority
            .login(client, &email, &password)
            .await
            .map_err(|e| auth_to_graphql(&e))?;
        Ok(AccessToken {
            access_token: token.access_token,
            token_type: token.token_type.into(),
            expires_in: token.expires_in,
        })
    }
}

#[derive(Default)]
pub struct TalkMutation;

#[Object]
impl TalkMutation {
    /// Creates a talk, as a draft (editor).
    async fn create_talk(
        &self,
        ctx: &Context<'_>,
        input: CreateTalkInput,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
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
            extra: input.extra.map(|Json(extra)| extra).unwrap_or_default(),
            resources: input.resources.into_iter().map(Into::into).collect(),
            embeds: input.embeds.into_iter().map(Into::into).collect(),
        };
        talk(editing::create_talk(db(ctx)?, new, &actor).await)
    }

    /// Changes a talk's fields (editor); fails with `CONFLICT` unless `expectedVersion` is the
    /// stored version.
    async fn update_talk(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTalkInput,
        expected_version: i32,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        let patch = input.into_patch().map_err(|e| to_graphql(&e))?;
        talk(editing::update_talk(db(ctx)?, id, patch, expected_version, &actor).await)
    }

    /// Deletes a talk with its resources and embeds (editor); `CONFLICT` unless
    /// `expectedVersion` is the stored version. Returns the id.
    async fn delete_talk(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<ID> {
        let actor = allowed(ctx, Role::Editor)?;
        let uuid = parse_id("id", &id)?;
        editing::delete_talk(db(ctx)?, uuid, expected_version, &actor)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(id)
    }

    /// Writes back the state the talk had at `version` (fields, resources, embeds; the status
    /// stays) as a new version (editor); `CONFLICT` unless `expectedVersion` is the stored one.
    async fn restore_talk(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        expected_version: i32,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        talk(editing::restore_talk(db(ctx)?, id, version, expected_version, &actor).await)
    }

    /// Makes a talk visible to every reader (editor).
    async fn publish_talk(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        talk(editing::set_status(db(ctx)?, id, Status::Published, &actor).await)
    }

    /// Makes a talk a draft again (editor).
    async fn unpublish_talk(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        talk(editing::set_status(db(ctx)?, id, Status::Draft, &actor).await)
    }

    /// Adds a resource at `position` (0 is first; the end when left out). Returns the talk.
    async fn add_resource(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        input: ResourceInput,
        position: Option<i32>,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let talk_id = parse_id("talkId", &talk_id)?;
        talk(editing::add_resource(db(ctx)?, talk_id, input.into(), position, &actor).await)
    }

    async fn update_resource(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ResourceInput,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        talk(editing::update_resource(db(ctx)?, id, input.into(), &actor).await)
    }

    async fn remove_resource(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        talk(editing::remove_resource(db(ctx)?, id, &actor).await)
    }

    /// Puts a talk's resources in the order of `ids`, which must name each of them once.
    async fn reorder_resources(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let talk_id = parse_id("talkId", &talk_id)?;
        let ids = ids
            .iter()
            .map(|id| parse_id("ids", id))
            .collect::<async_graphql::Result<Vec<_>>>()?;
        talk(editing::reorder_resources(db(ctx)?, talk_id, ids, &actor).await)
    }

    /// Adds an embed at `position` (0 is first; the end when left out). Returns the talk.
    async fn add_embed(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        input: EmbedInput,
        position: Option<i32>,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let talk_id = parse_id("talkId", &talk_id)?;
        talk(editing::add_embed(db(ctx)?, talk_id, input.into(), position, &actor).await)
    }

    async fn update_embed(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: EmbedInput,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        talk(editing::update_embed(db(ctx)?, id, input.into(), &actor).await)
    }

    async fn remove_embed(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let id = parse_id("id", &id)?;
        talk(editing::remove_embed(db(ctx)?, id, &actor).await)
    }

    /// Puts a talk's embeds in the order of `ids`, which must name each of them once.
    async fn reorder_embeds(
        &self,
        ctx: &Context<'_>,
        talk_id: ID,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Talk> {
        let actor = allowed(ctx, Role::Editor)?;
        let talk_id = parse_id("talkId", &talk_id)?;
        let ids = ids
            .iter()
            .map(|id| parse_id("ids", id))
            .collect::<async_graphql::Result<Vec<_>>>()?;
        talk(editing::reorder_embeds(db(ctx)?, talk_id, ids, &actor).await)
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Adds an account (admin).
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        role: RoleName,
    ) -> async_graphql::Result<User> {
        allowed(ctx, Role::Admin)?;
        accounts::add_user(db(ctx)?, &email, &password, role.into())
            .await
            .map(Into::into)
            .map_err(|e| to_graphql(&e))
    }

    /// Disables an account; its tokens are refused from the next request on (admin).
    async fn disable_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<User> {
        allowed(ctx, Role::Admin)?;
        let id = parse_id("id", &id)?;
        accounts::disable_user_by_id(db(ctx)?, id)
            .await
            .map(Into::into)
            .map_err(|e| to_graphql(&e))
    }

    /// Revokes a machine token; it is refused from the next request on (admin).
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        jti: ID,
    ) -> async_graphql::Result<MachineToken> {
        allowed(ctx, Role::Admin)?;
        let jti = parse_id("jti", &jti)?;
        accounts::revoke_token(db(ctx)?, jti)
            .await
            .map(Into::into)
            .map_err(|e| to_graphql(&e))
    }
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Every account, by email (admin).
    async fn users(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        allowed(ctx, Role::Admin)?;
        let users = accounts::list_users(db(ctx)?)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(users.into_iter().map(Into::into).collect())
    }

    /// Every machine token, newest first (admin).
    async fn tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MachineToken>> {
        allowed(ctx, Role::Admin)?;
        let tokens = accounts::list_tokens(db(ctx)?)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(tokens.into_iter().map(Into::into).collect())
    }
}
