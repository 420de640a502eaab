//! The outbox: one event per change, in the change's transaction.

use entity::change_event;
use service::editing::{self, TalkPatch};
use service::sea_orm::{EntityTrait, QueryOrder};
use service::talks::{NewResource, NewTalk};
use tests::{TestDb, folder_with, talk_doc};

use crate::support::{config, import, import_with};

async fn events(db: &TestDb) -> Vec<change_event::Model> {
    change_event::Entity::find()
        .order_by_asc(change_event::Column::Seq)
        .all(&db.db)
        .await
        .unwrap()
}

fn new_talk(slug: &str) -> NewTalk {
    NewTalk {
        slug: slug.into(),
        title: "Events".into(),
        date: "2026-11-26".into(),
        body: "<p>Body</p>".into(),
        resources: vec![NewResource {
            title: "Slides".into(),
            url: "https://example.com/slides".into(),
            description: None,
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn each_write_through_the_service_appends_one_event_with_the_state_after_it() {
    let db = TestDb::new().await;
    let record = editing::create_talk(&db.db, new_talk("e"), "ed")
        .await
        .unwrap();
    let id = record.talk.id;
    let patch = TalkPatch {
        title: Some("Renamed".into()),
        ..Default::default()
    };
    editing::update_talk(&db.db, id, patch.clone(), 1, "ed")
        .await
        .unwrap();
    // A failed write appends nothing.
    assert!(
        editing::update_talk(&db.db, id, patch, 1, "ed")
            .await
            .is_err()
    );
    editing::set_status(&db.db, id, entity::talk::Status::Published, "ed")
        .await
        .unwrap();
    // Nothing to change: no event.
    editing::set_status(&db.db, id, entity::talk::Status::Published, "ed")
        .await
        .unwrap();
    let new = NewResource {
        title: "Code".into(),
        url: "https://example.com/code".into(),
        description: None,
    };
    editing::add_resource(&db.db, id, new, None, "ed")
        .await
        .unwrap();
    editing::set_status(&db.db, id, entity::talk::Status::Draft, "ed")
        .await
        .unwrap();
    editing::delete_talk(&db.db, id, 5, "ed").await.unwrap();

    let events = events(&db).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "talk.created",
            "talk.updated",
            "talk.published",
            "talk.updated",
            "talk.unpublished",
            "talk.deleted"
        ]
    );
    let versions: Vec<i32> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 5]);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(
        events
            .iter()
            .all(|e| e.aggregate_type == "talk" && e.aggregate_id == id && e.actor == "ed")
    );
    assert_eq!(events[0].payload["talk"]["title"], "Events");
    assert_eq!(events[1].payload["talk"]["title"], "Renamed");
    assert_eq!(events[3].payload["resources"][1]["title"], "Code");
    // The delete carries the state before it.
    assert_eq!(events[5].payload["talk"]["status"], "draft");
    assert_eq!(events[5].payload["resources"].as_array().unwrap().len(), 2);
    assert!(events[0].payload["talk"].get("search_text").is_none());
}

/// An update's new state is known without reading it back: what it returns and what its event
/// holds must be exactly what was stored, timestamps included, also when the caller's copy of
/// the talk is older than the version the client expects.
#[tokio::test]
async fn an_update_returns_and_records_exactly_the_stored_state() {
    let db = TestDb::new().await;
    let created = editing::create_talk(&db.db, new_talk("exact"), "ed")
        .await
        .unwrap();
    let id = created.talk.id;
    let stored = || async {
        service::talks::find_by_id(&db.db, id)
            .await
            .unwrap()
            .unwrap()
    };
    let last_payload = || async { events(&db).await.last().unwrap().payload.clone() };
    let title = |t: &str| TalkPatch {
        title: Some(t.into()),
        event: Some(Some("Conf".into())),
        ..Default::default()
    };

    let returned = editing::update_talk(&db.db, id, title("One"), 1, "ed")
        .await
        .unwrap();
    let now = stored().await;
    assert_eq!(returned, now);
    assert_eq!(last_payload().await, service::events::payload(&now));

    // A copy read at version 2, handed in while the client expects version 3.
    let old_copy = stored().await;
    editing::add_resource(
        &db.db,
        id,
        NewResource {
            title: "Code".into(),
            url: "https://example.com/code".into(),
            description: None,
        },
        None,
        "ed",
    )
    .await
    .unwrap();
    let returned = editing::update_talk_from(&db.db, old_copy.clone(), title("Two"), 3, "ed")
        .await
        .unwrap();
    let now = stored().await;
    assert_eq!((returned.talk.version, returned.resources.len()), (4, 2));
    assert_eq!(returned, now);
    assert_eq!(last_payload().await, service::events::payload(&now));

    // A stale copy with a stale expectation is a conflict naming the current version.
    let conflict = editing::update_talk_from(&db.db, old_copy, title("Three"), 2, "ed").await;
    assert!(matches!(
        conflict,
        Err(service::ServiceError::Conflict { current_version: 4 })
    ));
    // A patch that changes nothing writes nothing and answers with the talk as stored.
    let count = events(&db).await.len();
    let same = editing::update_talk(&db.db, id, title("Two"), 4, "ed")
        .await
        .unwrap();
    assert_eq!(same, stored().await);
    assert_eq!(events(&db).await.len(), count);
}

