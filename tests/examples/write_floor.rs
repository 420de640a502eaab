//! Where a write's time goes, without HTTP: an edit of a talk's title made (1) as statements
//! alone, through the pool and the driver as the service sends them (the write lock taken, the
//! update, the content version's bump and the event as one command, the commit), (2) through
//! `service::editing::update_talk_from` with the stored talk in hand (the service's checks,
//! derived values and event on top), and (3) with the stored talk read first, as an API
//! request's handler does. Beside them, the floors each is made of: one statement that reads
//! nothing (`SELECT 1`), and a write transaction that writes nothing (the lock taken and given
//! back: two round trips to the driver's thread), and the talk's read alone, with no write
//! between two reads. `bench/write_sqlite.py` measures the same
//! statements in SQLite alone; `bench/events.sh` measures the server's CPU per write over HTTP.
//!
//! Usage: `write_floor DATABASE_URL [ITERATIONS [CONNECTIONS]]` (default 2,000 writes, and the
//! pool `lectern` opens: 16 connections on SQLite), against a database that `seed_talks` filled
//! (it changes the talks' titles). One task, one write at a time, each to
//! the next published talk in turn: CPU time of the whole process (the driver's threads
//! included) per write, in µs.

use std::collections::HashMap;
use std::time::Instant;

use entity::talk;
use service::content;
use service::editing::{self, TalkPatch};
use service::events::{self, ChangeType};
use service::sea_orm::prelude::Expr;
use service::sea_orm::sea_query::Value;
use service::sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Statement,
};
use service::talks::{self, TalkRecord};
use uuid::Uuid;

// The allocator `lectern` uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time of this process (user + system, every thread), in µs.
fn cpu_micros() -> f64 {
    let ticks = tests::bench::procfs::proc_ticks("self").unwrap_or(0) as f64;
    // Clock ticks are 1/100 s on Linux.
    ticks * 10_000.0
}

/// Runs `work` `iterations` times after a tenth as many unmeasured; prints µs of wall and CPU
/// time per run.
async fn measure<F, Fut>(label: &str, iterations: u32, mut work: F) -> Result<(), String>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let warmup = iterations / 10;
    for i in 0..warmup {
        work(i).await?;
    }
    let (wall, cpu) = (Instant::now(), cpu_micros());
    for i in warmup..warmup + iterations {
        work(i).await?;
    }
    let wall = wall.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    let cpu = (cpu_micros() - cpu) / f64::from(iterations);
    println!("{label:<58} {wall:>8.1} µs wall {cpu:>8.1} µs CPU per write");
    Ok(())
}

