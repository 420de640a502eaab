//! Editors' writes through `service::editing`: validation, versions, concurrency, children's
//! order, and how edits meet the importer.

use entity::talk::{Origin, Status};
use entity::{embed, resource};
use service::editing::{self, TalkPatch};
use service::sea_orm::{EntityTrait, PaginatorTrait};
use service::talks::{NewEmbed, NewResource, NewTalk, TalkRecord};
use service::{FieldError, ServiceError};
use tests::{TestDb, folder_with, talk_doc};
use uuid::Uuid;

use crate::support::{import, talk};

const EDITOR: &str = "0190c7a2-0000-7000-8000-000000000001";
const OTHER_EDITOR: &str = "token:0190c7a2-0000-7000-8000-0000000000ff";

fn resource(title: &str) -> NewResource {
    NewResource {
        title: title.to_owned(),
        url: format!("https://example.com/{}", title.to_lowercase()),
        description: None,
    }
}

fn embed(kind: &str) -> NewEmbed {
    NewEmbed {
        kind: kind.to_owned(),
        html: format!("<iframe src=\"https://example.com/{kind}\"></iframe>"),
    }
}

fn new_talk(slug: &str) -> NewTalk {
    NewTalk {
        slug: slug.to_owned(),
        title: "Streams, tables and the log".to_owned(),
        date: "2024-05-02T09:30:00".to_owned(),
        event: Some("Øredev".to_owned()),
        location: Some("Malmö, Sweden".to_owned()),
        body: "<p>About logs.</p>".to_owned(),
        ..Default::default()
    }
}

async fn create(db: &TestDb, new: NewTalk) -> TalkRecord {
    editing::create_talk(&db.db, new, EDITOR)
        .await
        .expect("the talk was not created")
}

async fn stored(db: &TestDb, id: Uuid) -> TalkRecord {
    service::talks::find_by_id(&db.db, id)
        .await
        .expect("query failed")
        .expect("the talk is not stored")
}

async fn content_version(db: &TestDb) -> i64 {
    service::content::current(&db.db).await.unwrap()
}

