//! HTTP routes: GraphQL (POST and GET), GraphiQL, the SDL, login, health and readiness.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use async_graphql::parser::types::OperationType;
use serde::Deserialize;
use service::sea_orm::DatabaseConnection;

use crate::auth::{AuthError, Authority, Viewer};
use crate::cache::{CachedResponse, Lookup, Responses};
use crate::changes::ChangeHub;
use crate::graphql::AppSchema;
use crate::graphql::mutation::ClientAddr;
use crate::rest::problem::{Problem, graphql_refusal};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql_post))
        .route(
            "/graphql",
            web::get()
                .guard(actix_web::guard::fn_guard(|ctx| {
                    // The value is case-insensitive (RFC 6455).
                    ctx.head()
                        .headers()
                        .get(header::UPGRADE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
                }))
                .to(crate::subscriptions::upgrade),
        )
        .route("/graphql", web::get().to(graphql_get))
        .route("/graphql/schema.graphql", web::get().to(sdl))
        .route("/auth/login", web::post().to(login))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(crate::telemetry::metrics));
}

/// What every GraphQL request needs.
pub(crate) struct Caller {
    pub viewer: Viewer,
    pub client: Option<IpAddr>,
}

/// Who makes the request: anonymous without an `Authorization` header; refused (401) when the
/// header holds no valid bearer token.
pub(crate) async fn caller(
    authority: &Authority,
    request: &HttpRequest,
) -> Result<Caller, AuthError> {
    let client = request.peer_addr().map(|address| address.ip());
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(Caller {
            viewer: Viewer::Anonymous,
            client,
        });
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            AuthError::Unauthenticated("the Authorization header must be `Bearer <token>`".into())
        })?;
    Ok(Caller {
        viewer: authority.verify(token).await?,
        client,
    })
}

/// `POST /graphql` with a JSON body `{ query, variables, operationName }`, or a
/// `multipart/form-data` body as the GraphQL multipart request spec has it (uploads).
async fn graphql_post(
    schema: web::Data<AppSchema>,
    cache: web::Data<Responses>,
    authority: web::Data<Arc<Authority>>,
    hub: web::Data<Arc<ChangeHub>>,
    assets: web::Data<service::assets::Assets>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if multipart {
        return graphql_multipart(&schema, &cache, &authority, &hub, &assets, request, payload)
            .await;
    }
    let body = match crate::rest::http::read_body(&request, payload, &["application/json"]).await {
        Ok(body) => body.freeze(),
        Err(problem) => {
            let code = if problem.status == StatusCode::PAYLOAD_TOO_LARGE {
                "LIMIT_EXCEEDED"
            } else {
                "BAD_USER_INPUT"
            };
            return HttpResponse::build(problem.status).json(serde_json::json!({
                "errors": [{ "message": problem.detail, "extensions": { "code": code } }]
            }));
        }
    };
    let caller = match caller(&authority, &request).await {
        Ok(caller) => caller,
        Err(e) => return graphql_refusal(&e),
    };
    let key = cache_key(b'P', &body);
    execute(&schema, &cache, Some(&hub), caller, key, || {
        serde_json::from_slice::<async_graphql::Request>(&body)
            .map_err(|e| format!("the body is not a GraphQL request: {e}"))
    })
    .await
}

/// Room for the `operations` and `map` parts and the framing, beyond the file's own limit.
const MULTIPART_FRAMING: u64 = 64 * 1024;

fn graphql_error(status: StatusCode, message: &str, code: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    }))
}