/// A title that differs from `title` (a mark added or taken away).
fn another_title(title: &str) -> String {
    match title.strip_suffix(" (edited)") {
        Some(original) => original.to_owned(),
        None => format!("{title} (edited)"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actix_web::rt::System::new().block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    const USAGE: &str = "usage: write_floor DATABASE_URL [ITERATIONS [CONNECTIONS]]";
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or(USAGE)?;
    let iterations: u32 = match args.next() {
        Some(n) => n.parse().map_err(|_| USAGE)?,
        None => 2_000,
    };
    let connections = match args.next() {
        Some(n) => Some(n.parse().map_err(|_| USAGE)?),
        None => None,
    };
    let db = service::db::connect_with(
        &url,
        &service::db::DbOptions {
            max_connections: connections,
            ..Default::default()
        },
    )
    .await?;
    let backend = db.get_database_backend();
    let ids: Vec<Uuid> = talk::Entity::find()
        .select_only()
        .column(talk::Column::Id)
        .filter(talk::Column::Status.eq(talk::Status::Published))
        .into_tuple()
        .all(&db)
        .await?;
    if ids.is_empty() {
        return Err("the database holds no published talk: fill it with seed_talks".into());
    }
    let mut stored: HashMap<Uuid, TalkRecord> = HashMap::new();
    for id in &ids {
        let record = talks::find_by_id(&db, *id)
            .await?
            .ok_or("a talk went away while read")?;
        stored.insert(*id, record);
    }
    println!(
        "{} published talks, {iterations} writes per measure, one at a time, {} pooled connections",
        ids.len(),
        connections.map_or_else(|| "the default of".to_owned(), |n: u32| n.to_string())
    );
    let talk_at = |i: u32| ids[i as usize % ids.len()];
    let failed = |e: &dyn std::fmt::Display| e.to_string();

    let one = &db;
    measure("one statement, SELECT 1", iterations, |_| async move {
        one.query_one_raw(Statement::from_string(backend, "SELECT 1"))
            .await
            .map_err(|e| failed(&e))?;
        Ok(())
    })
    .await?;

    measure(
        "a write transaction that writes nothing",
        iterations,
        |_| async move {
            let txn = service::db::begin_write(one)
                .await
                .map_err(|e| failed(&e))?;
            txn.commit().await.map_err(|e| failed(&e))
        },
    )
    .await?;

    // The statements `update_talk_from` sends for a new title, as one command between the
    // lock and the commit (on PostgreSQL one by one, as the service sends them there).
    let records = std::cell::RefCell::new(stored);
    measure(
        "the statements alone: update, bump, event",
        iterations,
        |i| {
            let id = talk_at(i);
            let records = &records;
            async move {
                let mut record = records.borrow().get(&id).cloned().ok_or("no such talk")?;
                let title = another_title(&record.talk.title);
                let search_text =
                    record
                        .talk
                        .search_text
                        .replacen(record.talk.title.as_str(), &title, 1);
                let now = chrono::Utc::now();
                let update = talk::Entity::update_many()
                    .col_expr(talk::Column::Title, Expr::value(title.clone()))
                    .col_expr(talk::Column::SearchText, Expr::value(search_text.clone()))
                    .col_expr(talk::Column::Version, Expr::value(record.talk.version + 1))
                    .col_expr(talk::Column::UpdatedAt, Expr::value(now))
                    .col_expr(
                        talk::Column::UpdatedBy,
                        Expr::value(Value::from("write-floor")),
                    )
                    .filter(talk::Column::Id.eq(id))
                    .filter(talk::Column::Version.eq(record.talk.version))
                    .build(backend);
                record.talk.title = title;
                record.talk.search_text = search_text;
                record.talk.version += 1;
                record.talk.updated_at = now;
                let statements = vec![
                    update,
                    Statement::from_string(backend, content::BUMP),
                    events::append_statement(backend, ChangeType::Updated, &record, "write-floor"),
                ];
                let txn = service::db::begin_write(one)
                    .await
                    .map_err(|e| failed(&e))?;
                let changed = service::db::run_all(&txn, statements)
                    .await
                    .map_err(|e| failed(&e))?;
                if changed != 3 {
                    return Err(format!("the write changed {changed} rows, not 3"));
                }
                txn.commit().await.map_err(|e| failed(&e))?;
                records.borrow_mut().insert(id, record);
                Ok(())
            }
        },
    )
    .await?;

    let title_patch = |record: &TalkRecord| TalkPatch {
        title: Some(another_title(&record.talk.title)),
        ..Default::default()
    };
    measure(
        "service: update_talk_from, the talk in hand",
        iterations,
        |i| {
            let id = talk_at(i);
            let records = &records;
            async move {
                let record = records.borrow().get(&id).cloned().ok_or("no such talk")?;
                let version = record.talk.version;
                let patch = title_patch(&record);
                let written = editing::update_talk_from(one, record, patch, version, "write-floor")
                    .await
                    .map_err(|e| failed(&e))?;
                records.borrow_mut().insert(id, written);
                Ok(())
            }
        },
    )
    .await?;

    measure(
        "the talk read alone (talks::find_by_id), no write",
        iterations,
        |i| {
            let id = talk_at(i);
            async move {
                talks::find_by_id(one, id)
                    .await
                    .map_err(|e| failed(&e))?
                    .ok_or("no such talk")?;
                Ok(())
            }
        },
    )
    .await?;

    measure(
        "service: the talk read, then update_talk_from",
        iterations,
        |i| {
            let id = talk_at(i);
            async move {
                let record = talks::find_by_id(one, id)
                    .await
                    .map_err(|e| failed(&e))?
                    .ok_or("no such talk")?;
                let version = record.talk.version;
                let patch = title_patch(&record);
                editing::update_talk_from(one, record, patch, version, "write-floor")
                    .await
                    .map_err(|e| failed(&e))?;
                Ok(())
            }
        },
    )
    .await?;
    Ok(())
}
