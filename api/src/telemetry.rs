//! What the server says about itself: logs (one line per request, with its id), security
//! headers on every response, and Prometheus metrics.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{HttpMessage, HttpResponse, web};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use service::sea_orm::{DatabaseConnection, DbBackend};
use tracing::Instrument;

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The policy of every response but GraphiQL's page: nothing is loaded, nothing frames it.
pub const CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    Auto,
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("{text:?} is not one of auto, text, json")),
        }
    }
}

/// Sets up logging to standard error, filtered by `filter` (`RUST_LOG` syntax, e.g.
/// `info,sqlx=warn`). Returns false when a subscriber was set up already (in tests).
pub fn init_logging(format: LogFormat, filter: &str) -> Result<bool, String> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| format!("log: {filter:?} is not a log filter: {e}"))?;
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
    Ok(result.is_ok())
}

/// `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options` and the strict
/// `Content-Security-Policy` on every response that does not set its own.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, CSP))
}

/// A request's id: the caller's `X-Request-Id` when it is a sensible token, else a new UUID.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(request: &ServiceRequest) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// One log line and the metrics of every request: its id (returned in `X-Request-Id`), method,
/// route (the pattern, never the raw path), status and latency. Nothing of the headers or the
/// body is logged.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&request);
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().to_string();
    let route = request
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let span = tracing::info_span!("request", request_id = %id);
    let result = next.call(request).instrument(span).await;
    let latency = started.elapsed();
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status = status.as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request"
    );
    let status_label = status.as_u16().to_string();
    metrics::counter!(
        "lectern_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status_label
    )
    .increment(1);
    metrics::histogram!(
        "lectern_http_request_duration_seconds",
        "method" => method,
        "route" => route
    )
    .record(latency.as_secs_f64());
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// Buckets of the latency histograms, in seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's metrics recorder, installed on first use (one per process: every server a
/// test starts shares it). None when another recorder was installed first.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .map(PrometheusBuilder::build_recorder)
                .ok()?;
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(
        "lectern_http_requests_total",
        "HTTP requests answered, by method, route and status"
    );
    metrics::describe_histogram!(
        "lectern_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method and route"
    );
    metrics::describe_counter!(
        "lectern_graphql_operations_total",
        "GraphQL operations run, by type (query, mutation, subscription) and outcome"
    );
    metrics::describe_histogram!(
        "lectern_graphql_operation_duration_seconds",
        metrics::Unit::Seconds,
        "Time to run a GraphQL operation, by type"
    );
    metrics::describe_gauge!(
        "lectern_db_connections",
        "Database connections of a pool (requests, background), by state (idle, in_use)"
    );
    metrics::describe_gauge!(
        "lectern_db_connections_max",
        "The most connections a pool opens"
    );
    metrics::describe_gauge!(
        "lectern_outbox_last_seq",
        "The newest change event's seq, as this process's tail last read it"
    );
    metrics::describe_gauge!(
        "lectern_outbox_backlog_events",
        "Change events not yet given to the furthest-behind active webhook endpoint"
    );
    metrics::describe_gauge!(
        "lectern_webhook_endpoints",
        "Webhook endpoints, by state (active, failing, paused)"
    );
    metrics::describe_counter!(
        "lectern_webhook_deliveries_total",
        "Webhook delivery attempts made by this process, by outcome (delivered, failed)"
    );
    metrics::describe_histogram!(
        "lectern_webhook_delivery_duration_seconds",
        metrics::Unit::Seconds,
        "Time a receiver took to answer a delivery"
    );
    metrics::describe_counter!(
        "lectern_change_events_total",
        "Change events this process's tail read, by type and source (importer or api)"
    );
    metrics::describe_counter!(
        "lectern_response_cache_lookups_total",
        "Response cache lookups, by outcome: hit; waited (served once another request computed \
         it); absent (none held: never computed or evicted) and changed (a committed change may \
         have changed it), each computed by this request; not_kept (waited, then computed too)"
    );
    metrics::describe_gauge!(
        "lectern_relay_lag_events",
        "Change events committed and not yet acknowledged by a relay's stream, by stream"
    );
    metrics::describe_gauge!(
        "lectern_relay_lag_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest change event a relay's stream has not acknowledged (0: caught up)"
    );
    metrics::describe_gauge!(
        "lectern_database_up",
        "1 when the last scrape reached the database, else 0"
    );
}

/// Keeps the recorder's histograms drained between scrapes, so that they never grow.
pub async fn upkeep() {
    let Some(handle) = recorder() else { return };
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// What `/metrics` reads at each scrape besides the recorded metrics.
pub struct Scrape {
    pub db: DatabaseConnection,
    pub background: DatabaseConnection,
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(scrape: Option<web::Data<Scrape>>) -> HttpResponse {
    let (Some(scrape), Some(handle)) = (scrape, recorder()) else {
        return HttpResponse::NotFound()
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "metrics are turned off on this server (metrics = false)",
            }));
    };
    pool_gauges("requests", &scrape.db);
    pool_gauges("background", &scrape.background);
    // Bounded: a scrape during an outage answers at once with lectern_database_up 0.
    let state = tokio::time::timeout(
        Duration::from_secs(2),
        service::webhooks::backlog(&scrape.background),
    )
    .await;
    match state {
        Ok(Ok(backlog)) => {
            metrics::gauge!("lectern_database_up").set(1.0);
            if let Ok(Ok(lags)) = tokio::time::timeout(
                Duration::from_secs(2),
                service::relay::lags(&scrape.background),
            )
            .await
            {
                for lag in lags {
                    metrics::gauge!("lectern_relay_lag_events", "stream" => lag.name.clone())
                        .set(lag.events as f64);
                    metrics::gauge!("lectern_relay_lag_seconds", "stream" => lag.name)
                        .set(lag.seconds);
                }
            }
            metrics::gauge!("lectern_outbox_last_seq").set(backlog.last_seq as f64);
            metrics::gauge!("lectern_outbox_backlog_events").set(backlog.behind as f64);
            for (state, count) in backlog.endpoints {
                metrics::gauge!("lectern_webhook_endpoints", "state" => state).set(count as f64);
            }
        }
        Ok(Err(_)) | Err(_) => metrics::gauge!("lectern_database_up").set(0.0),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}

fn pool_gauges(pool: &'static str, db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (
                p.size(),
                p.num_idle() as u32,
                p.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            (
                p.size(),
                p.num_idle() as u32,
                p.options().get_max_connections(),
            )
        }
        _ => return,
    };
    metrics::gauge!("lectern_db_connections", "pool" => pool, "state" => "idle").set(idle);
    metrics::gauge!("lectern_db_connections", "pool" => pool, "state" => "in_use")
        .set(size.saturating_sub(idle));
    metrics::gauge!("lectern_db_connections_max", "pool" => pool).set(max);
}
