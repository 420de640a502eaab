//! The writes of the traffic, each answer checked: creates (REST and GraphQL, with two
//! resources and an embed), then in turn a REST `PATCH` of the title, a GraphQL `updateTalk` of
//! the title, a REST resource added or removed, a REST reorder of the resources and a GraphQL
//! embed added or removed. Each connection writes only the talks it created, so no write can
//! legitimately conflict; what each write acknowledged is kept for the fault modes.
//!
//! `edit` (any one edit of a talk at a known version, its answer checked) and `resync` serve
//! the steady mode too, which edits the corpus's talks.

use awc::http::Method;
use serde_json::{Value, json};
use tests::bench::excerpt;

use crate::http::{Http, Problem, answer_problem};
use crate::talk::{Emb, Res, STATE, TalkState};
use crate::traffic::{Ctx, Kind, Worker};

/// Talks each connection creates and then edits, at most.
const MAX_OWNED: usize = 4;

/// A talk a connection created and edits: its state as last acknowledged.
pub(crate) struct Owned {
    pub(crate) slug: String,
    pub(crate) acked: Option<TalkState>,
    /// Every version a write to it was acknowledged at.
    pub(crate) acked_versions: Vec<i64>,
    /// A write after the last acknowledged one that may have been applied (no answer, or an
    /// unexpected one).
    pub(crate) in_doubt: Option<String>,
    /// Read it again before the next write (after a failure).
    pub(crate) stale: bool,
}

/// A field of a talk that an edit sets, the others staying as they are.
pub(crate) enum Field {
    Title(String),
    Location(String),
    /// The abstract, as HTML.
    Body(String),
}

impl Field {
    /// The field as a REST merge patch or a GraphQL `UpdateTalkInput`.
    fn input(&self) -> Value {
        match self {
            Self::Title(title) => json!({"title": title}),
            Self::Location(location) => json!({"location": location}),
            Self::Body(body) => json!({"body": body}),
        }
    }

    /// The title and location a talk at `before` has once this field is set.
    pub(crate) fn apply(&self, before: &TalkState) -> (String, Option<String>) {
        match self {
            Self::Title(title) => (title.clone(), before.location.clone()),
            Self::Location(location) => (before.title.clone(), Some(location.clone())),
            Self::Body(_) => (before.title.clone(), before.location.clone()),
        }
    }
}

/// An edit of a talk, sent with the version it was read at (`If-Match`, `expectedVersion`).
pub(crate) enum EditOp {
    /// REST `PATCH` of one field.
    Patch(Field),
    /// GraphQL `updateTalk` of one field.
    UpdateGql(Field),
    /// A REST resource added at the end.
    AddResource { title: String, url: String },
    /// A REST resource removed, by id.
    RemoveResource(String),
    /// A REST reorder of the resources, reversed.
    Reorder,
    /// A GraphQL tweet embed added at the end, with this text.
    AddEmbed(String),
    /// A GraphQL embed removed, by id.
    RemoveEmbed(String),
}

impl EditOp {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Patch(Field::Title(_)) => "write: REST PATCH title",
            Self::Patch(Field::Location(_)) => "write: REST PATCH location",
            Self::Patch(Field::Body(_)) => "write: REST PATCH abstract",
            Self::UpdateGql(Field::Title(_)) => "write: GraphQL updateTalk title",
            Self::UpdateGql(Field::Location(_)) => "write: GraphQL updateTalk location",
            Self::UpdateGql(Field::Body(_)) => "write: GraphQL updateTalk abstract",
            Self::AddResource { .. } => "write: REST add resource",
            Self::RemoveResource(_) => "write: REST remove resource",
            Self::Reorder => "write: REST reorder resources",
            Self::AddEmbed(_) => "write: GraphQL addEmbed",
            Self::RemoveEmbed(_) => "write: GraphQL removeEmbed",
        }
    }
}

/// The talk a write answered, which must be `expected` (ids of new items aside).
fn check_state(
    answered: &Value,
    check: impl FnOnce(&TalkState) -> Result<(), String>,
) -> Result<TalkState, Problem> {
    let state = TalkState::parse(answered).ok_or_else(|| {
        Problem::wrong(format!(
            "no talk in the answer: {}",
            excerpt(&answered.to_string())
        ))
    })?;
    check(&state).map_err(|e| Problem::wrong(format!("{e}; answered {state:?}")))?;
    Ok(state)
}

