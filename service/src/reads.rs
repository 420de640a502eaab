//! What a response read, recorded as it is read, and which changes make it out of date: the
//! rules a cache of responses needs to keep a response across writes that do not touch it.
//!
//! A request runs inside [`recording`]; the functions of this crate that read content for
//! readers ([`crate::visibility::talk`], [`crate::listing::list`], [`crate::listing::count`],
//! [`crate::listing::events`]) note what they read. A [`Change`] (a talk's facts before and
//! after a write, from the outbox) then tells whether a response that read those things may
//! differ: [`Reads::affected_by`]. Anything read that these rules cannot follow (a search for
//! a word the changed talk may hold, say) makes the response depend on that change.

use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use entity::talk::{self, Status};
use uuid::Uuid;

use crate::listing::{OrderField, SearchWords, TalkFilter};

tokio::task_local! {
    static RECORDER: RefCell<Reads>;
}

/// What one response read.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    /// Talks read whole (a page's members, a talk found): any change to one changes the
    /// response.
    pub talks: HashSet<Uuid>,
    /// Slugs looked up: a talk taking or leaving one of them changes the response.
    pub slugs: HashSet<String>,
    /// Lists and counts: which talks match a filter, and in which order.
    pub lists: Vec<(TalkFilter, Option<OrderField>)>,
    /// The summary of events.
    pub events: bool,
    /// A read these rules cannot follow: every change changes the response.
    pub anything: bool,
}

/// Runs `work`, noting what it reads.
pub async fn recording<F: Future>(work: F) -> (F::Output, Reads) {
    RECORDER
        .scope(RefCell::new(Reads::default()), async move {
            let output = work.await;
            let reads = RECORDER.with(|reads| reads.take());
            (output, reads)
        })
        .await
}

/// Notes a read, when one is being recorded.
pub(crate) fn note(read: impl FnOnce(&mut Reads)) {
    let _ = RECORDER.try_with(|reads| read(&mut reads.borrow_mut()));
}

/// Notes a read that the rules here cannot follow (call it from any function that reads
/// content for readers in a way no rule below covers).
pub fn note_anything() {
    note(|reads| reads.anything = true);
}

/// What the rules need of a talk's state: what filters, orders, lookups and the summary of
/// events look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkFacts {
    pub slug: String,
    pub title: String,
    pub date: String,
    pub event: Option<String>,
    pub location: Option<String>,
    pub status: Status,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Whether the talk has a video embed as every database tells it (None: the databases
    /// may disagree, see [`crate::listing::video_kind`]).
    pub has_video: Option<bool>,
    /// The words of the abstract's text, for searches (None: any search may find it).
    pub abstract_words: Option<Arc<SearchWords>>,
    /// A digest of the abstract's HTML those words were read from, when known: the next state
    /// with the same abstract keeps them rather than reading the HTML again.
    pub abstract_digest: Option<u64>,
}

fn digest(body: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

/// A talk's row as far as its facts go: the list's wide columns (the abstract, its HTML and
/// text, the search text) are not read.
#[derive(sea_orm::FromQueryResult)]
struct FactsRow {
    id: Uuid,
    slug: String,
    title: String,
    date: String,
    event: Option<String>,
    location: Option<String>,
    status: Status,
    updated_at: chrono::DateTime<chrono::Utc>,
    body_text: String,
}

impl FactsRow {
    /// The facts, given the kinds of the talk's embeds.
    fn facts<'a>(self, embed_kinds: impl IntoIterator<Item = &'a str>) -> TalkFacts {
        TalkFacts {
            abstract_words: SearchWords::of(&self.body_text).map(Arc::new),
            abstract_digest: None,
            slug: self.slug,
            title: self.title,
            date: self.date,
            event: self.event,
            location: self.location,
            status: self.status,
            updated_at: self.updated_at,
            has_video: crate::listing::has_video(embed_kinds),
        }
    }
}

/// One talk's change: its facts before and after (None: it did not exist). The facts after one
/// change are those before the next: both share them.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: Uuid,
    pub before: Option<Arc<TalkFacts>>,
    pub after: Option<Arc<TalkFacts>>,
    /// False when the facts before are not known: the change may affect anything.
    pub known: bool,
}

impl Change {
    /// A change to `id` of which nothing else is known.
    pub fn unknown(id: Uuid) -> Self {
        Self {
            id,
            before: None,
            after: None,
            known: false,
        }
    }
}

