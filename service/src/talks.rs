//! Talks: the validated input every write takes, and the queries that read talks back whole.

use std::collections::HashMap;

pub use entity::children::Markup;
use entity::children::{Part, children_sql};
use entity::{embed, resource, talk};
use sea_orm::sea_query::{Alias, Expr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Select, Statement,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::{self, LinkUrl, Slug, TalkDate, Title};
use crate::error::{FieldError, ServiceError};
use crate::html;

/// A talk as a caller submits it, before validation. Paths in errors name these fields.
#[derive(Debug, Clone, Default)]
pub struct NewTalk {
    pub slug: String,
    pub title: String,
    pub date: String,
    pub event: Option<String>,
    pub location: Option<String>,
    pub image: Option<String>,
    pub pdf: Option<String>,
    pub notist_id: Option<String>,
    pub body: String,
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub resources: Vec<NewResource>,
    pub embeds: Vec<NewEmbed>,
}

#[derive(Debug, Clone, Default)]
pub struct NewResource {
    pub title: String,
    pub url: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewEmbed {
    pub kind: String,
    pub html: String,
}

/// A talk that passed validation. Only [`TalkInput::parse`] builds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TalkInput {
    slug: Slug,
    title: Title,
    date: TalkDate,
    event: Option<String>,
    location: Option<String>,
    image: Option<String>,
    pdf: Option<String>,
    notist_id: Option<String>,
    body: String,
    extra: serde_json::Map<String, serde_json::Value>,
    resources: Vec<ResourceInput>,
    embeds: Vec<EmbedInput>,
    /// Derived from the fields above, once, when the input is parsed.
    #[serde(skip)]
    search_text: String,
    /// What readers are served of `body`, derived once when the input is parsed.
    #[serde(skip)]
    body_derived: html::Abstract,
    /// Digest of the fields above (see [`TalkInput::digest`]), computed once at parse time.
    #[serde(skip)]
    digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceInput {
    title: String,
    url: LinkUrl,
    description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmbedInput {
    kind: String,
    html: String,
    /// What readers are served of `html`, derived once when the input is parsed.
    #[serde(skip)]
    facts: html::EmbedFacts,
}

/// The largest abstract accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most resources or embeds one talk may have.
pub const MAX_CHILDREN: usize = 500;

impl TalkInput {
    /// Validates every field and reports every problem at once, each with its path.
    pub fn parse(new: NewTalk) -> Result<Self, ServiceError> {
        Self::parse_over(new, None)
    }

    /// [`Self::parse`] for a change to `stored`: when the abstract is the stored one, what is
    /// derived from it is taken as stored rather than computed again.
    pub fn parse_over(new: NewTalk, stored: Option<&talk::Model>) -> Result<Self, ServiceError> {
        let mut errors = Vec::new();
        let mut check = |path: String, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldError::new(path, message));
            }
        };
        let slug = Slug::parse(&new.slug);
        check(
            "slug".into(),
            slug.as_ref().map(|_| ()).map_err(ToString::to_string),
        );
        let title = Title::parse(&new.title);
        check(
            "title".into(),
            title.as_ref().map(|_| ()).map_err(ToString::to_string),
        );
        let date = TalkDate::parse(&new.date);
        check(
            "date".into(),
            date.as_ref().map(|_| ()).map_err(ToString::to_string),
        );
        if let Some(id) = &new.notist_id {
            let valid =
                !id.is_empty() && id.len() <= 200 && id.chars().all(|c| c.is_ascii_graphic());
            check(
                "notist_id".into(),
                if valid {
                    Ok(())
                } else {
                    Err("must be 1 to 200 visible ASCII characters".into())
                },
            );
        }
        // No column can keep a NUL character (PostgreSQL refuses them).
        let texts = [
            ("event".to_owned(), new.event.as_deref()),
            ("location".to_owned(), new.location.as_deref()),
            ("image".to_owned(), new.image.as_deref()),
            ("pdf".to_owned(), new.pdf.as_deref()),
            ("body".to_owned(), Some(new.body.as_str())),
        ]
        .into_iter()
        .chain(new.resources.iter().enumerate().flat_map(|(i, r)| {
            [
                (format!("resources[{i}].title"), Some(r.title.as_str())),
                (format!("resources[{i}].url"), Some(r.url.as_str())),
                (
                    format!("resources[{i}].description"),
                    r.description.as_deref(),
                ),
            ]
        }))
        .chain(new.embeds.iter().enumerate().flat_map(|(i, e)| {
            [
                (format!("embeds[{i}].type"), Some(e.kind.as_str())),
                (format!("embeds[{i}].html"), Some(e.html.as_str())),
            ]
        }));
        let texts: Vec<(String, Option<&str>)> = texts.collect();
        let mut with_nul =
            domain::nul_fields("", texts.iter().map(|(path, text)| (path.as_str(), *text)));
        with_nul.extend(domain::nul_paths(
            &serde_json::Value::Object(new.extra.clone()),
            "extra",
        ));
        for path in with_nul {
            check(path, Err(domain::NUL_MESSAGE.into()));
        }
        for path in unsafe_numbers(&serde_json::Value::Object(new.extra.clone()), "extra") {
            check(
                path,
                Err("numbers must lie within ±2^53 to be kept exactly".into()),
            );
        }
        check(
            "body".into(),
            if new.body.len() > MAX_BODY_BYTES {
                Err(format!(
                    "is {} bytes; at most {MAX_BODY_BYTES} are allowed",
                    new.body.len()
                ))
            } else {
                Ok(())
            },
        );
        for (name, count) in [
            ("resources", new.resources.len()),
            ("embeds", new.embeds.len()),
        ] {
            if count > MAX_CHILDREN {
                check(
                    name.into(),
                    Err(format!(
                        "has {count} items; at most {MAX_CHILDREN} are allowed"
                    )),
                );
            }
        }
        let mut resources = Vec::with_capacity(new.resources.len());
        for (i, r) in new.resources.into_iter().enumerate() {
            if r.title.trim().is_empty() {
                check(
                    format!("resources[{i}].title"),
                    Err("must not be empty".into()),
                );
            }
            match LinkUrl::parse(&r.url) {
                Ok(url) => resources.push(ResourceInput {
                    title: r.title,
                    url,
                    description: r.description,
                }),
                Err(e) => check(format!("resources[{i}].url"), Err(e.to_string())),
            }
        }
        let mut embeds = Vec::with_capacity(new.embeds.len());
        for (i, e) in new.embeds.into_iter().enumerate() {
            if let Err(error) = domain::check_embed_kind(&e.kind) {
                check(format!("embeds[{i}].type"), Err(error.to_string()));
            }
            if e.html.trim().is_empty() {
                check(format!("embeds[{i}].html"), Err("must not be empty".into()));
            }
            embeds.push(EmbedInput {
                facts: html::EmbedFacts::of(&e.html),
                kind: e.kind,
                html: e.html,
            });
        }
        match (slug, title, date) {
            (Ok(slug), Ok(title), Ok(date)) if errors.is_empty() => {
                let body_derived = match stored {
                    Some(stored) if stored.body == new.body => stored.stored_abstract(),
                    _ => html::Abstract::of(&new.body),
                };
                Ok(Self {
                    digest: String::new(),
                    search_text: crate::listing::search_text(
                        title.as_str(),
                        new.event.as_deref(),
                        new.location.as_deref(),
                        &body_derived.text,
                    ),
                    body_derived,
                    slug,
                    title,
                    date,
                    event: new.event,
                    location: new.location,
                    image: new.image,
                    pdf: new.pdf,
                    notist_id: new.notist_id,
                    body: new.body,
                    extra: new.extra,
                    resources,
                    embeds,
                }
                .with_digest())
            }
            _ => Err(ServiceError::Invalid(errors)),
        }
    }

    pub fn slug(&self) -> &Slug {
        &self.slug
    }

    /// A digest of the whole content: equal digests mean equal talks.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    fn with_digest(mut self) -> Self {
        // Serializing plain strings, options, vectors and JSON cannot fail.
        let bytes = serde_json::to_vec(&self).unwrap_or_default();
        self.digest = format!("{:x}", Sha256::digest(&bytes));
        self
    }

    /// Mixes the hashes of the files that the talk's paths name (path and SHA-256, in the
    /// order given) into its digest: a document that did not change is written again when
    /// its files did, or were stored for the first time, so that its links follow them.
    pub fn with_files(mut self, files: &[(String, String)]) -> Self {
        if files.is_empty() {
            return self;
        }
        let mut hasher = Sha256::new();
        hasher.update(self.digest.as_bytes());
        for (path, hash) in files {
            hasher.update(b"\n");
            hasher.update(path.as_bytes());
            hasher.update(b" ");
            hasher.update(hash.as_bytes());
        }
        self.digest = format!("{:x}", hasher.finalize());
        self
    }

    /// The assets this talk's paths name ([`crate::assets::resolve`]).
    pub(crate) async fn links<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<crate::assets::Links, ServiceError> {
        let urls: Vec<&str> = self.resources.iter().map(|r| r.url.as_str()).collect();
        crate::assets::resolve(conn, self.image.as_deref(), self.pdf.as_deref(), &urls).await
    }

    /// Sets the talk's columns, with the asset links that [`Self::links`] resolved.
    pub(crate) fn apply(&self, model: &mut talk::ActiveModel, links: &crate::assets::Links) {
        use sea_orm::ActiveValue::Set;
        model.image_asset_id = Set(links.image);
        model.slides_asset_id = Set(links.slides);
        model.slug = Set(self.slug.as_str().to_owned());
        model.title = Set(self.title.as_str().to_owned());
        model.date = Set(self.date.as_str().to_owned());
        model.event = Set(self.event.clone());
        model.location = Set(self.location.clone());
        model.image = Set(self.image.clone());
        model.pdf = Set(self.pdf.clone());
        model.notist_id = Set(self.notist_id.clone());
        model.set_body(self.body.clone(), self.body_derived.clone());
        model.extra = Set(serde_json::Value::Object(self.extra.clone()));
        model.search_text = Set(self.search_text.clone());
    }

    pub(crate) fn resource_models(
        &self,
        talk_id: Uuid,
        links: &crate::assets::Links,
    ) -> Vec<resource::ActiveModel> {
        use sea_orm::ActiveValue::Set;
        (0..)
            .zip(&self.resources)
            .map(|(position, r)| resource::ActiveModel {
                asset_id: Set(links.resources.get(position as usize).copied().flatten()),
                id: Set(Uuid::now_v7()),
                talk_id: Set(talk_id),
                position: Set(position),
                title: Set(r.title.clone()),
                url: Set(r.url.as_str().to_owned()),
                description: Set(r.description.clone()),
            })
            .collect()
    }

    pub(crate) fn embed_models(&self, talk_id: Uuid) -> Vec<embed::ActiveModel> {
        use sea_orm::ActiveValue::Set;
        (0..)
            .zip(&self.embeds)
            .map(|(position, e)| {
                let mut model = embed::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    talk_id: Set(talk_id),
                    position: Set(position),
                    kind: Set(e.kind.clone()),
                    ..Default::default()
                };
                model.set_html(e.html.clone(), e.facts.clone());
                model
            })
            .collect()
    }
}