/// How an answered value differs from the one expected, for a report.
fn same(what: &str, got: &impl std::fmt::Debug, want: &impl std::fmt::Debug) -> String {
    format!("{what}: expected {want:?}, got {got:?}")
}

/// Creates talk `slug` (through GraphQL when `gql`, else REST) with two resources and an
/// embed: its state, checked.
async fn create(ctx: &Ctx, worker: &Worker, slug: &str, gql: bool) -> Result<TalkState, Problem> {
    let title = format!(
        "Load {} c{} create {}",
        ctx.tag, worker.index, worker.writes
    );
    let resources = json!([
        {"title": "Slides", "url": format!("https://example.com/{slug}/slides"), "description": "The deck"},
        {"title": "Code", "url": format!("https://example.com/{slug}/code")},
    ]);
    let embeds = json!([{"kind": "video", "html": "<iframe src=\"https://www.youtube.com/embed/load\"></iframe>"}]);
    let check = |s: &TalkState| {
        if s.slug != slug || s.title != title || s.version != 1 {
            return Err(same(
                "slug, title, version",
                &(&s.slug, &s.title, s.version),
                &(slug, &title, 1),
            ));
        }
        let titles: Vec<&str> = s.resources.iter().map(|r| r.title.as_str()).collect();
        let kinds: Vec<&str> = s.embeds.iter().map(|e| e.kind.as_str()).collect();
        if titles != ["Slides", "Code"] || kinds != ["video"] {
            return Err(same(
                "resources, embeds",
                &(titles, kinds),
                &(["Slides", "Code"], ["video"]),
            ));
        }
        Ok(())
    };
    if gql {
        let input = json!({"slug": slug, "title": title, "date": "2026-11-27", "event": "Load test",
            "location": "Loopback", "body": "<p>A talk written by the load driver.</p>",
            "resources": resources, "embeds": embeds});
        let query = format!(
            "mutation($input: CreateTalkInput!) {{ createTalk(input: $input) {{ {STATE} }} }}"
        );
        let reply = ctx
            .http
            .graphql(&query, json!({"input": input}), true)
            .await?;
        if let Some(p) = answer_problem(&reply, 200) {
            return Err(p);
        }
        check_state(&reply.body["data"]["createTalk"], check)
    } else {
        let body = json!({"slug": slug, "title": title, "date": "2026-11-27", "event": "Load test",
            "location": "Loopback", "body": "<p>A talk written by the load driver.</p>",
            "resources": resources, "embeds": embeds});
        let reply = ctx
            .http
            .send(
                Method::POST,
                "/api/v1/talks",
                true,
                &[],
                Some(("application/json", body.to_string())),
            )
            .await?;
        if let Some(p) = answer_problem(&reply, 201) {
            return Err(p);
        }
        check_state(&reply.body, check)
    }
}

