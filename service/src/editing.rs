//! Editors' writes: creating, changing, publishing and deleting talks, and changing their
//! resources and embeds one at a time.
//!
//! The contract every function here keeps:
//! - Its writes run in one transaction, begun with [`begin_write`], that also bumps the content
//!   version and appends the change's event; on any error nothing is written. Reads that only
//!   prepare the write (the talk as stored, the merge of a patch) may come before the
//!   transaction: the write itself is guarded by the talk's version, so it fails with
//!   [`ServiceError::Conflict`] when anything changed in between ([`update_talk_from`]).
//! - Every change to a talk, its status, resources or embeds gives the talk a new version
//!   (`version + 1`), `updated_at = now` and `updated_by = actor`. The talk's
//!   `imported_version` then differs from its version, so a later import reports a conflict
//!   instead of overwriting the edit.
//! - A call that would change nothing (publishing a published talk, a patch that leaves every
//!   value as it is, the same order again) writes nothing: same version, no content bump.
//! - An unknown id is [`ServiceError::NotFound`]. Otherwise every problem with the input is
//!   reported at once as [`ServiceError::Invalid`], each with its path.
//! - `actor` names who makes the change, as recorded in `created_by` / `updated_by`: a user's
//!   id, or `token:<jti>` for a machine token.

use std::collections::HashSet;

use chrono::{SubsecRound, Utc};
use entity::talk::{self, Origin, Status};
use entity::{embed, resource};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Statement, TryIntoModel,
};
use uuid::Uuid;

use crate::content;
use crate::db::{self, begin_write};
use crate::error::{FieldError, ServiceError};
use crate::events::{self, ChangeType};
use crate::html;
use crate::talks::{
    self, MAX_BODY_BYTES, MAX_CHILDREN, NewEmbed, NewResource, NewTalk, TalkInput, TalkRecord,
};

/// A partial change to a talk's own fields. `None` leaves a field as it is; for the optional
/// fields, `Some(None)` clears it. `extra`, when given, replaces the whole map.
#[derive(Debug, Clone, Default)]
pub struct TalkPatch {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub event: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub image: Option<Option<String>>,
    pub pdf: Option<Option<String>>,
    pub notist_id: Option<Option<String>>,
    pub body: Option<String>,
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A field of a merge patch: left out, `null`, or a value.
pub type Merge<T> = Option<Option<T>>;

impl TalkPatch {
    /// A patch from a JSON merge patch's fields (GraphQL's and REST's alike): a field left out
    /// stays, `null` clears an optional field (and empties `extra`), and clearing a required
    /// one (`slug`, `title`, `date`, `body`) is refused, every such field named at once.
    #[allow(clippy::too_many_arguments)]
    pub fn merge(
        slug: Merge<String>,
        title: Merge<String>,
        date: Merge<String>,
        body: Merge<String>,
        event: Merge<String>,
        location: Merge<String>,
        image: Merge<String>,
        pdf: Merge<String>,
        notist_id: Merge<String>,
        extra: Merge<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Self, ServiceError> {
        let mut errors = Vec::new();
        let mut required = |name: &str, value: Merge<String>| match value {
            Some(None) => {
                errors.push(FieldError::new(name, "cannot be cleared"));
                None
            }
            other => other.flatten(),
        };
        let patch = Self {
            slug: required("slug", slug),
            title: required("title", title),
            date: required("date", date),
            body: required("body", body),
            event,
            location,
            image,
            pdf,
            notist_id,
            extra: extra.map(Option::unwrap_or_default),
        };
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(ServiceError::Invalid(errors))
        }
    }