impl Reads {
    /// Whether a response that read this may differ after `change`.
    pub fn affected_by(&self, change: &Change) -> bool {
        if self.anything || !change.known || self.talks.contains(&change.id) {
            return true;
        }
        let states = [change.before.as_deref(), change.after.as_deref()];
        if states
            .iter()
            .flatten()
            .any(|facts| self.slugs.contains(&facts.slug))
        {
            return true;
        }
        if self.events
            && states
                .iter()
                .flatten()
                .any(|f| f.status == Status::Published)
        {
            let summary = |f: Option<&TalkFacts>| {
                f.filter(|f| f.status == Status::Published)
                    .map(|f| (f.event.clone(), f.location.clone(), f.date.clone()))
            };
            if summary(change.before.as_deref()) != summary(change.after.as_deref()) {
                return true;
            }
        }
        self.lists
            .iter()
            .any(|(filter, order)| list_affected(filter, *order, change))
    }
}

/// Whether a list (or count) of `filter` in `order` may differ after `change`, given that no
/// talk on it changed: it does when the talk joins or leaves the matching set (the count
/// changes), or stays in it with another order key (it may move onto the page).
fn list_affected(filter: &TalkFilter, order: Option<OrderField>, change: &Change) -> bool {
    let admits = |facts: Option<&TalkFacts>| match facts {
        None => Some(false),
        Some(facts) => filter.admits(facts),
    };
    let (Some(before), Some(after)) = (
        admits(change.before.as_deref()),
        admits(change.after.as_deref()),
    ) else {
        // The filter cannot be decided here (a search the talk may match).
        return true;
    };
    if before != after {
        return true;
    }
    if !after {
        return false;
    }
    let (Some(old), Some(new)) = (&change.before, &change.after) else {
        return true;
    };
    match order {
        None => false,
        Some(OrderField::Date) => old.date != new.date,
        Some(OrderField::Title) => old.title != new.title,
        Some(OrderField::UpdatedAt) => old.updated_at != new.updated_at,
        Some(OrderField::Relevance) => true,
    }
}

/// A talk's state as an event carries it, read only as far as [`TalkFacts`] need.
#[derive(serde::Deserialize)]
struct EventState {
    talk: EventTalk,
    #[serde(default)]
    embeds: Vec<EventEmbed>,
}

#[derive(serde::Deserialize)]
struct EventTalk {
    slug: String,
    title: String,
    date: String,
    event: Option<String>,
    location: Option<String>,
    status: Status,
    updated_at: chrono::DateTime<chrono::Utc>,
    body: String,
}

#[derive(serde::Deserialize)]
struct EventEmbed {
    kind: String,
}

impl EventState {
    /// The facts of this state; `before` are the talk's facts before it, if known.
    fn facts(self, before: Option<&TalkFacts>) -> TalkFacts {
        let digest = digest(&self.talk.body);
        let abstract_words = match before {
            Some(before) if before.abstract_digest == Some(digest) => before.abstract_words.clone(),
            _ => SearchWords::of(&entity::html::text(&self.talk.body)).map(Arc::new),
        };
        TalkFacts {
            abstract_words,
            abstract_digest: Some(digest),
            has_video: crate::listing::has_video(self.embeds.iter().map(|e| e.kind.as_str())),
            slug: self.talk.slug,
            title: self.talk.title,
            date: self.talk.date,
            event: self.talk.event,
            location: self.talk.location,
            status: self.talk.status,
            updated_at: self.talk.updated_at,
        }
    }
}

/// Events read from the outbox at a time.
const BATCH: u64 = 1000;
/// After this long without reading the outbox, its events since may have been pruned: start
/// again from a new snapshot.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// The outbox followed in order, with every talk's facts as of the last event read, so that
/// each change comes with the facts before it.
pub struct ChangeLog {
    position: i64,
    facts: std::collections::HashMap<Uuid, Arc<TalkFacts>>,
    read_at: std::time::Instant,
}

/// What [`ChangeLog::advance`] found.
#[derive(Debug)]
pub enum Advance {
    /// The changes committed since, each at its outbox position (`seq`), in order.
    Changes(Vec<(i64, Change)>),
    /// The changes since cannot all be known (events were pruned before they were read): the
    /// log starts again from a new snapshot, at its new position.
    Restarted,
}

