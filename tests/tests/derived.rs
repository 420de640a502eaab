//! The columns derived from stored HTML (an abstract's sanitized markup, text and excerpt; an
//! embed's sanitized markup, tweet and video), and a talk's children stored on its row, agree
//! with a fresh computation after every kind of write, and the migrations that added them fill
//! them for the rows that existed.

use entity::html::{Abstract, EmbedFacts};
use entity::{embed, talk};
use migration::{Migrator, MigratorTrait};
use service::editing::{self, By, TalkPatch};
use service::sea_orm::{ActiveValue::Set, EntityTrait};
use service::talks::{NewEmbed, NewResource, NewTalk};
use tests::{TestDb, corpus_talks, folder_with, talk_doc};
use uuid::Uuid;

use crate::support::{import, talk, unwritten};

const TWEET: &str = r#"<blockquote class="twitter-tweet"><p lang="en">Great talk &amp; more</p>&mdash; Ada Example (@ada) <a href="https://twitter.com/ada/status/42?ref=x">May 2, 2024</a></blockquote>"#;
const VIDEO: &str = r#"<iframe src="https://www.youtube.com/embed/abc" onload="steal()"></iframe>"#;

/// Every stored derived value, compared with what its HTML gives now; returns how many rows
/// were checked.
async fn assert_derived_current(db: &TestDb) -> (usize, usize) {
    let talks = talk::Entity::find().all(&db.db).await.unwrap();
    for t in &talks {
        assert_eq!(
            t.stored_abstract(),
            Abstract::of(&t.body),
            "talk {}: stored derived values differ from the abstract's",
            t.slug
        );
    }
    let embeds = embed::Entity::find().all(&db.db).await.unwrap();
    for e in &embeds {
        assert_eq!(
            e.facts(),
            EmbedFacts::of(&e.html),
            "embed {} of talk {}: stored derived values differ from its markup's",
            e.id,
            e.talk_id
        );
    }
    assert_eq!(
        service::talks::stale_stored_children(&db.db).await.unwrap(),
        Vec::<String>::new(),
        "talks whose stored children differ from their rows"
    );
    (talks.len(), embeds.len())
}