    /// The talk as it will be: the patch over what is stored, without children.
    fn over(self, stored: &talk::Model) -> NewTalk {
        NewTalk {
            slug: self.slug.unwrap_or_else(|| stored.slug.clone()),
            title: self.title.unwrap_or_else(|| stored.title.clone()),
            date: self.date.unwrap_or_else(|| stored.date.clone()),
            event: self.event.unwrap_or_else(|| stored.event.clone()),
            location: self.location.unwrap_or_else(|| stored.location.clone()),
            image: self.image.unwrap_or_else(|| stored.image.clone()),
            pdf: self.pdf.unwrap_or_else(|| stored.pdf.clone()),
            notist_id: self.notist_id.unwrap_or_else(|| stored.notist_id.clone()),
            body: self.body.unwrap_or_else(|| stored.body.clone()),
            extra: self.extra.unwrap_or_else(|| match &stored.extra {
                serde_json::Value::Object(map) => map.clone(),
                _ => serde_json::Map::new(),
            }),
            resources: Vec::new(),
            embeds: Vec::new(),
        }
    }
}

/// Creates a talk with its resources and embeds (in the order given): a draft, at version 1,
/// created and last updated by `actor`, never imported.
///
/// Errors: [`ServiceError::Invalid`] with paths such as `title`, `resources[0].url`,
/// `embeds[1].kind`; [`ServiceError::Duplicate`] when the slug or notist_id is taken.
pub async fn create_talk(
    db: &DatabaseConnection,
    new: NewTalk,
    actor: &str,
) -> Result<TalkRecord, ServiceError> {
    let input = parse_new_talk(new)?;
    let txn = begin_write(db).await?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let mut model = talk::ActiveModel {
        id: Set(id),
        status: Set(Status::Draft),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        origin: Set(Origin::Api),
        import_hash: Set(None),
        imported_version: Set(None),
        created_by: Set(Some(actor.to_owned())),
        updated_by: Set(Some(actor.to_owned())),
        ..Default::default()
    };
    let links = input.links(&txn).await?;
    input.apply(&mut model, &links);
    talk::Entity::insert(model)
        .exec_without_returning(&txn)
        .await?;
    resource::Entity::insert_many(input.resource_models(id, &links))
        .exec_without_returning(&txn)
        .await?;
    embed::Entity::insert_many(input.embed_models(id))
        .exec_without_returning(&txn)
        .await?;
    finish(txn, id, ChangeType::Created, actor).await
}

/// Changes a talk's own fields (see [`TalkPatch`]); its resources and embeds stay as they are.
/// The merged talk is validated as a whole, and its search text recomputed.
///
/// Errors, in this order: [`ServiceError::NotFound`]; [`ServiceError::Conflict`] when the
/// talk is no longer at `expected_version` (also when another writer gets there first);
/// [`ServiceError::Invalid`]; [`ServiceError::Duplicate`] for a slug or notist_id taken.
pub async fn update_talk(
    db: &DatabaseConnection,
    id: Uuid,
    patch: TalkPatch,
    expected_version: i32,
    actor: &str,
) -> Result<TalkRecord, ServiceError> {
    let stored = record(db, id).await?;
    update_talk_from(db, stored, patch, expected_version, actor).await
}

/// [`update_talk`] for a caller that has just read the talk (with [`talks::find_by_id`] or
/// [`talks::find_by_slug`], which read the talk before its resources and embeds).
///
/// The talk is read and merged before the write transaction begins, and the new state is
/// known without reading it back, so the transaction holds the database's write lock (on
/// SQLite) or the content version's row lock (on PostgreSQL) for three statements. This is
/// sound because every change to a talk, its resources or its embeds gives it a new version:
/// the update is guarded by `expected_version`, so when it succeeds nothing changed since
/// `stored` was read.
pub async fn update_talk_from(
    db: &DatabaseConnection,
    stored: TalkRecord,
    patch: TalkPatch,
    expected_version: i32,
    actor: &str,
) -> Result<TalkRecord, ServiceError> {
    let id = stored.talk.id;
    let stored = if stored.talk.version == expected_version {
        stored
    } else {
        // The caller's copy may be older than the version the client knows.
        let fresh = record(db, id).await?;
        if fresh.talk.version != expected_version {
            return Err(ServiceError::Conflict {
                current_version: fresh.talk.version,
            });
        }
        fresh
    };
    let input = TalkInput::parse_over(patch.over(&stored.talk), Some(&stored.talk))?;
    let links = input.links(db).await?;
    let mut merged = stored.talk.clone().into_active_model();
    input.apply(&mut merged, &links);
    let merged = merged.try_into_model()?;
    if merged == stored.talk {
        // Nothing to write; answer with the talk as it is, read in one transaction.
        let txn = begin_write(db).await?;
        lock_talk(&txn, id, Some(expected_version)).await?;
        return unchanged(txn, id).await;
    }
    // As the databases store it (PostgreSQL keeps microseconds), so that the state returned
    // and recorded in the event is the state stored.
    let now = Utc::now().trunc_subsecs(6);
    let mut model = talk::ActiveModel {
        version: Set(expected_version + 1),
        updated_at: Set(now),
        updated_by: Set(Some(actor.to_owned())),
        ..Default::default()
    };
    input.apply(&mut model, &links);
    talks::keep_changed(&mut model, &stored.talk);
    let written = TalkRecord {
        talk: talk::Model {
            version: expected_version + 1,
            updated_at: now,
            updated_by: Some(actor.to_owned()),
            ..merged
        },
        resources: stored.resources,
        embeds: stored.embeds,
    };
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    // Guarded by the version, so that of concurrent updates from one version only one wins.
    let update = talk::Entity::update_many()
        .set(model)
        .filter(talk::Column::Id.eq(id))
        .filter(talk::Column::Version.eq(expected_version))
        .build(backend);
    if backend == DbBackend::Sqlite {
        // The update, the bump and the event as one command, while the write lock is held;
        // each changes one row when the update found the talk at its version. Otherwise the
        // transaction is rolled back, event included.
        let statements = vec![
            update,
            Statement::from_string(backend, content::BUMP),
            events::append_statement(backend, ChangeType::Updated, &written, actor),
        ];
        if db::run_all(&txn, statements).await? != 3 {
            return Err(stale(&txn, id).await);
        }
    } else {
        if txn.execute_raw(update).await?.rows_affected() != 1 {
            return Err(stale(&txn, id).await);
        }
        events::bump_and_append(&txn, ChangeType::Updated, &written, actor).await?;
    }
    txn.commit().await?;
    Ok(written)
}

/// Replaces a talk's fields, resources and embeds with `new`, as one new version; its status
/// stays as it is. This is what an editor's form saves: the whole talk as the editor sees it,
/// read at `expected_version`. A talk that `new` leaves as it is is not written.
///
/// Errors, in this order: [`ServiceError::NotFound`]; [`ServiceError::Conflict`] unless the
/// talk is at `expected_version`; [`ServiceError::Invalid`] with paths as for
/// [`create_talk`]; [`ServiceError::Duplicate`] for a slug or notist_id taken.
pub async fn replace_talk(
    db: &DatabaseConnection,
    id: Uuid,
    new: NewTalk,
    expected_version: i32,
    actor: &str,
) -> Result<TalkRecord, ServiceError> {
    let txn = begin_write(db).await?;
    let stored = lock_talk(&txn, id, Some(expected_version)).await?;
    let input = TalkInput::parse_over(new, Some(&stored))?;
    let current = record(&txn, id).await?;
    let as_stored = new_talk_of(current.talk, current.resources, current.embeds);
    if TalkInput::parse_over(as_stored, Some(&stored)).is_ok_and(|same| same == input) {
        return unchanged(txn, id).await;
    }
    write_whole(txn, &stored, input, actor).await
}

/// Writes back the state a talk had at `version`, as its change event holds it: its fields,
/// resources and embeds (the status stays as it is now), as a new version.
///
/// Errors: [`ServiceError::NotFound`]; [`ServiceError::Conflict`] unless the talk is at
/// `expected_version`; [`ServiceError::Invalid`] (path `version`) when the talk never had that
/// version; [`ServiceError::Duplicate`] when the old slug or notist_id is taken by now.
pub async fn restore_talk(
    db: &DatabaseConnection,
    id: Uuid,
    version: i32,
    expected_version: i32,
    actor: &str,
) -> Result<TalkRecord, ServiceError> {
    let txn = begin_write(db).await?;
    let stored = lock_talk(&txn, id, Some(expected_version)).await?;
    let old = events::state_at(&txn, id, version).await?.ok_or_else(|| {
        ServiceError::Invalid(vec![FieldError::new(
            "version",
            format!("the talk never had version {version}"),
        )])
    })?;
    let input = TalkInput::parse(new_talk_of(old.talk, old.resources, old.embeds))?;
    write_whole(txn, &stored, input, actor).await
}

/// A stored talk as the input that would store it again.
pub fn new_talk_of(
    talk: talk::Model,
    resources: Vec<resource::Model>,
    embeds: Vec<embed::Model>,
) -> NewTalk {
    let extra = match talk.extra {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    NewTalk {
        slug: talk.slug,
        title: talk.title,
        date: talk.date,
        event: talk.event,
        location: talk.location,
        image: talk.image,
        pdf: talk.pdf,
        notist_id: talk.notist_id,
        body: talk.body,
        extra,
        resources: resources
            .into_iter()
            .map(|r| NewResource {
                title: r.title,
                url: r.url,
                description: r.description,
            })
            .collect(),
        embeds: embeds
            .into_iter()
            .map(|e| NewEmbed {
                kind: e.kind,
                html: e.html,
            })
            .collect(),
    }
}

/// Writes `input` as the talk's new version, its children replaced, in `txn` (which holds the
/// talk, `stored` as read there).
async fn write_whole(
    txn: DatabaseTransaction,
    stored: &talk::Model,
    input: TalkInput,
    actor: &str,
) -> Result<TalkRecord, ServiceError> {
    let (id, expected_version) = (stored.id, stored.version);
    let mut model = talk::ActiveModel {
        version: Set(expected_version + 1),
        updated_at: Set(Utc::now()),
        updated_by: Set(Some(actor.to_owned())),
        ..Default::default()
    };
    let links = input.links(&txn).await?;
    input.apply(&mut model, &links);
    talks::keep_changed(&mut model, stored);
    let updated = talk::Entity::update_many()
        .set(model)
        .filter(talk::Column::Id.eq(id))
        .filter(talk::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(stale(&txn, id).await);
    }
    resource::Entity::delete_many()
        .filter(resource::Column::TalkId.eq(id))
        .exec(&txn)
        .await?;
    embed::Entity::delete_many()
        .filter(embed::Column::TalkId.eq(id))
        .exec(&txn)
        .await?;
    resource::Entity::insert_many(input.resource_models(id, &links))
        .exec_without_returning(&txn)
        .await?;
    embed::Entity::insert_many(input.embed_models(id))
        .exec_without_returning(&txn)
        .await?;
    finish(txn, id, ChangeType::Updated, actor).await
}

/// Deletes a talk with its resources and embeds.
///
/// Errors: [`ServiceError::NotFound`]; [`ServiceError::Conflict`] when the talk is no longer
/// at `expected_version`.
pub async fn delete_talk(
    db: &DatabaseConnection,
    id: Uuid,
    expected_version: i32,
    actor: &str,
) -> Result<(), ServiceError> {
    let txn = begin_write(db).await?;
    // The state the event keeps, as it was before the delete.
    let before = talks::find_by_id(&txn, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    // Resources and embeds go with the talk (ON DELETE CASCADE).
    let deleted = talk::Entity::delete_many()
        .filter(talk::Column::Id.eq(id))
        .filter(talk::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if deleted.rows_affected != 1 {
        return Err(stale(&txn, id).await);
    }
    events::bump_and_append(&txn, ChangeType::Deleted, &before, actor).await?;
    txn.commit().await?;
    Ok(())
}

/// Publishes ([`Status::Published`]) or unpublishes ([`Status::Draft`]) a talk. Setting the
/// status it already has changes nothing.
///
/// Errors: [`ServiceError::NotFound`].
pub async fn set_status(
    db: &DatabaseConnection,
    id: Uuid,
    status: Status,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    let by = by.into();
    let txn = begin_write(db).await?;
    let talk = lock_talk(&txn, id, by.if_version).await?;
    if talk.status == status {
        return unchanged(txn, id).await;
    }
    record_change(&txn, &talk, by.actor, Some(status)).await?;
    let kind = match status {
        Status::Published => ChangeType::Published,
        Status::Draft => ChangeType::Unpublished,
    };
    finish(txn, id, kind, by.actor).await
}

/// Adds a resource to a talk at `position` (0 is first; `None` is after the last), moving the
/// ones from there on down by one.
///
/// Errors: [`ServiceError::NotFound`] for an unknown talk; [`ServiceError::Invalid`] with paths
/// `title`, `url` (an absolute `http` or `https` URL) and `position` (0 to the number of
/// resources; out of range is refused, not clamped); [`ServiceError::LimitExceeded`] when the
/// talk already has [`MAX_CHILDREN`] resources.
pub async fn add_resource(
    db: &DatabaseConnection,
    talk_id: Uuid,
    resource: NewResource,
    position: Option<i32>,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    let errors = resource_errors(&resource, "");
    let link = crate::assets::resolve(db, None, None, &[resource.url.as_str()])
        .await
        .map_err(|e| at_url(e, ""))?
        .resources
        .first()
        .copied()
        .flatten();
    add_child::<resource::Entity>(db, talk_id, position, errors, by, |id, position| {
        resource::ActiveModel {
            asset_id: Set(link),
            id: Set(id),
            talk_id: Set(talk_id),
            position: Set(position),
            title: Set(resource.title),
            url: Set(resource.url),
            description: Set(resource.description),
        }
    })
    .await
}

/// A refused link of a single resource, named by its own field (`url`).
fn at_url(error: ServiceError, prefix: &str) -> ServiceError {
    match error {
        ServiceError::Invalid(errors) => ServiceError::Invalid(
            errors
                .into_iter()
                .map(|e| FieldError::new(format!("{prefix}url"), e.message))
                .collect(),
        ),
        other => other,
    }
}

/// Replaces a resource's title, url and description; it keeps its place.
///
/// Errors: [`ServiceError::NotFound`]; [`ServiceError::Invalid`] with paths `title`, `url`.
pub async fn update_resource(
    db: &DatabaseConnection,
    id: Uuid,
    resource: NewResource,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    let by = by.into();
    let txn = begin_write(db).await?;
    let talk = lock_talk(
        &txn,
        talk_of::<resource::Entity>(&txn, id).await?,
        by.if_version,
    )
    .await?;
    let stored = resource::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ServiceError::NotFound)?;
    // What the change keeps as it was (an imported link, say) is not checked again.
    let errors = resource_errors(&resource, "")
        .into_iter()
        .filter(|e| match e.path.as_str() {
            "url" => resource.url != stored.url,
            "title" => resource.title != stored.title,
            _ => true,
        })
        .collect();
    invalid_unless_empty(errors)?;
    if (&stored.title, &stored.url, &stored.description)
        == (&resource.title, &resource.url, &resource.description)
    {
        return unchanged(txn, talk.id).await;
    }
    let link = crate::assets::resolve(&txn, None, None, &[resource.url.as_str()])
        .await
        .map_err(|e| at_url(e, ""))?
        .resources
        .first()
        .copied()
        .flatten();
    resource::Entity::update_many()
        .set(resource::ActiveModel {
            asset_id: Set(link),
            title: Set(resource.title),
            url: Set(resource.url),
            description: Set(resource.description),
            ..Default::default()
        })
        .filter(resource::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    record_change(&txn, &talk, by.actor, None).await?;
    finish(txn, talk.id, ChangeType::Updated, by.actor).await
}

/// Removes a resource; the ones after it move up, so positions stay 0, 1, 2, …
///
/// Errors: [`ServiceError::NotFound`].
pub async fn remove_resource(
    db: &DatabaseConnection,
    id: Uuid,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    remove_child::<resource::Entity>(db, id, by).await
}

/// Puts a talk's resources in the order of `ids`, which must name each of the talk's
/// resources exactly once.
///
/// Errors: [`ServiceError::NotFound`] for an unknown talk; [`ServiceError::Invalid`] with path
/// `ids` for an id that is not one of the talk's resources, listed twice, or left out.
pub async fn reorder_resources(
    db: &DatabaseConnection,
    talk_id: Uuid,
    ids: Vec<Uuid>,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    reorder_children::<resource::Entity>(db, talk_id, ids, by).await
}

/// Adds an embed to a talk at `position` (0 is first; `None` is after the last), moving the
/// ones from there on down by one.
///
/// Errors: [`ServiceError::NotFound`] for an unknown talk; [`ServiceError::Invalid`] with paths
/// `kind` (1 to 64 characters), `html` (not blank, at most [`MAX_BODY_BYTES`]) and `position`
/// (0 to the number of embeds; out of range is refused, not clamped);
/// [`ServiceError::LimitExceeded`] when the talk already has [`MAX_CHILDREN`] embeds.
pub async fn add_embed(
    db: &DatabaseConnection,
    talk_id: Uuid,
    embed: NewEmbed,
    position: Option<i32>,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    let errors = embed_errors(&embed, "");
    add_child::<embed::Entity>(db, talk_id, position, errors, by, |id, position| {
        let facts = html::EmbedFacts::of(&embed.html);
        let mut model = embed::ActiveModel {
            id: Set(id),
            talk_id: Set(talk_id),
            position: Set(position),
            kind: Set(embed.kind),
            ..Default::default()
        };
        model.set_html(embed.html, facts);
        model
    })
    .await
}

/// Replaces an embed's kind and html; it keeps its place.
///
/// Errors: [`ServiceError::NotFound`]; [`ServiceError::Invalid`] with paths `kind`, `html`.
pub async fn update_embed(
    db: &DatabaseConnection,
    id: Uuid,
    embed: NewEmbed,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    let by = by.into();
    let txn = begin_write(db).await?;
    let talk = lock_talk(
        &txn,
        talk_of::<embed::Entity>(&txn, id).await?,
        by.if_version,
    )
    .await?;
    let stored = embed::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ServiceError::NotFound)?;
    invalid_unless_empty(embed_errors(&embed, ""))?;
    if (&stored.kind, &stored.html) == (&embed.kind, &embed.html) {
        return unchanged(txn, talk.id).await;
    }
    let facts = html::EmbedFacts::of(&embed.html);
    let mut model = embed::ActiveModel {
        kind: Set(embed.kind),
        ..Default::default()
    };
    model.set_html(embed.html, facts);
    embed::Entity::update_many()
        .set(model)
        .filter(embed::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    record_change(&txn, &talk, by.actor, None).await?;
    finish(txn, talk.id, ChangeType::Updated, by.actor).await
}

/// Removes an embed; the ones after it move up, so positions stay 0, 1, 2, …
///
/// Errors: [`ServiceError::NotFound`].
pub async fn remove_embed(
    db: &DatabaseConnection,
    id: Uuid,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    remove_child::<embed::Entity>(db, id, by).await
}

/// Puts a talk's embeds in the order of `ids`, which must name each of the talk's embeds
/// exactly once.
///
/// Errors: [`ServiceError::NotFound`] for an unknown talk; [`ServiceError::Invalid`] with path
/// `ids` for an id that is not one of the talk's embeds, listed twice, or left out.
pub async fn reorder_embeds(
    db: &DatabaseConnection,
    talk_id: Uuid,
    ids: Vec<Uuid>,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    reorder_children::<embed::Entity>(db, talk_id, ids, by).await
}

// ----------------------------------------------------------------------------------------------
// Validation of API input, beyond what documents must satisfy.

/// Validates a new talk as [`TalkInput::parse`] does, and more: resource URLs must be absolute
/// `http` or `https` URLs (a document may also use `mailto:` or leave one empty), and embed
/// html is at most [`MAX_BODY_BYTES`]. Embeds' kinds are reported as `embeds[i].kind`.
fn parse_new_talk(new: NewTalk) -> Result<TalkInput, ServiceError> {
    let mut stricter = Vec::new();
    for (i, r) in new.resources.iter().enumerate() {
        stricter.extend(resource_errors(r, &format!("resources[{i}].")));
    }
    for (i, e) in new.embeds.iter().enumerate() {
        stricter.extend(embed_errors(e, &format!("embeds[{i}].")));
    }
    match TalkInput::parse(new) {
        Ok(input) if stricter.is_empty() => Ok(input),
        Ok(_) => Err(ServiceError::Invalid(stricter)),
        Err(ServiceError::Invalid(errors)) => {
            let mut errors: Vec<FieldError> = errors
                .into_iter()
                .map(|e| FieldError::new(api_path(e.path), e.message))
                .collect();
            for error in stricter {
                if !errors.iter().any(|known| known.path == error.path) {
                    errors.push(error);
                }
            }
            Err(ServiceError::Invalid(errors))
        }
        Err(other) => Err(other),
    }
}

/// The document calls an embed's kind `type`; the API calls it `kind`.
fn api_path(path: String) -> String {
    match path.strip_suffix(".type") {
        Some(prefix) if prefix.starts_with("embeds[") => format!("{prefix}.kind"),
        _ => path,
    }
}

/// The fields (named after `prefix`) whose text holds a NUL character, which no column keeps.
fn nul_errors<'a>(
    prefix: &str,
    fields: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<FieldError> {
    crate::domain::nul_fields(prefix, fields)
        .into_iter()
        .map(|path| FieldError::new(path, crate::domain::NUL_MESSAGE))
        .collect()
}

/// What is wrong with a resource, with paths starting with `prefix`.
fn resource_errors(resource: &NewResource, prefix: &str) -> Vec<FieldError> {
    let mut errors = nul_errors(
        prefix,
        [
            ("title", Some(resource.title.as_str())),
            ("url", Some(resource.url.as_str())),
            ("description", resource.description.as_deref()),
        ],
    );
    if resource.title.trim().is_empty() {
        errors.push(FieldError::new(
            format!("{prefix}title"),
            "must not be empty",
        ));
    }
    // A stored asset's own URL is the one relative link allowed; `resolve` checks that it exists.
    if !crate::assets::is_asset_url(&resource.url)
        && let Err(message) = web_url(&resource.url)
    {
        errors.push(FieldError::new(format!("{prefix}url"), message));
    }
    errors
}

/// What is wrong with an embed, with paths starting with `prefix`.
fn embed_errors(embed: &NewEmbed, prefix: &str) -> Vec<FieldError> {
    let mut errors = nul_errors(
        prefix,
        [
            ("kind", Some(embed.kind.as_str())),
            ("html", Some(embed.html.as_str())),
        ],
    );
    if let Err(error) = crate::domain::check_embed_kind(&embed.kind) {
        errors.push(FieldError::new(format!("{prefix}kind"), error.to_string()));
    }
    if embed.html.trim().is_empty() {
        errors.push(FieldError::new(
            format!("{prefix}html"),
            "must not be empty",
        ));
    } else if embed.html.len() > MAX_BODY_BYTES {
        errors.push(FieldError::new(
            format!("{prefix}html"),
            format!(
                "is {} bytes; at most {MAX_BODY_BYTES} are allowed",
                embed.html.len()
            ),
        ));
    }
    errors
}

/// An absolute `http` or `https` URL, written without surrounding spaces.
fn web_url(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.trim() != value {
        return Err("must not start or end with spaces".into());
    }
    let url =
        url::Url::parse(value).map_err(|e| format!("{value:?} is not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "scheme {:?} is not allowed; use http or https",
            url.scheme()
        ));
    }
    if !url.has_host() {
        return Err(format!("{value:?} has no host"));
    }
    Ok(())
}

fn invalid_unless_empty(errors: Vec<FieldError>) -> Result<(), ServiceError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

/// What is wrong with `ids` as a new order of `current`: every problem, each at path `ids`.
fn order_errors(current: &[Uuid], ids: &[Uuid], noun: &str) -> Vec<FieldError> {
    let known: HashSet<&Uuid> = current.iter().collect();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for id in ids {
        if !seen.insert(id) {
            errors.push(FieldError::new("ids", format!("lists {id} more than once")));
        } else if !known.contains(id) {
            errors.push(FieldError::new(
                "ids",
                format!("lists {id}, which is not one of this talk's {noun}s"),
            ));
        }
    }
    for id in current {
        if !seen.contains(id) {
            errors.push(FieldError::new("ids", format!("leaves out {id}")));
        }
    }
    errors
}

/// Who makes a change, and the version of the talk they last read when they made it
/// conditional (an HTTP `If-Match`): a change to a talk at another version is a
/// [`ServiceError::Conflict`] and writes nothing.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    pub actor: &'a str,
    pub if_version: Option<i32>,
}

impl<'a> From<&'a str> for By<'a> {
    fn from(actor: &'a str) -> Self {
        Self {
            actor,
            if_version: None,
        }
    }
}

impl<'a> From<&'a String> for By<'a> {
    fn from(actor: &'a String) -> Self {
        actor.as_str().into()
    }
}