impl ChangeLog {
    /// The facts of every talk and the outbox position, read in one snapshot.
    pub async fn load(db: &sea_orm::DatabaseConnection) -> Result<Self, crate::ServiceError> {
        use sea_orm::{
            AccessMode, ColumnTrait, EntityTrait, IsolationLevel, QueryOrder, QuerySelect,
            TransactionTrait,
        };
        let txn = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                db.begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
            }
            // A transaction reads one snapshot of an SQLite database.
            _ => db.begin().await?,
        };
        let position: Option<i64> = entity::change_event::Entity::find()
            .select_only()
            .column_as(entity::change_event::Column::Seq.max(), "seq")
            .into_tuple()
            .one(&txn)
            .await?
            .flatten();
        use talk::Column as T;
        let talks = talk::Entity::find()
            .select_only()
            .columns([
                T::Id,
                T::Slug,
                T::Title,
                T::Date,
                T::Event,
                T::Location,
                T::Status,
                T::UpdatedAt,
                T::BodyText,
            ])
            .into_model::<FactsRow>()
            .all(&txn)
            .await?;
        let kinds: Vec<(Uuid, String)> = entity::embed::Entity::find()
            .select_only()
            .column(entity::embed::Column::TalkId)
            .column(entity::embed::Column::Kind)
            .order_by_asc(entity::embed::Column::TalkId)
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;
        let mut by_talk: std::collections::HashMap<Uuid, Vec<String>> = Default::default();
        for (talk, kind) in kinds {
            by_talk.entry(talk).or_default().push(kind);
        }
        let facts = talks
            .into_iter()
            .map(|t| {
                let id = t.id;
                let kinds = by_talk.get(&id).into_iter().flatten().map(String::as_str);
                (id, Arc::new(t.facts(kinds)))
            })
            .collect();
        Ok(Self {
            position: position.unwrap_or(0),
            facts,
            read_at: std::time::Instant::now(),
        })
    }

    /// A talk's facts as of the last event read.
    pub fn facts(&self, id: &Uuid) -> Option<&TalkFacts> {
        self.facts.get(id).map(Arc::as_ref)
    }

    /// The position of the last event read (`seq`; 0 before any).
    pub fn position(&self) -> i64 {
        self.position
    }

    /// Reads the events committed since the last read, in order.
    pub async fn advance(
        &mut self,
        db: &sea_orm::DatabaseConnection,
    ) -> Result<Advance, crate::ServiceError> {
        use entity::change_event::{self, Column};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        if self.read_at.elapsed() > STALE_AFTER {
            *self = Self::load(db).await?;
            return Ok(Advance::Restarted);
        }
        let mut changes = Vec::new();
        loop {
            let rows: Vec<(i64, Uuid, String, serde_json::Value)> = change_event::Entity::find()
                .select_only()
                .columns([
                    Column::Seq,
                    Column::AggregateId,
                    Column::Kind,
                    Column::Payload,
                ])
                .filter(Column::Seq.gt(self.position))
                .filter(Column::AggregateType.eq("talk"))
                .order_by_asc(Column::Seq)
                .limit(BATCH)
                .into_tuple()
                .all(db)
                .await?;
            if let Some((first, ..)) = rows.first()
                && *first > self.position + 1
                && self.position > 0
            {
                // A gap: numbers a rolled-back transaction took, or events pruned unread.
                let oldest: Option<i64> = change_event::Entity::find()
                    .select_only()
                    .column_as(Column::Seq.min(), "seq")
                    .into_tuple()
                    .one(db)
                    .await?
                    .flatten();
                if oldest.is_none_or(|oldest| oldest > self.position + 1) {
                    *self = Self::load(db).await?;
                    return Ok(Advance::Restarted);
                }
            }
            let full = rows.len() as u64 == BATCH;
            for (seq, id, kind, payload) in rows {
                self.position = seq;
                let known = self.facts.contains_key(&id) || kind == "talk.created";
                let before = self.facts.remove(&id);
                let after = if kind == "talk.deleted" {
                    None
                } else {
                    match serde_json::from_value::<EventState>(payload) {
                        Ok(state) => Some(Arc::new(state.facts(before.as_deref()))),
                        Err(_) => {
                            // A state this version cannot read: nothing can be ruled out.
                            changes.push((seq, Change::unknown(id)));
                            continue;
                        }
                    }
                };
                if let Some(after) = &after {
                    self.facts.insert(id, Arc::clone(after));
                }
                changes.push((
                    seq,
                    Change {
                        id,
                        before,
                        after,
                        known,
                    },
                ));
            }
            if !full {
                break;
            }
        }
        self.read_at = std::time::Instant::now();
        Ok(Advance::Changes(changes))
    }
}