/// Leaves out of `model` each column it sets to the value `stored` holds, so that an update
/// names only the columns that change. SQLite maintains an index, and runs the full-text
/// update trigger, for every column an `UPDATE` names, whatever its value: otherwise a change
/// of the date alone would index the search text again, and every edit would rewrite the
/// talk's entry in every index on its columns.
pub(crate) fn keep_changed(model: &mut talk::ActiveModel, stored: &talk::Model) {
    use sea_orm::{ActiveModelTrait, ActiveValue, Iterable, ModelTrait, Value};
    for column in talk::Column::iter() {
        let ActiveValue::Set(value) = model.get(column) else {
            continue;
        };
        let same = match (&value, &stored.get(column)) {
            // Equal JSON objects may list their keys in another order, which counts.
            (Value::Json(Some(new)), Value::Json(Some(old))) => new.to_string() == old.to_string(),
            (new, old) => new == old,
        };
        if same {
            model.not_set(column);
        }
    }
}

/// A talk's resources and embeds, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Children {
    pub resources: Vec<resource::Model>,
    pub embeds: Vec<embed::Model>,
}

/// A talk with its resources and embeds, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TalkRecord {
    pub talk: talk::Model,
    pub resources: Vec<resource::Model>,
    pub embeds: Vec<embed::Model>,
}

