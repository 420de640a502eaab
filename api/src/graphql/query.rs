//! Reading talks.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, MergedObject, Object, SimpleObject};
use chrono::NaiveDate;
use service::listing::{
    self, Cursor, OrderField, PageRequest, TalkFilter as Filter, TalkOrder as Order,
};
use service::sea_orm::DatabaseConnection;
use service::talks::Markup;
use service::visibility::{self, TalkKey};
use uuid::Uuid;

use super::changes::{ChangesQuery, WebhookQuery};
use super::errors::{coded, to_graphql};
use super::mutation::AdminQuery;
use super::types::{EventSummary, Talk};
use crate::auth::Viewer;

#[derive(MergedObject, Default)]
pub struct Query(
    TalkQuery,
    AdminQuery,
    ChangesQuery,
    WebhookQuery,
    super::assets::AssetQuery,
);

#[derive(Default)]
pub struct TalkQuery;

/// Narrows `talks`; every field given must hold.
#[derive(InputObject, Default)]
pub struct TalkFilter {
    /// Exact event name.
    pub event: Option<String>,
    /// Exact location.
    pub location: Option<String>,
    pub year: Option<i32>,
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    /// Talks with (true) or without (false) a video embed.
    pub has_video: Option<bool>,
    /// Words that must all occur in the title, event, location or abstract. Without `orderBy`,
    /// the best matches come first.
    pub search: Option<String>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TalkOrderField {
    Date,
    Title,
    UpdatedAt,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    Asc,
    #[default]
    Desc,
}

#[derive(InputObject)]
pub struct TalkOrder {
    pub field: TalkOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Fields of the talk list beside its edges.
#[derive(SimpleObject)]
pub struct TalkConnectionFields {
    /// How many talks match the filter, on all pages.
    pub total_count: u64,
}

pub type TalkConnection = Connection<String, Talk, TalkConnectionFields>;

fn encode(cursor: &Cursor) -> String {
    cursor.encode()
}

fn decode(name: &str, cursor: Option<String>) -> Result<Option<Cursor>, async_graphql::Error> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    Cursor::decode(&cursor).map(Some).ok_or_else(|| {
        coded(
            &format!("{name}: not a cursor of this list"),
            "BAD_USER_INPUT",
        )
    })
}

fn page_size(name: &str, value: Option<i32>) -> Result<Option<u64>, async_graphql::Error> {
    match value {
        None => Ok(None),
        Some(n) if n < 0 => Err(coded(
            &format!("{name}: must not be negative"),
            "BAD_USER_INPUT",
        )),
        Some(n) => Ok(Some(n as u64)),
    }
}

/// Who asks; anonymous unless the request carried a valid token.
pub fn viewer<'a>(ctx: &'a Context<'_>) -> &'a Viewer {
    static ANONYMOUS: Viewer = Viewer::Anonymous;
    ctx.data_opt::<Viewer>().unwrap_or(&ANONYMOUS)
}

#[Object]
impl TalkQuery {
    /// A talk by slug or by id (exactly one of them); null when there is none. Readers without
    /// a token see published talks only; with a token, drafts too.
    async fn talk(
        &self,
        ctx: &Context<'_>,
        slug: Option<String>,
        id: Option<ID>,
    ) -> async_graphql::Result<Option<Talk>> {
        let key = match (&slug, id) {
            (Some(slug), None) => TalkKey::Slug(slug),
            (None, Some(id)) => TalkKey::Id(
                Uuid::parse_str(&id).map_err(|_| coded("id: not a talk id", "BAD_USER_INPUT"))?,
            ),
            _ => return Err(coded("give exactly one of slug and id", "BAD_USER_INPUT")),
        };
        let db = ctx.data::<DatabaseConnection>()?;
        let audience = viewer(ctx).audience();
        // A talk asked for with its resources or embeds is read with them, in one statement.
        let look = ctx.look_ahead();
        if look.field("resources").exists() || look.field("embeds").exists() {
            let record = visibility::talk_record(db, audience, key, Markup::Left)
                .await
                .map_err(|e| to_graphql(&e))?;
            return Ok(record.map(Talk::from));
        }
        let talk = visibility::talk(db, audience, key)
            .await
            .map_err(|e| to_graphql(&e))?;
        Ok(talk.map(Talk::from))
    }

    /// Talks (published ones; with a token, drafts too), a page at a time (Relay connection). 20 per page unless `first` or
    /// `last` says otherwise; at most 100.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "5 + first.or(last).unwrap_or(20).max(0) as usize * child_complexity")]
    async fn talks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TalkFilter>,
        order_by: Option<TalkOrder>,
    ) -> async_graphql::Result<TalkConnection> {
        let db = ctx.data::<DatabaseConnection>()?;
        let filter = filter.unwrap_or_default();
        let filter = Filter {
            search: filter.search,
            event: filter.event,
            location: filter.location,
            year: filter.year,
            from: filter.from,
            to: filter.to,
            has_video: filter.has_video,
            status: None,
            audience: viewer(ctx).audience(),
        };
        let requested = order_by.map(|o| Order {
            field: match o.field {
                TalkOrderField::Date => OrderField::Date,
                TalkOrderField::Title => OrderField::Title,
                TalkOrderField::UpdatedAt => OrderField::UpdatedAt,
            },
            descending: o.direction == OrderDirection::Desc,
        });
        let order = Order::chosen(requested, &filter);
        let request = PageRequest {
            first: page_size("first", first)?,
            after: decode("after", after)?,
            last: page_size("last", last)?,
            before: decode("before", before)?,
        };
        let page = listing::list_reading(db, &filter, order, &request, reading(ctx))
            .await
            .map_err(|e| to_graphql(&e))?;
        let total_count = listing::count(db, &filter)
            .await
            .map_err(|e| to_graphql(&e))?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            TalkConnectionFields { total_count },
        );
        let cursors = listing::cursors(order, &page);
        let mut children = page.children.map(Vec::into_iter);
        connection
            .edges
            .extend(cursors.iter().zip(page.talks).map(|(cursor, talk)| {
                let children = children.as_mut().and_then(Iterator::next);
                Edge::new(encode(cursor), Talk::from((talk, children)))
            }));
        Ok(connection)
    }

    /// Each distinct event with published talks, the most recent first.
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<EventSummary>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let events = listing::events(db).await.map_err(|e| to_graphql(&e))?;
        Ok(events.into_iter().map(EventSummary).collect())
    }
}

/// What the talks of a page are read with: their resources and embeds (in the page's own
/// statement) when the query asks for either, and the abstract's long texts only when it asks
/// for `bodyHtml`, `bodyText` or an excerpt of another length than the stored one.
fn reading(ctx: &Context<'_>) -> listing::Reading {
    let look = ctx.look_ahead();
    let nodes = [look.field("nodes"), look.field("edges").field("node")];
    let asks = |name: &str| nodes.iter().any(|node| node.field(name).exists());
    let other_excerpt = nodes.iter().any(|node| {
        node.field("excerpt")
            .selection_fields()
            .iter()
            .any(|field| field.arguments().map_or(true, |args| !args.is_empty()))
    });
    listing::Reading {
        children: asks("resources") || asks("embeds"),
        texts: asks("bodyHtml") || asks("bodyText") || other_excerpt,
    }
}