// ----------------------------------------------------------------------------------------------
// Transactions and talks.

/// The talk, locked against other writers until the transaction ends (`SELECT … FOR UPDATE`
/// on PostgreSQL; on SQLite the write transaction holds the database's lock already).
async fn lock_talk(
    txn: &DatabaseTransaction,
    id: Uuid,
    if_version: Option<i32>,
) -> Result<talk::Model, ServiceError> {
    let talk = talk::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(ServiceError::NotFound)?;
    match if_version {
        Some(expected) if expected != talk.version => Err(ServiceError::Conflict {
            current_version: talk.version,
        }),
        _ => Ok(talk),
    }
}

/// Records that `talk` changed: the next version, now, by `actor`, and the new status if any.
async fn record_change(
    txn: &DatabaseTransaction,
    talk: &talk::Model,
    actor: &str,
    status: Option<Status>,
) -> Result<(), ServiceError> {
    let mut model = talk::ActiveModel {
        version: Set(talk.version + 1),
        updated_at: Set(Utc::now()),
        updated_by: Set(Some(actor.to_owned())),
        ..Default::default()
    };
    if let Some(status) = status {
        model.status = Set(status);
    }
    let updated = talk::Entity::update_many()
        .set(model)
        .filter(talk::Column::Id.eq(talk.id))
        .filter(talk::Column::Version.eq(talk.version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(stale(txn, talk.id).await);
    }
    Ok(())
}

/// The error for a guarded write that found no row: the talk moved on, or is gone.
async fn stale(txn: &DatabaseTransaction, id: Uuid) -> ServiceError {
    let version: Result<Option<i32>, _> = talk::Entity::find_by_id(id)
        .select_only()
        .column(talk::Column::Version)
        .into_tuple()
        .one(txn)
        .await;
    match version {
        Ok(Some(current_version)) => ServiceError::Conflict { current_version },
        Ok(None) => ServiceError::NotFound,
        Err(err) => err.into(),
    }
}

/// Rewrites the talk's stored children ([`talks::refresh_children`]), reads the talk back as
/// written, bumps the content version, appends the event and commits.
async fn finish(
    txn: DatabaseTransaction,
    id: Uuid,
    kind: ChangeType,
    actor: &str,
) -> Result<TalkRecord, ServiceError> {
    talks::refresh_children(&txn, id).await?;
    let record = record(&txn, id).await?;
    events::bump_and_append(&txn, kind, &record, actor).await?;
    txn.commit().await?;
    Ok(record)
}

/// Ends a transaction that wrote nothing, with the talk as it is.
async fn unchanged(txn: DatabaseTransaction, id: Uuid) -> Result<TalkRecord, ServiceError> {
    let record = record(&txn, id).await?;
    txn.commit().await?;
    Ok(record)
}

async fn record<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<TalkRecord, ServiceError> {
    talks::find_by_id(db, id)
        .await?
        .ok_or(ServiceError::NotFound)
}

// ----------------------------------------------------------------------------------------------
// Resources and embeds: the same operations on two tables.

/// What resources and embeds share: an id, a talk, and a place among the talk's others
/// (0, 1, 2, … with no gaps, unique per talk).
trait Child: EntityTrait {
    const ID: Self::Column;
    const TALK_ID: Self::Column;
    const POSITION: Self::Column;
    /// What one is called in messages.
    const NOUN: &'static str;
}

impl Child for resource::Entity {
    const ID: resource::Column = resource::Column::Id;
    const TALK_ID: resource::Column = resource::Column::TalkId;
    const POSITION: resource::Column = resource::Column::Position;
    const NOUN: &'static str = "resource";
}

impl Child for embed::Entity {
    const ID: embed::Column = embed::Column::Id;
    const TALK_ID: embed::Column = embed::Column::TalkId;
    const POSITION: embed::Column = embed::Column::Position;
    const NOUN: &'static str = "embed";
}

/// Inserts the row `model(id, position)` makes; `errors` are the problems already found with
/// its fields.
async fn add_child<E: Child>(
    db: &DatabaseConnection,
    talk_id: Uuid,
    position: Option<i32>,
    mut errors: Vec<FieldError>,
    by: impl Into<By<'_>>,
    model: impl FnOnce(Uuid, i32) -> E::ActiveModel,
) -> Result<TalkRecord, ServiceError> {
    let by = by.into();
    let txn = begin_write(db).await?;
    let talk = lock_talk(&txn, talk_id, by.if_version).await?;
    let mut order = child_ids::<E>(&txn, talk_id).await?;
    let at = match position {
        None => Some(order.len()),
        Some(position) => usize::try_from(position)
            .ok()
            .filter(|at| *at <= order.len()),
    };
    let Some(at) = at else {
        errors.push(FieldError::new(
            "position",
            format!("must be between 0 and {}", order.len()),
        ));
        return Err(ServiceError::Invalid(errors));
    };
    invalid_unless_empty(errors)?;
    if order.len() >= MAX_CHILDREN {
        return Err(ServiceError::LimitExceeded(format!(
            "a talk has at most {MAX_CHILDREN} {}s",
            E::NOUN
        )));
    }
    let id = Uuid::now_v7();
    let last = at == order.len();
    if !last {
        park::<E>(&txn, talk_id).await?;
    }
    E::insert(model(id, position_number(at)))
        .exec_without_returning(&txn)
        .await?;
    if !last {
        order.insert(at, id);
        place::<E>(&txn, talk_id, &order).await?;
    }
    record_change(&txn, &talk, by.actor, None).await?;
    finish(txn, talk_id, ChangeType::Updated, by.actor).await
}

async fn remove_child<E: Child>(
    db: &DatabaseConnection,
    id: Uuid,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    let by = by.into();
    let txn = begin_write(db).await?;
    let talk = lock_talk(&txn, talk_of::<E>(&txn, id).await?, by.if_version).await?;
    let mut order = child_ids::<E>(&txn, talk.id).await?;
    let Some(at) = order.iter().position(|child| *child == id) else {
        // Removed by someone else while this waited for the lock.
        return Err(ServiceError::NotFound);
    };
    E::delete_many().filter(E::ID.eq(id)).exec(&txn).await?;
    order.remove(at);
    if at < order.len() {
        park::<E>(&txn, talk.id).await?;
        place::<E>(&txn, talk.id, &order).await?;
    }
    record_change(&txn, &talk, by.actor, None).await?;
    finish(txn, talk.id, ChangeType::Updated, by.actor).await
}

async fn reorder_children<E: Child>(
    db: &DatabaseConnection,
    talk_id: Uuid,
    ids: Vec<Uuid>,
    by: impl Into<By<'_>>,
) -> Result<TalkRecord, ServiceError> {
    let by = by.into();
    let txn = begin_write(db).await?;
    let talk = lock_talk(&txn, talk_id, by.if_version).await?;
    let current = child_ids::<E>(&txn, talk_id).await?;
    invalid_unless_empty(order_errors(&current, &ids, E::NOUN))?;
    if current == ids {
        return unchanged(txn, talk_id).await;
    }
    park::<E>(&txn, talk_id).await?;
    place::<E>(&txn, talk_id, &ids).await?;
    record_change(&txn, &talk, by.actor, None).await?;
    finish(txn, talk_id, ChangeType::Updated, by.actor).await
}

/// The talk a resource or embed belongs to.
async fn talk_of<E: Child>(txn: &DatabaseTransaction, id: Uuid) -> Result<Uuid, ServiceError> {
    let talk_id: Option<Uuid> = E::find()
        .select_only()
        .column(E::TALK_ID)
        .filter(E::ID.eq(id))
        .into_tuple()
        .one(txn)
        .await?;
    talk_id.ok_or(ServiceError::NotFound)
}

/// The ids of a talk's resources or embeds, in order.
async fn child_ids<E: Child>(
    txn: &DatabaseTransaction,
    talk_id: Uuid,
) -> Result<Vec<Uuid>, ServiceError> {
    Ok(E::find()
        .select_only()
        .column(E::ID)
        .filter(E::TALK_ID.eq(talk_id))
        .order_by_asc(E::POSITION)
        .into_tuple()
        .all(txn)
        .await?)
}

/// Moves a talk's children out of the way: position `p` becomes `-1 - p`, so the positions
/// stay unique (the index on talk and position is checked row by row) and 0, 1, … are free.
async fn park<E: Child>(txn: &DatabaseTransaction, talk_id: Uuid) -> Result<(), ServiceError> {
    E::update_many()
        .col_expr(E::POSITION, Expr::val(-1).sub(Expr::col(E::POSITION)))
        .filter(E::TALK_ID.eq(talk_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Numbers a talk's children 0, 1, 2, … in the order of `order`, which names them all, in one
/// statement.
async fn place<E: Child>(
    txn: &DatabaseTransaction,
    talk_id: Uuid,
    order: &[Uuid],
) -> Result<(), ServiceError> {
    if order.is_empty() {
        return Ok(());
    }
    let positions = (0_i32..)
        .zip(order)
        .fold(CaseStatement::new(), |case, (position, id)| {
            case.case(E::ID.eq(*id), Expr::val(position))
        });
    E::update_many()
        .col_expr(E::POSITION, positions.into())
        .filter(E::TALK_ID.eq(talk_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// A place as stored; a talk has at most [`MAX_CHILDREN`] children, far below `i32::MAX`.
fn position_number(at: usize) -> i32 {
    i32::try_from(at).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_urls_from_the_api_are_absolute_web_urls() {
        assert!(web_url("https://example.com/slides").is_ok());
        assert!(web_url("http://example.com").is_ok());
        for bad in [
            "",
            "  ",
            "mailto:a@example.com",
            "/relative",
            "javascript:alert(1)",
            " https://example.com",
            "ftp://example.com",
        ] {
            assert!(web_url(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_order_must_name_every_child_once() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert!(order_errors(&[a, b], &[b, a], "resource").is_empty());
        let errors = order_errors(&[a, b], &[a, a, c], "resource");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.iter().all(|e| e.path == "ids"));
    }

    #[test]
    fn embed_kinds_are_named_kind_in_api_paths() {
        assert_eq!(api_path("embeds[2].type".into()), "embeds[2].kind");
        assert_eq!(api_path("resources[0].url".into()), "resources[0].url");
    }

    /// The API runs these in async-graphql resolvers, which need `Send` futures.
    #[allow(dead_code)]
    fn futures_are_send(db: &DatabaseConnection) {
        fn send<T: Send>(_: T) {}
        let id = Uuid::nil();
        send(create_talk(db, NewTalk::default(), "a"));
        send(update_talk(db, id, TalkPatch::default(), 1, "a"));
        send(delete_talk(db, id, 1, "a"));
        send(set_status(db, id, Status::Published, "a"));
        send(add_resource(db, id, NewResource::default(), None, "a"));
        send(update_resource(db, id, NewResource::default(), "a"));
        send(remove_resource(db, id, "a"));
        send(reorder_resources(db, id, Vec::new(), "a"));
        send(add_embed(db, id, NewEmbed::default(), None, "a"));
        send(update_embed(db, id, NewEmbed::default(), "a"));
        send(remove_embed(db, id, "a"));
        send(reorder_embeds(db, id, Vec::new(), "a"));
    }
}