/// Finds a talk by slug, with its resources and embeds.
pub async fn find_by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<TalkRecord>, ServiceError> {
    let mut records =
        all_with_children(db, talk::Entity::find().filter(talk::Column::Slug.eq(slug))).await?;
    Ok(records.pop())
}

/// Finds a talk by id, drafts included, with its resources and embeds.
pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<TalkRecord>, ServiceError> {
    let mut records = all_with_children(db, talk::Entity::find_by_id(id)).await?;
    Ok(records.pop())
}

/// How many talks there are.
pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, ServiceError> {
    Ok(talk::Entity::find().count(db).await?)
}

/// One page of talks ordered by slug, starting after `after` (exclusive), with their children.
/// Three queries per page, whatever its size.
pub async fn page_by_slug<C: ConnectionTrait>(
    db: &C,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<TalkRecord>, ServiceError> {
    let mut query = talk::Entity::find()
        .order_by_asc(talk::Column::Slug)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(talk::Column::Slug.gt(after));
    }
    let talks = query.all(db).await?;
    with_children(db, talks).await
}

/// Loads the resources and embeds of `talks` in two queries and attaches them in order.
pub(crate) async fn with_children<C: ConnectionTrait>(
    db: &C,
    talks: Vec<talk::Model>,
) -> Result<Vec<TalkRecord>, ServiceError> {
    if talks.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = talks.iter().map(|t| t.id).collect();
    let mut resources = resources_of(db, &ids).await?;
    let mut embeds = embeds_of(db, &ids).await?;
    Ok(talks
        .into_iter()
        .map(|talk| TalkRecord {
            resources: resources.remove(&talk.id).unwrap_or_default(),
            embeds: embeds.remove(&talk.id).unwrap_or_default(),
            talk,
        })
        .collect())
}

