//! Shared shortcuts for the test modules.

use std::path::{Path, PathBuf};

use importer::import::{ImportConfig, Summary, run};
use service::talks::TalkRecord;
use tests::TestDb;

pub fn config(paths: &[&Path]) -> ImportConfig {
    ImportConfig {
        paths: paths
            .iter()
            .map(|p| p.to_path_buf())
            .collect::<Vec<PathBuf>>(),
        dry_run: false,
        repair: true,
        force: false,
        prune: false,
        max_bytes: importer::document::DEFAULT_MAX_BYTES,
        progress: false,
    }
}

pub async fn import(db: &TestDb, paths: &[&Path]) -> Summary {
    run(&db.db, &config(paths))
        .await
        .expect("the import run failed as a whole")
}

pub async fn import_with(db: &TestDb, config: ImportConfig) -> Summary {
    run(&db.db, &config)
        .await
        .expect("the import run failed as a whole")
}

pub async fn talk(db: &TestDb, slug: &str) -> TalkRecord {
    service::talks::find_by_slug(&db.db, slug)
        .await
        .expect("query failed")
        .unwrap_or_else(|| panic!("talk {slug} is not stored"))
}

pub async fn all_talks(db: &TestDb) -> Vec<TalkRecord> {
    service::talks::page_by_slug(&db.db, None, 10_000)
        .await
        .expect("query failed")
}

/// The content of a talk as the document gives it: every field but ids and timestamps.
pub fn content(record: &TalkRecord) -> serde_json::Value {
    let t = &record.talk;
    serde_json::json!({
        "slug": t.slug, "title": t.title, "date": t.date, "event": t.event, "location": t.location,
        "image": t.image, "pdf": t.pdf, "notist_id": t.notist_id, "body": t.body, "extra": t.extra,
        "status": t.status,
        "resources": record.resources.iter().map(|r| serde_json::json!([r.position, r.title, r.url, r.description])).collect::<Vec<_>>(),
        "embeds": record.embeds.iter().map(|e| serde_json::json!([e.position, e.kind, e.html])).collect::<Vec<_>>(),
    })
}
