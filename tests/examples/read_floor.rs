//! Where an uncached read's time goes, without HTTP: the same page of talks read (1) through the
//! service functions alone, as the GraphQL resolvers call them (the database's part: the
//! statements and turning rows into models),
//! and (2) through the GraphQL schema, serialized as the server sends it (the executor's part
//! on top), then (3) the same page resolved by a schema of plain objects held in memory: the
//! GraphQL executor and JSON alone, with no database, no data loader and none of Lectern's
//! resolvers, a floor that no change to Lectern's reads goes below; and (4) one statement that
//! reads nothing (`SELECT 1`) through the pool and the driver, the floor of each query a read
//! makes. `bench/http.sh` prints its figures after the HTTP runs.
//!
//! Usage: `read_floor DATABASE_URL [ITERATIONS]` (default 2,000), against a database that
//! `seed_talks` filled. One thread, one request at a time: CPU time per request, in µs.
//!
//! `read_floor DATABASE_URL --serve ADDR SLUG` measures nothing: it serves the in-memory schema,
//! holding Lectern's own answers to the list and to `talk(slug: SLUG)`, at `POST http://ADDR/graphql`
//! with actix-web's defaults, the body read and the answer written as Lectern's handler does
//! (`serde_json` both ways), until it is stopped. `bench/http.sh` loads it with the same
//! requests as Lectern: the most requests a second this machine can answer through HTTP and
//! the GraphQL executor alone, with no database, no cache and none of Lectern's resolvers.

use std::sync::Arc;
use std::time::Instant;

use actix_web::{App, HttpResponse, HttpServer, web};
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use serde::Deserialize;

use service::listing::{self, PageRequest, TalkFilter, TalkOrder};
use service::sea_orm::{ConnectionTrait, Statement};
use service::talks::Markup;
use service::visibility::{self, Audience, TalkKey};

// The allocator `lectern` uses, so that the floor and the server allocate alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The list `bench/http.sh` loads: 20 talks, every field, resources and embeds.
const LIST: &str = "{ talks(first: 20) { totalCount pageInfo { hasNextPage endCursor } nodes { id slug title date event location imageUrl pdfUrl excerpt resources { title url description } embeds { kind html tweet { url author handle text date } video { src provider } } } } }";
const TALK: &str = "query ($slug: String!) { talk(slug: $slug) { id slug title date event location imageUrl pdfUrl excerpt bodyHtml resources { title url description } embeds { kind html tweet { url author handle text date } video { src provider } } } }";

/// The page as the list query's answer holds it: the same fields, types that only hold values.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    total_count: i64,
    page_info: PageInfo,
    nodes: Vec<Node>,
}

#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

/// A talk of the page, or the one talk (which alone has its `bodyHtml` asked for).
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: String,
    slug: String,
    title: String,
    date: String,
    event: Option<String>,
    location: Option<String>,
    image_url: Option<String>,
    pdf_url: Option<String>,
    excerpt: Option<String>,
    #[serde(default)]
    body_html: Option<String>,
    resources: Vec<Resource>,
    embeds: Vec<Embed>,
}

#[derive(SimpleObject, Deserialize)]
struct Resource {
    title: Option<String>,
    url: String,
    description: Option<String>,
}

#[derive(SimpleObject, Deserialize)]
struct Embed {
    kind: String,
    html: String,
    tweet: Option<Tweet>,
    video: Option<Video>,
}

#[derive(SimpleObject, Deserialize)]
struct Tweet {
    url: Option<String>,
    author: Option<String>,
    handle: Option<String>,
    text: Option<String>,
    date: Option<String>,
}

#[derive(SimpleObject, Deserialize)]
struct Video {
    src: String,
    provider: Option<String>,
}

/// A root that answers `talks` with the page it holds, whatever the arguments, and `talk` with
/// the talk it holds when the slug is that talk's.
struct InMemory {
    page: Page,
    talk: Option<Node>,
}

#[Object]
impl InMemory {
    async fn talks(&self, first: Option<i32>) -> &Page {
        let _ = first;
        &self.page
    }
    async fn talk(&self, slug: String) -> Option<&Node> {
        self.talk.as_ref().filter(|talk| talk.slug == slug)
    }
}

type Floor = Schema<InMemory, EmptyMutation, EmptySubscription>;

