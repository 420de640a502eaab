//! A talk, or a page of talks, read whole in one statement (resources and embeds written out
//! as JSON by the database, or as stored on each talk's row for readers) is what the three
//! tables hold, on SQLite and on PostgreSQL.

use std::collections::HashMap;

use entity::{embed, resource, talk};
use service::listing::{self, OrderField, PageRequest, Reading, TalkFilter, TalkOrder};
use service::sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use service::talks::{self, Markup, TalkRecord};
use service::visibility::{self, Audience, TalkKey};
use tests::{TestDb, corpus_talks};
use uuid::Uuid;

use crate::support::{all_talks, import, talk, unwritten};

#[tokio::test]
async fn a_talk_read_in_one_statement_is_the_talk_its_tables_hold() {
    let db = TestDb::new().await;
    import(&db, &[&corpus_talks()]).await;
    // A resource that links a stored file and has no description, and an embed whose markup
    // is every kind of character JSON escapes.
    let linked = resource::Entity::find().one(&db.db).await.unwrap().unwrap();
    let asset = Uuid::new_v4();
    resource::ActiveModel {
        asset_id: Set(Some(asset)),
        description: Set(None),
        ..linked.clone().into()
    }
    .update(&db.db)
    .await
    .unwrap();
    let escaped = embed::Entity::find().one(&db.db).await.unwrap().unwrap();
    let markup = "<p title=\"q\">tab\there, line\nbreak, back\\slash, \u{1} control, “Köln” 🚀</p>";
    embed::ActiveModel {
        html: Set(markup.to_owned()),
        safe_html: Set(markup.to_owned()),
        ..escaped.clone().into()
    }
    .update(&db.db)
    .await
    .unwrap();

    // Changed by hand, the children stored on those two talks' rows are stale until they are
    // rewritten from the rows.
    let mut changed = talk::Entity::find()
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.id == linked.talk_id || t.id == escaped.talk_id)
        .map(|t| t.slug)
        .collect::<Vec<_>>();
    changed.sort();
    assert_eq!(talks::stale_stored_children(&db.db).await.unwrap(), changed);
    talks::refresh_all_children(&db.db).await.unwrap();
    assert_eq!(
        talks::stale_stored_children(&db.db).await.unwrap(),
        Vec::<String>::new()
    );

    // The three tables read apart, one statement for all of them.
    let mut tables: HashMap<String, TalkRecord> = all_talks(&db)
        .await
        .into_iter()
        .map(|record| (record.talk.slug.clone(), record))
        .collect();
    let talks = talk::Entity::find().all(&db.db).await.unwrap();
    assert_eq!(tables.len(), talks.len());
    let (mut resources, mut embeds, mut tweets, mut videos, mut bare) = (0, 0, 0, 0, 0);
    for t in &talks {
        let rows = tables.remove(&t.slug).unwrap();
        let conn = &db.db;
        let read = |audience, key, markup| async move {
            visibility::talk_record(conn, audience, key, markup)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{} not found by {key:?}", t.slug))
        };
        let by_slug = read(Audience::Staff, TalkKey::Slug(&t.slug), Markup::AsWritten).await;
        assert_eq!(by_slug, rows, "talk {}", t.slug);
        let by_id = read(Audience::Public, TalkKey::Id(t.id), Markup::AsWritten).await;
        assert_eq!(by_id, rows, "talk {}", t.slug);
        // As stored for readers: the same, but for each embed's markup as written.
        let stored = read(Audience::Public, TalkKey::Slug(&t.slug), Markup::Left).await;
        assert_eq!(stored, unwritten(rows.clone()), "talk {}", t.slug);
        resources += rows.resources.len();
        embeds += rows.embeds.len();
        tweets += rows.embeds.iter().filter(|e| e.tweet.is_some()).count();
        videos += rows.embeds.iter().filter(|e| e.video.is_some()).count();
        bare += usize::from(rows.resources.is_empty() && rows.embeds.is_empty());
    }
    // What the comparison covered.
    assert!(talks.len() >= 100, "{} talks", talks.len());
    assert!(
        resources > 100 && embeds > 100,
        "{resources} resources, {embeds} embeds"
    );
    assert!(tweets > 0 && videos > 0, "{tweets} tweets, {videos} videos");
    assert!(bare > 0, "no talk without resources and embeds");
    let linked_talk = talks.iter().find(|t| t.id == linked.talk_id).unwrap();
    let read = visibility::talk_record(
        &db.db,
        Audience::Staff,
        TalkKey::Id(linked_talk.id),
        Markup::Left,
    )
    .await
    .unwrap()
    .unwrap();
    let read = read.resources.iter().find(|r| r.id == linked.id).unwrap();
    assert_eq!(
        (read.asset_id, read.description.as_deref()),
        (Some(asset), None)
    );
    let escaped_talk = talks.iter().find(|t| t.id == escaped.talk_id).unwrap();
    for (markup_read, html) in [(Markup::AsWritten, markup), (Markup::Left, "")] {
        let read = visibility::talk_record(
            &db.db,
            Audience::Staff,
            TalkKey::Slug(&escaped_talk.slug),
            markup_read,
        )
        .await
        .unwrap()
        .unwrap();
        let read = read.embeds.iter().find(|e| e.id == escaped.id).unwrap();
        assert_eq!(
            (read.html.as_str(), read.safe_html.as_str()),
            (html, markup)
        );
    }

    // A draft is read whole by staff and not at all by the public.
    let draft = &talks[0];
    talk::ActiveModel {
        status: Set(talk::Status::Draft),
        ..draft.clone().into()
    }
    .update(&db.db)
    .await
    .unwrap();
    let public = visibility::talk_record(
        &db.db,
        Audience::Public,
        TalkKey::Slug(&draft.slug),
        Markup::Left,
    )
    .await
    .unwrap();
    assert_eq!(public, None);
    let staff = visibility::talk_record(
        &db.db,
        Audience::Staff,
        TalkKey::Slug(&draft.slug),
        Markup::AsWritten,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(staff, talk(&db, &draft.slug).await);
    // What is not a slug names nothing, and nothing is looked up.
    let none =
        visibility::talk_record(&db.db, Audience::Staff, TalkKey::Slug("../x"), Markup::Left)
            .await
            .unwrap();
    assert_eq!(none, None);
}

