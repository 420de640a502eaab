//! Writing imported documents: upsert by slug without ever overwriting an editor's change,
//! and pruning talks whose documents are gone.

use std::collections::HashSet;

use chrono::Utc;
use entity::talk::{self, Origin, Status};
use entity::{embed, resource};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use crate::error::ServiceError;
use crate::talks::TalkInput;

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
    let txn = db.begin().await?;
    let outcome = upsert(&txn, input, options.force).await?;
    finish(txn, options.dry_run).await?;
    Ok(outcome)
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
    let now = Utc::now();
    let Some(existing) = existing else {
        let id = Uuid::now_v7();
        let mut model = talk::ActiveModel {
            id: Set(id),
            status: Set(Status::Published),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            origin: Set(Origin::Import),
            import_hash: Set(Some(digest)),
            imported_version: Set(Some(1)),
            ..Default::default()
        };
        input.apply(&mut model);
        model.insert(txn).await?;
        insert_children(txn, input, id).await?;
        return Ok(ImportOutcome::Created { version: 1 });
    };
    if existing.import_hash.as_deref() == Some(digest.as_str()) {
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
        import_hash: Set(Some(digest)),
        imported_version: Set(Some(version)),
        ..Default::default()
    };
    input.apply(&mut model);
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
    insert_children(txn, input, existing.id).await?;
    Ok(ImportOutcome::Updated { version })
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
) -> Result<(), ServiceError> {
    let resources = input.resource_models(talk_id);
    if !resources.is_empty() {
        resource::Entity::insert_many(resources).exec(txn).await?;
    }
    let embeds = input.embed_models(talk_id);
    if !embeds.is_empty() {
        embed::Entity::insert_many(embeds).exec(txn).await?;
    }
    Ok(())
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
        let txn = db.begin().await?;
        let deleted = talk::Entity::delete_many()
            .filter(talk::Column::Id.eq(id))
            .filter(talk::Column::Version.eq(version))
            .filter(talk::Column::Origin.eq(Origin::Import))
            .exec(&txn)
            .await?;
        finish(txn, options.dry_run).await?;
        outcomes.push(PruneOutcome {
            slug,
            deleted: deleted.rows_affected == 1,
            version,
        });
    }
    Ok(outcomes)
}
