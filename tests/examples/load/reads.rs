//! The reads of the traffic, anonymous, each answer checked: that it is a 2xx without GraphQL
//! `errors`, names the talk asked for (or is a non-empty page, unless a search), and that no
//! talk in it is older than a write this driver saw acknowledged before sending it (`fresh`).
//!
//! Two mixes. The mixed one: GraphQL `talk(slug:)` (30%), GraphQL `talks(first: 20)` (20%),
//! REST `GET /api/v1/talks/{slug}` (30%) and REST `GET /api/v1/talks` (20%), the lists on the
//! first page or filtered by a year. The steady one: GraphQL `talk(slug:)` (25%), REST `GET` of
//! a talk (25%), GraphQL `talks(first: 20)` on the first page, filtered by an event, by a year,
//! or searching a word (10% each), and the REST list on the first page or a year (10%).

use std::time::Instant;

use awc::http::Method;
use serde_json::{Value, json};
use tests::bench::excerpt;

use crate::http::{Http, Problem, answer_problem};
use crate::steady::MARKER;
use crate::traffic::{Ctx, Lcg, Mode};

const TALK_QUERY: &str = "query($slug: String!) { talk(slug: $slug) { id slug title date event location imageUrl pdfUrl bodyHtml version resources { title url description } embeds { kind html video { src provider } } } }";
const LIST_QUERY: &str = "query($first: Int!, $filter: TalkFilter) { talks(first: $first, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } nodes { id slug title date event location excerpt version resources { title url } embeds { kind } } } }";

/// What a list is narrowed to (at most one of these in the mixes).
#[derive(Default)]
pub(crate) struct Filter<'a> {
    pub(crate) event: Option<&'a str>,
    pub(crate) year: Option<i64>,
    pub(crate) search: Option<&'a str>,
}

/// One read of the traffic.
pub(crate) enum Read<'a> {
    /// GraphQL `talk(slug:)` with resources and embeds.
    TalkGql(&'a str),
    /// REST `GET /api/v1/talks/{slug}`.
    TalkRest(&'a str),
    /// GraphQL `talks(first: 20)` with resources and embeds.
    ListGql(Filter<'a>),
    /// REST `GET /api/v1/talks?limit=20&include=resources,embeds`, on the first page or a year.
    ListRest(Option<i64>),
}

impl Read<'_> {
    /// The operation's name in the report.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::TalkGql(_) => "read: GraphQL talk(slug:)",
            Self::TalkRest(_) => "read: REST GET talk",
            Self::ListGql(f) if f.search.is_some() => "read: GraphQL talks, search",
            Self::ListGql(f) if f.event.is_some() => "read: GraphQL talks, event",
            Self::ListGql(f) if f.year.is_some() => "read: GraphQL talks, year",
            Self::ListGql(_) => "read: GraphQL talks(first: 20)",
            Self::ListRest(Some(_)) => "read: REST GET talks, year",
            Self::ListRest(None) => "read: REST GET talks",
        }
    }
}

/// One of `items`, at random.
fn any<'a, T>(rng: &mut Lcg, items: &'a [T]) -> Option<&'a T> {
    (!items.is_empty()).then(|| &items[rng.next(items.len() as u64) as usize])
}

/// A read of the mixed traffic.
fn mixed<'a>(ctx: &'a Ctx, rng: &mut Lcg) -> Read<'a> {
    let slug = any(rng, &ctx.slugs).map_or("", String::as_str);
    let year = (!ctx.years.is_empty() && rng.next(2) == 0)
        .then(|| any(rng, &ctx.years).copied())
        .flatten();
    match rng.next(10) {
        0..3 => Read::TalkGql(slug),
        3..5 => Read::ListGql(Filter {
            year,
            ..Filter::default()
        }),
        5..8 => Read::TalkRest(slug),
        _ => Read::ListRest(year),
    }
}