const WHOLE: Reading = Reading {
    children: true,
    texts: true,
};
const SHORT: Reading = Reading {
    children: true,
    texts: false,
};

/// Pages of `filter` in `order`, walked forward `size` at a time, then backward from the
/// end, each read with its children and without, and without the long texts: the same talks,
/// the same paging, and each talk's children as its tables hold them. Returns how many talks were compared.
async fn compare_pages(db: &TestDb, filter: &TalkFilter, order: TalkOrder, size: u64) -> usize {
    let mut compared = 0;
    for backward in [false, true] {
        let mut request = PageRequest::default();
        if backward {
            request.last = Some(size);
        } else {
            request.first = Some(size);
        }
        loop {
            let plain = listing::list(&db.db, filter, order, &request)
                .await
                .unwrap();
            let whole = listing::list_reading(&db.db, filter, order, &request, WHOLE)
                .await
                .unwrap();
            assert_eq!(whole.talks, plain.talks, "{filter:?} {order:?} {request:?}");
            // Without the long texts: the same talks, those four fields empty, and no other.
            let short = listing::list_reading(&db.db, filter, order, &request, SHORT)
                .await
                .unwrap();
            let blanked: Vec<talk::Model> = plain
                .talks
                .iter()
                .cloned()
                .map(|t| talk::Model {
                    body: String::new(),
                    search_text: String::new(),
                    body_html: String::new(),
                    body_text: String::new(),
                    ..t
                })
                .collect();
            assert_eq!(short.talks, blanked, "{filter:?} {order:?} {request:?}");
            // … and the same children.
            assert_eq!(short.children, whole.children);
            assert_eq!(
                (whole.has_next_page, whole.has_previous_page),
                (plain.has_next_page, plain.has_previous_page)
            );
            assert_eq!(plain.children, None);
            let children = whole.children.clone().expect("read with children");
            assert_eq!(children.len(), whole.talks.len());
            for (t, children) in whole.talks.iter().zip(children) {
                // Each embed's markup as written empty, its sanitized markup kept.
                let rows = unwritten(talk(db, &t.slug).await);
                assert_eq!(
                    (children.resources, children.embeds),
                    (rows.resources, rows.embeds),
                    "talk {}",
                    t.slug
                );
                compared += 1;
            }
            let cursors = listing::cursors(order, &whole);
            match (backward, cursors.first(), cursors.last()) {
                (false, _, Some(last)) if whole.has_next_page => {
                    request.after = Some(last.clone());
                }
                (true, Some(first), _) if whole.has_previous_page => {
                    request.before = Some(first.clone());
                }
                _ => break,
            }
        }
    }
    compared
}

#[tokio::test]
async fn a_page_read_with_its_children_is_the_page_its_tables_hold() {
    let db = TestDb::new().await;
    import(&db, &[&corpus_talks()]).await;
    let all = talk::Entity::find().all(&db.db).await.unwrap();
    let public = TalkFilter::default();
    let year = TalkFilter {
        year: Some(2019),
        ..Default::default()
    };
    let event = TalkFilter {
        event: all.iter().find_map(|t| t.event.clone()),
        ..Default::default()
    };
    let by_title = TalkOrder {
        field: OrderField::Title,
        descending: true,
    };
    let mut compared = 0;
    for (filter, order) in [
        (&public, TalkOrder::chosen(None, &public)),
        (&public, by_title),
        (&year, TalkOrder::chosen(None, &year)),
        (&event, TalkOrder::chosen(None, &event)),
    ] {
        compared += compare_pages(&db, filter, order, 7).await;
    }
    // Every talk twice (forward and backward) in the two whole lists, and then some.
    assert!(compared > 4 * all.len(), "{compared} talks compared");

    // A search in order of relevance ranks every match first: its page is read without
    // children, which are loaded for the page afterwards.
    let search = TalkFilter {
        search: Some("the".into()),
        ..Default::default()
    };
    let relevance = TalkOrder {
        field: OrderField::Relevance,
        descending: false,
    };
    let request = PageRequest {
        first: Some(5),
        ..Default::default()
    };
    let page = listing::list_reading(&db.db, &search, relevance, &request, WHOLE)
        .await
        .unwrap();
    assert!(!page.talks.is_empty());
    assert_eq!(page.children, None);
    let plain = listing::list(&db.db, &search, relevance, &request)
        .await
        .unwrap();
    assert_eq!(page.talks, plain.talks);
    let short = listing::list_reading(&db.db, &search, relevance, &request, SHORT)
        .await
        .unwrap();
    let ids = |page: &listing::TalkPage| page.talks.iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(&short), ids(&plain));
    assert!(
        short
            .talks
            .iter()
            .all(|t| t.body.is_empty() && t.body_html.is_empty())
    );
    assert!(plain.talks.iter().any(|t| !t.body_html.is_empty()));
}
