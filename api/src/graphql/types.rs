//! The GraphQL types of talks, resources, embeds and events.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{embed, resource, talk};

use super::AssetBase;
use super::errors::to_graphql;
use super::loaders::{EmbedLoader, ResourceLoader};
use service::html;
use service::talks::Children;

/// A talk, with its resources and embeds when they were read with it (otherwise each is
/// loaded in a batch for every talk of the answer that asks for it).
pub struct Talk(pub talk::Model, Option<Children>);

impl From<talk::Model> for Talk {
    fn from(talk: talk::Model) -> Self {
        Self(talk, None)
    }
}

impl From<(talk::Model, Option<Children>)> for Talk {
    fn from((talk, children): (talk::Model, Option<Children>)) -> Self {
        Self(talk, children)
    }
}

impl From<service::talks::TalkRecord> for Talk {
    fn from(record: service::talks::TalkRecord) -> Self {
        Self(
            record.talk,
            Some(Children {
                resources: record.resources,
                embeds: record.embeds,
            }),
        )
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TalkStatus {
    Draft,
    Published,
}

fn asset_url(ctx: &Context<'_>, path: Option<&str>) -> Option<String> {
    absolute(
        ctx.data_opt::<AssetBase>()
            .and_then(|base| base.0.as_deref()),
        path,
    )
}

/// An image or PDF path made absolute against the asset base, when one is set.
pub fn absolute(base: Option<&str>, path: Option<&str>) -> Option<String> {
    let path = path?;
    // A URL of another scheme (`javascript:`, `data:`) is no asset, and is never served.
    if url::Url::parse(path).is_ok_and(|url| !matches!(url.scheme(), "http" | "https")) {
        return None;
    }
    match base {
        Some(base) if !path.contains("://") => Some(format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )),
        _ => Some(path.to_owned()),
    }
}

#[Object]
impl Talk {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// As the document wrote it: ISO 8601, a date or a date and time.
    async fn date(&self) -> &str {
        &self.0.date
    }
    async fn event(&self) -> Option<&str> {
        self.0.event.as_deref()
    }
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
    async fn notist_id(&self) -> Option<&str> {
        self.0.notist_id.as_deref()
    }
    /// Absolute when `LECTERN_ASSET_BASE_URL` is set.
    async fn image_url(&self, ctx: &Context<'_>) -> Option<String> {
        asset_url(ctx, self.0.image.as_deref())
    }
    /// Absolute when `LECTERN_ASSET_BASE_URL` is set.
    async fn pdf_url(&self, ctx: &Context<'_>) -> Option<String> {
        asset_url(ctx, self.0.pdf.as_deref())
    }
    /// The talk's image with its size and alt text, and URLs of its transforms: its own
    /// image, else the first page of its stored slides, else null.
    async fn image(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::assets::Image>> {
        super::assets::image_of(ctx, &self.0).await
    }
    /// The talk's slides with their page count and a thumbnail of the first page.
    async fn slides(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::assets::Slides>> {
        super::assets::slides_of(ctx, &self.0).await
    }
    /// The abstract as HTML, sanitized: no scripts, event handlers or `javascript:` URLs.
    async fn body_html(&self) -> &str {
        &self.0.body_html
    }
    /// The abstract as plain text.
    async fn body_text(&self) -> &str {
        &self.0.body_text
    }
    /// The start of the abstract's text, cut at a word.
    async fn excerpt(&self, #[graphql(default = 200)] length: u16) -> String {
        match usize::from(length) {
            html::EXCERPT_LENGTH => self.0.excerpt.clone(),
            length => html::excerpt(&self.0.body_text, length),
        }
    }
    async fn status(&self) -> TalkStatus {
        match self.0.status {
            talk::Status::Draft => TalkStatus::Draft,
            talk::Status::Published => TalkStatus::Published,
        }
    }
    /// Starts at 1, grows by one on every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Who created the talk: a user's id, `token:<jti>` for a machine token, or `importer`.
    async fn created_by(&self) -> Option<&str> {
        self.0.created_by.as_deref()
    }
    /// Who changed it last, in the same form.
    async fn updated_by(&self) -> Option<&str> {
        self.0.updated_by.as_deref()
    }
    /// Every front-matter key the model does not know, as the document gave it.
    async fn extra(&self) -> Json<serde_json::Value> {
        Json(self.0.extra.clone())
    }
    /// In document order.
    async fn resources(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Resource>> {
        if let Some(children) = &self.1 {
            return Ok(children.resources.iter().cloned().map(Resource).collect());
        }
        let loader = ctx.data::<DataLoader<ResourceLoader>>()?;
        let resources = loader
            .load_one(self.0.id)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(resources
            .unwrap_or_default()
            .into_iter()
            .map(Resource)
            .collect())
    }
    /// The talk's revisions, oldest first: each change with the whole state after it (a
    /// token is needed: old states may never have been published). `after` is a revision's
    /// `seq`.
    #[graphql(complexity = "first.max(0) as usize * child_complexity")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<ID>,
    ) -> async_graphql::Result<Vec<super::changes::ChangeEvent>> {
        super::query::viewer(ctx)
            .require(service::accounts::Role::Viewer)
            .map_err(|e| super::errors::auth_to_graphql(&e))?;
        if !(0..=100).contains(&first) {
            return Err(super::errors::coded(
                "first: must be 0 to 100",
                "BAD_USER_INPUT",
            ));
        }
        let after = after
            .map(|seq| {
                seq.parse::<i64>()
                    .map_err(|_| super::errors::coded("after: not a revision", "BAD_USER_INPUT"))
            })
            .transpose()?;
        let db = ctx.data::<service::sea_orm::DatabaseConnection>()?;
        let events = service::events::history(db, self.0.id, after, first as u64)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(events
            .into_iter()
            .map(super::changes::ChangeEvent::from)
            .collect())
    }
    /// In document order.
    async fn embeds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Embed>> {
        if let Some(children) = &self.1 {
            return Ok(children.embeds.iter().cloned().map(Embed).collect());
        }
        let loader = ctx.data::<DataLoader<EmbedLoader>>()?;
        let embeds = loader
            .load_one(self.0.id)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(embeds.unwrap_or_default().into_iter().map(Embed).collect())
    }
}

/// A link about a talk.
pub struct Resource(pub resource::Model);

#[Object]
impl Resource {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The stored asset `url` names, when it is one.
    async fn asset_id(&self) -> Option<ID> {
        self.0.asset_id.map(|id| ID(id.to_string()))
    }
}

/// Something embedded about a talk: a tweet, the video.
pub struct Embed(pub embed::Model);

/// A tweet, read from its embed markup.
#[derive(SimpleObject)]
pub struct Tweet {
    pub url: Option<String>,
    pub author: Option<String>,
    pub handle: Option<String>,
    pub text: Option<String>,
    pub date: Option<String>,
}

/// A video or other iframe, read from its embed markup.
#[derive(SimpleObject)]
pub struct Video {
    pub src: String,
    pub provider: String,
}

#[Object]
impl Embed {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The document's `type`: `twitter`, `notist_video`, or another.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// The embed markup, sanitized (quotes, links and https iframes are kept).
    async fn html(&self) -> &str {
        &self.0.safe_html
    }
    /// The tweet, when the markup is a tweet.
    async fn tweet(&self) -> Option<Tweet> {
        self.0.tweet.clone().map(|t| Tweet {
            url: t.url,
            author: t.author,
            handle: t.handle,
            text: t.text,
            date: t.date,
        })
    }
    /// The video, when the markup has an iframe.
    async fn video(&self) -> Option<Video> {
        self.0.video.clone().map(|v| Video {
            src: v.src,
            provider: v.provider,
        })
    }
}

/// An event with published talks.
pub struct EventSummary(pub service::listing::EventSummary);

#[Object]
impl EventSummary {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
    async fn talk_count(&self) -> i64 {
        self.0.talk_count
    }
    async fn first_date(&self) -> &str {
        &self.0.first_date
    }
    async fn last_date(&self) -> &str {
        &self.0.last_date
    }
}
