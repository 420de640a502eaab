//! The REST API under `/api/v1`, described by `openapi.yaml` at the repository root. Every
//! handler calls the same service functions as GraphQL; errors are problem bodies.

pub mod assets;
pub mod changes;
pub mod http;
pub mod problem;
pub mod talks;
pub mod view;

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use service::sea_orm::DatabaseConnection;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use self::problem::Problem;
use self::talks::Part;
use crate::auth::Authority;
use crate::cache::{CachedResponse, Lookup, Responses};
use crate::changes::ChangeHub;
use crate::graphql::AssetBase;

/// The contract, as committed at the repository root.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

type Db = web::Data<DatabaseConnection>;
type Auth = web::Data<Arc<Authority>>;
type Base = web::Data<AssetBase>;
type Slug = web::Path<String>;
type Item = web::Path<(String, String)>;

macro_rules! routes {
    ($( $method:ident $path:literal => $handler:expr; )*) => {
        /// Every route under `/api/v1`: its method and path, as `openapi.yaml` lists them.
        pub const ROUTES: &[(&str, &str)] = &[ $( (stringify!($method), $path) ),* ];

        fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $( .route($path, method::$method().to($handler)) )*
        }
    };
}

/// The route of each method; a GET route answers HEAD as well (the same headers, no body).
mod method {
    use actix_web::{Route, guard, web};

    pub fn get() -> Route {
        web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
    }
    pub use web::{delete, patch, post, put};
}

routes! {
    get "/talks" => talks::list;
    post "/talks" => talks::create;
    get "/talks/{slug}" => talks::show;
    patch "/talks/{slug}" => talks::patch;
    delete "/talks/{slug}" => talks::delete;
    post "/talks/{slug}/publish" => talks::publish;
    post "/talks/{slug}/unpublish" => talks::unpublish;
    post "/talks/{slug}/resources" => add_resource;
    put "/talks/{slug}/resources/order" => reorder_resources;
    get "/talks/{slug}/resources/{id}" => show_resource;
    patch "/talks/{slug}/resources/{id}" => patch_resource;
    delete "/talks/{slug}/resources/{id}" => delete_resource;
    post "/talks/{slug}/embeds" => add_embed;
    put "/talks/{slug}/embeds/order" => reorder_embeds;
    get "/talks/{slug}/embeds/{id}" => show_embed;
    patch "/talks/{slug}/embeds/{id}" => patch_embed;
    delete "/talks/{slug}/embeds/{id}" => delete_embed;
    put "/talks/{slug}/image" => assets::attach_image;
    delete "/talks/{slug}/image" => assets::detach_image;
    put "/talks/{slug}/slides" => assets::attach_slides;
    delete "/talks/{slug}/slides" => assets::detach_slides;
    post "/assets" => assets::upload;
    get "/assets/{id}" => assets::show;
    patch "/assets/{id}" => assets::describe;
    get "/events" => talks::events;
    get "/changes" => changes::feed;
    get "/webhooks" => changes::list;
    post "/webhooks" => changes::create;
    get "/webhooks/{id}" => changes::show;
    patch "/webhooks/{id}" => changes::patch;
    delete "/webhooks/{id}" => changes::delete;
    post "/webhooks/{id}/replay" => changes::replay;
    get "/webhooks/{id}/attempts" => changes::attempts;
    post "/auth/login" => crate::routes::login;
    get "/openapi.yaml" => openapi;
}

/// The name (lossily decoded) of the first query parameter whose name or value is not UTF-8
/// once percent-decoded (`+` is a space), if any.
fn non_utf8_parameter(query: &str) -> Option<String> {
    let utf8 = |text: &str| {
        percent_encoding::percent_decode(text.as_bytes())
            .decode_utf8()
            .is_ok()
    };
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (!utf8(name) || !utf8(value)).then(|| {
            percent_encoding::percent_decode(name.as_bytes())
                .decode_utf8_lossy()
                .replace('+', " ")
        })
    })
}

