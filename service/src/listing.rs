//! Reading talks in pages: filters, orders and keyset pagination with stable cursors.

use chrono::NaiveDate;
use entity::embed;
use entity::talk::{self, Status};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic,
    Iterable, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Statement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{FieldError, ServiceError};
use crate::talks::{self, Children};
use crate::visibility::Audience;

/// The most talks one page may hold.
pub const MAX_PAGE_SIZE: u64 = 100;
/// Talks per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// Which talks a reader wants. Every field narrows the set; `None` does not.
#[derive(Debug, Clone, Default)]
pub struct TalkFilter {
    pub event: Option<String>,
    pub location: Option<String>,
    pub year: Option<i32>,
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    /// Talks with (true) or without (false) a video embed.
    pub has_video: Option<bool>,
    /// Words that must all occur in the title, event, location or abstract.
    pub search: Option<String>,
    /// Only talks with this status (drafts only for readers who see them).
    pub status: Option<Status>,
    /// Whose eyes the list is for: drafts are listed only for readers who see them.
    pub audience: Audience,
}

impl TalkFilter {
    /// Refuses text no talk can hold and PostgreSQL refuses to compare: NUL characters.
    fn check(&self) -> Result<(), ServiceError> {
        let with_nul = crate::domain::nul_fields(
            "",
            [
                ("event", self.event.as_deref()),
                ("location", self.location.as_deref()),
                ("search", self.search.as_deref()),
            ],
        );
        match with_nul.first() {
            Some(name) => Err(invalid(name, crate::domain::NUL_MESSAGE)),
            None => Ok(()),
        }
    }

    /// Whether a talk with these facts is in the set this filter selects, as the query of
    /// [`filtered`] decides it; None when the facts cannot tell (a search the talk may match).
    pub fn admits(&self, facts: &crate::reads::TalkFacts) -> Option<bool> {
        let has_video = match self.has_video {
            Some(wanted) => facts.has_video.map(|has| has == wanted),
            None => Some(true),
        };
        let day = |day: NaiveDate| day.format("%Y-%m-%d").to_string();
        let rest = (self.audience.sees_drafts() || facts.status == Status::Published)
            && self.status.is_none_or(|status| facts.status == status)
            && self
                .event
                .as_ref()
                .is_none_or(|e| facts.event.as_ref() == Some(e))
            && self
                .location
                .as_ref()
                .is_none_or(|l| facts.location.as_ref() == Some(l))
            && self
                .year
                .is_none_or(|year| facts.date.starts_with(&format!("{year:04}-")))
            && self.from.is_none_or(|from| facts.date >= day(from))
            && self
                .to
                .and_then(|to| to.succ_opt())
                .is_none_or(|next| facts.date < day(next));
        // A talk the other conditions leave out is out, whatever its embeds and words.
        if !rest {
            return Some(false);
        }
        let found = match self.search_terms() {
            None => Some(true),
            // Which of the talks that may match do is the database's to say.
            Some(terms) => match may_find(terms, facts) {
                false => Some(false),
                true => None,
            },
        };
        match (has_video, found) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }
    }

    pub(crate) fn search_terms(&self) -> Option<&str> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderField {
    Date,
    Title,
    UpdatedAt,
    /// Best match first; only with a search.
    Relevance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TalkOrder {
    pub field: OrderField,
    pub descending: bool,
}

impl Default for TalkOrder {
    fn default() -> Self {
        Self {
            field: OrderField::Date,
            descending: true,
        }
    }
}

impl TalkOrder {
    /// The order of a list: the one the reader asked for, or without one the best match first
    /// when the filter searches, else the newest first.
    pub fn chosen(requested: Option<TalkOrder>, filter: &TalkFilter) -> TalkOrder {
        match requested {
            Some(order) => order,
            None if filter.search_terms().is_some() => TalkOrder {
                field: OrderField::Relevance,
                descending: false,
            },
            None => TalkOrder::default(),
        }
    }
}

/// A position in a list: the order key of a talk and its id, which breaks ties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub field: OrderField,
    pub key: String,
    pub id: Uuid,
}

