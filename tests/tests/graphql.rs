use serde_json::{Value, json};
use tests::folder_with;

use crate::support::{TestApp, import};

const SEED_SLUG: &str =
    "the-changing-face-of-etl-event-driven-architectures-for-data-engineers-A4pLsH";

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $filter: TalkFilter, $orderBy: TalkOrder) {
  talks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { slug date title } }
  }
}";

fn slugs(page: &Value) -> Vec<String> {
    page["talks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
}

#[actix_web::test]
async fn the_committed_schema_is_the_running_schema() {
    let app = TestApp::spawn().await;
    let (status, running) = app.get("/graphql/schema.graphql").await;
    assert_eq!(status, 200);
    let path = tests::workspace_root().join("api/schema.graphql");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        committed == running,
        "api/schema.graphql differs from the running schema; write it anew with\n  \
         cargo run --bin lectern -- schema > api/schema.graphql"
    );
}

#[actix_web::test]
async fn graphiql_is_served_to_browsers() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/graphql").await;
    assert_eq!(status, 200);
    assert!(body.contains("graphiql"), "{body}");
}

#[actix_web::test]
async fn talks_come_20_to_a_page_newest_first() {
    let app = TestApp::with_corpus().await;
    let data = app.data(PAGE, json!({})).await;
    assert_eq!(data["talks"]["totalCount"], 121);
    let edges = data["talks"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    let dates: Vec<&str> = edges
        .iter()
        .map(|e| e["node"]["date"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    assert_eq!(data["talks"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(data["talks"]["pageInfo"]["hasPreviousPage"], false);
}

#[actix_web::test]
async fn walking_every_page_forward_and_backward_returns_every_talk_once_in_order() {
    let app = TestApp::with_corpus().await;
    for order in [
        json!({"field": "DATE", "direction": "DESC"}),
        json!({"field": "TITLE", "direction": "ASC"}),
        json!({"field": "UPDATED_AT", "direction": "ASC"}),
    ] {
        // The whole list in one page is the reference.
        let all = slugs(
            &app.data(PAGE, json!({"first": 100, "orderBy": order}))
                .await,
        );
        let rest = slugs(&app.data(PAGE, json!({"first": 100, "orderBy": order, "after": app.data(PAGE, json!({"first": 100, "orderBy": order})).await["talks"]["pageInfo"]["endCursor"]})).await);
        let reference: Vec<String> = all.into_iter().chain(rest).collect();
        assert_eq!(reference.len(), 121);

        let mut forward = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app
                .data(PAGE, json!({"first": 7, "after": after, "orderBy": order}))
                .await;
            forward.extend(slugs(&page));
            if page["talks"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = page["talks"]["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(forward, reference, "forward walk in {order}");

        let mut backward = Vec::new();
        let mut before = Value::Null;
        loop {
            let page = app
                .data(PAGE, json!({"last": 9, "before": before, "orderBy": order}))
                .await;
            let mut chunk = slugs(&page);
            chunk.extend(backward);
            backward = chunk;
            if page["talks"]["pageInfo"]["hasPreviousPage"] != true {
                break;
            }
            before = page["talks"]["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(backward, reference, "backward walk in {order}");
    }
}

#[actix_web::test]
async fn filters_narrow_the_list() {
    let app = TestApp::with_corpus().await;
    let count = |filter: Value| {
        let app = &app;
        async move {
            app.data(PAGE, json!({"filter": filter, "first": 100}))
                .await["talks"]["totalCount"]
                .as_u64()
                .unwrap()
        }
    };
    // The reference: every talk, read in two pages.
    let everything = "query($after: String) { talks(first: 100, after: $after) { pageInfo { endCursor } nodes { event location date embeds { kind } } } }";
    let first = app.data(everything, json!({})).await;
    let second = app
        .data(
            everything,
            json!({"after": first["talks"]["pageInfo"]["endCursor"]}),
        )
        .await;
    let all: Vec<Value> = [first, second]
        .iter()
        .flat_map(|page| page["talks"]["nodes"].as_array().unwrap().clone())
        .collect();
    assert_eq!(all.len(), 121);
    let expect = |keep: &dyn Fn(&Value) -> bool| all.iter().filter(|t| keep(t)).count() as u64;
    assert_eq!(
        count(json!({"event": "Code.Talks"})).await,
        expect(&|t| t["event"] == "Code.Talks")
    );
    assert_eq!(
        count(json!({"location": "Hamburg, Germany"})).await,
        expect(&|t| t["location"] == "Hamburg, Germany")
    );
    assert_eq!(
        count(json!({"year": 2019})).await,
        expect(&|t| t["date"].as_str().unwrap().starts_with("2019-"))
    );
    assert_eq!(
        count(json!({"hasVideo": true})).await,
        expect(&|t| t["embeds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"].as_str().unwrap().contains("video")))
    );
    let in_2019 = count(json!({"year": 2019})).await;
    assert!(in_2019 > 0);
    assert_eq!(
        count(json!({"from": "2019-01-01", "to": "2019-12-31"})).await,
        in_2019
    );
    assert_eq!(
        count(json!({"from": "2019-10-24", "to": "2019-10-24"})).await,
        expect(&|t| t["date"].as_str().unwrap().starts_with("2019-10-24"))
    );
    let with_video = count(json!({"hasVideo": true})).await;
    let without = count(json!({"hasVideo": false})).await;
    assert_eq!(with_video + without, 121);
    assert!(with_video > 0 && without > 0);
    let page = app
        .data(PAGE, json!({"filter": {"year": 2019}, "first": 100}))
        .await;
    assert!(
        page["talks"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["node"]["date"].as_str().unwrap().starts_with("2019-"))
    );
}

#[actix_web::test]
async fn a_talk_by_slug_is_its_document_field_by_field() {
    let app = TestApp::with_corpus().await;
    let query = "query($slug: String) { talk(slug: $slug) {
        id slug title date event location notistId imageUrl pdfUrl bodyText excerpt(length: 40) status version extra
        resources { title url description }
        embeds { kind tweet { url author handle text date } video { src provider } }
    } }";
    let talk = &app.data(query, json!({"slug": SEED_SLUG})).await["talk"];
    assert_eq!(
        talk["title"],
        "The Changing Face of ETL: Event-Driven Architectures for Data\u{a0}Engineers"
    );
    assert_eq!(talk["date"], "2019-10-24T08:00:00");
    assert_eq!(talk["event"], "Code.Talks");
    assert_eq!(talk["location"], "Hamburg, Germany");
    assert_eq!(talk["notistId"], "A4pLsH");
    assert_eq!(talk["imageUrl"], "/images/A4pLsH/slide_000.jpg");
    assert_eq!(talk["pdfUrl"], "/pdfs/A4pLsH.pdf");
    assert_eq!(talk["status"], "PUBLISHED");
    assert_eq!(talk["version"], 1);
    assert_eq!(talk["excerpt"], "Data integration in architectures built…");
    assert!(
        talk["bodyText"]
            .as_str()
            .unwrap()
            .starts_with("Data integration in architectures")
    );
    let resources = talk["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 5);
    assert_eq!(
        resources[2],
        json!({"title": "☁️Confluent Cloud", "url": "https://confluent.cloud", "description": "Provides managed Apache Kafka, Schema Registry, KSQL, etc"})
    );
    let embeds = talk["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 7);
    assert_eq!(
        embeds[5]["tweet"],
        json!({
        "url": "https://twitter.com/MyFrosch/status/1187307584598007808", "author": "Philipp Kübler",
        "handle": "@MyFrosch", "text": "Thanks. Nice Talk.", "date": "October 24, 2019"})
    );
    assert_eq!(embeds[5]["video"], Value::Null);
    assert_eq!(embeds[6]["kind"], "notist_video");
    assert_eq!(
        embeds[6]["video"],
        json!({"src": "https://notist.ninja/embed/QcZlkU", "provider": "notist"})
    );

    // The same talk by id.
    let by_id = app
        .data(
            "query($id: ID) { talk(id: $id) { slug } }",
            json!({"id": talk["id"]}),
        )
        .await;
    assert_eq!(by_id["talk"]["slug"], SEED_SLUG);
}

#[actix_web::test]
async fn asset_paths_are_absolute_when_a_base_is_set() {
    let app = TestApp::spawn_with(Some("https://cdn.example.com/".into())).await;
    import(&app.db, &[&tests::corpus_talks().join("A4pLsH.md")]).await;
    let data = app
        .data(
            "query($s: String) { talk(slug: $s) { imageUrl pdfUrl } }",
            json!({"s": SEED_SLUG}),
        )
        .await;
    assert_eq!(
        data["talk"]["imageUrl"],
        "https://cdn.example.com/images/A4pLsH/slide_000.jpg"
    );
    assert_eq!(
        data["talk"]["pdfUrl"],
        "https://cdn.example.com/pdfs/A4pLsH.pdf"
    );
}

#[actix_web::test]
async fn a_hostile_abstract_is_served_sanitized() {
    let app = TestApp::spawn().await;
    let doc = "---\ntitle: \"Hostile\"\nslug: \"hostile\"\ndate: 2024-01-01\n---\n\n<p onclick=\"steal()\">Hello<script>alert(1)</script> <a href=\"javascript:alert(2)\">link</a><img src=x onerror=\"alert(3)\"></p>\n";
    let dir = folder_with(&[("hostile.md", doc.as_bytes())]);
    import(&app.db, &[dir.path()]).await;
    let data = app
        .data(
            "{ talk(slug: \"hostile\") { bodyHtml bodyText } }",
            json!({}),
        )
        .await;
    let html = data["talk"]["bodyHtml"].as_str().unwrap();
    for bad in ["<script", "onclick", "onerror", "javascript:"] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    assert!(html.contains("Hello"));
    assert_eq!(data["talk"]["bodyText"], "Hello link");
}

#[actix_web::test]
async fn events_are_summarised() {
    let app = TestApp::with_corpus().await;
    let data = app
        .data(
            "{ events { name location talkCount firstDate lastDate } }",
            json!({}),
        )
        .await;
    let events = data["events"].as_array().unwrap();
    let code_talks = events
        .iter()
        .find(|e| e["name"] == "Code.Talks" && e["location"] == "Hamburg, Germany")
        .expect("Code.Talks in Hamburg is listed");
    let page = app
        .data(PAGE, json!({"first": 100, "filter": {"event": "Code.Talks", "location": "Hamburg, Germany"}}))
        .await;
    let dates: Vec<&str> = page["talks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        code_talks["talkCount"].as_u64().unwrap(),
        dates.len() as u64
    );
    assert_eq!(
        code_talks["firstDate"].as_str(),
        dates.iter().min().copied()
    );
    assert_eq!(code_talks["lastDate"].as_str(), dates.iter().max().copied());
    // Talks without an event are in no summary; every other talk is in exactly one.
    let total: u64 = events
        .iter()
        .map(|e| e["talkCount"].as_u64().unwrap())
        .sum();
    let without_event = app
        .data("{ talks(first: 100) { totalCount } }", json!({}))
        .await;
    assert!(total > 0 && total <= without_event["talks"]["totalCount"].as_u64().unwrap());
}

#[actix_web::test]
async fn unknown_talks_are_null_and_bad_requests_say_why() {
    let app = TestApp::with_corpus().await;
    assert_eq!(
        app.data("{ talk(slug: \"no-such-talk\") { title } }", json!({}))
            .await["talk"],
        Value::Null
    );
    assert_eq!(
        app.error_code("{ talk { title } }", json!({})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code("{ talk(slug: \"a\", id: \"b\") { title } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code("{ talks(after: \"garbage\") { totalCount } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code("{ talks { nope } }", json!({})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code("{ talks(", json!({})).await,
        "BAD_USER_INPUT"
    );
}

/// A query sent again is answered from the document kept when it was first parsed: it is
/// still validated and limited each time, and its variables are its own.
#[actix_web::test]
async fn a_query_sent_again_is_checked_again_with_its_own_variables() {
    let app = TestApp::with_corpus().await;
    for _ in 0..3 {
        assert_eq!(
            app.error_code("{ talks { nodes { nope } } }", json!({}))
                .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.error_code("{ talks(first: 101) { totalCount } }", json!({}))
                .await,
            "LIMIT_EXCEEDED"
        );
        let deep =
            "{ talks { nodes { resources { a { b { c { d { e { f { g { h } } } } } } } } } } }";
        assert_eq!(app.error_code(deep, json!({})).await, "LIMIT_EXCEEDED");
        let named = app
            .graphql_named("query A { talks { totalCount } }", "B", json!({}))
            .await;
        assert_eq!(
            named["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{named:#}"
        );
    }
    let query = "query ($first: Int) { talks(first: $first) { nodes { slug } } }";
    for first in [1, 3, 2] {
        let data = app.data(query, json!({ "first": first })).await;
        let nodes = data["talks"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), first, "{data:#}");
    }
    assert_eq!(
        app.error_code(query, json!({ "first": "three" })).await,
        "BAD_USER_INPUT"
    );
}

#[actix_web::test]
async fn page_size_depth_and_complexity_are_limited() {
    let app = TestApp::with_corpus().await;
    let body = app
        .graphql("{ talks(first: 101) { totalCount } }", json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("100")
    );
    assert_eq!(
        app.data("{ talks(first: 100) { totalCount } }", json!({}))
            .await["talks"]["totalCount"],
        121
    );

    let deep = "{ talks { nodes { resources { a { b { c { d { e { f { g { h } } } } } } } } } } }";
    let body = app.graphql(deep, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body:#}"
    );

    let fields = "nodes { id slug title date event location bodyHtml bodyText resources { title url } embeds { kind html } }";
    let wide = format!(
        "{{ a: talks(first: 100) {{ {fields} }} b: talks(first: 100) {{ {fields} }} c: talks(first: 100) {{ {fields} }} d: talks(first: 100) {{ {fields} }} }}"
    );
    let body = app.graphql(&wide, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body:#}"
    );
}

#[actix_web::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let query = format!(
        "{{ talks {{ totalCount }} }} # {}",
        "x".repeat(api::startup::MAX_BODY_BYTES)
    );
    let response = awc::Client::new()
        .post(format!("{}/graphql", app.address))
        .send_json(&json!({ "query": query }))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
}

#[actix_web::test]
async fn a_page_of_talks_with_resources_and_embeds_runs_a_constant_number_of_statements() {
    let (app, statements) = TestApp::spawn_counting().await;
    import(&app.db, &[&tests::corpus_talks()]).await;
    let query = "query($n: Int) { talks(first: $n) { totalCount nodes { slug resources { title url } embeds { kind tweet { handle } video { src } } } } }";
    // The cache's first request loads what it follows of the outbox; not counted here.
    app.data("{ __typename }", json!({})).await;
    let mut counts = Vec::new();
    for n in [1, 10, 100] {
        statements.store(0, std::sync::atomic::Ordering::SeqCst);
        let data = app.data(query, json!({"n": n})).await;
        assert_eq!(data["talks"]["nodes"].as_array().unwrap().len(), n);
        counts.push(statements.load(std::sync::atomic::Ordering::SeqCst));
    }
    // The outbox read, then the page (its talks' resources and embeds in the same statement)
    // and its count.
    assert!(
        counts.iter().all(|&c| c == counts[0]),
        "statements per page size 1, 10, 100: {counts:?}"
    );
    // The count must see statements at all, or the bound would hold for nothing.
    assert!(
        (2..=3).contains(&counts[0]),
        "statements per page: {counts:?}"
    );
}

#[actix_web::test]
async fn a_repeated_query_is_served_from_the_cache_until_a_write_commits() {
    let (app, statements) = TestApp::spawn_counting().await;
    let dir = folder_with(&[("a.md", tests::talk_doc("a", "First title").as_bytes())]);
    import(&app.db, &[dir.path()]).await;
    let query = "query($slug: String) { talk(slug: $slug) { title resources { title } } talks { totalCount } }";
    let run = |expected: &'static str| {
        let app = &app;
        let statements = statements.clone();
        async move {
            statements.store(0, std::sync::atomic::Ordering::SeqCst);
            let data = app.data(query, json!({"slug": "a"})).await;
            assert_eq!(data["talk"]["title"], expected, "{data}");
            statements.load(std::sync::atomic::Ordering::SeqCst)
        }
    };
    let first = run("First title").await;
    assert!(
        first > 1,
        "the first run queries the talks: {first} statements"
    );
    // The same request again: only the content version is read.
    assert_eq!(run("First title").await, 1);
    assert_eq!(run("First title").await, 1);

    // A write by another connection (another process, such as lectern-import) commits:
    // the next request sees it at once.
    std::fs::write(
        dir.path().join("a.md"),
        tests::talk_doc("a", "Second title"),
    )
    .unwrap();
    let summary = import(&app.db, &[dir.path()]).await;
    assert_eq!(summary.updated, 1);
    assert!(run("Second title").await > 1);
    assert_eq!(run("Second title").await, 1);

    // A run that changes nothing commits nothing, and the cache stays valid.
    let summary = import(&app.db, &[dir.path()]).await;
    assert_eq!(summary.unchanged, 1);
    assert_eq!(run("Second title").await, 1);
}

#[actix_web::test]
async fn many_concurrent_requests_share_version_reads_and_all_see_a_write() {
    let (app, statements) = TestApp::spawn_counting().await;
    let dir = folder_with(&[("a.md", tests::talk_doc("a", "Old").as_bytes())]);
    import(&app.db, &[dir.path()]).await;
    let query = "{ talk(slug: \"a\") { title } }";
    assert_eq!(app.data(query, json!({})).await["talk"]["title"], "Old");
    std::fs::write(dir.path().join("a.md"), tests::talk_doc("a", "New")).unwrap();
    import(&app.db, &[dir.path()]).await;
    // Every request made after the write committed sees it, however many share a read.
    statements.store(0, std::sync::atomic::Ordering::SeqCst);
    let requests = (0..64).map(|_| app.data(query, json!({})));
    for data in futures_util::future::join_all(requests).await {
        assert_eq!(data["talk"]["title"], "New");
    }
    let count = statements.load(std::sync::atomic::Ordering::SeqCst);
    assert!(count <= 64 + 2, "{count} statements for 64 requests");
}

#[actix_web::test]
async fn readiness_fails_while_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/readyz").await.0, 200);
    app.connection.close_by_ref().await.unwrap();
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unreachable"), "{body}");
    // The process itself is up.
    assert_eq!(app.get("/healthz").await.0, 200);
    // Queries fail as unavailable (a closed pool never comes back, but a client cannot tell
    // that from an outage): no SQL, no driver detail.
    let (status, body) = app
        .graphql_as(None, "{ talks { totalCount } }", json!({}))
        .await;
    assert_eq!(status, 503, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    let text = body.to_string().to_lowercase();
    for leak in ["select", "sqlx", "pool", "sqlite", "postgres"] {
        assert!(!text.contains(leak), "{leak} leaks: {body}");
    }
}

#[actix_web::test]
async fn drafts_are_invisible_to_readers() {
    use service::sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let app = TestApp::spawn().await;
    let dir = folder_with(&[
        ("a.md", tests::talk_doc("a", "A").as_bytes()),
        ("b.md", tests::talk_doc("b", "B").as_bytes()),
    ]);
    import(&app.db, &[dir.path()]).await;
    let mut draft = crate::support::talk(&app.db, "b")
        .await
        .talk
        .into_active_model();
    draft.status = Set(entity::talk::Status::Draft);
    draft.update(&app.db.db).await.unwrap();
    let data = app.data("{ talks { totalCount nodes { slug } } talk(slug: \"b\") { slug } events { talkCount } }", json!({})).await;
    assert_eq!(data["talks"]["totalCount"], 1);
    assert_eq!(data["talks"]["nodes"][0]["slug"], "a");
    assert_eq!(data["talk"], Value::Null);
    assert_eq!(data["events"][0]["talkCount"], 1);
}

#[actix_web::test]
async fn queries_also_run_over_get() {
    let app = TestApp::with_corpus().await;
    let mut response = awc::Client::new()
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "{ talks(first: 2) { totalCount } }")])
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["talks"]["totalCount"], 121);
}

#[actix_web::test]
async fn search_finds_known_words_best_match_first_and_pages_through_all_hits() {
    let app = TestApp::with_corpus().await;
    let search = "query($q: String, $first: Int, $after: String) { talks(filter: { search: $q }, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { slug title event bodyText } } }";
    // A word of one title only.
    let data = app.data(search, json!({"q": "Panama"})).await;
    assert_eq!(data["talks"]["totalCount"], 1);
    assert!(
        data["talks"]["nodes"][0]["title"]
            .as_str()
            .unwrap()
            .contains("Panama")
    );
    // Words of the abstract, any case; every hit holds every word.
    let data = app
        .data(
            search,
            json!({"q": "pathologically COUPLING", "first": 100}),
        )
        .await;
    let nodes = data["talks"]["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    assert!(nodes.iter().any(|n| n["slug"] == SEED_SLUG));
    for n in nodes {
        let text = n["bodyText"].as_str().unwrap().to_lowercase();
        assert!(
            text.contains("pathologically") && text.contains("coupling"),
            "{n}"
        );
    }
    // The event is searched too.
    let data = app.data(search, json!({"q": "Code.Talks"})).await;
    assert!(
        data["talks"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["event"] == "Code.Talks")
    );
    // Accents do not matter, either way, on every database.
    let plain = app.data(search, json!({"q": "Malmo", "first": 100})).await;
    let accented = app.data(search, json!({"q": "MALMÖ", "first": 100})).await;
    assert_eq!(plain["talks"]["totalCount"], 2, "{plain}");
    assert_eq!(plain, accented);
    let krakow = app.data(search, json!({"q": "krakow", "first": 100})).await;
    assert!(
        krakow["talks"]["totalCount"].as_u64().unwrap() >= 2,
        "{krakow}"
    );
    // Nothing matches nonsense; odd input is no error.
    assert_eq!(
        app.data(search, json!({"q": "( * - \"\" )"})).await["talks"]["totalCount"],
        0
    );
    assert_eq!(
        app.data(search, json!({"q": "zzqxjv"})).await["talks"]["totalCount"],
        0
    );
    assert!(
        app.data(search, json!({"q": "\"unbalanced ( AND OR * -"}))
            .await["talks"]["totalCount"]
            .is_u64()
    );

    // Paging through a common word returns each hit once, in the order of one big page.
    let all = app.data(search, json!({"q": "kafka", "first": 100})).await;
    let total = all["talks"]["totalCount"].as_u64().unwrap();
    assert!(total > 10);
    let reference: Vec<Value> = all["talks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["slug"].clone())
        .collect();
    let mut walked = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app
            .data(search, json!({"q": "kafka", "first": 6, "after": after}))
            .await;
        walked.extend(
            page["talks"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["slug"].clone()),
        );
        if page["talks"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["talks"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(walked.len() as u64, total);
    assert_eq!(walked[..reference.len()], reference[..]);
    let unique: std::collections::HashSet<_> = walked
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unique.len(), walked.len());

    // With an order, the hits come in that order.
    let by_date = app
        .data("{ talks(first: 100, filter: { search: \"kafka\" }, orderBy: { field: DATE, direction: ASC }) { totalCount nodes { date } } }", json!({}))
        .await;
    assert_eq!(by_date["talks"]["totalCount"].as_u64(), Some(total));
    let dates: Vec<&str> = by_date["talks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["date"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
}

/// A page read without the long texts when the query asks for none of them, or with them when
/// it does, serves each talk as `talk(slug:)` does, field for field.
#[actix_web::test]
async fn a_page_serves_each_talk_as_the_talk_itself_whatever_its_selection_reads() {
    let app = TestApp::spawn().await;
    import(&app.db, &[&tests::corpus_talks()]).await;
    const SHORT: &str = "id slug title date event location notistId imageUrl pdfUrl excerpt status version createdAt updatedAt createdBy updatedBy extra resources { id title url description assetId } embeds { id kind html tweet { url author handle text date } video { src provider } }";
    const LONG: &str = "slug bodyHtml bodyText excerpt short: excerpt(length: 40)";
    let mut compared = 0;
    for fields in [SHORT, LONG, "slug excerpt(length: 200)"] {
        let page = app
            .data(
                &format!("{{ talks(first: 100) {{ nodes {{ {fields} }} }} }}"),
                json!({}),
            )
            .await;
        for node in page["talks"]["nodes"].as_array().unwrap() {
            let talk = app
                .data(
                    &format!("query($slug: String) {{ talk(slug: $slug) {{ {fields} }} }}"),
                    json!({ "slug": node["slug"] }),
                )
                .await;
            assert_eq!(node, &talk["talk"], "{fields}");
            compared += 1;
        }
    }
    assert_eq!(compared, 300);
}