/// Applies `op` to a talk at `before` (with the token): its state at the next version,
/// checked.
pub(crate) async fn edit(
    http: &Http,
    before: &TalkState,
    op: &EditOp,
) -> Result<TalkState, Problem> {
    let talk_path = format!("/api/v1/talks/{}", before.slug);
    let if_match = [("If-Match", before.etag())];
    let next = before.version + 1;
    let header = |s: &TalkState| {
        if s.id != before.id || s.slug != before.slug || s.version != next {
            Err(same(
                "id, slug, version",
                &(&s.id, &s.slug, s.version),
                &(&before.id, &before.slug, next),
            ))
        } else {
            Ok(())
        }
    };
    let graphql = |query: String, variables: Value, field: &'static str| async move {
        let reply = http.graphql(&query, variables, true).await?;
        if let Some(p) = answer_problem(&reply, 200) {
            return Err(p);
        }
        Ok::<Value, Problem>(reply.body["data"][field].clone())
    };
    let rest = |method: Method, path: String, body: Option<Value>, expected: u16| {
        let if_match = &if_match;
        async move {
            let content_type = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            let reply = http
                .send(
                    method,
                    &path,
                    true,
                    if_match,
                    body.map(|b| (content_type, b.to_string())),
                )
                .await?;
            if let Some(p) = answer_problem(&reply, expected) {
                return Err(p);
            }
            Ok::<Value, Problem>(reply.body)
        }
    };
    match op {
        EditOp::Patch(field) | EditOp::UpdateGql(field) => {
            let answered = if matches!(op, EditOp::Patch(_)) {
                rest(Method::PATCH, talk_path, Some(field.input()), 200).await?
            } else {
                let query = format!(
                    "mutation($id: ID!, $input: UpdateTalkInput!, $v: Int!) {{ updateTalk(id: $id, input: $input, expectedVersion: $v) {{ {STATE} }} }}"
                );
                graphql(
                    query,
                    json!({"id": before.id, "input": field.input(), "v": before.version}),
                    "updateTalk",
                )
                .await?
            };
            let want = field.apply(before);
            check_state(&answered, |s| {
                header(s)?;
                let got = (&s.title, &s.location);
                if got != (&want.0, &want.1)
                    || s.resources != before.resources
                    || s.embeds != before.embeds
                {
                    return Err(same("title, location (the rest unchanged)", &got, &want));
                }
                Ok(())
            })
        }
        EditOp::AddResource { title, url } => {
            let answered = rest(
                Method::POST,
                format!("{talk_path}/resources"),
                Some(json!({"title": title, "url": url})),
                201,
            )
            .await?;
            check_state(&answered, |s| {
                header(s)?;
                let n = before.resources.len();
                let added = s.resources.get(n);
                if s.resources.len() != n + 1
                    || s.resources[..n] != before.resources[..]
                    || added.is_none_or(|r| &r.title != title || &r.url != url)
                    || s.embeds != before.embeds
                {
                    return Err(same("resources", &s.resources, &before.resources));
                }
                Ok(())
            })
        }
        EditOp::RemoveResource(id) => {
            let answered = rest(
                Method::DELETE,
                format!("{talk_path}/resources/{id}"),
                None,
                200,
            )
            .await?;
            let want: Vec<Res> = before
                .resources
                .iter()
                .filter(|r| &r.id != id)
                .cloned()
                .collect();
            check_state(&answered, |s| {
                header(s)?;
                if s.resources != want || s.title != before.title || s.embeds != before.embeds {
                    return Err(same("resources", &s.resources, &want));
                }
                Ok(())
            })
        }
        EditOp::Reorder => {
            let want: Vec<Res> = before.resources.iter().rev().cloned().collect();
            let ids: Vec<&str> = want.iter().map(|r| r.id.as_str()).collect();
            let answered = rest(
                Method::PUT,
                format!("{talk_path}/resources/order"),
                Some(json!({"ids": ids})),
                200,
            )
            .await?;
            check_state(&answered, |s| {
                header(s)?;
                if s.resources != want || s.title != before.title || s.embeds != before.embeds {
                    return Err(same("resources", &s.resources, &want));
                }
                Ok(())
            })
        }
        EditOp::AddEmbed(title) => {
            let query = format!(
                "mutation($id: ID!, $input: EmbedInput!) {{ addEmbed(talkId: $id, input: $input) {{ {STATE} }} }}"
            );
            let html = format!(
                "<blockquote class=\"twitter-tweet\"><p>{title}</p>&mdash; Load (@load) <a href=\"https://twitter.com/load/status/1\">November 27, 2026</a></blockquote>"
            );
            let answered = graphql(
                query,
                json!({"id": before.id, "input": {"kind": "twitter", "html": html}}),
                "addEmbed",
            )
            .await?;
            check_state(&answered, |s| {
                header(s)?;
                let n = before.embeds.len();
                if s.embeds.len() != n + 1
                    || s.embeds[..n] != before.embeds[..]
                    || s.embeds[n].kind != "twitter"
                    || s.resources != before.resources
                {
                    return Err(same("embeds", &s.embeds, &before.embeds));
                }
                Ok(())
            })
        }
        EditOp::RemoveEmbed(id) => {
            let query = format!("mutation($id: ID!) {{ removeEmbed(id: $id) {{ {STATE} }} }}");
            let answered = graphql(query, json!({"id": id}), "removeEmbed").await?;
            let want: Vec<Emb> = before
                .embeds
                .iter()
                .filter(|e| &e.id != id)
                .cloned()
                .collect();
            check_state(&answered, |s| {
                header(s)?;
                if s.embeds != want || s.resources != before.resources {
                    return Err(same("embeds", &s.embeds, &want));
                }
                Ok(())
            })
        }
    }
}