impl Cursor {
    /// The cursor as clients see it: opaque, URL-safe.
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A cursor [`Cursor::encode`] made; None for anything else (such as a key with a NUL
    /// character, which no talk holds and PostgreSQL refuses to compare).
    pub fn decode(text: &str) -> Option<Self> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            .filter(|cursor| !cursor.key.contains('\0'))
    }
}

/// Forward (`first`, `after`) or backward (`last`, `before`) paging.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub first: Option<u64>,
    pub after: Option<Cursor>,
    pub last: Option<u64>,
    pub before: Option<Cursor>,
}

/// One page of talks, in the requested order.
#[derive(Debug, Clone)]
pub struct TalkPage {
    pub talks: Vec<talk::Model>,
    /// Each talk's resources and embeds, in the order of `talks`, when the page was read with
    /// them ([`Reading::children`]; a search ordered by relevance is not).
    pub children: Option<Vec<Children>>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Where the first talk of the page stands in the whole list (known for searches).
    pub first_position: usize,
}

fn order_key(field: OrderField, talk: &talk::Model) -> String {
    match field {
        OrderField::Date => talk.date.clone(),
        OrderField::Title => talk.title.clone(),
        OrderField::UpdatedAt => talk
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        OrderField::Relevance => String::new(),
    }
}

/// The cursors of the talks of a page.
pub fn cursors(order: TalkOrder, page: &TalkPage) -> Vec<Cursor> {
    page.talks
        .iter()
        .enumerate()
        .map(|(i, talk)| Cursor {
            field: order.field,
            key: if order.field == OrderField::Relevance {
                (page.first_position + i).to_string()
            } else {
                order_key(order.field, talk)
            },
            id: talk.id,
        })
        .collect()
}

/// The order key of a cursor as a value of its column's type.
fn key_value(cursor: &Cursor) -> Option<sea_orm::Value> {
    match cursor.field {
        OrderField::Date | OrderField::Title => Some(cursor.key.clone().into()),
        OrderField::UpdatedAt => chrono::DateTime::parse_from_rfc3339(&cursor.key)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc).into()),
        OrderField::Relevance => None,
    }
}

fn order_column(field: OrderField) -> talk::Column {
    match field {
        OrderField::Date => talk::Column::Date,
        OrderField::Title => talk::Column::Title,
        OrderField::UpdatedAt | OrderField::Relevance => talk::Column::UpdatedAt,
    }
}

/// Text as the search index holds it: accents and other combining marks removed, so that
/// "Malmo" finds "Malmö" on every database (SQLite's tokenizer does the same on its own).
///
/// ASCII is copied as it is, and only each run of other characters goes through decomposition:
/// an ASCII character is unchanged by both normalizations and composes with nothing, before it
/// or after it (a combining mark that follows one starts a run of its own and is dropped).
pub fn fold_diacritics(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        folded.push_str(&rest[..ascii]);
        rest = &rest[ascii..];
        // Up to the next ASCII byte, which is always a character boundary in UTF-8.
        let other = rest
            .bytes()
            .position(|b| b.is_ascii())
            .unwrap_or(rest.len());
        fold_run(&rest[..other], &mut folded);
        rest = &rest[other..];
    }
    folded
}

/// Decomposes `run`, drops its nonspacing marks and composes what is left onto `out`.
fn fold_run(run: &str, out: &mut String) {
    use unicode_normalization::UnicodeNormalization;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    out.extend(
        run.nfd()
            .filter(|c| c.general_category() != GeneralCategory::NonspacingMark)
            .nfc(),
    );
}

/// The text a talk is searched by (`talks.search_text`): its title, event, location and the
/// abstract's text, diacritics folded.
pub fn search_text(title: &str, event: Option<&str>, location: Option<&str>, text: &str) -> String {
    fold_diacritics(
        &[
            title,
            event.unwrap_or_default(),
            location.unwrap_or_default(),
            text,
        ]
        .join(" "),
    )
}

/// The words of a text as both databases' search indexes split it, held as hashes: enough to
/// tell that a search cannot find the text, never that it does.
///
/// A word is a run of letters and digits of the folded text ([`fold_diacritics`]); each index
/// splits text at least there (SQLite's `unicode61` tokenizer at any other character,
/// PostgreSQL's parser at fewer), and a word either finds is one of these, in lower case.
/// Where a word holds a letter or digit beyond ASCII after folding, the databases fold and
/// split it their own ways (SQLite by its tokenizer's tables, PostgreSQL's parser by the
/// locale), so such a text has no `SearchWords` and any search may find it. Where an index
/// keeps a longer token than a run (PostgreSQL's `a@b.com`, `ab⃝cd`), a search finds less than
/// these words allow, never more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchWords(Box<[u32]>);

