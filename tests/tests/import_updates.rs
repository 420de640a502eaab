use entity::talk;
use importer::import::Outcome;
use service::sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
use tests::{TestDb, folder_with, talk_doc};

use crate::support::{config, import, import_with, talk};

/// Changes a talk the way an editor would: new content, version + 1.
async fn edit_through_the_api(db: &TestDb, slug: &str, title: &str) {
    let record = talk(db, slug).await;
    let version = record.talk.version;
    let mut model = record.talk.into_active_model();
    model.title = Set(title.to_owned());
    model.version = Set(version + 1);
    model.update(&db.db).await.unwrap();
}

#[tokio::test]
async fn a_changed_document_updates_the_talk_and_replaces_its_children() {
    let dir = folder_with(&[("a.md", talk_doc("a", "First title").as_bytes())]);
    let db = TestDb::new().await;
    import(&db, &[dir.path()]).await;
    let before = talk(&db, "a").await;
    let changed = talk_doc("a", "Second title").replace(
        "resources:\n",
        "resources:\n  - title: \"New first\"\n    url: \"https://example.com/new\"\n",
    );
    std::fs::write(dir.path().join("a.md"), changed).unwrap();
    let summary = import(&db, &[dir.path()]).await;
    assert_eq!((summary.updated, summary.unchanged), (1, 0));
    let after = talk(&db, "a").await;
    assert_eq!(after.talk.id, before.talk.id);
    assert_eq!(after.talk.version, 2);
    assert_eq!(after.talk.title, "Second title");
    assert!(after.talk.updated_at >= before.talk.updated_at);
    assert_eq!(after.talk.created_at, before.talk.created_at);
    let titles: Vec<_> = after
        .resources
        .iter()
        .map(|r| (r.position, r.title.as_str()))
        .collect();
    assert_eq!(titles, [(0, "New first"), (1, "Slides")]);
    assert_eq!(after.embeds.len(), 1);
}

#[tokio::test]
async fn a_talk_edited_since_its_import_is_not_overwritten_but_reported_as_a_conflict() {
    let dir = folder_with(&[("a.md", talk_doc("a", "From the document").as_bytes())]);
    let db = TestDb::new().await;
    import(&db, &[dir.path()]).await;
    edit_through_the_api(&db, "a", "From the editor").await;

    // The document did not change: nothing to do, and the edit stays.
    let summary = import(&db, &[dir.path()]).await;
    assert_eq!(summary.unchanged, 1);
    assert_eq!(talk(&db, "a").await.talk.title, "From the editor");

    // The document changed: a conflict, the edit stays, the run exits non-zero.
    std::fs::write(dir.path().join("a.md"), talk_doc("a", "Document v2")).unwrap();
    let summary = import(&db, &[dir.path()]).await;
    assert_eq!(summary.conflicts, 1);
    assert!(summary.has_problems());
    let problem = &summary.problems[0];
    assert_eq!(problem.outcome, Outcome::Conflict);
    assert!(
        problem
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("--force")
    );
    let stored = talk(&db, "a").await;
    assert_eq!(
        (stored.talk.title.as_str(), stored.talk.version),
        ("From the editor", 2)
    );

    // --force takes the document.
    let mut forced = config(&[dir.path()]);
    forced.force = true;
    let summary = import_with(&db, forced).await;
    assert_eq!(summary.updated, 1);
    let stored = talk(&db, "a").await;
    assert_eq!(
        (stored.talk.title.as_str(), stored.talk.version),
        ("Document v2", 3)
    );
    // ...and from then on the talk follows its document again.
    let summary = import(&db, &[dir.path()]).await;
    assert_eq!(summary.unchanged, 1);
}

