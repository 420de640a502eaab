//! Writing imported documents: upsert by slug without ever overwriting an editor's change,
//! and pruning talks whose documents are gone.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::talk::{self, Origin, Status};
use entity::{embed, resource};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Statement, TransactionTrait,
    TryIntoModel,
};
use serde::Serialize;
use uuid::Uuid;

use crate::content;
use crate::db::begin_write;
use crate::error::ServiceError;
use crate::events::{self, ChangeType};
use crate::talks::TalkInput;
use crate::talks::TalkRecord;

/// How an import treats what it finds.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Overwrite (or prune) talks that were edited since their last import.
    pub force: bool,
    /// Do everything, then roll back: report what would happen and write nothing.
    pub dry_run: bool,
}

/// What importing one document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum ImportOutcome {
    Created {
        version: i32,
    },
    Updated {
        version: i32,
    },
    /// The document is what was imported last time; nothing was written.
    Unchanged {
        version: i32,
    },
    /// The talk was changed through the API since it was last imported (or was created there),
    /// and the document differs: the talk was left as it is.
    Conflict {
        version: i32,
    },
}

/// Imports one validated talk in one transaction.
pub async fn import_talk(
    db: &DatabaseConnection,
    input: &TalkInput,
    options: ImportOptions,
) -> Result<ImportOutcome, ServiceError> {
    let txn = begin_write(db).await?;
    // Before any event is appended, so that events are numbered in commit order.
    content::bump(&txn).await?;
    let outcome = upsert(&txn, input, options.force).await?;
    finish(txn, options.dry_run).await?;
    Ok(outcome)
}

impl ImportOutcome {
    /// True when the talk was written.
    pub fn wrote(self) -> bool {
        matches!(self, Self::Created { .. } | Self::Updated { .. })
    }
}

/// How imports are recorded in `created_by` and `updated_by`.
pub const IMPORT_ACTOR: &str = "importer";

/// Documents written in one transaction, at most.
const BATCH_DOCUMENTS: usize = 500;
/// How long one transaction stays open, at most, so that other writers wait no longer.
const BATCH_TIME: Duration = Duration::from_millis(100);

/// Imports many documents against one snapshot of what was imported before, read once:
/// an unchanged document then costs no database work, and a new one skips the lookup.
///
/// Documents are written in batches: one transaction holds up to [`BATCH_DOCUMENTS`] of them
/// or stays open up to [`BATCH_TIME`], and each document runs in a savepoint of its own, so a
/// document that fails leaves no trace and the others stand. Every write still re-checks what
/// it changes. [`Importer::finish`] commits the last batch; dropping the importer without it
/// rolls that batch back.
pub struct Importer<'a> {
    db: &'a DatabaseConnection,
    options: ImportOptions,
    /// Slug -> digest of the document last imported into that talk (None: never imported),
    /// and the talk's version.
    known: HashMap<String, (Option<String>, i32)>,
    batch: Option<Batch>,
}

/// The open transaction of an import.
struct Batch {
    txn: DatabaseTransaction,
    documents: usize,
    opened: Instant,
}

impl<'a> Importer<'a> {
    pub async fn new(
        db: &'a DatabaseConnection,
        options: ImportOptions,
    ) -> Result<Self, ServiceError> {
        let rows: Vec<(String, Option<String>, i32)> = talk::Entity::find()
            .select_only()
            .column(talk::Column::Slug)
            .column(talk::Column::ImportHash)
            .column(talk::Column::Version)
            .into_tuple()
            .all(db)
            .await?;
        let known = rows
            .into_iter()
            .map(|(slug, digest, version)| (slug, (digest, version)))
            .collect();
        Ok(Self {
            db,
            options,
            known,
            batch: None,
        })
    }