/// A read of the steady traffic. A quarter of the searches look for the word the steady
/// writes put into abstracts.
fn steady<'a>(ctx: &'a Ctx, rng: &mut Lcg) -> Read<'a> {
    let slug = any(rng, &ctx.slugs).map_or("", String::as_str);
    match rng.next(20) {
        0..5 => Read::TalkGql(slug),
        5..10 => Read::TalkRest(slug),
        10..12 => Read::ListGql(Filter::default()),
        12..14 => Read::ListGql(Filter {
            event: any(rng, &ctx.events).map(String::as_str),
            ..Filter::default()
        }),
        14..16 => Read::ListGql(Filter {
            year: any(rng, &ctx.years).copied(),
            ..Filter::default()
        }),
        16..18 => Read::ListGql(Filter {
            search: if rng.next(4) == 0 {
                Some(MARKER)
            } else {
                any(rng, &ctx.words).map(String::as_str)
            },
            ..Filter::default()
        }),
        _ => Read::ListRest(
            (rng.next(2) == 0)
                .then(|| any(rng, &ctx.years).copied())
                .flatten(),
        ),
    }
}

/// Sends a read: the talks it answered (one, or a page), each checked to be the talk asked
/// for or a talk at all.
pub(crate) async fn send(http: &Http, read: &Read<'_>) -> Result<Vec<Value>, Problem> {
    let (reply, talks) = match read {
        Read::TalkGql(slug) => {
            let reply = http
                .graphql(TALK_QUERY, json!({"slug": slug}), false)
                .await?;
            let talk = reply.body["data"]["talk"].clone();
            (reply, vec![talk])
        }
        Read::TalkRest(slug) => {
            let reply = http.get_talk(slug, false).await?;
            let talk = reply.body.clone();
            (reply, vec![talk])
        }
        Read::ListGql(filter) => {
            let filter =
                json!({"event": filter.event, "year": filter.year, "search": filter.search});
            let reply = http
                .graphql(LIST_QUERY, json!({"first": 20, "filter": filter}), false)
                .await?;
            let nodes = reply.body["data"]["talks"]["nodes"].as_array().cloned();
            (reply, nodes.unwrap_or_default())
        }
        Read::ListRest(year) => {
            let path = match year {
                Some(y) => format!("/api/v1/talks?limit=20&include=resources,embeds&year={y}"),
                None => "/api/v1/talks?limit=20&include=resources,embeds".to_owned(),
            };
            let reply = http.send(Method::GET, &path, false, &[], None).await?;
            let data = reply.body["data"].as_array().cloned();
            (reply, data.unwrap_or_default())
        }
    };
    if let Some(p) = answer_problem(&reply, 200) {
        return Err(p);
    }
    let well_formed = |t: &Value| t["slug"].is_string() && t["resources"].is_array();
    let ok = match read {
        Read::TalkGql(slug) | Read::TalkRest(slug) => {
            talks[0]["slug"].as_str() == Some(slug) && well_formed(&talks[0])
        }
        Read::ListGql(Filter {
            search: Some(_), ..
        }) => talks.iter().all(well_formed),
        Read::ListGql(_) | Read::ListRest(_) => !talks.is_empty() && talks.iter().all(well_formed),
    };
    if !ok {
        let asked = match read {
            Read::TalkGql(slug) | Read::TalkRest(slug) => format!("talk {slug}"),
            Read::ListGql(f) => format!(
                "event {:?}, year {:?}, search {:?}",
                f.event, f.year, f.search
            ),
            Read::ListRest(year) => format!("year {year:?}"),
        };
        return Err(Problem::wrong(format!(
            "{} ({asked}): {}",
            read.name(),
            excerpt(&reply.body.to_string())
        )));
    }
    Ok(talks)
}

/// One read of the run's mix: the operation's name and its outcome. Every talk answered is
/// checked against the writes acknowledged before it was sent; an older one is counted as a
/// stale answer (in `ctx.fresh`), not as a failed request.
pub(crate) async fn read_one(ctx: &Ctx, rng: &mut Lcg) -> (&'static str, Result<(), Problem>) {
    let read = match ctx.mode {
        Mode::Steady => steady(ctx, rng),
        _ => mixed(ctx, rng),
    };
    let sent = Instant::now();
    let result = send(&ctx.http, &read).await.map(|talks| {
        ctx.fresh.borrow_mut().check(read.name(), sent, &talks);
    });
    (read.name(), result)
}