/// `POST /graphql` of the floor server: the body parsed, executed and written as JSON, as
/// Lectern's own handler does it, and nothing else.
async fn answer(schema: web::Data<Floor>, body: web::Bytes) -> HttpResponse {
    let request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => request,
        Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
    };
    let response = schema.execute(request).await;
    match serde_json::to_vec(&response) {
        Ok(json) => HttpResponse::Ok()
            .content_type("application/json")
            .body(json),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// CPU time of this process (user + system), in µs.
fn cpu_micros() -> f64 {
    let ticks = tests::bench::procfs::proc_ticks("self").unwrap_or(0) as f64;
    // Clock ticks are 1/100 s on Linux.
    ticks * 10_000.0
}

/// Runs `work` `iterations` times after a tenth as many unmeasured; prints µs of wall and CPU
/// time per run.
async fn measure<F, Fut>(label: &str, iterations: u32, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    for _ in 0..iterations / 10 {
        work().await;
    }
    let (wall, cpu) = (Instant::now(), cpu_micros());
    let mut bytes = 0;
    for _ in 0..iterations {
        bytes += work().await;
    }
    let wall = wall.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    let cpu = (cpu_micros() - cpu) / f64::from(iterations);
    println!(
        "{label:<44} {wall:>9.1} µs wall {cpu:>9.1} µs CPU per request ({} bytes)",
        bytes / iterations as usize
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actix_web::rt::System::new().block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    const USAGE: &str = "usage: read_floor DATABASE_URL [ITERATIONS | --serve ADDR SLUG]";
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        return Err(USAGE.into());
    };
    let (iterations, serve): (u32, Option<(String, String)>) = match args.next().as_deref() {
        None => (2_000, None),
        Some("--serve") => (
            0,
            Some((args.next().ok_or(USAGE)?, args.next().ok_or(USAGE)?)),
        ),
        Some(n) => (n.parse()?, None),
    };
    let db = service::db::connect(&url).await?;
    let authority = api::auth::Authority::new(
        &api::auth::AuthSettings {
            secret: Some("a secret for the read floor measurement only".into()),
            ..Default::default()
        },
        db.clone(),
    )
    .await?;
    let hub = api::changes::ChangeHub::new(db.clone(), std::time::Duration::from_secs(3600));
    let schema = api::graphql::build_schema(
        db.clone(),
        None,
        Arc::new(authority),
        hub,
        std::time::Duration::from_secs(60),
        false,
        api::startup::AssetConfig {
            dir: Some(std::env::temp_dir().join("lectern-read-floor-assets")),
            ..Default::default()
        }
        .open("sqlite::memory:")?,
    );
    let filter = TalkFilter {
        audience: Audience::Public,
        ..Default::default()
    };
    let order = TalkOrder::chosen(None, &filter);
    let first_page = PageRequest {
        first: Some(20),
        ..Default::default()
    };
    let slug = match &serve {
        Some((_, slug)) => slug.clone(),
        None => listing::list(&db, &filter, order, &first_page)
            .await?
            .talks
            .get(10)
            .map(|t| t.slug.clone())
            .ok_or("the database holds fewer than 11 published talks")?,
    };
    let talk_request = || {
        async_graphql::Request::new(TALK).variables(async_graphql::Variables::from_json(
            serde_json::json!({ "slug": slug }),
        ))
    };
    let answer_list = serde_json::to_value(schema.execute(LIST).await)?;
    let answer_talk = serde_json::to_value(schema.execute(talk_request()).await)?;
    let in_memory = Schema::new(
        InMemory {
            page: serde_json::from_value(answer_list["data"]["talks"].clone())?,
            talk: serde_json::from_value(answer_talk["data"]["talk"].clone())?,
        },
        EmptyMutation,
        EmptySubscription,
    );
    if serde_json::to_value(in_memory.execute(LIST).await)? != answer_list {
        return Err("the in-memory schema answers the list differently".into());
    }
    if serde_json::to_value(in_memory.execute(talk_request()).await)? != answer_talk {
        return Err("the in-memory schema answers talk(slug:) differently".into());
    }
    if let Some((addr, _)) = serve {
        let schema = web::Data::new(in_memory);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(schema.clone())
                .route("/graphql", web::post().to(answer))
        })
        .bind(&addr)?
        .run();
        println!("serving the in-memory schema at http://{addr}/graphql");
        server.await?;
        return Ok(());
    }
    println!("{iterations} requests each, one at a time, on one thread:");

    measure(
        "talks(first: 20): service reads only",
        iterations,
        || async {
            // As the GraphQL list reads it: resources and embeds in the page's statement, no
            // long texts (the list asks for none of them), then the count.
            let reading = listing::Reading {
                children: true,
                texts: false,
            };
            let page = listing::list_reading(&db, &filter, order, &first_page, reading)
                .await
                .expect("list");
            let total = listing::count(&db, &filter).await.expect("count");
            page.talks.len() + total as usize + page.children.map_or(0, |c| c.len())
        },
    )
    .await;
    measure(
        "talks(first: 20): GraphQL, serialized",
        iterations,
        || async {
            let response = schema.execute(LIST).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            serde_json::to_vec(&response).expect("JSON").len()
        },
    )
    .await;
    measure(
        "talks(first: 20): executor alone, from memory",
        iterations,
        || async {
            let response = in_memory.execute(LIST).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            serde_json::to_vec(&response).expect("JSON").len()
        },
    )
    .await;
    let select_one = Statement::from_string(db.get_database_backend(), "SELECT 1");
    measure("one statement, SELECT 1", iterations, || async {
        let row = db
            .query_one_raw(select_one.clone())
            .await
            .expect("SELECT 1");
        usize::from(row.is_some())
    })
    .await;
    measure("talk(slug:): service reads only", iterations, || async {
        let talk =
            visibility::talk_record(&db, Audience::Public, TalkKey::Slug(&slug), Markup::Left)
                .await
                .expect("talk")
                .expect("the talk exists");
        talk.resources.len() + talk.embeds.len()
    })
    .await;
    measure("talk(slug:): GraphQL, serialized", iterations, || async {
        let response = schema.execute(talk_request()).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        serde_json::to_vec(&response).expect("JSON").len()
    })
    .await;
    measure(
        "talk(slug:): executor alone, from memory",
        iterations,
        || async {
            let response = in_memory.execute(talk_request()).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            serde_json::to_vec(&response).expect("JSON").len()
        },
    )
    .await;
    Ok(())
}