    /// Imports one talk, in a savepoint of the current batch when anything is to be written.
    pub async fn import(&mut self, input: &TalkInput) -> Result<ImportOutcome, ServiceError> {
        let digest = input.digest();
        let is_new = match self.known.get(input.slug().as_str()) {
            // Unchanged since the snapshot: whatever happened to the talk since, the document
            // has nothing new to say.
            Some((Some(known), version)) if known == digest => {
                return Ok(ImportOutcome::Unchanged { version: *version });
            }
            known => known.is_none(),
        };
        let force = self.options.force;
        let batch = match &mut self.batch {
            Some(batch) => batch,
            empty => {
                let txn = begin_write(self.db).await?;
                // Before any event is appended, so that events are numbered in commit order.
                content::bump(&txn).await?;
                empty.insert(Batch {
                    txn,
                    documents: 0,
                    opened: Instant::now(),
                })
            }
        };
        let mut savepoint = batch.txn.begin().await?;
        let mut result = if is_new {
            create(&savepoint, input, digest).await
        } else {
            upsert(&savepoint, input, force).await
        };
        if is_new && matches!(result, Err(ServiceError::Duplicate { field: "slug" })) {
            // Created by someone else since the snapshot: take the careful path.
            savepoint.rollback().await?;
            savepoint = batch.txn.begin().await?;
            result = upsert(&savepoint, input, force).await;
        }
        match result {
            Ok(_) => savepoint.commit().await?,
            Err(_) => savepoint.rollback().await?,
        }
        batch.documents += 1;
        let outcome = result?;
        if outcome.wrote() && !self.options.dry_run {
            self.known.insert(
                input.slug().as_str().to_owned(),
                (Some(digest.to_owned()), outcome.version()),
            );
        }
        if batch.documents >= BATCH_DOCUMENTS || batch.opened.elapsed() >= BATCH_TIME {
            self.flush().await?;
        }
        Ok(outcome)
    }

    /// Ends the current batch: commits it (rolls it back on a dry run).
    pub async fn flush(&mut self) -> Result<(), ServiceError> {
        if let Some(batch) = self.batch.take() {
            finish(batch.txn, self.options.dry_run).await?;
        }
        Ok(())
    }

    /// Ends the import: commits the last batch.
    pub async fn finish(mut self) -> Result<(), ServiceError> {
        self.flush().await
    }
}

impl ImportOutcome {
    /// The talk's version after the import.
    pub fn version(self) -> i32 {
        match self {
            Self::Created { version }
            | Self::Updated { version }
            | Self::Unchanged { version }
            | Self::Conflict { version } => version,
        }
    }
}

async fn finish(txn: DatabaseTransaction, dry_run: bool) -> Result<(), ServiceError> {
    if dry_run {
        txn.rollback().await?;
    } else {
        txn.commit().await?;
    }
    Ok(())
}

/// True when a talk has changed since the importer last wrote it.
fn edited_since_import(talk: &talk::Model) -> bool {
    talk.origin == Origin::Api || talk.imported_version != Some(talk.version)
}