impl SearchWords {
    /// The words of `text` (folded here), or None when they cannot be told apart as above.
    pub fn of(text: &str) -> Option<Self> {
        let mut hashes = Vec::new();
        for word in fold_diacritics(text)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            if !word.is_ascii() {
                return None;
            }
            hashes.push(word_hash(&word.to_ascii_lowercase()));
        }
        hashes.sort_unstable();
        hashes.dedup();
        Some(Self(hashes.into_boxed_slice()))
    }

    /// Whether `word` (ASCII, lower case) may be one of the words (a different word may share
    /// its hash: then it seems to be).
    pub fn may_hold(&self, word: &str) -> bool {
        self.0.binary_search(&word_hash(word)).is_ok()
    }
}

fn word_hash(word: &str) -> u32 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    word.hash(&mut hasher);
    // Collisions only make a text seem to hold a word it lacks.
    hasher.finish() as u32
}

/// The words a search for `terms` needs every one of, in lower case, when it is that simple:
/// ASCII letters, digits and spaces only. Anything else may be syntax to PostgreSQL (`or`,
/// `-word`, quotes) or split otherwise than here, so it gives None.
fn plain_search_words(terms: &str) -> Option<Vec<String>> {
    if !terms
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_whitespace())
    {
        return None;
    }
    let words: Vec<String> = terms
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() || words.iter().any(|w| w == "or") {
        return None;
    }
    Some(words)
}

/// Whether a search for `terms` may find a talk with these facts: false only when a word it
/// needs is in none of the talk's title, event, location and abstract.
fn may_find(terms: &str, facts: &crate::reads::TalkFacts) -> bool {
    let Some(words) = plain_search_words(terms) else {
        return true;
    };
    let Some(body) = facts.abstract_words.as_deref() else {
        return true;
    };
    let mut fields = Vec::with_capacity(3);
    for field in [
        Some(facts.title.as_str()),
        facts.event.as_deref(),
        facts.location.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        match SearchWords::of(field) {
            Some(field) => fields.push(field),
            None => return true,
        }
    }
    words
        .iter()
        .all(|word| body.may_hold(word) || fields.iter().any(|f| f.may_hold(word)))
}

/// The most search results considered.
pub const MAX_SEARCH_RESULTS: u64 = 1000;

/// Ids of the talks matching `terms`, best match first.
async fn search_ids<C: ConnectionTrait>(db: &C, terms: &str) -> Result<Vec<Uuid>, ServiceError> {
    let backend = db.get_database_backend();
    let statement = match backend {
        DbBackend::Sqlite => {
            // Every word must occur. Words are split as the index splits them (on anything but
            // letters and digits) and each is quoted, so no input is FTS5 syntax.
            let query = terms
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" ");
            if query.is_empty() {
                return Ok(Vec::new());
            }
            Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT talks.id AS id FROM talks_fts JOIN talks ON talks.rowid = talks_fts.rowid \
                     WHERE talks_fts MATCH ? ORDER BY bm25(talks_fts), talks.id LIMIT {MAX_SEARCH_RESULTS}"
                ),
                [query.into()],
            )
        }
        _ => Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id FROM talks, websearch_to_tsquery('simple', $1) AS q WHERE search @@ q \
                 ORDER BY ts_rank(search, q) DESC, id LIMIT {MAX_SEARCH_RESULTS}"
            ),
            [fold_diacritics(terms).into()],
        ),
    };
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id").map_err(ServiceError::from))
        .collect()
}