/// The talks `select` finds, each read with its resources and embeds in the same statement:
/// two more columns, each a JSON array that the database builds from the talk's rows in
/// document order (`json_group_array` on SQLite, `json_agg` on PostgreSQL). One round trip
/// instead of [`with_children`]'s three, for reads that serve a talk whole.
pub(crate) async fn all_with_children<C: ConnectionTrait>(
    db: &C,
    select: Select<talk::Entity>,
) -> Result<Vec<TalkRecord>, ServiceError> {
    all_with_children_reading(db, select, Markup::AsWritten).await
}

/// [`all_with_children`], reading the embeds' markup as written or not, as `markup` says.
/// Without it ([`Markup::Left`]) the children are the ones stored on each talk's row
/// ([`entity::children`]), not built from their rows.
pub(crate) async fn all_with_children_reading<C: ConnectionTrait>(
    db: &C,
    select: Select<talk::Entity>,
    markup: Markup,
) -> Result<Vec<TalkRecord>, ServiceError> {
    let backend = db.get_database_backend();
    let part = |part: Part| match markup {
        Markup::AsWritten => Expr::cust(children_sql(backend, part, markup)),
        Markup::Left => Expr::col((talk::Entity, Alias::new(part.column()))),
    };
    let rows = select
        .column_as(part(Part::Resources), RESOURCES)
        .column_as(part(Part::Embeds), EMBEDS)
        .into_model::<WithChildren>()
        .all(db)
        .await?;
    rows.into_iter().map(WithChildren::into_record).collect()
}

/// A talk's row with its children as the database wrote them out.
struct WithChildren {
    talk: talk::Model,
    resources: String,
    embeds: String,
}

const RESOURCES: &str = "lectern_resources";
const EMBEDS: &str = "lectern_embeds";

impl FromQueryResult for WithChildren {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            talk: talk::Model::from_query_result(row, pre)?,
            resources: row.try_get(pre, RESOURCES)?,
            embeds: row.try_get(pre, EMBEDS)?,
        })
    }
}

/// A resource as [`children_sql`] writes it: id, position, title, url, description, asset.
type ResourceTuple = (String, i32, String, String, Option<String>, Option<String>);
/// An embed: id, position, kind, html, sanitized html, tweet, video.
type EmbedTuple = (
    String,
    i32,
    String,
    String,
    String,
    Option<html::Tweet>,
    Option<html::Video>,
);