#[tokio::test]
async fn imports_append_events_for_what_they_change_only() {
    let db = TestDb::new().await;
    let summary = import(&db, &[&tests::corpus_talks()]).await;
    assert_eq!(summary.created, 121);
    let first = events(&db).await;
    assert_eq!(first.len(), 121);
    assert!(
        first
            .iter()
            .all(|e| e.kind == "talk.created" && e.actor == "importer" && e.version == 1)
    );
    assert!(first.iter().all(|e| e.payload["talk"]["slug"].is_string()));
    // Each event holds the state stored: the same talk, resources and embeds, ids included.
    let ids = |items: &serde_json::Value| -> Vec<String> {
        items
            .as_array()
            .expect("a list")
            .iter()
            .map(|item| item["id"].as_str().expect("an id").to_owned())
            .collect()
    };
    let mut with_children = 0;
    for event in &first {
        let slug = event.payload["talk"]["slug"].as_str().expect("a slug");
        let stored = crate::support::talk(&db, slug).await;
        let stored = service::events::payload(&stored);
        assert_eq!(event.payload["talk"]["id"], stored["talk"]["id"], "{slug}");
        assert_eq!(
            ids(&event.payload["resources"]),
            ids(&stored["resources"]),
            "{slug}"
        );
        assert_eq!(
            ids(&event.payload["embeds"]),
            ids(&stored["embeds"]),
            "{slug}"
        );
        with_children += usize::from(!ids(&stored["resources"]).is_empty());
    }
    assert!(with_children > 50, "the corpus has talks with resources");
    // Again: nothing changes, no event.
    import(&db, &[&tests::corpus_talks()]).await;
    assert_eq!(events(&db).await.len(), 121);

    // A changed document, then a pruned one.
    let dir = folder_with(&[("a.md", talk_doc("a", "First").as_bytes())]);
    import(&db, &[dir.path()]).await;
    std::fs::write(dir.path().join("a.md"), talk_doc("a", "Second")).unwrap();
    import(&db, &[dir.path()]).await;
    let all = events(&db).await;
    let last = &all[all.len() - 1];
    assert_eq!((last.kind.as_str(), last.version), ("talk.updated", 2));
    assert_eq!(last.payload["talk"]["title"], "Second");
    std::fs::remove_file(dir.path().join("a.md")).unwrap();
    let mut prune = config(&[dir.path()]);
    prune.prune = true;
    let summary = import_with(&db, prune).await;
    assert!(summary.pruned >= 1);
    let all = events(&db).await;
    let deleted: Vec<_> = all.iter().filter(|e| e.kind == "talk.deleted").collect();
    assert!(deleted.iter().any(|e| e.payload["talk"]["slug"] == "a"));
    // A dry run appends nothing.
    let before = events(&db).await.len();
    let mut dry = config(&[&tests::corpus_talks()]);
    dry.dry_run = true;
    import_with(&db, dry).await;
    assert_eq!(events(&db).await.len(), before);
}