/// Published talks matching `filter`; `matches` are the ids a search found, if any.
fn filtered(filter: &TalkFilter, matches: Option<&[Uuid]>) -> Select<talk::Entity> {
    let mut query = talk::Entity::find();
    if !filter.audience.sees_drafts() {
        query = query.filter(talk::Column::Status.eq(Status::Published));
    }
    if let Some(status) = filter.status {
        query = query.filter(talk::Column::Status.eq(status));
    }
    if let Some(ids) = matches {
        query = query.filter(talk::Column::Id.is_in(ids.iter().copied()));
    }
    if let Some(event) = &filter.event {
        query = query.filter(talk::Column::Event.eq(event.as_str()));
    }
    if let Some(location) = &filter.location {
        query = query.filter(talk::Column::Location.eq(location.as_str()));
    }
    if let Some(year) = filter.year {
        query = query.filter(talk::Column::Date.starts_with(format!("{year:04}-")));
    }
    if let Some(from) = filter.from {
        query = query.filter(talk::Column::Date.gte(from.format("%Y-%m-%d").to_string()));
    }
    if let Some(to) = filter.to.and_then(|to| to.succ_opt()) {
        // Dates are ISO 8601 text, so "before the next day" includes every time of `to`.
        query = query.filter(talk::Column::Date.lt(to.format("%Y-%m-%d").to_string()));
    }
    if let Some(has_video) = filter.has_video {
        // What `video_kind` says of one kind.
        let videos = Query::select()
            .column(embed::Column::TalkId)
            .from(embed::Entity)
            .cond_where(
                Condition::any()
                    .add(Expr::col(embed::Column::Kind).like("%video%"))
                    .add(Expr::col(embed::Column::Kind).is_in(["youtube", "vimeo"])),
            )
            .to_owned();
        query = if has_video {
            query.filter(talk::Column::Id.in_subquery(videos))
        } else {
            query.filter(talk::Column::Id.not_in_subquery(videos))
        };
    }
    query
}

/// Whether an embed of this kind is a video to the `has_video` filter: a kind holding
/// `video`, or `youtube` or `vimeo`. SQLite's `LIKE` ignores ASCII case and PostgreSQL's does
/// not, so for a kind holding `video` in other case the answer depends on the database: None.
pub fn video_kind(kind: &str) -> Option<bool> {
    if kind.contains("video") || kind == "youtube" || kind == "vimeo" {
        Some(true)
    } else if kind.to_ascii_lowercase().contains("video") {
        None
    } else {
        Some(false)
    }
}

/// Whether a talk with embeds of these kinds has a video, by [`video_kind`] (None: it depends
/// on the database).
pub fn has_video<'a>(kinds: impl IntoIterator<Item = &'a str>) -> Option<bool> {
    let mut answer = Some(false);
    for kind in kinds {
        match video_kind(kind) {
            Some(true) => return Some(true),
            None => answer = None,
            Some(false) => {}
        }
    }
    answer
}

fn page_size(requested: Option<u64>, name: &str) -> Result<u64, ServiceError> {
    match requested {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n <= MAX_PAGE_SIZE => Ok(n),
        Some(n) => Err(ServiceError::LimitExceeded(format!(
            "{name}: {n} is more than the {MAX_PAGE_SIZE} talks a page may hold"
        ))),
    }
}

fn invalid(path: &str, message: &str) -> ServiceError {
    ServiceError::Invalid(vec![FieldError::new(path, message)])
}

/// One page of published talks. Walking pages with the cursors of the last (or first) talk of
/// each returns every talk once, in order, even when talks share an order key.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &TalkFilter,
    order: TalkOrder,
    page: &PageRequest,
) -> Result<TalkPage, ServiceError> {
    let whole = Reading {
        children: false,
        texts: true,
    };
    list_reading(db, filter, order, page, whole).await
}

/// What of each talk a page is read with, beyond what [`list`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Each talk's resources and embeds, in the page's own statement ([`TalkPage::children`]):
    /// those stored on each talk's row, in which an embed's `html` (its markup as written, not
    /// its `safe_html`) is empty.
    pub children: bool,
    /// The abstract as written, as sanitized HTML and as text, and the search text. Without
    /// them (`false`), those four fields of each talk are read as empty strings, and a page of
    /// 20 talks carries about 6 KB less per talk: for readers that serve none of them (the
    /// excerpt is a column of its own).
    pub texts: bool,
}

/// [`list`], reading what `reading` says.
pub async fn list_reading<C: ConnectionTrait>(
    db: &C,
    filter: &TalkFilter,
    order: TalkOrder,
    page: &PageRequest,
    reading: Reading,
) -> Result<TalkPage, ServiceError> {
    let page = list_page(db, filter, order, page, reading).await?;
    crate::reads::note(|reads| {
        reads.lists.push((filter.clone(), Some(order.field)));
        reads.talks.extend(page.talks.iter().map(|talk| talk.id));
    });
    Ok(page)
}