impl WithChildren {
    fn into_record(self) -> Result<TalkRecord, ServiceError> {
        let talk_id = self.talk.id;
        let unreadable = |what: &str, e: &dyn std::fmt::Display| {
            ServiceError::Internal(format!("{what} of talk {talk_id}: {e}"))
        };
        let uuid = |text: &str| Uuid::parse_str(text).map_err(|e| unreadable("an id", &e));
        let resources: Vec<ResourceTuple> =
            serde_json::from_str(&self.resources).map_err(|e| unreadable("the resources", &e))?;
        let embeds: Vec<EmbedTuple> =
            serde_json::from_str(&self.embeds).map_err(|e| unreadable("the embeds", &e))?;
        let mut resources = resources
            .into_iter()
            .map(|(id, position, title, url, description, asset_id)| {
                Ok(resource::Model {
                    id: uuid(&id)?,
                    talk_id,
                    position,
                    title,
                    url,
                    description,
                    asset_id: asset_id.as_deref().map(uuid).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        let mut embeds = embeds
            .into_iter()
            .map(|(id, position, kind, html, safe_html, tweet, video)| {
                Ok(embed::Model {
                    id: uuid(&id)?,
                    talk_id,
                    position,
                    kind,
                    html,
                    safe_html,
                    tweet,
                    video,
                })
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        // PostgreSQL builds the arrays in position order; SQLite in the order it reads the
        // rows, which its index makes the same but no statement promises: sorted here.
        resources.sort_by_key(|r| r.position);
        embeds.sort_by_key(|e| e.position);
        Ok(TalkRecord {
            talk: self.talk,
            resources,
            embeds,
        })
    }
}

/// Rewrites the children stored on talk `id`'s row from its resources and embeds
/// ([`entity::children`]): every write of a talk calls it in its transaction, after its rows.
pub(crate) async fn refresh_children<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<(), ServiceError> {
    db.execute_raw(refresh_children_statement(db.get_database_backend(), id))
        .await?;
    Ok(())
}

/// The statement of [`refresh_children`], for writers that send several at once.
pub(crate) fn refresh_children_statement(backend: DatabaseBackend, id: Uuid) -> Statement {
    backend.build(entity::children::refresh(backend).and_where(talk::Column::Id.eq(id)))
}

/// Rewrites the children stored on every talk's row from their rows: for a database whose
/// rows were changed by other means than Lectern's writes.
pub async fn refresh_all_children<C: ConnectionTrait>(db: &C) -> Result<(), ServiceError> {
    let backend = db.get_database_backend();
    db.execute_raw(backend.build(&entity::children::refresh(backend)))
        .await?;
    Ok(())
}

/// The talks whose stored children differ from what their rows give now, by slug: none, as
/// long as every writer refreshes them. For checks and tests.
pub async fn stale_stored_children<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<String>, ServiceError> {
    let mut stale = Vec::new();
    let stored = all_with_children_reading(db, talk::Entity::find(), Markup::Left).await?;
    let mut fresh: HashMap<Uuid, TalkRecord> =
        all_with_children_reading(db, talk::Entity::find(), Markup::AsWritten)
            .await?
            .into_iter()
            .map(|record| (record.talk.id, record))
            .collect();
    for record in stored {
        let Some(mut whole) = fresh.remove(&record.talk.id) else {
            continue;
        };
        for embed in &mut whole.embeds {
            embed.html.clear();
        }
        if (&whole.resources, &whole.embeds) != (&record.resources, &record.embeds) {
            stale.push(record.talk.slug);
        }
    }
    stale.sort();
    Ok(stale)
}

/// The resources of many talks, in one query, grouped by talk in document order.
pub async fn resources_of<C: ConnectionTrait>(
    db: &C,
    talk_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<resource::Model>>, ServiceError> {
    let mut grouped: HashMap<Uuid, Vec<resource::Model>> = HashMap::new();
    for r in resource::Entity::find()
        .filter(resource::Column::TalkId.is_in(talk_ids.iter().copied()))
        .order_by_asc(resource::Column::TalkId)
        .order_by_asc(resource::Column::Position)
        .all(db)
        .await?
    {
        grouped.entry(r.talk_id).or_default().push(r);
    }
    Ok(grouped)
}

/// The embeds of many talks, in one query, grouped by talk in document order.
pub async fn embeds_of<C: ConnectionTrait>(
    db: &C,
    talk_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<embed::Model>>, ServiceError> {
    let mut grouped: HashMap<Uuid, Vec<embed::Model>> = HashMap::new();
    for e in embed::Entity::find()
        .filter(embed::Column::TalkId.is_in(talk_ids.iter().copied()))
        .order_by_asc(embed::Column::TalkId)
        .order_by_asc(embed::Column::Position)
        .all(db)
        .await?
    {
        grouped.entry(e.talk_id).or_default().push(e);
    }
    Ok(grouped)
}

/// The largest magnitude a number in `extra` may have: beyond it, integers lose precision as
/// IEEE doubles, and databases store such numbers in forms that do not read back exactly.
const MAX_SAFE_NUMBER: f64 = 9_007_199_254_740_992.0;
const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_992;

/// Paths of numbers in `value` that cannot be kept exactly.
fn unsafe_numbers(value: &serde_json::Value, path: &str) -> Vec<String> {
    match value {
        serde_json::Value::Number(n) => {
            // Integers exactly (as doubles, 2^53 + 1 would pass for 2^53), others as doubles.
            let safe = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                (_, Some(u), _) => u <= MAX_SAFE_INTEGER,
                (_, _, Some(x)) => x.is_finite() && x.abs() <= MAX_SAFE_NUMBER,
                _ => false,
            };
            if safe {
                Vec::new()
            } else {
                vec![path.to_owned()]
            }
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| unsafe_numbers(item, &format!("{path}[{i}]")))
            .collect(),
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(key, item)| unsafe_numbers(item, &format!("{path}.{key}")))
            .collect(),
        _ => Vec::new(),
    }
}