#[tokio::test]
async fn derived_values_follow_every_write_imports_edits_and_restores() {
    let db = TestDb::new().await;
    import(&db, &[&corpus_talks()]).await;
    let (talks, embeds) = assert_derived_current(&db).await;
    assert!(talks >= 100 && embeds > 0, "{talks} talks, {embeds} embeds");
    // The corpus's abstracts and embeds really were derived, not left empty.
    let some = talk::Entity::find().all(&db.db).await.unwrap();
    assert!(
        some.iter()
            .all(|t| t.body.trim().is_empty() || !t.body_html.is_empty())
    );
    let with_tweets = embed::Entity::find().all(&db.db).await.unwrap();
    assert!(with_tweets.iter().any(|e| e.tweet.is_some()));
    assert!(with_tweets.iter().any(|e| e.video.is_some()));

    // Created through the API, with an embed.
    let created = editing::create_talk(
        &db.db,
        NewTalk {
            slug: "derived".into(),
            title: "Derived".into(),
            date: "2024-05-02".into(),
            body: "<p onclick=\"x()\">First <b>abstract</b></p>".into(),
            embeds: vec![NewEmbed {
                kind: "twitter".into(),
                html: TWEET.into(),
            }],
            ..Default::default()
        },
        "tester",
    )
    .await
    .unwrap();
    assert_derived_current(&db).await;
    let stored = talk(&db, "derived").await;
    assert_eq!(stored.talk.body_text, "First abstract");
    assert!(!stored.talk.body_html.contains("onclick"));
    assert_eq!(
        stored.embeds[0]
            .tweet
            .as_ref()
            .and_then(|t| t.url.as_deref()),
        Some("https://twitter.com/ada/status/42")
    );

    // The abstract changed.
    let updated = editing::update_talk(
        &db.db,
        created.talk.id,
        TalkPatch {
            body: Some("<p>Second abstract, <i>longer</i></p>".into()),
            ..Default::default()
        },
        created.talk.version,
        "tester",
    )
    .await
    .unwrap();
    assert_eq!(updated.talk.body_text, "Second abstract, longer");
    assert_derived_current(&db).await;

    // An embed added, then changed from a tweet to a video.
    let added = editing::add_embed(
        &db.db,
        created.talk.id,
        NewEmbed {
            kind: "video".into(),
            html: TWEET.into(),
        },
        None,
        "tester",
    )
    .await
    .unwrap();
    assert_derived_current(&db).await;
    editing::update_embed(
        &db.db,
        added.embeds[1].id,
        NewEmbed {
            kind: "video".into(),
            html: VIDEO.into(),
        },
        By::from("tester"),
    )
    .await
    .unwrap();
    assert_derived_current(&db).await;
    let video = talk(&db, "derived").await.embeds[1].clone();
    // Resources added, reordered, changed and removed.
    for title in ["First", "Second"] {
        editing::add_resource(
            &db.db,
            created.talk.id,
            NewResource {
                title: title.into(),
                url: format!("https://example.com/{title}"),
                description: Some(format!("{title} & more")),
            },
            Some(0),
            "tester",
        )
        .await
        .unwrap();
        assert_derived_current(&db).await;
    }
    let resources = talk(&db, "derived").await.resources;
    let reversed: Vec<Uuid> = resources.iter().rev().map(|r| r.id).collect();
    editing::reorder_resources(&db.db, created.talk.id, reversed, "tester")
        .await
        .unwrap();
    assert_derived_current(&db).await;
    editing::update_resource(
        &db.db,
        resources[0].id,
        NewResource {
            title: "Changed".into(),
            url: "https://example.com/changed".into(),
            description: None,
        },
        "tester",
    )
    .await
    .unwrap();
    assert_derived_current(&db).await;
    editing::remove_resource(&db.db, resources[1].id, "tester")
        .await
        .unwrap();
    assert_derived_current(&db).await;
    let now = talk(&db, "derived").await;
    assert_eq!(
        now.resources
            .iter()
            .map(|r| (r.title.as_str(), r.position))
            .collect::<Vec<_>>(),
        [("Changed", 0)]
    );
    assert_eq!(video.tweet, None);
    assert_eq!(
        video.video.as_ref().map(|v| v.provider.as_str()),
        Some("youtube")
    );
    assert!(!video.safe_html.contains("onload"));

    // Restored to the version before the embed changed: the tweet is back, derived again,
    // and the resources added since are gone.
    let restored = editing::restore_talk(
        &db.db,
        created.talk.id,
        added.talk.version,
        now.talk.version,
        "tester",
    )
    .await
    .unwrap();
    assert_derived_current(&db).await;
    let back = talk(&db, "derived").await;
    assert_eq!(back.talk.version, restored.talk.version);
    assert!(back.embeds[1].tweet.is_some() && back.embeds[1].video.is_none());
    assert!(back.resources.is_empty());
    // An embed removed.
    editing::remove_embed(&db.db, back.embeds[0].id, "tester")
        .await
        .unwrap();
    assert_derived_current(&db).await;

    // An import that changes a talk's embed.
    let before = folder_with(&[("one.md", talk_doc("imported", "Imported").as_bytes())]);
    import(&db, &[before.path()]).await;
    assert!(talk(&db, "imported").await.embeds[0].video.is_some());
    let doc = talk_doc("imported", "Imported").replace(
        "<iframe src=\"https://example.com/v/imported\"></iframe>",
        "<blockquote class=\"twitter-tweet\"><p>Now a tweet</p></blockquote>",
    );
    let after = folder_with(&[("one.md", doc.as_bytes())]);
    import(&db, &[after.path()]).await;
    let imported = talk(&db, "imported").await;
    assert_eq!(
        imported.talk.version, 2,
        "the import did not change the talk"
    );
    assert_eq!(
        imported.embeds[0]
            .tweet
            .as_ref()
            .and_then(|t| t.text.as_deref()),
        Some("Now a tweet")
    );
    assert_eq!(imported.embeds[0].video, None);
    assert_derived_current(&db).await;
}

#[tokio::test]
async fn the_migration_fills_derived_values_for_rows_written_before_it() {
    let db = TestDb::new().await;
    // Back to the schema before the derived columns, and a talk written then.
    let migrations = Migrator::migrations();
    let derived = migrations
        .iter()
        .position(|m| m.name() == "m20261204_000007_store_derived_html")
        .expect("the migration that adds the derived columns");
    Migrator::down(&db.db, Some((migrations.len() - derived) as u32))
        .await
        .unwrap();
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let old = talk::ActiveModel {
        id: Set(id),
        slug: Set("old".into()),
        title: Set("Old".into()),
        date: Set("2020-01-01".into()),
        body: Set("<p>An <em>old</em> abstract<script>x()</script></p>".into()),
        status: Set(talk::Status::Published),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        extra: Set(serde_json::json!({})),
        origin: Set(talk::Origin::Api),
        search_text: Set("old".into()),
        ..Default::default()
    };
    talk::Entity::insert(old)
        .exec_without_returning(&db.db)
        .await
        .unwrap();
    for (position, html) in [TWEET, VIDEO].into_iter().enumerate() {
        let embed = embed::ActiveModel {
            id: Set(Uuid::now_v7()),
            talk_id: Set(id),
            position: Set(position as i32),
            kind: Set("twitter".into()),
            html: Set(html.into()),
            ..Default::default()
        };
        embed::Entity::insert(embed)
            .exec_without_returning(&db.db)
            .await
            .unwrap();
    }
    Migrator::up(&db.db, None).await.unwrap();
    let (talks, embeds) = assert_derived_current(&db).await;
    assert_eq!((talks, embeds), (1, 2));
    let old = talk(&db, "old").await;
    assert_eq!(old.talk.body_text, "An old abstract");
    assert_eq!(old.talk.excerpt, "An old abstract");
    assert!(old.embeds[0].tweet.is_some() && old.embeds[1].video.is_some());
}

