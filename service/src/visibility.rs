//! Who may see what: the one rule deciding which talks, items and change events a reader sees.
//!
//! Readers without a token see published talks, their resources and embeds, and the public
//! events (those after which a talk is published, and those that unpublish a talk or delete a
//! published one). Readers with a token, whatever their role, see drafts and every event too.
//! Lists and feeds apply the rule in SQL ([`Audience::sees_drafts`]); single talks, items and
//! live events are looked up or checked here.

use entity::{change_event, talk, talk::Status};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use crate::ServiceError;
use crate::domain::Slug;
use crate::talks::{self, Markup, TalkRecord};

/// Whose eyes a read is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Audience {
    /// A reader without a token: published talks and public events only.
    #[default]
    Public,
    /// A reader with a token (any role): drafts and every event too.
    Staff,
}

impl Audience {
    /// The audience of a reader who holds (`true`) or does not hold a role.
    pub fn with_role(has_role: bool) -> Self {
        if has_role { Self::Staff } else { Self::Public }
    }

    /// Drafts are visible, not only published talks.
    pub fn sees_drafts(self) -> bool {
        self == Self::Staff
    }

    /// This talk is visible.
    pub fn sees(self, talk: &talk::Model) -> bool {
        self.sees_drafts() || talk.status == Status::Published
    }

    /// This event is visible (see [`change_event::Model::public`]).
    pub fn sees_event(self, event: &change_event::Model) -> bool {
        self.sees_drafts() || event.public
    }
}

/// How a reader names a talk.
#[derive(Debug, Clone, Copy)]
pub enum TalkKey<'a> {
    Slug(&'a str),
    Id(Uuid),
}

/// The talk a reader names, when it is visible to them. What is not a slug names no talk and
/// is not looked up (PostgreSQL refuses text with NUL characters, for one).
pub async fn talk<C: ConnectionTrait>(
    db: &C,
    audience: Audience,
    key: TalkKey<'_>,
) -> Result<Option<talk::Model>, ServiceError> {
    let Some(query) = lookup(audience, key) else {
        return Ok(None);
    };
    let found = query.one(db).await?;
    if let Some(talk) = &found {
        noted(talk);
    }
    Ok(found)
}

/// The talk a reader names, with its resources and embeds, when it is visible to them: one
/// statement. With [`Markup::Left`] (for readers that serve only each embed's sanitized
/// markup) the children are those stored on the talk's row and each embed's `html` is empty;
/// with [`Markup::AsWritten`] (for a write that starts from what is stored) they are read from
/// their rows.
pub async fn talk_record<C: ConnectionTrait>(
    db: &C,
    audience: Audience,
    key: TalkKey<'_>,
    markup: Markup,
) -> Result<Option<TalkRecord>, ServiceError> {
    let Some(query) = lookup(audience, key) else {
        return Ok(None);
    };
    let found = talks::all_with_children_reading(db, query, markup)
        .await?
        .pop();
    if let Some(record) = &found {
        noted(&record.talk);
    }
    Ok(found)
}

/// The query for the talk a reader names, noted as read; `None` when the key names no talk.
fn lookup(audience: Audience, key: TalkKey<'_>) -> Option<Select<talk::Entity>> {
    let mut query = talk::Entity::find();
    match key {
        TalkKey::Slug(text) => {
            let slug = Slug::parse(text).ok()?;
            crate::reads::note(|reads| {
                reads.slugs.insert(slug.as_str().to_owned());
            });
            query = query.filter(talk::Column::Slug.eq(slug.as_str()));
        }
        TalkKey::Id(id) => {
            crate::reads::note(|reads| {
                reads.talks.insert(id);
            });
            query = query.filter(talk::Column::Id.eq(id));
        }
    }
    if !audience.sees_drafts() {
        query = query.filter(talk::Column::Status.eq(Status::Published));
    }
    Some(query)
}

/// A talk found is a read of that talk, whichever key named it.
fn noted(talk: &talk::Model) {
    crate::reads::note(|reads| {
        reads.talks.insert(talk.id);
    });
}

/// Resources or embeds: which list of a talk an item is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Resources,
    Embeds,
}

impl Part {
    /// The talk holds an item of this part with this id.
    pub fn holds(self, record: &TalkRecord, id: Uuid) -> bool {
        match self {
            Self::Resources => record.resources.iter().any(|r| r.id == id),
            Self::Embeds => record.embeds.iter().any(|e| e.id == id),
        }
    }
}

/// The talk a reader names with its items as readers are served them ([`Markup::Left`]), when
/// the talk is visible to them and holds the item `id` of `part`: an item is visible exactly
/// when its talk is.
pub async fn item<C: ConnectionTrait>(
    db: &C,
    audience: Audience,
    key: TalkKey<'_>,
    part: Part,
    id: Uuid,
) -> Result<Option<TalkRecord>, ServiceError> {
    Ok(talk_record(db, audience, key, Markup::Left)
        .await?
        .filter(|record| part.holds(record, id)))
}
