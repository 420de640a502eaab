//! The outbox relayed to NATS JetStream (`lectern relay`): every event in the stream in `seq`
//! order, exactly once, with its headers; a relay that starts again after a crash publishes
//! nothing twice; one relay at a time; pruning keeps what the relay has not published. Needs
//! NATS with JetStream on `LECTERN_TEST_NATS_URL` (default `nats://127.0.0.1:4222`; `.ci/run`
//! starts it when it is down). Each test has a stream and subjects of its own, deleted at the end.

use service::relay::{Relay, RelaySettings};
use service::sea_orm::{ConnectionTrait, EntityTrait};
use tests::TestDb;

fn settings() -> RelaySettings {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    RelaySettings {
        url: tests::nats_url(),
        stream: format!("LECTERN_TEST_{unique}"),
        subject_prefix: format!("lectern_test_{unique}"),
        batch: 3,
        ..Default::default()
    }
}

async fn a_talk(db: &TestDb, slug: &str) -> uuid::Uuid {
    service::editing::create_talk(
        &db.db,
        service::talks::NewTalk {
            slug: slug.into(),
            title: format!("Talk {slug}"),
            date: "2024-05-02".into(),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap()
    .talk
    .id
}

/// Relays until the outbox is all in the stream.
async fn catch_up(relay: &Relay) {
    assert!(relay.claim().await.unwrap());
    while relay.relay_batch().await.unwrap() > 0 {}
}

#[tokio::test]
async fn every_event_reaches_the_stream_once_in_order_with_its_headers() {
    let db = TestDb::new().await;
    let settings = settings();
    let js = tests::jetstream().await;
    let first = a_talk(&db, "first").await;
    a_talk(&db, "second").await;
    service::editing::set_status(
        &db.db,
        first,
        entity::talk::Status::Published,
        service::editing::By {
            actor: "test",
            if_version: None,
        },
    )
    .await
    .unwrap();
    a_talk(&db, "third").await;
    let events: Vec<entity::change_event::Model> = entity::change_event::Entity::find()
        .all(&db.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 4);

    let relay = Relay::connect(db.db.clone(), settings.clone())
        .await
        .unwrap();
    let lag = &service::relay::lags(&db.db).await.unwrap()[0];
    assert_eq!(
        (lag.name.as_str(), lag.events),
        (settings.stream.as_str(), 4)
    );
    assert!(lag.seconds >= 0.0);
    catch_up(&relay).await;
    let lag = &service::relay::lags(&db.db).await.unwrap()[0];
    assert_eq!((lag.events, lag.seconds), (0, 0.0));
    let mut stream = js.get_stream(&settings.stream).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 4);
    for (n, event) in events.iter().enumerate() {
        let message = stream.get_raw_message(n as u64 + 1).await.unwrap();
        let kind = event.kind.strip_prefix("talk.").unwrap();
        assert_eq!(
            message.subject.as_str(),
            format!("{}.talk.{kind}", settings.subject_prefix)
        );
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("Nats-Msg-Id"), event.id.to_string());
        assert_eq!(header("Lectern-Event-Id"), event.id.to_string());
        assert_eq!(header("Lectern-Seq"), event.seq.to_string());
        assert_eq!(
            header("Lectern-Aggregate-Id"),
            event.aggregate_id.to_string()
        );
        let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(body["seq"], event.seq);
        assert_eq!(body["type"], event.kind.as_str());
        assert_eq!(body["data"]["talk"]["id"], event.aggregate_id.to_string());
    }
    assert_eq!(
        Relay::position(&db.db, &settings.stream).await.unwrap(),
        events[3].seq
    );

    // A crash after publishing and before the position moved: the next process publishes the
    // same events again, and JetStream drops them as duplicates.
    db.db
        .execute_unprepared(&format!(
            "UPDATE relay_positions SET seq = 0, holder = NULL WHERE name = '{}'",
            settings.stream
        ))
        .await
        .unwrap();
    drop(relay);
    let relay = Relay::connect(db.db.clone(), settings.clone())
        .await
        .unwrap();
    catch_up(&relay).await;
    assert_eq!(
        Relay::position(&db.db, &settings.stream).await.unwrap(),
        events[3].seq,
        "published again, and written down"
    );
    a_talk(&db, "fourth").await;
    catch_up(&relay).await;
    let info = stream.info().await.unwrap().state.clone();
    assert_eq!((info.messages, info.last_sequence), (5, 5));
    let last = stream.get_raw_message(5).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&last.payload).unwrap();
    assert_eq!(body["data"]["talk"]["slug"], "fourth");

    js.delete_stream(&settings.stream).await.unwrap();
}