#[tokio::test]
async fn the_migration_stores_the_children_of_talks_written_before_it() {
    let db = TestDb::new().await;
    import(&db, &[&corpus_talks()]).await;
    let before = service::talks::page_by_slug(&db.db, None, 10_000)
        .await
        .unwrap();
    let migrations = Migrator::migrations();
    let stored = migrations
        .iter()
        .position(|m| m.name() == "m20261207_000013_store_talk_children")
        .expect("the migration that stores the children");
    Migrator::down(&db.db, Some((migrations.len() - stored) as u32))
        .await
        .unwrap();
    Migrator::up(&db.db, None).await.unwrap();
    assert_derived_current(&db).await;
    // Read as served, every talk has the children its rows hold, none left empty.
    let mut children = 0;
    for record in before {
        let served = service::visibility::talk_record(
            &db.db,
            service::visibility::Audience::Staff,
            service::visibility::TalkKey::Id(record.talk.id),
            service::talks::Markup::Left,
        )
        .await
        .unwrap()
        .unwrap();
        let slug = record.talk.slug.clone();
        assert_eq!(served, unwritten(record), "{slug}");
        children += served.resources.len() + served.embeds.len();
    }
    assert!(children > 200, "{children} children compared");
}

/// The talks a relevance search for each of `words` lists first, in order.
async fn ranked(db: &TestDb, words: &[&str]) -> Vec<Vec<Uuid>> {
    use service::listing::{self, OrderField, PageRequest, TalkFilter, TalkOrder};
    let mut all = Vec::new();
    for word in words {
        let filter = TalkFilter {
            search: Some((*word).to_owned()),
            ..Default::default()
        };
        let order = TalkOrder {
            field: OrderField::Relevance,
            descending: false,
        };
        let page = listing::list(
            &db.db,
            &filter,
            order,
            &PageRequest {
                first: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        all.push(page.talks.iter().map(|t| t.id).collect());
    }
    all
}

/// How SQLite's full-text index is declared; None on other databases.
async fn search_index(db: &TestDb) -> Option<String> {
    use service::sea_orm::{ConnectionTrait, DbBackend, Statement};
    if db.db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let row = db
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE name = 'talks_fts'",
        ))
        .await
        .unwrap()
        .expect("the full-text index exists");
    Some(row.try_get::<String>("", "sql").unwrap())
}

#[tokio::test]
async fn the_search_index_keeps_positions_and_ranks_as_before() {
    let db = TestDb::new().await;
    import(&db, &[&corpus_talks()]).await;
    let words = ["the", "data", "kafka", "streaming", "event", "api"];
    let now = ranked(&db, &words).await;
    assert!(
        now.iter().filter(|ids| ids.len() >= 5).count() >= 3,
        "too few matches to compare: {now:?}"
    );
    if let Some(sql) = search_index(&db).await {
        assert!(sql.contains("detail='full'"), "{sql}");
    }

    // Back to the index without positions: the same talks in the same order.
    let migrations = Migrator::migrations();
    let positions = migrations
        .iter()
        .position(|m| m.name() == "m20261207_000014_index_search_positions")
        .expect("the migration that keeps positions");
    Migrator::down(&db.db, Some((migrations.len() - positions) as u32))
        .await
        .unwrap();
    if let Some(sql) = search_index(&db).await {
        assert!(sql.contains("detail='column'"), "{sql}");
    }
    assert_eq!(ranked(&db, &words).await, now);
    Migrator::up(&db.db, None).await.unwrap();
    assert_eq!(ranked(&db, &words).await, now);

    // The index made again is kept in step by the triggers: a new title is found, the old
    // one no longer.
    let record = talk(&db, &talk_slug_of(&db, now[1][0]).await).await;
    let old_title = record.talk.title.clone();
    let version = record.talk.version;
    let patch = TalkPatch {
        title: Some("Quixotically zymurgical".into()),
        ..Default::default()
    };
    editing::update_talk_from(&db.db, record, patch, version, "tester")
        .await
        .unwrap();
    assert_eq!(
        ranked(&db, &["zymurgical"]).await,
        vec![vec![now[1][0]]],
        "the new title is not found"
    );
    let old_word = old_title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .max_by_key(|w| w.len())
        .expect("a word in the old title")
        .to_owned();
    assert!(
        !ranked(&db, &[old_word.as_str()]).await[0].contains(&now[1][0])
            || search_text_holds(&db, now[1][0], &old_word).await,
        "the old title's word {old_word} still finds the talk"
    );
}

/// The slug of the talk `id`.
async fn talk_slug_of(db: &TestDb, id: Uuid) -> String {
    service::talks::find_by_id(&db.db, id)
        .await
        .unwrap()
        .expect("the talk exists")
        .talk
        .slug
}

/// Whether the talk's search text (its event, location or abstract) still holds `word`.
async fn search_text_holds(db: &TestDb, id: Uuid, word: &str) -> bool {
    let record = service::talks::find_by_id(&db.db, id)
        .await
        .unwrap()
        .expect("the talk exists");
    let folded = |text: &str| service::listing::fold_diacritics(text).to_lowercase();
    folded(&record.talk.search_text).contains(&folded(word))
}