/// The key under which an anonymous `GET` of what the reads of `service::reads` follow (talks,
/// a talk, a talk's item, events) is cached; None for any other request, and for conditional
/// ones (their answer depends on the validator sent).
fn cache_key(request: &HttpRequest) -> Option<web::Bytes> {
    if request.method() != actix_web::http::Method::GET {
        return None;
    }
    let headers = request.headers();
    if [
        header::AUTHORIZATION,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_MATCH,
        header::IF_UNMODIFIED_SINCE,
    ]
    .iter()
    .any(|name| headers.contains_key(name))
    {
        return None;
    }
    let path = request.path().strip_prefix("/api/v1/")?;
    let segments: Vec<&str> = path.split('/').collect();
    let followed = match segments.as_slice() {
        ["talks"] | ["events"] => true,
        ["talks", slug] => !slug.is_empty(),
        ["talks", slug, "resources" | "embeds", id] => !slug.is_empty() && !id.is_empty(),
        _ => false,
    };
    followed.then(|| {
        let mut key = Vec::with_capacity(path.len() + request.query_string().len() + 2);
        key.push(b'R');
        key.extend_from_slice(path.as_bytes());
        key.push(b'?');
        key.extend_from_slice(request.query_string().as_bytes());
        key.into()
    })
}

/// Serves an anonymous read from the response cache when nothing it read changed since it was
/// computed (see [`crate::cache`]); computes and keeps it otherwise.
async fn cached(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let responses = request
        .app_data::<web::Data<Responses>>()
        .filter(|responses| responses.0.is_some())
        .cloned();
    let (Some(responses), Some(key)) = (responses, cache_key(request.request())) else {
        return next.call(request).await;
    };
    let Some(cache) = &responses.0 else {
        return next.call(request).await;
    };
    // Read before the response is computed, so that it holds data at least this recent.
    let position = cache.position().await.ok();
    // Held while the response is computed: requests for the same one wait for it.
    let mut _computing = None;
    if let Some(now) = position {
        match cache.lookup(&key, now).await {
            Lookup::Hit(hit) => return Ok(request.into_response(hit.replay())),
            Lookup::Compute(computing) => _computing = computing,
        }
    }
    let (response, reads) = service::reads::recording(next.call(request)).await;
    let response = response?;
    let Some(position) = position.filter(|_| response.status() == StatusCode::OK) else {
        return Ok(response);
    };
    let (http, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    let kept = CachedResponse {
        status: head.status(),
        headers: head
            .headers()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        body: body.clone(),
    };
    cache.insert(key, position, reads, kept);
    Ok(ServiceResponse::new(
        http,
        head.set_body(BoxBody::new(body)),
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let scope = web::scope("/api/v1")
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            Problem::bad_request(format!("a query parameter is wrong: {error}")).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|_, _| Problem::not_found().into()))
        .default_service(web::to(no_route));
    let scope = register(scope).wrap(actix_web::middleware::from_fn(cached));
    cfg.service(scope.wrap_fn(|request, service| {
        use actix_web::ResponseError;
        use actix_web::dev::Service;
        use futures_util::FutureExt;
        // serde_urlencoded would read such bytes as U+FFFD and match nothing, silently.
        if let Some(name) = non_utf8_parameter(request.query_string()) {
            let problem = Problem::invalid(&name, "must be UTF-8 text once percent-decoded");
            let response = request.into_response(problem.error_response());
            return async move { Ok(response) }.boxed_local();
        }
        let writes = !matches!(
            *request.method(),
            actix_web::http::Method::GET
                | actix_web::http::Method::HEAD
                | actix_web::http::Method::OPTIONS
        );
        let hub = request.app_data::<web::Data<Arc<ChangeHub>>>().cloned();
        let response = service.call(request);
        async move {
            let response = response.await?;
            if let (true, Some(hub)) = (writes && response.status().is_success(), hub) {
                // Followers of the outbox hear of the write at once.
                hub.poke();
            }
            Ok(response)
        }
        .boxed_local()
    }));
    cfg.route("/openapi.yaml", web::get().to(openapi));
    cfg.route("/assets/{id}", method::get().to(assets::serve))
        .route("/assets/{id}/{filename}", method::get().to(assets::serve));
}

async fn show_resource(db: Db, a: Auth, r: HttpRequest, i: Item) -> Result<HttpResponse, Problem> {
    talks::show_item(Part::Resources, db, a, r, i).await
}
async fn show_embed(db: Db, a: Auth, r: HttpRequest, i: Item) -> Result<HttpResponse, Problem> {
    talks::show_item(Part::Embeds, db, a, r, i).await
}
async fn add_resource(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    s: Slug,
    p: web::Payload,
) -> Result<HttpResponse, Problem> {
    talks::add(Part::Resources, db, a, b, r, s, p).await
}
async fn add_embed(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    s: Slug,
    p: web::Payload,
) -> Result<HttpResponse, Problem> {
    talks::add(Part::Embeds, db, a, b, r, s, p).await
}
async fn reorder_resources(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    s: Slug,
    p: web::Payload,
) -> Result<HttpResponse, Problem> {
    talks::reorder(Part::Resources, db, a, b, r, s, p).await
}
async fn reorder_embeds(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    s: Slug,
    p: web::Payload,
) -> Result<HttpResponse, Problem> {
    talks::reorder(Part::Embeds, db, a, b, r, s, p).await
}
async fn patch_resource(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    i: Item,
    p: web::Payload,
) -> Result<HttpResponse, Problem> {
    talks::patch_item(Part::Resources, db, a, b, r, i, p).await
}
async fn patch_embed(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    i: Item,
    p: web::Payload,
) -> Result<HttpResponse, Problem> {
    talks::patch_item(Part::Embeds, db, a, b, r, i, p).await
}
async fn delete_resource(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    i: Item,
) -> Result<HttpResponse, Problem> {
    talks::delete_item(Part::Resources, db, a, b, r, i).await
}
async fn delete_embed(
    db: Db,
    a: Auth,
    b: Base,
    r: HttpRequest,
    i: Item,
) -> Result<HttpResponse, Problem> {
    talks::delete_item(Part::Embeds, db, a, b, r, i).await
}

/// `GET /openapi.yaml`: the contract.
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(OPENAPI_YAML)
}

