//! The reads of the traffic, anonymous, each answer checked: GraphQL `talk(slug:)` (30%),
//! GraphQL `talks(first: 20)` (20%), REST `GET /api/v1/talks/{slug}` (30%) and REST
//! `GET /api/v1/talks` (20%), the lists on the first page or filtered by a year.

use awc::http::Method;
use serde_json::{Value, json};
use tests::bench::excerpt;

use crate::http::{Problem, answer_problem};
use crate::traffic::{Ctx, Lcg};

const TALK_QUERY: &str = "query($slug: String!) { talk(slug: $slug) { id slug title date event location imageUrl pdfUrl bodyHtml version resources { title url description } embeds { kind html video { src provider } } } }";
const LIST_QUERY: &str = "query($first: Int!, $filter: TalkFilter) { talks(first: $first, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } nodes { id slug title date event location excerpt resources { title url } embeds { kind } } } }";

/// One read of a published talk or a page of them: the operation's name and its outcome.
pub(crate) async fn read_one(ctx: &Ctx, rng: &mut Lcg) -> (&'static str, Result<(), Problem>) {
    let slug = &ctx.slugs[rng.next(ctx.slugs.len() as u64) as usize];
    let year = (!ctx.years.is_empty() && rng.next(2) == 0)
        .then(|| ctx.years[rng.next(ctx.years.len() as u64) as usize]);
    let pick = rng.next(10);
    if pick < 3 {
        let op = "read: GraphQL talk(slug:)";
        let reply = ctx
            .http
            .graphql(TALK_QUERY, json!({"slug": slug}), false)
            .await;
        let result = reply.and_then(|r| match answer_problem(&r, 200) {
            Some(p) => Err(p),
            None if r.body["data"]["talk"]["slug"].as_str() == Some(slug)
                && r.body["data"]["talk"]["resources"].is_array() =>
            {
                Ok(())
            }
            None => Err(Problem::wrong(format!(
                "talk {slug}: {}",
                excerpt(&r.body.to_string())
            ))),
        });
        (op, result)
    } else if pick < 5 {
        let op = "read: GraphQL talks(first: 20)";
        let filter = year.map_or(Value::Null, |y| json!({"year": y}));
        let reply = ctx
            .http
            .graphql(LIST_QUERY, json!({"first": 20, "filter": filter}), false)
            .await;
        let result = reply.and_then(|r| {
            if let Some(p) = answer_problem(&r, 200) {
                return Err(p);
            }
            let nodes = r.body["data"]["talks"]["nodes"].as_array();
            match nodes {
                Some(nodes)
                    if !nodes.is_empty()
                        && nodes
                            .iter()
                            .all(|n| n["slug"].is_string() && n["resources"].is_array()) =>
                {
                    Ok(())
                }
                _ => Err(Problem::wrong(format!(
                    "talks (year {year:?}): {}",
                    excerpt(&r.body.to_string())
                ))),
            }
        });
        (op, result)
    } else if pick < 8 {
        let op = "read: REST GET talk";
        let reply = ctx.http.get_talk(slug, false).await;
        let result = reply.and_then(|r| match answer_problem(&r, 200) {
            Some(p) => Err(p),
            None if r.body["slug"].as_str() == Some(slug) && r.body["resources"].is_array() => {
                Ok(())
            }
            None => Err(Problem::wrong(format!(
                "GET {slug}: {}",
                excerpt(&r.body.to_string())
            ))),
        });
        (op, result)
    } else {
        let op = "read: REST GET talks";
        let path = match year {
            Some(y) => format!("/api/v1/talks?limit=20&include=resources,embeds&year={y}"),
            None => "/api/v1/talks?limit=20&include=resources,embeds".to_owned(),
        };
        let reply = ctx.http.send(Method::GET, &path, false, &[], None).await;
        let result = reply.and_then(|r| {
            if let Some(p) = answer_problem(&r, 200) {
                return Err(p);
            }
            match r.body["data"].as_array() {
                Some(data)
                    if !data.is_empty()
                        && data
                            .iter()
                            .all(|t| t["slug"].is_string() && t["resources"].is_array()) =>
                {
                    Ok(())
                }
                _ => Err(Problem::wrong(format!(
                    "{path}: {}",
                    excerpt(&r.body.to_string())
                ))),
            }
        });
        (op, result)
    }
}