#[tokio::test]
async fn one_relay_at_a_time_and_pruning_keeps_what_it_has_not_published() {
    let db = TestDb::new().await;
    let settings = settings();
    let js = tests::jetstream().await;
    a_talk(&db, "one").await;
    a_talk(&db, "two").await;
    let first = Relay::connect(db.db.clone(), settings.clone())
        .await
        .unwrap();
    let second = Relay::connect(db.db.clone(), settings.clone())
        .await
        .unwrap();
    assert!(first.claim().await.unwrap());
    assert!(!second.claim().await.unwrap(), "the lease is held");
    // Nothing is published yet: pruning everything old keeps both events.
    let report = service::events::prune(&db.db, chrono::Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!((report.deleted, report.kept_for_webhooks), (0, 2));

    // The first relay stops without a word; once its lease runs out the second takes over.
    db.db
        .execute_unprepared(&format!(
            "UPDATE relay_positions SET lease_until = '2000-01-01T00:00:00Z' WHERE name = '{}'",
            settings.stream
        ))
        .await
        .unwrap();
    catch_up(&second).await;
    assert!(
        !first.claim().await.unwrap(),
        "the second holds the lease now"
    );
    // A batch the first publishes anyway (it does not know yet) is dropped as duplicates, and
    // its position write is refused.
    db.db
        .execute_unprepared(&format!(
            "UPDATE relay_positions SET seq = 0 WHERE name = '{}'",
            settings.stream
        ))
        .await
        .unwrap();
    assert_eq!(first.relay_batch().await.unwrap(), 2);
    assert_eq!(Relay::position(&db.db, &settings.stream).await.unwrap(), 0);
    let mut stream = js.get_stream(&settings.stream).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 2);
    // The position the test took away is the second's to write: it does once it publishes
    // again.
    db.db
        .execute_unprepared(&format!(
            "UPDATE relay_positions SET seq = 1 WHERE name = '{}'",
            settings.stream
        ))
        .await
        .unwrap();
    a_talk(&db, "three").await;
    catch_up(&second).await;
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
    let report = service::events::prune(&db.db, chrono::Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!((report.deleted, report.kept_for_webhooks), (3, 0));

    js.delete_stream(&settings.stream).await.unwrap();
}

#[actix_web::test]
async fn metrics_tell_how_far_the_relay_is_behind() {
    let app = crate::support::TestApp::spawn().await;
    let settings = settings();
    let js = tests::jetstream().await;
    a_talk(&app.db, "waiting").await;
    let relay = Relay::connect(app.db.db.clone(), settings.clone())
        .await
        .unwrap();
    let gauge = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find(|line| line.starts_with(&format!("{name}{{stream=\"{}\"}}", settings.stream)))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
    };
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        gauge(&text, "lectern_relay_lag_events"),
        Some(1.0),
        "{text}"
    );
    catch_up(&relay).await;
    let (_, text) = app.get("/metrics").await;
    assert_eq!(gauge(&text, "lectern_relay_lag_events"), Some(0.0));
    assert_eq!(gauge(&text, "lectern_relay_lag_seconds"), Some(0.0));
    js.delete_stream(&settings.stream).await.unwrap();
}

#[actix_web::test]
async fn a_serving_process_relays_by_configuration_and_stays_ready_without_nats() {
    let settings = settings();
    let js = tests::jetstream().await;
    let app = crate::support::TestApp::spawn_configured(TestDb::new().await, |s| {
        s.relay = Some(settings.clone());
    })
    .await;
    let id = a_talk(&app.db, "served").await;
    let last = service::events::last_seq(&app.db.db).await.unwrap();
    let started = std::time::Instant::now();
    while Relay::position(&app.db.db, &settings.stream)
        .await
        .unwrap_or(0)
        < last
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the serving process did not relay within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stream = js.get_stream(&settings.stream).await.unwrap();
    let message = stream.get_raw_message(1).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(body["aggregate_id"], id.to_string());
    js.delete_stream(&settings.stream).await.unwrap();

    // NATS unreachable: the process serves and says it is ready (reads never need NATS).
    let nowhere = crate::support::TestApp::spawn_configured(TestDb::new().await, |s| {
        s.relay = Some(RelaySettings {
            url: "nats://127.0.0.1:1".into(),
            ..RelaySettings::default()
        });
    })
    .await;
    let (status, _) = nowhere.get("/readyz").await;
    assert_eq!(status, 200);
    let (status, _) = nowhere.get("/api/v1/talks").await;
    assert_eq!(status, 200);
}