/// An upload by the GraphQL multipart request spec. Only a caller with a bearer token may
/// send one (a browser form cannot, so no other site can make a signed-in editor's browser
/// upload); the body is limited while it streams in, to one file of at most the configured
/// size.
async fn graphql_multipart(
    schema: &AppSchema,
    cache: &Responses,
    authority: &Authority,
    hub: &Arc<ChangeHub>,
    assets: &service::assets::Assets,
    request: HttpRequest,
    mut payload: web::Payload,
) -> HttpResponse {
    let caller = match caller(authority, &request).await {
        Ok(caller) => caller,
        Err(e) => return graphql_refusal(&e),
    };
    if matches!(caller.viewer, Viewer::Anonymous) {
        return graphql_refusal(&AuthError::Unauthenticated(
            "an upload needs an Authorization bearer token".into(),
        ));
    }
    let max_file = assets.settings.max_bytes;
    let max_body = max_file + MULTIPART_FRAMING;
    let too_large = || {
        graphql_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &service::assets::AssetError::TooLarge { limit: max_file }.to_string(),
            "LIMIT_EXCEEDED",
        )
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_body) {
        return too_large();
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The body is read on this worker's thread; the parser wants a `Send` reader, so a small
    // channel carries the chunks, and stops when the body passes the limit.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    actix_web::rt::spawn(async move {
        use futures_util::StreamExt;
        let mut read = 0u64;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            if let Ok(bytes) = &chunk {
                read += bytes.len() as u64;
            }
            let over = read > max_body;
            let chunk = if over {
                Err(std::io::Error::other(TOO_LARGE))
            } else {
                chunk
            };
            if sender.send(chunk).await.is_err() || over {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let body = futures_util::TryStreamExt::into_async_read(stream);
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(usize::try_from(max_file).unwrap_or(usize::MAX))
        .max_num_files(1);
    let parsed = async_graphql::http::receive_body(content_type, body, options).await;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => return too_large(),
        Err(async_graphql::ParseRequestError::Io(e)) if e.to_string() == TOO_LARGE => {
            return too_large();
        }
        Err(e) => {
            return graphql_error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a GraphQL multipart request: {e}"),
                "BAD_USER_INPUT",
            );
        }
    };
    let key = cache_key(b'M', uuid::Uuid::new_v4().as_bytes());
    execute(schema, cache, Some(hub), caller, key, || Ok(parsed)).await
}

const TOO_LARGE: &str = "the body passed its limit";

fn cache_key(method: u8, request: &[u8]) -> web::Bytes {
    let mut key = Vec::with_capacity(request.len() + 1);
    key.push(method);
    key.extend_from_slice(request);
    key.into()
}

/// Runs a request, or serves its response from the cache when nothing it read was changed by
/// a write since it was computed. Only anonymous queries that succeeded are kept.
async fn execute(
    schema: &AppSchema,
    cache: &Responses,
    hub: Option<&ChangeHub>,
    caller: Caller,
    key: web::Bytes,
    parse: impl FnOnce() -> Result<async_graphql::Request, String>,
) -> HttpResponse {
    let cache = match (&cache.0, &caller.viewer) {
        (Some(cache), Viewer::Anonymous) => Some(cache),
        _ => None,
    };
    // Read before the query runs, so the response holds data at least this recent.
    let position = match cache {
        Some(cache) => cache.position().await.ok(),
        None => None,
    };
    // Held while the response is computed: requests for the same one wait for it.
    let mut _computing = None;
    if let (Some(cache), Some(position)) = (cache, position) {
        match cache.lookup(&key, position).await {
            Lookup::Hit(hit) => return json_body(StatusCode::OK, hit.body),
            Lookup::Compute(computing) => _computing = computing,
        }
    }
    let mut request = match parse() {
        Ok(request) => request,
        Err(message) => return bad_request(&message),
    };
    crate::graphql::parsed::prepare(&mut request);
    let (kind, followed) = operation_type(&mut request);
    let cacheable = position.is_some() && kind == Some(OperationType::Query);
    let request = request.data(caller.viewer).data(ClientAddr(caller.client));
    let (response, mut reads) = service::reads::recording(schema.execute_prepared(request)).await;
    if !followed {
        reads.anything = true;
    }
    if let (Some(hub), Some(OperationType::Mutation)) = (hub, kind) {
        // Followers of the outbox hear of the write at once.
        hub.poke();
    }
    let Ok(body) = serde_json::to_vec(&response) else {
        return HttpResponse::InternalServerError().finish();
    };
    let body = web::Bytes::from(body);
    if let (Some(cache), true, true, Some(position)) =
        (cache, cacheable, response.is_ok(), position)
    {
        cache.insert(
            key,
            position,
            reads,
            CachedResponse {
                status: StatusCode::OK,
                headers: vec![(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/json"),
                )],
                body: body.clone(),
            },
        );
    }
    // A login refused for too many attempts says so in HTTP terms too, and so does a request
    // that met an unavailable database (whatever else it got, it is worth retrying whole).
    let code_is = |wanted: &str| {
        response.errors.iter().find(|error| {
            error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.get("code"))
                .is_some_and(|code| code == &async_graphql::Value::from(wanted))
        })
    };
    if let Some(seconds) = code_is("RATE_LIMITED").and_then(|error| {
        let extensions = error.extensions.as_ref()?;
        extensions.get("retryAfter").map(ToString::to_string)
    }) {
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, seconds))
            .content_type("application/json")
            .body(body);
    }
    if code_is("SERVICE_UNAVAILABLE").is_some() {
        return HttpResponse::ServiceUnavailable()
            .insert_header((
                header::RETRY_AFTER,
                crate::rest::problem::RETRY_AFTER_UNAVAILABLE,
            ))
            .content_type("application/json")
            .body(body);
    }
    json_body(StatusCode::OK, body)
}