#[tokio::test]
async fn a_talk_created_through_the_api_is_never_overwritten_without_force() {
    let db = TestDb::new().await;
    let dir = folder_with(&[("a.md", talk_doc("a", "From the document").as_bytes())]);
    import(&db, &[dir.path()]).await;
    let mut model = talk(&db, "a").await.talk.into_active_model();
    model.origin = Set(talk::Origin::Api);
    model.import_hash = Set(None);
    model.imported_version = Set(None);
    model.update(&db.db).await.unwrap();
    std::fs::write(dir.path().join("a.md"), talk_doc("a", "Changed")).unwrap();
    let summary = import(&db, &[dir.path()]).await;
    assert_eq!(summary.conflicts, 1);
    assert_eq!(talk(&db, "a").await.talk.title, "From the document");
}

#[tokio::test]
async fn prune_deletes_imported_talks_whose_documents_are_gone_and_nothing_else() {
    let dir = folder_with(&[
        ("keep.md", talk_doc("keep", "Keep").as_bytes()),
        ("gone.md", talk_doc("gone", "Gone").as_bytes()),
        ("edited.md", talk_doc("edited", "Edited").as_bytes()),
        ("api.md", talk_doc("api", "Made in the API").as_bytes()),
    ]);
    let db = TestDb::new().await;
    import(&db, &[dir.path()]).await;
    edit_through_the_api(&db, "edited", "Edited by an editor").await;
    let mut model = talk(&db, "api").await.talk.into_active_model();
    model.origin = Set(talk::Origin::Api);
    model.update(&db.db).await.unwrap();
    for name in ["gone.md", "edited.md", "api.md"] {
        std::fs::remove_file(dir.path().join(name)).unwrap();
    }

    // Without --prune nothing is deleted.
    import(&db, &[dir.path()]).await;
    assert_eq!(service::talks::count(&db.db).await.unwrap(), 4);

    let mut pruning = config(&[dir.path()]);
    pruning.prune = true;
    let summary = import_with(&db, pruning.clone()).await;
    assert_eq!(
        (summary.pruned, summary.conflicts),
        (1, 1),
        "{:#?}",
        summary.problems
    );
    assert!(
        service::talks::find_by_slug(&db.db, "gone")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(talk(&db, "edited").await.talk.title, "Edited by an editor");
    talk(&db, "api").await;
    talk(&db, "keep").await;

    pruning.force = true;
    let summary = import_with(&db, pruning).await;
    assert_eq!(summary.pruned, 1);
    assert!(
        service::talks::find_by_slug(&db.db, "edited")
            .await
            .unwrap()
            .is_none()
    );
    talk(&db, "api").await;
}

#[tokio::test]
async fn prune_is_skipped_when_a_document_failed() {
    let dir = folder_with(&[
        ("a.md", talk_doc("a", "A").as_bytes()),
        ("b.md", talk_doc("b", "B").as_bytes()),
    ]);
    let db = TestDb::new().await;
    import(&db, &[dir.path()]).await;
    // b.md breaks: its talk must not be pruned as if the document were gone.
    std::fs::write(dir.path().join("b.md"), "---\ntitle: [broken\n---\n").unwrap();
    let mut pruning = config(&[dir.path()]);
    pruning.prune = true;
    let summary = import_with(&db, pruning).await;
    assert_eq!((summary.failed, summary.pruned), (1, 0));
    talk(&db, "b").await;
}

#[tokio::test]
async fn deleting_a_talk_deletes_its_resources_and_embeds() {
    use entity::{embed, resource};
    use service::sea_orm::{EntityTrait, PaginatorTrait};
    let dir = folder_with(&[("a.md", talk_doc("a", "A").as_bytes())]);
    let db = TestDb::new().await;
    import(&db, &[dir.path()]).await;
    let id = talk(&db, "a").await.talk.id;
    assert_eq!(resource::Entity::find().count(&db.db).await.unwrap(), 1);
    talk::Entity::delete_by_id(id).exec(&db.db).await.unwrap();
    assert_eq!(resource::Entity::find().count(&db.db).await.unwrap(), 0);
    assert_eq!(embed::Entity::find().count(&db.db).await.unwrap(), 0);
}

#[tokio::test]
async fn migrations_can_run_again_on_a_migrated_database() {
    let db = TestDb::new().await;
    service::db::connect(&db.url)
        .await
        .expect("second migration run failed");
}