/// The talk's columns, with the long texts read as empty strings unless `reading` asks for them.
fn shaped(select: Select<talk::Entity>, reading: Reading) -> Select<talk::Entity> {
    if reading.texts {
        return select;
    }
    let mut select = select.select_only();
    for column in talk::Column::iter() {
        select = match column {
            talk::Column::Body
            | talk::Column::SearchText
            | talk::Column::BodyHtml
            | talk::Column::BodyText => select.column_as(Expr::value(""), column.as_str()),
            _ => select.column(column),
        };
    }
    select
}

async fn list_page<C: ConnectionTrait>(
    db: &C,
    filter: &TalkFilter,
    order: TalkOrder,
    page: &PageRequest,
    reading: Reading,
) -> Result<TalkPage, ServiceError> {
    filter.check()?;
    if page.first.is_some() && page.last.is_some() {
        return Err(invalid("last", "give first or last, not both"));
    }
    for (name, cursor) in [("after", &page.after), ("before", &page.before)] {
        if cursor.as_ref().is_some_and(|c| c.field != order.field) {
            return Err(invalid(
                name,
                "this cursor belongs to a list in another order",
            ));
        }
    }
    let backward = page.last.is_some() || (page.before.is_some() && page.first.is_none());
    let limit = if backward {
        page_size(page.last, "last")?
    } else {
        page_size(page.first, "first")?
    };
    let matches = match filter.search_terms() {
        Some(terms) => Some(search_ids(db, terms).await?),
        None => None,
    };
    if order.field == OrderField::Relevance {
        let Some(matches) = matches else {
            return Err(invalid("orderBy", "relevance needs a search"));
        };
        // Every match is read to be ranked; their children are left to be loaded for the page.
        return by_relevance(db, filter, &matches, page, backward, limit, reading).await;
    }
    let column = order_column(order.field);
    // Walking backward reads the list in reverse, then turns the page around.
    let descending = order.descending != backward;
    let mut query = filtered(filter, matches.as_deref());
    for (name, cursor, after) in [
        ("after", &page.after, true),
        ("before", &page.before, false),
    ] {
        if let Some(cursor) = cursor {
            // "after" in a descending list means smaller keys, and so on.
            let greater = after != order.descending;
            let key = key_value(cursor).ok_or_else(|| invalid(name, "this cursor is damaged"))?;
            let (key_cmp, id_cmp) = if greater {
                (column.gt(key.clone()), talk::Column::Id.gt(cursor.id))
            } else {
                (column.lt(key.clone()), talk::Column::Id.lt(cursor.id))
            };
            query = query.filter(
                Condition::any()
                    .add(key_cmp)
                    .add(Condition::all().add(column.eq(key)).add(id_cmp)),
            );
        }
    }
    let direction = if descending { Order::Desc } else { Order::Asc };
    let query = shaped(query, reading)
        .order_by(column, direction.clone())
        .order_by(talk::Column::Id, direction)
        .limit(limit + 1);
    let (mut talks, mut children) = if reading.children {
        let (talks, children): (Vec<talk::Model>, Vec<Children>) =
            talks::all_with_children_reading(db, query, talks::Markup::Left)
                .await?
                .into_iter()
                .map(|record| {
                    let children = Children {
                        resources: record.resources,
                        embeds: record.embeds,
                    };
                    (record.talk, children)
                })
                .unzip();
        (talks, Some(children))
    } else {
        (query.all(db).await?, None)
    };
    let more = talks.len() as u64 > limit;
    talks.truncate(limit as usize);
    if let Some(children) = &mut children {
        children.truncate(limit as usize);
    }
    if backward {
        talks.reverse();
        if let Some(children) = &mut children {
            children.reverse();
        }
        Ok(TalkPage {
            talks,
            children,
            has_next_page: page.before.is_some(),
            has_previous_page: more,
            first_position: 0,
        })
    } else {
        Ok(TalkPage {
            talks,
            children,
            has_next_page: more,
            has_previous_page: page.after.is_some(),
            first_position: 0,
        })
    }
}

