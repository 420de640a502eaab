//! `lectern relay` under faults, against a NATS server of the test's own (`nats-server -js` on a
//! free loopback port, its store in a temporary folder): killed with SIGKILL while publishing,
//! and NATS stopped and started again under it. Each run ends with every event in the stream
//! exactly once and in order. Needs `nats-server` (`LECTERN_TEST_NATS_SERVER`, else
//! `/usr/sbin/nats-server`, Debian's package `nats-server`).

#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use service::sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

struct Nats {
    child: Child,
    port: u16,
    store: std::path::PathBuf,
}

impl Nats {
    fn start(port: u16, store: &std::path::Path) -> Self {
        let binary = std::env::var("LECTERN_TEST_NATS_SERVER")
            .unwrap_or_else(|_| "/usr/sbin/nats-server".into());
        let child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary} (Debian's nats-server): {e}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            store: store.to_owned(),
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        *self = Self::start(self.port, &self.store.clone());
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn add_talks(db: &DatabaseConnection, from: usize, count: usize) {
    for n in from..from + count {
        service::editing::create_talk(
            db,
            service::talks::NewTalk {
                slug: format!("talk-{n}"),
                title: format!("Talk {n}"),
                date: "2024-05-02".into(),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    }
}

fn relay(url: &str, nats: &str, stream: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(["relay", "--to", nats, "--stream", stream])
        .args(["--subject-prefix", &stream.to_lowercase()])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_for_position(db: &DatabaseConnection, stream: &str, at_least: i64) {
    let started = Instant::now();
    while service::relay::Relay::position(db, stream)
        .await
        .unwrap_or(0)
        < at_least
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the relay did not reach event {at_least} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every event of the outbox is in the stream once, in `seq` order.
async fn assert_exactly_once_in_order(db: &DatabaseConnection, nats: &str, stream: &str) {
    let events = entity::change_event::Entity::find()
        .order_by_asc(entity::change_event::Column::Seq)
        .all(db)
        .await
        .unwrap();
    let jetstream = async_nats::jetstream::new(async_nats::connect(nats).await.unwrap());
    let mut published = jetstream.get_stream(stream).await.unwrap();
    let state = published.info().await.unwrap().state.clone();
    assert_eq!(
        state.messages as usize,
        events.len(),
        "messages in the stream"
    );
    for (n, event) in events.iter().enumerate() {
        let message = published.get_raw_message(n as u64 + 1).await.unwrap();
        let seq = message
            .headers
            .get("Lectern-Seq")
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        assert_eq!(seq, event.seq.to_string(), "message {}", n + 1);
    }
}

#[actix_web::test]
async fn a_relay_killed_while_publishing_and_nats_restarted_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("relay.db").display()
    );
    let db = service::db::connect(&url).await.unwrap();
    let mut nats = Nats::start(free_port(), &dir.path().join("nats"));
    let stream = format!("FAULTS_{}", uuid::Uuid::new_v4().simple());
    add_talks(&db, 0, 5000).await;
    let last = service::events::last_seq(&db).await.unwrap();

    // SIGKILL as soon as the first batch is acknowledged, with more to publish.
    let mut first = relay(&url, &nats.url(), &stream);
    wait_for_position(&db, &stream, 1).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let reached = service::relay::Relay::position(&db, &stream).await.unwrap();
    assert!(
        reached < last,
        "killed after the whole backlog ({reached} of {last})"
    );
    let mut second = relay(&url, &nats.url(), &stream);
    wait_for_position(&db, &stream, last).await;
    assert_exactly_once_in_order(&db, &nats.url(), &stream).await;

    // NATS goes away while events are written, and comes back with its store.
    nats.stop();
    add_talks(&db, 5000, 50).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(second.try_wait().unwrap().is_none(), "the relay gave up");
    nats.restart();
    add_talks(&db, 5050, 50).await;
    let last = service::events::last_seq(&db).await.unwrap();
    wait_for_position(&db, &stream, last).await;
    assert_exactly_once_in_order(&db, &nats.url(), &stream).await;
    second.kill().unwrap();
    second.wait().unwrap();
}

/// The database goes away under a running relay, for a few seconds, while it has events to
/// publish: on PostgreSQL a proxy in front of the server drops every connection and refuses new
/// ones; SQLite, embedded, stays readable and refuses writers while another process holds its
/// write lock. The relay backs off, keeps running, and once the database is back every event
/// is in the stream once, in order.
#[actix_web::test]
async fn a_relay_outlives_an_unavailable_database_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = tests::TestDb::new().await;
    let db = test_db.db.clone();
    let nats = Nats::start(free_port(), &dir.path().join("nats"));
    let stream = format!("OUTAGE_{}", uuid::Uuid::new_v4().simple());
    add_talks(&db, 0, 3000).await;
    let outage = Duration::from_secs(3);

    // Each arm makes the database unavailable under a running relay for `outage`, then
    // available again, and hands the relay back (with the proxy it reaches PostgreSQL through).
    let (mut relay, _proxy) = match db.get_database_backend() {
        service::sea_orm::DbBackend::Postgres => {
            let mut url = url::Url::parse(&test_db.url).unwrap();
            let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
                .parse()
                .unwrap();
            let proxy = tests::proxy::Proxy::start(target).await;
            url.set_port(Some(proxy.port)).unwrap();
            let mut relay = relay(url.as_str(), &nats.url(), &stream);
            wait_for_position(&db, &stream, 1).await;
            proxy.cut();
            tokio::time::sleep(outage).await;
            assert!(relay.try_wait().unwrap().is_none(), "the relay gave up");
            proxy.restore();
            (relay, Some(proxy))
        }
        _ => {
            use service::sea_orm::{ConnectionTrait, TransactionTrait};
            let holder = service::db::open(&test_db.url, &service::db::DbOptions::default())
                .await
                .unwrap();
            let mut relay = relay(&test_db.url, &nats.url(), &stream);
            wait_for_position(&db, &stream, 1).await;
            let lock = holder.begin().await.unwrap();
            lock.execute_unprepared("DELETE FROM talks WHERE slug = 'nothing'")
                .await
                .expect("takes the write lock");
            let held_at = service::relay::Relay::position(&db, &stream).await.unwrap();
            tokio::time::sleep(outage).await;
            assert_eq!(
                service::relay::Relay::position(&db, &stream).await.unwrap(),
                held_at,
                "the position moved while the database refused writers"
            );
            assert!(relay.try_wait().unwrap().is_none(), "the relay gave up");
            lock.rollback().await.unwrap();
            (relay, None)
        }
    };
    add_talks(&db, 3000, 100).await;
    let last = service::events::last_seq(&db).await.unwrap();
    wait_for_position(&db, &stream, last).await;
    assert_exactly_once_in_order(&db, &nats.url(), &stream).await;
    relay.kill().unwrap();
    relay.wait().unwrap();
}

/// Two `lectern relay` processes on one database: one publishes (it holds the lease), the other
/// waits; the one publishing is killed with SIGKILL, and the other takes over once the lease has
/// run out (10 s), from the position written down, with every event once and in order.
#[actix_web::test]
async fn a_second_relay_takes_over_when_the_first_dies() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("relay.db").display()
    );
    let db = service::db::connect(&url).await.unwrap();
    let nats = Nats::start(free_port(), &dir.path().join("nats"));
    let stream = format!("TAKEOVER_{}", uuid::Uuid::new_v4().simple());
    add_talks(&db, 0, 200).await;
    let mut relays = [
        relay(&url, &nats.url(), &stream),
        relay(&url, &nats.url(), &stream),
    ];
    let last = service::events::last_seq(&db).await.unwrap();
    wait_for_position(&db, &stream, last).await;
    let holder = entity::relay_position::Entity::find_by_id(stream.clone())
        .one(&db)
        .await
        .unwrap()
        .and_then(|p| p.holder)
        .expect("a relay holds the lease");
    let pid: u32 = holder
        .split('-')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the holder names its process");
    let (dead, alive) = if relays[0].id() == pid {
        (0, 1)
    } else {
        (1, 0)
    };
    assert_eq!(relays[dead].id(), pid, "the holder is one of the two");
    assert!(
        relays[alive].try_wait().unwrap().is_none(),
        "the relay without the lease waits for it (it does not give up)"
    );
    relays[dead].kill().unwrap();
    relays[dead].wait().unwrap();
    let killed = Instant::now();

    add_talks(&db, 200, 100).await;
    let last = service::events::last_seq(&db).await.unwrap();
    wait_for_position(&db, &stream, last).await;
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(25),
        "the other relay took {took:?} to take over"
    );
    let holder = entity::relay_position::Entity::find_by_id(stream.clone())
        .one(&db)
        .await
        .unwrap()
        .and_then(|p| p.holder)
        .unwrap_or_default();
    assert!(
        holder.starts_with(&format!("{}-", relays[alive].id())),
        "the survivor holds the lease: {holder}"
    );
    assert_exactly_once_in_order(&db, &nats.url(), &stream).await;
    relays[alive].kill().unwrap();
    relays[alive].wait().unwrap();
}
