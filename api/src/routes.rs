//! HTTP routes: GraphQL (POST and GET), GraphiQL, the SDL, health and readiness.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use serde::Deserialize;
use service::sea_orm::DatabaseConnection;

use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, OperationType};

use crate::cache::{ResponseCache, VersionGate};
use crate::graphql::AppSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql_post))
        .route("/graphql", web::get().to(graphql_get))
        .route("/graphql/schema.graphql", web::get().to(sdl))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// Cached responses, when the cache is on.
pub struct GraphqlCache(Option<(Arc<VersionGate>, ResponseCache)>);

impl GraphqlCache {
    /// A cache of `bytes` (none when 0).
    pub fn new(db: DatabaseConnection, bytes: u64) -> Self {
        Self((bytes > 0).then(|| (VersionGate::new(db), ResponseCache::new(bytes))))
    }
}

/// `POST /graphql` with a JSON body `{ query, variables, operationName }`.
async fn graphql_post(
    schema: web::Data<AppSchema>,
    cache: web::Data<GraphqlCache>,
    body: web::Bytes,
) -> HttpResponse {
    let key = cache_key(b'P', &body);
    execute(&schema, &cache, key, || {
        serde_json::from_slice::<async_graphql::Request>(&body)
            .map_err(|e| format!("the body is not a GraphQL request: {e}"))
    })
    .await
}

fn cache_key(method: u8, request: &[u8]) -> web::Bytes {
    let mut key = Vec::with_capacity(request.len() + 1);
    key.push(method);
    key.extend_from_slice(request);
    key.into()
}

/// Runs a request, or serves its response from the cache when nothing was written since it
/// was computed. Only queries that succeeded are kept.
async fn execute(
    schema: &AppSchema,
    cache: &GraphqlCache,
    key: web::Bytes,
    parse: impl FnOnce() -> Result<async_graphql::Request, String>,
) -> HttpResponse {
    let Some((gate, responses)) = &cache.0 else {
        return match parse() {
            Ok(request) => respond(schema.execute(request).await),
            Err(message) => bad_request(&message),
        };
    };
    // Read before the query runs, so the response holds data at least this recent.
    let version = gate.current().await.ok();
    if let Some(version) = version
        && let Some(body) = responses.get(&key, version)
    {
        return json_body(body);
    }
    let request = match parse() {
        Ok(request) => request,
        Err(message) => return bad_request(&message),
    };
    let cacheable = version.is_some() && is_query(&request);
    let response = schema.execute(request).await;
    let Ok(body) = serde_json::to_vec(&response) else {
        return respond(response);
    };
    let body = web::Bytes::from(body);
    if let (true, true, Some(version)) = (cacheable, response.is_ok(), version) {
        responses.insert(key, version, body.clone());
    }
    json_body(body)
}

/// True when the operation a request runs is a query (not a mutation or a subscription).
fn is_query(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let operation = match (&document.operations, &request.operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name.as_str()),
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation.is_some_and(|operation| operation.node.ty == OperationType::Query)
}

fn json_body(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

/// `GET /graphql?query=…` runs a query; a browser asking for HTML without a query gets GraphiQL.
async fn graphql_get(
    schema: web::Data<AppSchema>,
    cache: web::Data<GraphqlCache>,
    request: HttpRequest,
    params: web::Query<GetParams>,
) -> HttpResponse {
    let params = params.into_inner();
    let Some(query) = params.query else {
        let wants_html = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        return if wants_html {
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(GraphiQLSource::build().endpoint("/graphql").finish())
        } else {
            bad_request("GET /graphql needs a `query` parameter")
        };
    };
    let key = cache_key(b'G', request.query_string().as_bytes());
    execute(&schema, &cache, key, || {
        let mut graphql = async_graphql::Request::new(query);
        if let Some(name) = params.operation_name {
            graphql = graphql.operation_name(name);
        }
        if let Some(variables) = params.variables {
            let value = serde_json::from_str::<serde_json::Value>(&variables)
                .map_err(|e| format!("`variables` is not JSON: {e}"))?;
            graphql = graphql.variables(async_graphql::Variables::from_json(value));
        }
        Ok(graphql)
    })
    .await
}

fn respond(response: async_graphql::Response) -> HttpResponse {
    HttpResponse::Ok().json(response)
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }]
    }))
}

/// The schema in SDL.
async fn sdl(schema: web::Data<AppSchema>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(schema.sdl())
}

/// The process is up; says nothing of the database.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The database answers.
async fn readyz(db: web::Data<DatabaseConnection>) -> HttpResponse {
    match db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "database is not reachable");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "database unreachable" }))
        }
    }
}