/// A page of search results, best match first. The cursor key is the position in the list.
async fn by_relevance<C: ConnectionTrait>(
    db: &C,
    filter: &TalkFilter,
    matches: &[Uuid],
    page: &PageRequest,
    backward: bool,
    limit: u64,
    reading: Reading,
) -> Result<TalkPage, ServiceError> {
    let rank: std::collections::HashMap<Uuid, usize> =
        matches.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut talks = shaped(filtered(filter, Some(matches)), reading)
        .all(db)
        .await?;
    talks.sort_by_key(|t| rank.get(&t.id).copied().unwrap_or(usize::MAX));
    let position = |name: &str, cursor: &Option<Cursor>| -> Result<Option<usize>, ServiceError> {
        cursor
            .as_ref()
            .map(|c| {
                c.key
                    .parse::<usize>()
                    .map_err(|_| invalid(name, "this cursor is damaged"))
            })
            .transpose()
    };
    let start = position("after", &page.after)?
        .map_or(0, |p| p.saturating_add(1))
        .min(talks.len());
    let end = position("before", &page.before)?
        .unwrap_or(talks.len())
        .clamp(start, talks.len());
    let limit = limit as usize;
    let (from, to) = if backward {
        (end.saturating_sub(limit).max(start), end)
    } else {
        (start, (start + limit).min(end))
    };
    let has_previous_page = from > 0;
    let has_next_page = to < talks.len();
    Ok(TalkPage {
        talks: talks.drain(from..to).collect(),
        children: None,
        has_next_page,
        has_previous_page,
        first_position: from,
    })
}

/// How many published talks match `filter`.
pub async fn count<C: ConnectionTrait>(db: &C, filter: &TalkFilter) -> Result<u64, ServiceError> {
    filter.check()?;
    crate::reads::note(|reads| reads.lists.push((filter.clone(), None)));
    let matches = match filter.search_terms() {
        Some(terms) => Some(search_ids(db, terms).await?),
        None => None,
    };
    Ok(filtered(filter, matches.as_deref()).count(db).await?)
}

/// An event with published talks.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct EventSummary {
    pub name: String,
    pub location: Option<String>,
    pub talk_count: i64,
    pub first_date: String,
    pub last_date: String,
}

/// Each distinct (event, location) of published talks, the most recent first.
pub async fn events<C: ConnectionTrait>(db: &C) -> Result<Vec<EventSummary>, ServiceError> {
    crate::reads::note(|reads| reads.events = true);
    Ok(talk::Entity::find()
        .select_only()
        .column_as(talk::Column::Event, "name")
        .column(talk::Column::Location)
        .column_as(talk::Column::Id.count(), "talk_count")
        .column_as(talk::Column::Date.min(), "first_date")
        .column_as(talk::Column::Date.max(), "last_date")
        .filter(talk::Column::Status.eq(Status::Published))
        .filter(talk::Column::Event.is_not_null())
        .filter(talk::Column::Event.ne(""))
        .group_by(talk::Column::Event)
        .group_by(talk::Column::Location)
        .order_by_desc(talk::Column::Date.max())
        .order_by_asc(talk::Column::Event)
        .into_model::<EventSummary>()
        .all(db)
        .await?)
}

