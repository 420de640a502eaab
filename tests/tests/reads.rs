//! A talk read whole in one statement (its resources and embeds written out as JSON by the
//! database) is the talk its three tables hold, on SQLite and on PostgreSQL.

use entity::{embed, resource, talk};
use service::sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use service::visibility::{self, Audience, TalkKey};
use tests::{TestDb, corpus_talks};
use uuid::Uuid;

use crate::support::{import, talk};

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

    let talks = talk::Entity::find().all(&db.db).await.unwrap();
    let (mut resources, mut embeds, mut tweets, mut videos, mut bare) = (0, 0, 0, 0, 0);
    for t in &talks {
        let rows = talk(&db, &t.slug).await;
        let by_slug = visibility::talk_record(&db.db, Audience::Staff, TalkKey::Slug(&t.slug))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} not found by slug", t.slug));
        assert_eq!(by_slug, rows, "talk {}", t.slug);
        let by_id = visibility::talk_record(&db.db, Audience::Public, TalkKey::Id(t.id))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} not found by id", t.slug));
        assert_eq!(by_id, rows, "talk {}", t.slug);
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
    let read = visibility::talk_record(&db.db, Audience::Staff, TalkKey::Id(linked_talk.id))
        .await
        .unwrap()
        .unwrap();
    let read = read.resources.iter().find(|r| r.id == linked.id).unwrap();
    assert_eq!(
        (read.asset_id, read.description.as_deref()),
        (Some(asset), None)
    );
    let escaped_talk = talks.iter().find(|t| t.id == escaped.talk_id).unwrap();
    let read = visibility::talk_record(&db.db, Audience::Staff, TalkKey::Slug(&escaped_talk.slug))
        .await
        .unwrap()
        .unwrap();
    let read = read.embeds.iter().find(|e| e.id == escaped.id).unwrap();
    assert_eq!(
        (read.html.as_str(), read.safe_html.as_str()),
        (markup, markup)
    );

    // A draft is read whole by staff and not at all by the public.
    let draft = &talks[0];
    talk::ActiveModel {
        status: Set(talk::Status::Draft),
        ..draft.clone().into()
    }
    .update(&db.db)
    .await
    .unwrap();
    let public = visibility::talk_record(&db.db, Audience::Public, TalkKey::Slug(&draft.slug))
        .await
        .unwrap();
    assert_eq!(public, None);
    let staff = visibility::talk_record(&db.db, Audience::Staff, TalkKey::Slug(&draft.slug))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(staff, talk(&db, &draft.slug).await);
    // What is not a slug names nothing, and nothing is looked up.
    let none = visibility::talk_record(&db.db, Audience::Staff, TalkKey::Slug("../x"))
        .await
        .unwrap();
    assert_eq!(none, None);
}