/// The root fields whose reads `service::reads` follows: a response made of these alone is
/// kept across writes that do not change what it read.
const FOLLOWED_FIELDS: [&str; 6] = [
    "talk",
    "talks",
    "events",
    "__typename",
    "__schema",
    "__type",
];

/// The type of the operation a request runs, when it parses and names one, and whether it
/// selects only [`FOLLOWED_FIELDS`] at its root. The parsed query stays in the request, so
/// that neither the limits extension nor async-graphql parses it again.
fn operation_type(request: &mut async_graphql::Request) -> (Option<OperationType>, bool) {
    use async_graphql::parser::types::Selection;
    let operation_name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return (None, false);
    };
    let Some(operation) = crate::graphql::parsed::operation(document, operation_name.as_deref())
    else {
        return (None, false);
    };
    let followed = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .all(|item| match &item.node {
            Selection::Field(field) => FOLLOWED_FIELDS.contains(&field.node.name.node.as_str()),
            _ => false,
        });
    (Some(operation.node.ty), followed)
}

fn json_body(status: StatusCode, body: web::Bytes) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}

/// Whether `GET /graphql` serves GraphiQL to browsers.
#[derive(Debug, Clone, Copy)]
pub struct GraphiqlPage(pub bool);

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
    cache: web::Data<Responses>,
    authority: web::Data<Arc<Authority>>,
    graphiql: web::Data<GraphiqlPage>,
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
        return if wants_html && graphiql.0 {
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((
                    header::CONTENT_SECURITY_POLICY,
                    crate::static_files::GRAPHIQL_CSP,
                ))
                .body(crate::static_files::graphiql_page())
        } else if wants_html {
            Problem::new(
                StatusCode::NOT_FOUND,
                "GraphiQL is turned off on this server (graphiql = false)",
            )
            .error_response()
        } else {
            bad_request("GET /graphql needs a `query` parameter")
        };
    };
    let caller = match caller(&authority, &request).await {
        Ok(caller) => caller,
        Err(e) => return graphql_refusal(&e),
    };
    let key = cache_key(b'G', request.query_string().as_bytes());
    execute(&schema, &cache, None, caller, key, || {
        let mut graphql = async_graphql::Request::new(query);
        if let Some(name) = params.operation_name {
            graphql = graphql.operation_name(name);
        }
        if let Some(variables) = params.variables {
            let value = serde_json::from_str::<serde_json::Value>(&variables)
                .map_err(|e| format!("`variables` is not JSON: {e}"))?;
            graphql = graphql.variables(async_graphql::Variables::from_json(value));
        }
        // A GET never changes anything.
        match operation_type(&mut graphql).0 {
            Some(OperationType::Mutation | OperationType::Subscription) => {
                Err("GET /graphql runs queries only; send mutations with POST".into())
            }
            _ => Ok(graphql),
        }
    })
    .await
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }]
    }))
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

/// `POST /auth/login` with `{ "email": …, "password": … }`: an access token, or a problem.
pub(crate) async fn login(
    authority: web::Data<Arc<Authority>>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match crate::rest::http::read_body(&request, payload, &["application/json"]).await {
        Ok(body) => body,
        Err(problem) => return problem.error_response(),
    };
    let body: LoginBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return Problem::bad_request(format!(
                "the body must be {{\"email\": …, \"password\": …}}: {e}"
            ))
            .error_response();
        }
    };
    // No account has one, and PostgreSQL refuses to look for one.
    if let Some(field) =
        service::domain::nul_fields("", [("email", Some(body.email.as_str()))]).first()
    {
        return Problem::bad_request(format!("{field}: {}", service::domain::NUL_MESSAGE))
            .error_response();
    }
    let client = request.peer_addr().map(|address| address.ip());
    match authority.login(client, &body.email, &body.password).await {
        Ok(token) => HttpResponse::Ok().json(token),
        Err(error) => Problem::from(error).error_response(),
    }
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