/// Every event name a talk holds (drafts' too), in order: what an editor picks from. Read
/// from the index on `event`.
pub async fn event_names<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, ServiceError> {
    Ok(talk::Entity::find()
        .select_only()
        .column(talk::Column::Event)
        .distinct()
        .filter(talk::Column::Event.is_not_null())
        .filter(talk::Column::Event.ne(""))
        .order_by_asc(talk::Column::Event)
        .into_tuple::<String>()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(title: &str, location: Option<&str>, text: &str) -> crate::reads::TalkFacts {
        crate::reads::TalkFacts {
            slug: "s".into(),
            title: title.into(),
            date: "2024-05-02".into(),
            event: Some("RustConf".into()),
            location: location.map(Into::into),
            status: Status::Published,
            updated_at: chrono::Utc::now(),
            has_video: Some(false),
            abstract_words: SearchWords::of(text).map(std::sync::Arc::new),
            abstract_digest: None,
        }
    }

    fn searching(terms: &str) -> TalkFilter {
        TalkFilter {
            search: Some(terms.into()),
            ..Default::default()
        }
    }

    #[test]
    fn search_words_are_runs_of_letters_and_digits_in_lower_case() {
        let words = SearchWords::of("Ownership, x86_64 & Malmö: don't panic!").unwrap();
        for word in ["ownership", "x86", "64", "malmo", "don", "t", "panic"] {
            assert!(words.may_hold(word), "{word}");
        }
        for word in ["x86_64", "dont", "malm", "own", "Ownership", "panic!"] {
            assert!(!words.may_hold(word), "{word}");
        }
        // Punctuation and symbols beyond ASCII separate words as spaces do.
        let quoted = SearchWords::of("“Streams” — events… 🚀rockets").unwrap();
        for word in ["streams", "events", "rockets"] {
            assert!(quoted.may_hold(word), "{word}");
        }
        // Letters the fold leaves beyond ASCII: each database has its own rules for them.
        for text in ["Ørsted", "Straße", "Łódź", "ﬁne", "Москва", "東京"] {
            assert_eq!(SearchWords::of(text), None, "{text}");
        }
    }

    #[test]
    fn a_filter_rules_out_only_talks_without_a_word_it_searches() {
        let talk = facts(
            "Event sourcing in practice",
            Some("Malmo"),
            "Projections and snapshots.",
        );
        // Some word of the search is nowhere in the talk.
        for terms in ["kafka", "event kafka", "EVENTS", "malm"] {
            assert_eq!(searching(terms).admits(&talk), Some(false), "{terms}");
        }
        // Every word is there: only the database can tell whether (and how well) it matches.
        for terms in ["event", "SOURCING practice", "rustconf", "malmo snapshots"] {
            assert_eq!(searching(terms).admits(&talk), None, "{terms}");
        }
        // Operators, quotes, punctuation and letters beyond ASCII are left to the database.
        for terms in [
            "kafka or event",
            "-event",
            "\"kafka\"",
            "kafka!",
            "Kafka Malmö",
        ] {
            assert_eq!(searching(terms).admits(&talk), None, "{terms}");
        }
        // A talk whose words cannot be told apart may be found by any search.
        let other = facts("Event sourcing", None, "Ørsted");
        assert_eq!(searching("kafka").admits(&other), None);
        let other = facts("Ørsted", None, "Projections");
        assert_eq!(searching("kafka").admits(&other), None);
        // The other conditions still rule a talk out on their own.
        let mut filter = searching("event");
        filter.year = Some(2023);
        assert_eq!(filter.admits(&talk), Some(false));
    }

    /// The fold of the whole text at once, which [`fold_diacritics`] must equal.
    fn fold_whole(text: &str) -> String {
        let mut out = String::new();
        fold_run(text, &mut out);
        out
    }

    #[test]
    fn folding_drops_marks_and_keeps_everything_else() {
        assert_eq!(
            fold_diacritics("Malmö, Ångström & Zoë"),
            "Malmo, Angstrom & Zoe"
        );
        assert_eq!(fold_diacritics("e\u{301}te\u{301}"), "ete");
        assert_eq!(fold_diacritics("\u{301}a"), "a");
        assert_eq!(fold_diacritics("“Rust” 🦀 ﬁne"), "“Rust” 🦀 ﬁne");
        assert_eq!(fold_diacritics("\u{1100}\u{1161}"), "\u{AC00}");
        assert_eq!(fold_diacritics(""), "");
    }

    #[test]
    fn folding_by_runs_equals_folding_the_whole_text() {
        // ASCII, combining marks, precomposed letters, Hangul jamo that compose, a wide
        // character and a character whose decomposition starts with ASCII.
        let alphabet = [
            'a', 'e', ' ', '\u{301}', '\u{308}', '\u{327}', 'é', 'ö', 'Å', '\u{1100}', '\u{1161}',
            '\u{11A8}', '🦀', 'ǖ', '\u{212B}',
        ];
        let mut checked = 0;
        for &a in &alphabet {
            for &b in &alphabet {
                for &c in &alphabet {
                    for &d in &alphabet {
                        let text: String = [a, b, c, d].iter().collect();
                        assert_eq!(fold_diacritics(&text), fold_whole(&text), "{text:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, alphabet.len().pow(4));
    }
}