/// Reads a talk again (after a failure) with the token: its state, or None when it does not
/// exist (a create that was not applied).
pub(crate) async fn resync(http: &Http, slug: &str) -> Result<Option<TalkState>, Problem> {
    let reply = http.get_talk(slug, true).await?;
    if reply.status == 404 {
        return Ok(None);
    }
    if let Some(p) = answer_problem(&reply, 200) {
        return Err(p);
    }
    check_state(&reply.body, |_| Ok(())).map(Some)
}

/// One write (or the read that resynchronises a talk after a failure).
pub(crate) async fn write_one(
    ctx: &Ctx,
    worker: &mut Worker,
) -> (Kind, &'static str, Result<(), Problem>) {
    worker.writes += 1;
    let n = worker.writes;
    // A talk to read again first?
    if let Some(k) = worker.owned.iter().position(|o| o.stale) {
        let slug = worker.owned[k].slug.clone();
        let result = resync(&ctx.http, &slug).await;
        return match result {
            Ok(Some(state)) => {
                let owned = &mut worker.owned[k];
                owned.acked = Some(state);
                owned.stale = false;
                (Kind::Read, "read: resync own talk", Ok(()))
            }
            Ok(None) => {
                worker.owned.remove(k);
                (Kind::Read, "read: resync own talk", Ok(()))
            }
            Err(p) => (Kind::Read, "read: resync own talk", Err(p)),
        };
    }
    let create_now = worker.owned.is_empty()
        || (worker.owned.len() < MAX_OWNED && n.is_multiple_of(6))
        || worker.owned.iter().all(|o| o.acked.is_none());
    if create_now && worker.owned.len() < MAX_OWNED {
        worker.creates += 1;
        let slug = format!("load-{}-c{}-{}", ctx.tag, worker.index, worker.creates);
        let gql = worker.creates.is_multiple_of(2);
        let op = if gql {
            "write: GraphQL createTalk"
        } else {
            "write: REST POST talk"
        };
        let result = create(ctx, worker, &slug, gql).await;
        let mut owned = Owned {
            slug,
            acked: None,
            acked_versions: Vec::new(),
            in_doubt: None,
            stale: false,
        };
        let outcome = settle(&mut owned, op, result);
        worker.owned.push(owned);
        return (Kind::Write, op, outcome);
    }
    let candidates: Vec<usize> = (0..worker.owned.len())
        .filter(|&k| worker.owned[k].acked.is_some())
        .collect();
    if candidates.is_empty() {
        for owned in &mut worker.owned {
            owned.stale = true;
        }
        return (
            Kind::Write,
            "write",
            Err(Problem::wrong("no acknowledged talk to edit".into())),
        );
    }
    // Each talk goes through the whole cycle of edits in turn.
    worker.edits += 1;
    let e = worker.edits - 1;
    let k = candidates[((e / 5) as usize) % candidates.len()];
    let Some(before) = worker.owned[k].acked.clone() else {
        return (Kind::Write, "write", Err(Problem::wrong("no state".into())));
    };
    let n = worker.writes;
    let text = format!("Load {} c{} write {n}", ctx.tag, worker.index);
    let add = |title: String| EditOp::AddResource {
        url: format!("https://example.com/{}/{n}", before.slug),
        title,
    };
    let op = match e % 5 {
        0 => EditOp::Patch(Field::Title(text)),
        1 => EditOp::UpdateGql(Field::Title(text)),
        2 if before.resources.len() >= 4 => EditOp::RemoveResource(
            before.resources[worker.rng.next(before.resources.len() as u64) as usize]
                .id
                .clone(),
        ),
        2 => add(text),
        3 if before.resources.len() >= 2 => EditOp::Reorder,
        3 => add(text),
        _ if before.embeds.len() >= 3 => EditOp::RemoveEmbed(before.embeds[0].id.clone()),
        _ => EditOp::AddEmbed(text),
    };
    let name = op.name();
    let result = edit(&ctx.http, &before, &op).await;
    let outcome = settle(&mut worker.owned[k], name, result);
    (Kind::Write, name, outcome)
}

/// Records what a write's answer means for the talk's acknowledged state.
fn settle(
    owned: &mut Owned,
    op: &'static str,
    result: Result<TalkState, Problem>,
) -> Result<(), Problem> {
    match result {
        Ok(state) => {
            owned.acked_versions.push(state.version);
            owned.acked = Some(state);
            owned.in_doubt = None;
            Ok(())
        }
        Err(p) => {
            if p.maybe_applied {
                owned.in_doubt = Some(format!("{op}: {}", p.kind));
            }
            owned.stale = true;
            Err(p)
        }
    }
}
