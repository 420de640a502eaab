//! HTTP routes: GraphQL (POST and GET), GraphiQL, the SDL, health and readiness.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use serde::Deserialize;
use service::sea_orm::DatabaseConnection;

use crate::graphql::AppSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql_post))
        .route("/graphql", web::get().to(graphql_get))
        .route("/graphql/schema.graphql", web::get().to(sdl))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// `POST /graphql` with a JSON body `{ query, variables, operationName }`.
async fn graphql_post(schema: web::Data<AppSchema>, body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => respond(schema.execute(request).await),
        Err(e) => bad_request(&format!("the body is not a GraphQL request: {e}")),
    }
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
    let mut graphql = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        graphql = graphql.operation_name(name);
    }
    if let Some(variables) = params.variables {
        match serde_json::from_str::<serde_json::Value>(&variables) {
            Ok(value) => graphql = graphql.variables(async_graphql::Variables::from_json(value)),
            Err(e) => return bad_request(&format!("`variables` is not JSON: {e}")),
        }
    }
    respond(schema.execute(graphql).await)
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