/// The paths of an `Invalid` error, in order; panics on any other result.
fn paths<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> Vec<String> {
    match result {
        Err(ServiceError::Invalid(errors)) => errors.into_iter().map(|e| e.path).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn invalid_errors<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> Vec<FieldError> {
    match result {
        Err(ServiceError::Invalid(errors)) => errors,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn resource_titles(record: &TalkRecord) -> Vec<(i32, String)> {
    record
        .resources
        .iter()
        .map(|r| (r.position, r.title.clone()))
        .collect()
}

fn embed_kinds(record: &TalkRecord) -> Vec<(i32, String)> {
    record
        .embeds
        .iter()
        .map(|e| (e.position, e.kind.clone()))
        .collect()
}

fn numbered(names: &[&str]) -> Vec<(i32, String)> {
    (0..).zip(names.iter().map(|n| n.to_string())).collect()
}

#[tokio::test]
async fn a_new_talk_is_a_draft_at_version_1_made_by_its_actor_with_its_children_in_order() {
    let db = TestDb::new().await;
    let before = content_version(&db).await;
    let mut new = new_talk("streams");
    new.notist_id = Some("hDbzyd".to_owned());
    new.resources = vec![resource("Slides"), resource("Code")];
    new.embeds = vec![embed("twitter"), embed("notist_video")];
    let created = create(&db, new).await;

    let t = &created.talk;
    assert_eq!(t.status, Status::Draft);
    assert_eq!(t.version, 1);
    assert_eq!(t.origin, Origin::Api);
    assert_eq!(t.created_by.as_deref(), Some(EDITOR));
    assert_eq!(t.updated_by.as_deref(), Some(EDITOR));
    assert_eq!((t.import_hash.as_deref(), t.imported_version), (None, None));
    assert_eq!(t.event.as_deref(), Some("Øredev"));
    assert!(t.search_text.contains("Malmo"), "{}", t.search_text);
    assert_eq!(resource_titles(&created), numbered(&["Slides", "Code"]));
    assert_eq!(
        embed_kinds(&created),
        numbered(&["twitter", "notist_video"])
    );
    assert_eq!(stored(&db, t.id).await, created);
    assert_eq!(content_version(&db).await, before + 1);
}

#[tokio::test]
async fn every_problem_with_a_new_talk_is_reported_at_once_with_its_path() {
    let db = TestDb::new().await;
    let before = content_version(&db).await;
    let new = NewTalk {
        slug: "not a slug".into(),
        title: " ".into(),
        date: "24/10/2019".into(),
        notist_id: Some(String::new()),
        body: "x".repeat(1024 * 1024 + 1),
        resources: vec![
            resource("Fine"),
            NewResource {
                title: "Mail me".into(),
                url: "mailto:a@example.com".into(),
                description: None,
            },
            NewResource {
                title: String::new(),
                url: String::new(),
                description: None,
            },
            NewResource {
                title: "Script".into(),
                url: "javascript:alert(1)".into(),
                description: None,
            },
        ],
        embeds: vec![
            embed("twitter"),
            NewEmbed {
                kind: String::new(),
                html: " ".into(),
            },
        ],
        ..Default::default()
    };
    let mut found = paths(editing::create_talk(&db.db, new, EDITOR).await);
    found.sort();
    let mut expected = vec![
        "slug",
        "title",
        "date",
        "notist_id",
        "body",
        "resources[1].url",
        "resources[2].title",
        "resources[2].url",
        "resources[3].url",
        "embeds[1].kind",
        "embeds[1].html",
    ];
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(service::talks::count(&db.db).await.unwrap(), 0);
    assert_eq!(content_version(&db).await, before);
}

#[tokio::test]
async fn a_taken_slug_or_notist_id_is_a_duplicate_and_nothing_is_written() {
    let db = TestDb::new().await;
    let mut first = new_talk("taken");
    first.notist_id = Some("abc123".into());
    create(&db, first).await;
    let before = content_version(&db).await;

    let mut same_slug = new_talk("taken");
    same_slug.resources = vec![resource("Slides")];
    let result = editing::create_talk(&db.db, same_slug, EDITOR).await;
    assert!(
        matches!(result, Err(ServiceError::Duplicate { field: "slug" })),
        "{result:?}"
    );

    let mut same_notist_id = new_talk("free");
    same_notist_id.notist_id = Some("abc123".into());
    let result = editing::create_talk(&db.db, same_notist_id, EDITOR).await;
    assert!(
        matches!(result, Err(ServiceError::Duplicate { field: "notist_id" })),
        "{result:?}"
    );

    assert_eq!(service::talks::count(&db.db).await.unwrap(), 1);
    assert_eq!(resource::Entity::find().count(&db.db).await.unwrap(), 0);
    assert_eq!(content_version(&db).await, before);

    // Renaming another talk onto a taken slug is refused the same way.
    let other = create(&db, new_talk("other")).await;
    let patch = TalkPatch {
        slug: Some("taken".into()),
        ..Default::default()
    };
    let result = editing::update_talk(&db.db, other.talk.id, patch, 1, EDITOR).await;
    assert!(
        matches!(result, Err(ServiceError::Duplicate { field: "slug" })),
        "{result:?}"
    );
    assert_eq!(stored(&db, other.talk.id).await, other);
}

#[tokio::test]
async fn an_update_changes_only_the_fields_it_names_and_makes_a_new_version() {
    let db = TestDb::new().await;
    let mut new = new_talk("partial");
    new.pdf = Some("https://example.com/deck.pdf".into());
    new.resources = vec![resource("Slides")];
    new.embeds = vec![embed("twitter")];
    let created = create(&db, new).await;
    let before = content_version(&db).await;

    let patch = TalkPatch {
        title: Some("Tables, streams and the log".into()),
        location: Some(None),
        body: Some("<p>Über Logs.</p>".into()),
        ..Default::default()
    };
    let updated = editing::update_talk(&db.db, created.talk.id, patch, 1, OTHER_EDITOR)
        .await
        .unwrap();
    let t = &updated.talk;
    assert_eq!(t.title, "Tables, streams and the log");
    assert_eq!(t.location, None, "Some(None) clears a field");
    assert_eq!(t.event.as_deref(), Some("Øredev"), "a left-out field stays");
    assert_eq!(t.pdf.as_deref(), Some("https://example.com/deck.pdf"));
    assert_eq!(
        (t.slug.as_str(), t.date.as_str()),
        ("partial", "2024-05-02T09:30:00")
    );
    assert_eq!(t.version, 2);
    assert_eq!(t.created_by.as_deref(), Some(EDITOR));
    assert_eq!(t.updated_by.as_deref(), Some(OTHER_EDITOR));
    assert!(t.updated_at >= created.talk.updated_at);
    assert_eq!(t.created_at, created.talk.created_at);
    assert!(t.search_text.contains("Uber Logs"), "{}", t.search_text);
    assert!(!t.search_text.contains("Malmo"), "{}", t.search_text);
    assert_eq!(updated.resources, created.resources);
    assert_eq!(updated.embeds, created.embeds);
    assert_eq!(stored(&db, t.id).await, updated);
    assert_eq!(content_version(&db).await, before + 1);

    // A patch that changes nothing writes nothing.
    let same = TalkPatch {
        title: Some("Tables, streams and the log".into()),
        ..Default::default()
    };
    let unchanged = editing::update_talk(&db.db, t.id, same, 2, EDITOR)
        .await
        .unwrap();
    assert_eq!(unchanged, updated);
    assert_eq!(content_version(&db).await, before + 1);

    // Every problem with the merged talk, at once; nothing changes.
    let bad = TalkPatch {
        title: Some(String::new()),
        date: Some("tomorrow".into()),
        body: Some("x".repeat(1024 * 1024 + 1)),
        ..Default::default()
    };
    let result = editing::update_talk(&db.db, t.id, bad, 2, EDITOR).await;
    assert_eq!(paths(result), ["title", "date", "body"]);
    assert_eq!(stored(&db, t.id).await, updated);
}

/// Counts the `UPDATE`s of `talks` that name `column`, with a trigger (a statement that names
/// a column maintains its indexes and runs its triggers whether or not its value changes).
async fn count_updates_of(db: &TestDb, column: &str) {
    use service::sea_orm::{ConnectionTrait, DbBackend};
    let statements = match db.db.get_database_backend() {
        DbBackend::Sqlite => vec![
            "CREATE TABLE column_updates (n INTEGER NOT NULL)".to_owned(),
            format!(
                "CREATE TRIGGER count_updates AFTER UPDATE OF {column} ON talks
                 BEGIN INSERT INTO column_updates VALUES (1); END"
            ),
        ],
        _ => vec![
            "CREATE TABLE column_updates (n INTEGER NOT NULL)".to_owned(),
            "CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO column_updates VALUES (1); RETURN NULL; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER count_updates AFTER UPDATE OF {column} ON talks
                 FOR EACH ROW EXECUTE FUNCTION count_update()"
            ),
        ],
    };
    for statement in statements {
        db.db.execute_unprepared(&statement).await.unwrap();
    }
}

async fn updates_counted(db: &TestDb) -> i64 {
    use service::sea_orm::{ConnectionTrait, Statement};
    let row = db
        .db
        .query_one_raw(Statement::from_string(
            db.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM column_updates",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn a_write_names_only_the_columns_it_changes() {
    let db = TestDb::new().await;
    let created = create(&db, new_talk("columns")).await;
    let id = created.talk.id;
    count_updates_of(&db, "body_html").await;

    // An update of the location leaves the abstract's columns out of the statement.
    let location = TalkPatch {
        location: Some(Some("Lund, Sweden".into())),
        ..Default::default()
    };
    let updated = editing::update_talk(&db.db, id, location, 1, EDITOR)
        .await
        .unwrap();
    assert_eq!(updated.talk.location.as_deref(), Some("Lund, Sweden"));
    assert_eq!(updates_counted(&db).await, 0);

    // So does saving the whole talk with another title (an editor's form).
    let mut form = new_talk("columns");
    form.title = "Tables and the log".into();
    form.location = Some("Lund, Sweden".into());
    let replaced = editing::replace_talk(&db.db, id, form, 2, EDITOR)
        .await
        .unwrap();
    assert_eq!(replaced.talk.title, "Tables and the log");
    assert_eq!(updates_counted(&db).await, 0);

    // An update of the abstract names them, once.
    let body = TalkPatch {
        body: Some("<p>About <em>tables</em>.</p>".into()),
        ..Default::default()
    };
    let updated = editing::update_talk(&db.db, id, body, 3, EDITOR)
        .await
        .unwrap();
    assert_eq!(updated.talk.body_html, "<p>About <em>tables</em>.</p>");
    assert_eq!(updates_counted(&db).await, 1);

    // A restore of the first version writes the first abstract back.
    let restored = editing::restore_talk(&db.db, id, 1, 4, EDITOR)
        .await
        .unwrap();
    assert_eq!(restored.talk.body_html, "<p>About logs.</p>");
    assert_eq!(updates_counted(&db).await, 2);
    let mut expected = created.talk.clone();
    expected.version = 5;
    expected.updated_at = restored.talk.updated_at;
    assert_eq!(restored.talk, expected);
    assert_eq!(stored(&db, id).await, restored);

    // An import that moves a talk to another location leaves them out too.
    let document = talk_doc("imported", "Imported");
    let dir = folder_with(&[("imported.md", document.as_bytes())]);
    assert_eq!(import(&db, &[dir.path()]).await.created, 1);
    let moved = document.replace("Malmö, Sweden", "Lund, Sweden");
    std::fs::write(dir.path().join("imported.md"), moved).unwrap();
    assert_eq!(import(&db, &[dir.path()]).await.updated, 1);
    let imported = talk(&db, "imported").await.talk;
    assert_eq!(imported.location.as_deref(), Some("Lund, Sweden"));
    assert_eq!(updates_counted(&db).await, 2);
}

#[tokio::test]
async fn an_update_from_a_stale_version_is_a_conflict_that_changes_nothing() {
    let db = TestDb::new().await;
    let created = create(&db, new_talk("stale")).await;
    let id = created.talk.id;
    let first = TalkPatch {
        title: Some("First edit".into()),
        ..Default::default()
    };
    let current = editing::update_talk(&db.db, id, first, 1, EDITOR)
        .await
        .unwrap();
    let before = content_version(&db).await;

    let late = TalkPatch {
        title: Some("Late edit".into()),
        ..Default::default()
    };
    let result = editing::update_talk(&db.db, id, late, 1, OTHER_EDITOR).await;
    assert!(
        matches!(result, Err(ServiceError::Conflict { current_version: 2 })),
        "{result:?}"
    );
    assert_eq!(stored(&db, id).await, current);
    assert_eq!(content_version(&db).await, before);

    let result =
        editing::update_talk(&db.db, Uuid::now_v7(), TalkPatch::default(), 1, EDITOR).await;
    assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_twenty_concurrent_updates_from_one_version_exactly_one_wins() {
    let db = TestDb::new().await;
    let id = create(&db, new_talk("race")).await.talk.id;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let conn = db.db.clone();
            tokio::spawn(async move {
                let patch = TalkPatch {
                    title: Some(format!("Edit number {i}")),
                    ..Default::default()
                };
                editing::update_talk(&conn, id, patch, 1, &format!("editor-{i}")).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(record) => winners.push(record),
            Err(ServiceError::Conflict { current_version: 2 }) => conflicts += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((winners.len(), conflicts), (1, 19));
    let after = stored(&db, id).await;
    assert_eq!(after, winners[0]);
    assert_eq!(after.talk.version, 2);
    let n = after.talk.title.trim_start_matches("Edit number ");
    assert_eq!(after.talk.updated_by, Some(format!("editor-{n}")));
}

#[tokio::test]
async fn a_delete_needs_the_current_version_and_takes_the_children_along() {
    let db = TestDb::new().await;
    let mut new = new_talk("doomed");
    new.resources = vec![resource("Slides")];
    new.embeds = vec![embed("twitter")];
    let id = create(&db, new).await.talk.id;
    editing::set_status(&db.db, id, Status::Published, EDITOR)
        .await
        .unwrap();
    let before = content_version(&db).await;

    let result = editing::delete_talk(&db.db, id, 1, "ed").await;
    assert!(
        matches!(result, Err(ServiceError::Conflict { current_version: 2 })),
        "{result:?}"
    );
    assert_eq!(stored(&db, id).await.talk.version, 2);
    assert_eq!(content_version(&db).await, before);

    editing::delete_talk(&db.db, id, 2, "ed").await.unwrap();
    assert!(
        service::talks::find_by_id(&db.db, id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(resource::Entity::find().count(&db.db).await.unwrap(), 0);
    assert_eq!(embed::Entity::find().count(&db.db).await.unwrap(), 0);
    assert_eq!(content_version(&db).await, before + 1);

    let result = editing::delete_talk(&db.db, id, 2, "ed").await;
    assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
}

#[tokio::test]
async fn publishing_and_unpublishing_each_make_a_new_version() {
    let db = TestDb::new().await;
    let id = create(&db, new_talk("status")).await.talk.id;

    let published = editing::set_status(&db.db, id, Status::Published, OTHER_EDITOR)
        .await
        .unwrap();
    assert_eq!(published.talk.status, Status::Published);
    assert_eq!(published.talk.version, 2);
    assert_eq!(published.talk.updated_by.as_deref(), Some(OTHER_EDITOR));
    assert!(
        service::talks::find_by_slug(&db.db, "status")
            .await
            .unwrap()
            .is_some()
    );

    // Publishing a published talk changes nothing.
    let before = content_version(&db).await;
    let again = editing::set_status(&db.db, id, Status::Published, EDITOR)
        .await
        .unwrap();
    assert_eq!(again, published);
    assert_eq!(content_version(&db).await, before);

    let draft = editing::set_status(&db.db, id, Status::Draft, EDITOR)
        .await
        .unwrap();
    assert_eq!((draft.talk.status, draft.talk.version), (Status::Draft, 3));
    assert_eq!(draft.talk.updated_by.as_deref(), Some(EDITOR));
    assert_eq!(content_version(&db).await, before + 1);

    let result = editing::set_status(&db.db, Uuid::now_v7(), Status::Published, EDITOR).await;
    assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
}

#[tokio::test]
async fn resources_are_added_at_a_position_updated_in_place_and_removed_without_gaps() {
    let db = TestDb::new().await;
    let mut new = new_talk("resources");
    new.resources = vec![resource("A"), resource("B")];
    let id = create(&db, new).await.talk.id;

    let record = editing::add_resource(&db.db, id, resource("C"), None, EDITOR)
        .await
        .unwrap();
    assert_eq!(resource_titles(&record), numbered(&["A", "B", "C"]));
    assert_eq!(record.talk.version, 2);
    let record = editing::add_resource(&db.db, id, resource("D"), Some(0), EDITOR)
        .await
        .unwrap();
    assert_eq!(resource_titles(&record), numbered(&["D", "A", "B", "C"]));
    let record = editing::add_resource(&db.db, id, resource("E"), Some(2), OTHER_EDITOR)
        .await
        .unwrap();
    assert_eq!(
        resource_titles(&record),
        numbered(&["D", "A", "E", "B", "C"])
    );
    assert_eq!(record.talk.version, 4);
    assert_eq!(record.talk.updated_by.as_deref(), Some(OTHER_EDITOR));
    assert_eq!(stored(&db, id).await, record);

    // A place past the end, and a bad resource: every problem at once, nothing written.
    let before = content_version(&db).await;
    let bad = NewResource {
        title: "  ".into(),
        url: "mailto:a@example.com".into(),
        description: None,
    };
    let result = editing::add_resource(&db.db, id, bad, Some(6), EDITOR).await;
    assert_eq!(paths(result), ["title", "url", "position"]);
    let result = editing::add_resource(&db.db, id, resource("F"), Some(-1), EDITOR).await;
    assert_eq!(paths(result), ["position"]);
    assert_eq!(stored(&db, id).await, record);
    assert_eq!(content_version(&db).await, before);

    // Updating keeps the place.
    let b = record.resources[3].id;
    let changed = NewResource {
        title: "B, revised".into(),
        url: "https://example.com/b2".into(),
        description: Some("Now with notes".into()),
    };
    let record = editing::update_resource(&db.db, b, changed, EDITOR)
        .await
        .unwrap();
    assert_eq!(
        resource_titles(&record),
        numbered(&["D", "A", "E", "B, revised", "C"])
    );
    assert_eq!(record.resources[3].id, b);
    assert_eq!(record.resources[3].url, "https://example.com/b2");
    assert_eq!(record.talk.version, 5);
    let bad_url = NewResource {
        title: "B".into(),
        url: "/relative".into(),
        description: None,
    };
    let result = editing::update_resource(&db.db, b, bad_url, EDITOR).await;
    assert_eq!(paths(result), ["url"]);

    // Removing renumbers 0..n.
    let a = record.resources[1].id;
    let record = editing::remove_resource(&db.db, a, EDITOR).await.unwrap();
    assert_eq!(
        resource_titles(&record),
        numbered(&["D", "E", "B, revised", "C"])
    );
    assert_eq!(record.talk.version, 6);
    let last = record.resources[3].id;
    let record = editing::remove_resource(&db.db, last, EDITOR)
        .await
        .unwrap();
    assert_eq!(
        resource_titles(&record),
        numbered(&["D", "E", "B, revised"])
    );
    assert_eq!(stored(&db, id).await, record);

    for result in [
        editing::remove_resource(&db.db, a, EDITOR).await,
        editing::update_resource(&db.db, a, resource("X"), EDITOR).await,
        editing::add_resource(&db.db, Uuid::now_v7(), resource("X"), None, EDITOR).await,
    ] {
        assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
    }
}

#[tokio::test]
async fn resources_are_reordered_only_by_a_list_of_each_of_them_once() {
    let db = TestDb::new().await;
    let mut new = new_talk("reorder");
    new.resources = vec![resource("A"), resource("B"), resource("C")];
    let created = create(&db, new).await;
    let id = created.talk.id;
    let [a, b, c] = [0, 1, 2].map(|i| created.resources[i].id);
    let other = create(&db, {
        let mut other = new_talk("other");
        other.resources = vec![resource("Z")];
        other
    })
    .await;
    let z = other.resources[0].id;

    let record = editing::reorder_resources(&db.db, id, vec![c, a, b], EDITOR)
        .await
        .unwrap();
    assert_eq!(resource_titles(&record), numbered(&["C", "A", "B"]));
    assert_eq!(record.talk.version, 2);
    assert_eq!(stored(&db, id).await, record);

    let before = content_version(&db).await;
    for wrong in [
        vec![c, a],
        vec![c, a, b, z],
        vec![c, a, a, b],
        vec![c, z, b],
        vec![],
    ] {
        let errors =
            invalid_errors(editing::reorder_resources(&db.db, id, wrong.clone(), EDITOR).await);
        assert!(!errors.is_empty());
        assert!(
            errors.iter().all(|e| e.path == "ids"),
            "{wrong:?}: {errors:?}"
        );
    }
    assert_eq!(stored(&db, id).await, record);
    assert_eq!(stored(&db, other.talk.id).await, other);
    assert_eq!(content_version(&db).await, before);

    // The same order again changes nothing.
    let same = editing::reorder_resources(&db.db, id, vec![c, a, b], EDITOR)
        .await
        .unwrap();
    assert_eq!(same, record);
}

#[tokio::test]
async fn embeds_are_added_updated_reordered_and_removed_like_resources() {
    let db = TestDb::new().await;
    let mut new = new_talk("embeds");
    new.embeds = vec![embed("twitter")];
    let id = create(&db, new).await.talk.id;

    let record = editing::add_embed(&db.db, id, embed("video"), Some(0), EDITOR)
        .await
        .unwrap();
    assert_eq!(embed_kinds(&record), numbered(&["video", "twitter"]));
    let record = editing::add_embed(&db.db, id, embed("mastodon"), None, EDITOR)
        .await
        .unwrap();
    assert_eq!(
        embed_kinds(&record),
        numbered(&["video", "twitter", "mastodon"])
    );
    assert_eq!(record.talk.version, 3);

    let bad = NewEmbed {
        kind: String::new(),
        html: String::new(),
    };
    let result = editing::add_embed(&db.db, id, bad.clone(), Some(4), EDITOR).await;
    assert_eq!(paths(result), ["kind", "html", "position"]);
    let twitter = record.embeds[1].id;
    let result = editing::update_embed(&db.db, twitter, bad, EDITOR).await;
    assert_eq!(paths(result), ["kind", "html"]);
    let too_big = NewEmbed {
        kind: "x".into(),
        html: "x".repeat(1024 * 1024 + 1),
    };
    let result = editing::update_embed(&db.db, twitter, too_big, EDITOR).await;
    assert_eq!(paths(result), ["html"]);
    assert_eq!(stored(&db, id).await, record);

    let record = editing::update_embed(&db.db, twitter, embed("x-twitter"), EDITOR)
        .await
        .unwrap();
    assert_eq!(
        embed_kinds(&record),
        numbered(&["video", "x-twitter", "mastodon"])
    );
    assert_eq!(record.embeds[1].html, embed("x-twitter").html);
    assert_eq!(record.talk.version, 4);

    let ids: Vec<Uuid> = record.embeds.iter().rev().map(|e| e.id).collect();
    let record = editing::reorder_embeds(&db.db, id, ids.clone(), EDITOR)
        .await
        .unwrap();
    assert_eq!(
        embed_kinds(&record),
        numbered(&["mastodon", "x-twitter", "video"])
    );
    let result = editing::reorder_embeds(&db.db, id, ids[..2].to_vec(), EDITOR).await;
    assert_eq!(paths(result), ["ids"]);

    let record = editing::remove_embed(&db.db, ids[0], EDITOR).await.unwrap();
    assert_eq!(embed_kinds(&record), numbered(&["x-twitter", "video"]));
    assert_eq!(record.talk.version, 6);
    assert_eq!(stored(&db, id).await, record);
    let result = editing::remove_embed(&db.db, ids[0], EDITOR).await;
    assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
}

#[tokio::test]
async fn a_talk_edited_through_the_api_is_reported_as_a_conflict_by_the_next_import() {
    let dir = folder_with(&[
        ("a.md", talk_doc("a", "From the document").as_bytes()),
        ("b.md", talk_doc("b", "From the document").as_bytes()),
        ("c.md", talk_doc("c", "From the document").as_bytes()),
    ]);
    let db = TestDb::new().await;
    import(&db, &[dir.path()]).await;

    // One talk edited, one with a resource added, one unpublished.
    let a = talk(&db, "a").await.talk;
    let patch = TalkPatch {
        title: Some("From the editor".into()),
        ..Default::default()
    };
    editing::update_talk(&db.db, a.id, patch, a.version, EDITOR)
        .await
        .unwrap();
    let b = talk(&db, "b").await.talk;
    editing::add_resource(&db.db, b.id, resource("Recording"), None, EDITOR)
        .await
        .unwrap();
    let c = talk(&db, "c").await.talk;
    editing::set_status(&db.db, c.id, Status::Draft, EDITOR)
        .await
        .unwrap();

    for slug in ["a", "b", "c"] {
        std::fs::write(
            dir.path().join(format!("{slug}.md")),
            talk_doc(slug, "Document v2"),
        )
        .unwrap();
    }
    let summary = import(&db, &[dir.path()]).await;
    assert_eq!(
        (summary.conflicts, summary.updated),
        (3, 0),
        "{:#?}",
        summary.problems
    );
    let a = talk(&db, "a").await;
    assert_eq!(
        (a.talk.title.as_str(), a.talk.version),
        ("From the editor", 2)
    );
    let b = talk(&db, "b").await;
    assert_eq!(resource_titles(&b), numbered(&["Slides", "Recording"]));
    assert_eq!(b.talk.title, "From the document");
    let c = talk(&db, "c").await;
    assert_eq!(
        (c.talk.status, c.talk.title.as_str()),
        (Status::Draft, "From the document")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_additions_and_removals_all_land_with_positions_0_to_n() {
    let db = TestDb::new().await;
    let mut new = new_talk("busy");
    new.resources = (0..5).map(|i| resource(&format!("R{i}"))).collect();
    let created = create(&db, new).await;
    let id = created.talk.id;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let conn = db.db.clone();
        tasks.push(tokio::spawn(async move {
            let position = (i % 2 == 0).then_some(0);
            editing::add_resource(&conn, id, resource(&format!("New{i}")), position, EDITOR)
                .await
                .map(|_| ())
        }));
    }
    for r in &created.resources[..3] {
        let (conn, resource_id) = (db.db.clone(), r.id);
        tasks.push(tokio::spawn(async move {
            editing::remove_resource(&conn, resource_id, EDITOR)
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let after = stored(&db, id).await;
    assert_eq!(after.resources.len(), 12);
    let positions: Vec<i32> = after.resources.iter().map(|r| r.position).collect();
    assert_eq!(positions, (0..12).collect::<Vec<_>>());
    assert_eq!(after.talk.version, 1 + 13);
}

#[tokio::test]
async fn a_talk_takes_at_most_500_resources() {
    let db = TestDb::new().await;
    let mut new = new_talk("full");
    new.resources = (0..500).map(|i| resource(&format!("R{i}"))).collect();
    let id = create(&db, new).await.talk.id;
    let result = editing::add_resource(&db.db, id, resource("One more"), None, EDITOR).await;
    assert!(
        matches!(result, Err(ServiceError::LimitExceeded(_))),
        "{result:?}"
    );
    let after = stored(&db, id).await;
    assert_eq!((after.resources.len(), after.talk.version), (500, 1));
}

#[tokio::test]
async fn numbers_beyond_exact_doubles_are_refused_in_extra_and_kinds_count_characters() {
    let db = TestDb::new().await;
    let mut extra = serde_json::Map::new();
    extra.insert("ok".into(), serde_json::json!(1.5));
    extra.insert("big".into(), serde_json::json!(-1.7976931348623157e308));
    extra.insert("list".into(), serde_json::json!([1, u64::MAX]));
    extra.insert("edge".into(), serde_json::json!(9_007_199_254_740_992_i64));
    extra.insert("past".into(), serde_json::json!(-9_007_199_254_740_993_i64));
    let new = NewTalk {
        slug: "numbers".into(),
        title: "Numbers".into(),
        date: "2026-11-26".into(),
        extra,
        embeds: vec![NewEmbed {
            kind: "ü".repeat(40),
            html: "<p>x</p>".into(),
        }],
        ..Default::default()
    };
    let Err(ServiceError::Invalid(errors)) = editing::create_talk(&db.db, new, "ed").await else {
        panic!("big numbers were accepted");
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["extra.big", "extra.list[1]", "extra.past"],
        "{errors:?}"
    );
}