#[actix_web::test]
async fn history_lists_every_version_and_restore_brings_one_back() {
    use serde_json::json;
    let app = crate::support::TestApp::spawn().await;
    let editor = app
        .user_token("ed@example.com", service::accounts::Role::Editor)
        .await;
    let record = editing::create_talk(&app.db.db, new_talk("h"), "ed")
        .await
        .unwrap();
    let id = record.talk.id.to_string();
    let patch = TalkPatch {
        title: Some("Second title".into()),
        event: Some(Some("Conf".into())),
        ..Default::default()
    };
    editing::update_talk(&app.db.db, record.talk.id, patch, 1, "ed")
        .await
        .unwrap();
    editing::remove_resource(&app.db.db, record.resources[0].id, "ed")
        .await
        .unwrap();

    let history = "query($id: ID, $after: ID) { talk(id: $id) { history(first: 2, after: $after) { seq type version actor occurredAt state } } }";
    // Old states may never have been published: a token is needed.
    let (_, body) = app.graphql_as(None, history, json!({"id": id})).await;
    assert_eq!(
        body["data"]["talk"],
        serde_json::Value::Null,
        "drafts are invisible: {body}"
    );
    let (_, body) = app
        .graphql_as(Some(&editor), history, json!({"id": id}))
        .await;
    let page = body["data"]["talk"]["history"].as_array().unwrap().clone();
    assert_eq!(page.len(), 2, "{body}");
    assert_eq!(page[0]["type"], "talk.created");
    assert_eq!(page[1]["state"]["talk"]["title"], "Second title");
    let (_, body) = app
        .graphql_as(
            Some(&editor),
            history,
            json!({"id": id, "after": page[1]["seq"]}),
        )
        .await;
    let rest = body["data"]["talk"]["history"].as_array().unwrap().clone();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["version"], 3);
    assert_eq!(rest[0]["state"]["resources"], json!([]));

    // Version 1 back, as version 4: its title, no event, its resource.
    let restore = "mutation($id: ID!, $v: Int!, $e: Int!) { restoreTalk(id: $id, version: $v, expectedVersion: $e) { title event version resources { title } } }";
    let (_, body) = app
        .graphql_as(Some(&editor), restore, json!({"id": id, "v": 1, "e": 2}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    let (_, body) = app
        .graphql_as(Some(&editor), restore, json!({"id": id, "v": 9, "e": 3}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let (_, body) = app
        .graphql_as(Some(&editor), restore, json!({"id": id, "v": 1, "e": 3}))
        .await;
    let restored = &body["data"]["restoreTalk"];
    assert_eq!(restored["title"], "Events", "{body}");
    assert_eq!(restored["event"], serde_json::Value::Null);
    assert_eq!(restored["version"], 4);
    assert_eq!(restored["resources"][0]["title"], "Slides");
    // The restore is itself an event.
    let all = events(&app.db).await;
    let last = &all[all.len() - 1];
    assert_eq!((last.kind.as_str(), last.version), ("talk.updated", 4));
    assert_eq!(last.payload["talk"]["title"], "Events");
}

/// The columns Debezium's outbox event router reads (README, "Change events"), with the
/// PostgreSQL types the documented configuration relies on; on SQLite, the names.
#[tokio::test]
async fn the_outbox_has_the_columns_change_data_capture_reads() {
    use service::sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = TestDb::new().await;
    let promised = [
        ("id", "uuid"),
        ("aggregate_type", "character varying"),
        ("aggregate_id", "uuid"),
        ("type", "character varying"),
        ("payload", "jsonb"),
        ("occurred_at", "timestamp with time zone"),
        ("seq", "bigint"),
        ("version", "integer"),
    ];
    let backend = db.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_name = 'change_events'"
        }
        _ => "SELECT name, type FROM pragma_table_info('change_events')",
    };
    let rows = db
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
    let columns: std::collections::HashMap<String, String> = rows
        .iter()
        .map(|row| {
            (
                row.try_get_by_index::<String>(0).unwrap(),
                row.try_get_by_index::<String>(1).unwrap(),
            )
        })
        .collect();
    for (name, kind) in promised {
        let found = columns
            .get(name)
            .unwrap_or_else(|| panic!("change_events has no column {name}: {columns:?}"));
        if backend == DbBackend::Postgres {
            assert_eq!(found, kind, "the type of {name}");
        }
    }
}