async fn upsert(
    txn: &DatabaseTransaction,
    input: &TalkInput,
    force: bool,
) -> Result<ImportOutcome, ServiceError> {
    let digest = input.digest();
    let existing = talk::Entity::find()
        .filter(talk::Column::Slug.eq(input.slug().as_str()))
        .one(txn)
        .await?;
    let Some(existing) = existing else {
        return create(txn, input, digest).await;
    };
    let now = Utc::now();
    if existing.import_hash.as_deref() == Some(digest) {
        return Ok(ImportOutcome::Unchanged {
            version: existing.version,
        });
    }
    if edited_since_import(&existing) && !force {
        return Ok(ImportOutcome::Conflict {
            version: existing.version,
        });
    }
    let version = existing.version + 1;
    let mut model = talk::ActiveModel {
        version: Set(version),
        updated_at: Set(now),
        status: Set(Status::Published),
        origin: Set(Origin::Import),
        import_hash: Set(Some(digest.to_owned())),
        imported_version: Set(Some(version)),
        updated_by: Set(Some(IMPORT_ACTOR.to_owned())),
        ..Default::default()
    };
    let links = input.links(txn).await?;
    input.apply(&mut model, &links);
    crate::talks::keep_changed(&mut model, &existing);
    // Guarded by the version read above, so an edit committed in between is never overwritten.
    let updated = talk::Entity::update_many()
        .set(model)
        .filter(talk::Column::Id.eq(existing.id))
        .filter(talk::Column::Version.eq(existing.version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        let current = current_version(txn, existing.id).await?;
        return Ok(ImportOutcome::Conflict { version: current });
    }
    resource::Entity::delete_many()
        .filter(resource::Column::TalkId.eq(existing.id))
        .exec(txn)
        .await?;
    embed::Entity::delete_many()
        .filter(embed::Column::TalkId.eq(existing.id))
        .exec(txn)
        .await?;
    insert_children(txn, input, existing.id, &links).await?;
    crate::talks::refresh_children(txn, existing.id).await?;
    let record = crate::talks::find_by_id(txn, existing.id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    events::append(txn, ChangeType::Updated, &record, IMPORT_ACTOR).await?;
    Ok(ImportOutcome::Updated { version })
}

/// Inserts a new talk and its children.
async fn create(
    txn: &DatabaseTransaction,
    input: &TalkInput,
    digest: &str,
) -> Result<ImportOutcome, ServiceError> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let mut model = talk::ActiveModel {
        id: Set(id),
        status: Set(Status::Published),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        origin: Set(Origin::Import),
        import_hash: Set(Some(digest.to_owned())),
        imported_version: Set(Some(1)),
        created_by: Set(Some(IMPORT_ACTOR.to_owned())),
        updated_by: Set(Some(IMPORT_ACTOR.to_owned())),
        ..Default::default()
    };
    let links = input.links(txn).await?;
    input.apply(&mut model, &links);
    let backend = txn.get_database_backend();
    // The rows inserted and the event's state are the same models, ids included.
    let resources = input.resource_models(id, &links);
    let embeds = input.embed_models(id);
    let record = TalkRecord {
        talk: model.clone().try_into_model()?,
        resources: resources
            .iter()
            .cloned()
            .map(|r| r.try_into_model())
            .collect::<Result<_, _>>()?,
        embeds: embeds
            .iter()
            .cloned()
            .map(|e| e.try_into_model())
            .collect::<Result<_, _>>()?,
    };
    let mut statements = vec![talk::Entity::insert(model).build(backend)];
    statements.extend(children(resources, embeds, backend));
    statements.push(crate::talks::refresh_children_statement(backend, id));
    statements.push(events::append_statement(
        backend,
        ChangeType::Created,
        &record,
        IMPORT_ACTOR,
    ));
    crate::db::run_all(txn, statements).await?;
    Ok(ImportOutcome::Created { version: 1 })
}

async fn current_version(txn: &DatabaseTransaction, id: Uuid) -> Result<i32, ServiceError> {
    let version: Option<i32> = talk::Entity::find_by_id(id)
        .select_only()
        .column(talk::Column::Version)
        .into_tuple()
        .one(txn)
        .await?;
    version.ok_or(ServiceError::NotFound)
}

async fn insert_children(
    txn: &DatabaseTransaction,
    input: &TalkInput,
    talk_id: Uuid,
    links: &crate::assets::Links,
) -> Result<(), ServiceError> {
    let statements = children(
        input.resource_models(talk_id, links),
        input.embed_models(talk_id),
        txn.get_database_backend(),
    );
    crate::db::run_all(txn, statements).await?;
    Ok(())
}

/// The statements that insert a talk's resources and embeds (none for an empty list).
fn children(
    resources: Vec<resource::ActiveModel>,
    embeds: Vec<embed::ActiveModel>,
    backend: DbBackend,
) -> Vec<Statement> {
    let mut statements = Vec::with_capacity(2);
    if !resources.is_empty() {
        statements.push(resource::Entity::insert_many(resources).build(backend));
    }
    if !embeds.is_empty() {
        statements.push(embed::Entity::insert_many(embeds).build(backend));
    }
    statements
}

/// What pruning did to one talk whose document is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneOutcome {
    pub slug: String,
    /// False when the talk was edited since its import and `force` was not given.
    pub deleted: bool,
    pub version: i32,
}

/// Deletes imported talks whose slug is not in `keep`; talks created through the API are never
/// touched, and talks edited since their import are kept (reported) unless `force`.
/// Each deletion is its own transaction, guarded by the version read.
pub async fn prune(
    db: &DatabaseConnection,
    keep: &HashSet<String>,
    options: ImportOptions,
) -> Result<Vec<PruneOutcome>, ServiceError> {
    let candidates: Vec<(Uuid, String, i32, Option<i32>)> = talk::Entity::find()
        .select_only()
        .column(talk::Column::Id)
        .column(talk::Column::Slug)
        .column(talk::Column::Version)
        .column(talk::Column::ImportedVersion)
        .filter(talk::Column::Origin.eq(Origin::Import))
        .into_tuple()
        .all(db)
        .await?;
    let mut outcomes = Vec::new();
    for (id, slug, version, imported_version) in candidates {
        if keep.contains(&slug) {
            continue;
        }
        if imported_version != Some(version) && !options.force {
            outcomes.push(PruneOutcome {
                slug,
                deleted: false,
                version,
            });
            continue;
        }
        let txn = begin_write(db).await?;
        content::bump(&txn).await?;
        let before = crate::talks::find_by_id(&txn, id).await?;
        let deleted = talk::Entity::delete_many()
            .filter(talk::Column::Id.eq(id))
            .filter(talk::Column::Version.eq(version))
            .filter(talk::Column::Origin.eq(Origin::Import))
            .exec(&txn)
            .await?;
        if let (1, Some(before)) = (deleted.rows_affected, &before) {
            events::append(&txn, ChangeType::Deleted, before, IMPORT_ACTOR).await?;
        }
        finish(txn, options.dry_run).await?;
        outcomes.push(PruneOutcome {
            slug,
            deleted: deleted.rows_affected == 1,
            version,
        });
    }
    Ok(outcomes)
}