/// How well `path` (under `/api/v1`) fits the route pattern `pattern`: the number of its
/// segments that match literally, or None when it does not fit.
fn fits(pattern: &str, path: &str) -> Option<usize> {
    let mut pattern = pattern.split('/');
    let mut path = path.split('/');
    let mut literal = 0;
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return Some(literal),
            (Some(p), Some(s)) if p.starts_with('{') && !s.is_empty() => {}
            (Some(p), Some(s)) if p == s => literal += 1,
            _ => return None,
        }
    }
}

/// 405 with `Allow` for a known path and another method, 404 for anything else.
async fn no_route(request: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    route_problem(&request).error_response()
}

/// Why no handler serves this request. The methods of a path are those of the routes that fit
/// it best: `/talks/x/resources/order` is the reordering route's (PUT), not a resource's.
/// 405 with `Allow` when the path has other methods; else 404.
pub(crate) fn route_problem(request: &HttpRequest) -> Problem {
    let path = request
        .path()
        .strip_prefix("/api/v1")
        .unwrap_or(request.path());
    let fitting: Vec<(&str, usize)> = ROUTES
        .iter()
        .filter_map(|(method, pattern)| fits(pattern, path).map(|literal| (*method, literal)))
        .collect();
    let best = fitting.iter().map(|(_, literal)| *literal).max();
    let allowed: Vec<String> = fitting
        .iter()
        .filter(|(_, literal)| Some(*literal) == best)
        .flat_map(|(method, _)| match *method {
            "get" => vec!["GET".to_owned(), "HEAD".to_owned()],
            other => vec![other.to_ascii_uppercase()],
        })
        .collect();
    if allowed.is_empty() || allowed.iter().any(|m| m == request.method().as_str()) {
        return Problem::not_found();
    }
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed here", request.method()),
    )
    .header(header::ALLOW, allowed.join(", "))
}
