//! HTTP plumbing of the REST API: who asks, bodies, ETags and preconditions, caching headers.

use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::StreamExt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned};
use serde::{Deserializer, Serialize};
use service::{FieldError, ServiceError};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::problem::Problem;
use crate::auth::{Authority, Viewer};
use crate::startup::MAX_BODY_BYTES;

/// Who makes the request (anonymous without a token; 401 for a bad one).
pub async fn viewer(authority: &Authority, request: &HttpRequest) -> Result<Viewer, Problem> {
    Ok(crate::routes::caller(authority, request).await?.viewer)
}

/// Reads a request body whose media type is one of `accepted`: 415 for any other (or none),
/// 413 beyond [`MAX_BODY_BYTES`] (told by `Content-Length` before reading, or while reading).
pub async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    accepted: &[&str],
) -> Result<web::BytesMut, Problem> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !accepted.contains(&content_type.as_str()) {
        return Err(Problem::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body must be {}", accepted.join(" or ")),
        ));
    }
    let too_large = || {
        Problem::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| Problem::bad_request(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a JSON request body: 415 unless it is JSON, 413 when too large, 400 when it is not
/// JSON at all, 422 when it is not an object, is of the wrong shape (unknown fields included) or holds a
/// NUL character anywhere (no database column can keep one).
pub async fn json_body<T: DeserializeOwned>(
    request: &HttpRequest,
    payload: web::Payload,
    merge_patch: bool,
) -> Result<T, Problem> {
    let accepted: &[&str] = if merge_patch {
        &["application/merge-patch+json", "application/json"]
    } else {
        &["application/json"]
    };
    let body = read_body(request, payload, accepted).await?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => unfit(&e),
            _ => Problem::bad_request(format!("the body is not JSON: {e}")),
        }
    })?;
    // Every body is an object; serde would otherwise fill a struct from an array, by position.
    if !value.is_object() {
        return Err(Problem::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object",
        )
        .kind("urn:lectern:problem:validation"));
    }
    // A bare string is no body any handler takes; deserializing says so.
    if let Some(path) = service::domain::nul_paths(&value, "")
        .into_iter()
        .find(|path| !path.is_empty())
    {
        return Err(Problem::invalid(&path, service::domain::NUL_MESSAGE));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut problem = unfit(e.inner());
        // `.` is the body itself (a missing or unknown member, which the message names).
        if path != "." {
            problem.detail = format!("the body does not fit at {path}: {}", e.inner());
            problem.errors = vec![FieldError::new(&path, e.inner().to_string())];
        }
        problem
    })
}

fn unfit(error: &serde_json::Error) -> Problem {
    Problem::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        format!("the body does not fit: {error}"),
    )
    .kind("urn:lectern:problem:validation")
}

/// The integer types a request's numbers are read into.
pub trait Whole: Sized {
    /// The value, when `Self` holds it.
    fn of(value: i128) -> Option<Self>;
    /// What `Self` holds, for messages.
    const RANGE: (i128, i128);
    /// What `null` reads as: nothing, unless `Self` is optional.
    fn null() -> Option<Self> {
        None
    }
}

macro_rules! whole {
    ($($t:ty),*) => {$(
        impl Whole for $t {
            fn of(value: i128) -> Option<Self> {
                Self::try_from(value).ok()
            }
            const RANGE: (i128, i128) = (<$t>::MIN as i128, <$t>::MAX as i128);
        }
    )*};
}
whole!(i32, i64, u64);

impl<T: Whole> Whole for Option<T> {
    fn of(value: i128) -> Option<Self> {
        T::of(value).map(Some)
    }
    const RANGE: (i128, i128) = T::RANGE;
    fn null() -> Option<Self> {
        Some(None)
    }
}

/// Reads an integer as JSON Schema counts one: `3`, or a number with no fractional part such as
/// `3.0` or `3e2`; `3.5`, or a number out of `T`'s range, is refused naming the value (a body
/// names the field, too: 422). `null` is `None` for an optional field. For the members of
/// request bodies: `#[serde(default, deserialize_with = "integral")]`.
pub fn integral<'de, D: Deserializer<'de>, T: Whole>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(Integral::<T> {
        text: false,
        whole: PhantomData,
    })
}

/// [`integral`] for query parameters, whose numbers come as text (`?limit=20.0`).
pub fn integral_text<'de, D: Deserializer<'de>, T: Whole>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(Integral::<T> {
        text: true,
        whole: PhantomData,
    })
}

struct Integral<T> {
    /// Whether the number comes as text (a query parameter); in a JSON body, a string is no
    /// number.
    text: bool,
    whole: PhantomData<T>,
}

impl<T: Whole> Integral<T> {
    fn fit<E: de::Error>(value: i128) -> Result<T, E> {
        T::of(value).ok_or_else(|| Self::out_of_range(value))
    }

    fn out_of_range<E: de::Error>(value: impl std::fmt::Display) -> E {
        let (min, max) = T::RANGE;
        E::custom(format!(
            "{value} is out of range: an integer from {min} to {max}"
        ))
    }
}

impl<'de, T: Whole> de::Visitor<'de> for Integral<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (min, max) = T::RANGE;
        write!(f, "an integer from {min} to {max}")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        Self::fit(value.into())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        Self::fit(value.into())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        if !value.is_finite() || value.fract() != 0.0 {
            Err(E::custom(format!(
                "{value} is not an integer (a number with no fractional part)"
            )))
        } else if value.abs() >= 2f64.powi(100) {
            // Beyond what any integer type here holds; below it, the cast is exact.
            Err(Self::out_of_range(value))
        } else {
            Self::fit(value as i128)
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        if !self.text {
            return Err(E::invalid_type(de::Unexpected::Str(text), &self));
        }
        if let Ok(value) = text.parse::<i128>() {
            return Self::fit(value);
        }
        match text.parse::<f64>() {
            Ok(value) => self.visit_f64(value),
            _ => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        // `null`: an absent optional value, and no value for any other.
        T::null().ok_or_else(|| E::invalid_type(de::Unexpected::Unit, &self))
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        self.visit_unit()
    }
}

/// The strong ETag of a talk: its id and version.
pub fn talk_etag(id: Uuid, version: i32) -> String {
    format!("\"{id}.{version}\"")
}

/// The strong ETag of any body: a digest of its bytes.
pub fn body_etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// True when `If-None-Match` names this ETag (or is `*`).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
}

/// What `If-Match` asks of a talk.
pub enum Precondition {
    /// No `If-Match`.
    Absent,
    /// `*`: any version.
    Any,
    /// This version.
    Version(i32),
}

/// Reads `If-Match` against a talk: its ETag, or its bare version number. An ETag of another
/// talk, or of no talk, fails (412).
pub fn if_match(
    request: &HttpRequest,
    id: Uuid,
    current_version: i32,
) -> Result<Precondition, Problem> {
    let Some(value) = request.headers().get(header::IF_MATCH) else {
        return Ok(Precondition::Absent);
    };
    let failed = || {
        Problem::new(
            actix_web::http::StatusCode::PRECONDITION_FAILED,
            format!("If-Match does not name this talk's current version ({current_version})"),
        )
        .kind("urn:lectern:problem:version-conflict")
        .member("current_version", current_version.into())
        .header(header::ETAG, talk_etag(id, current_version))
    };
    let value = value.to_str().map_err(|_| failed())?.trim();
    if value == "*" {
        return Ok(Precondition::Any);
    }
    let own = format!("{id}.");
    for tag in value.split(',').map(str::trim) {
        let bare = tag.trim_matches('"');
        let version = match bare.strip_prefix(&own) {
            Some(version) => version,
            None if !tag.starts_with('"') || !bare.contains('.') => bare,
            None => continue,
        };
        if let Ok(version) = version.parse::<i32>() {
            return Ok(Precondition::Version(version));
        }
    }
    Err(failed())
}

/// The problem for a service error about talk `id`: a version conflict names the talk's
/// current ETag, as a failed `If-Match` does, so that a client can read again or retry.
pub fn about_talk(id: Uuid) -> impl FnOnce(ServiceError) -> Problem {
    move |error| {
        let current = match &error {
            ServiceError::Conflict { current_version } => Some(*current_version),
            _ => None,
        };
        let problem = Problem::from(error);
        match current {
            Some(version) => problem.header(header::ETAG, talk_etag(id, version)),
            None => problem,
        }
    }
}

/// `If-Match` that a `PATCH` or `DELETE` must carry (428 without it).
pub fn required_version(request: &HttpRequest, id: Uuid, current: i32) -> Result<i32, Problem> {
    match if_match(request, id, current)? {
        Precondition::Absent => Err(Problem::new(
            actix_web::http::StatusCode::PRECONDITION_REQUIRED,
            "this change needs If-Match with the talk's ETag (or its version), as last read",
        )),
        Precondition::Any => Ok(current),
        Precondition::Version(version) => Ok(version),
    }
}

/// `If-Match` that a `POST` or `PUT` may carry.
pub fn optional_version(
    request: &HttpRequest,
    id: Uuid,
    current: i32,
) -> Result<Option<i32>, Problem> {
    Ok(match if_match(request, id, current)? {
        Precondition::Version(version) => Some(version),
        Precondition::Absent | Precondition::Any => None,
    })
}

/// Sets the caching headers: public for anonymous readers of published content, private
/// otherwise.
fn cache_headers(response: &mut HttpResponseBuilder, public: bool) {
    response.insert_header((
        header::CACHE_CONTROL,
        if public {
            "public, max-age=60"
        } else {
            "private, no-store"
        },
    ));
}

/// A body as the JSON bytes sent; a body that cannot be written is the server's fault (500).
fn encode(body: &impl Serialize) -> Result<Bytes, Problem> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| ServiceError::Internal(format!("cannot write a response body: {e}")).into())
}

/// A JSON response of a read with its ETag, or 304 when the client has it already.
pub fn conditional_json(
    request: &HttpRequest,
    status: actix_web::http::StatusCode,
    body: &impl Serialize,
    etag: Option<String>,
    public: bool,
) -> Result<HttpResponse, Problem> {
    let bytes = encode(body)?;
    let etag = etag.unwrap_or_else(|| body_etag(&bytes));
    if status.is_success() && none_match(request.headers(), &etag) {
        let mut response = HttpResponse::NotModified();
        response.insert_header((header::ETAG, etag));
        cache_headers(&mut response, public);
        return Ok(response.finish());
    }
    Ok(json_with_etag(status, bytes, etag, public))
}

/// A JSON response with its ETag, whatever `If-None-Match` says: the answer to a write, which
/// has happened (a 304 would hide that).
pub fn json(
    status: actix_web::http::StatusCode,
    body: &impl Serialize,
    etag: String,
    public: bool,
) -> Result<HttpResponse, Problem> {
    Ok(json_with_etag(status, encode(body)?, etag, public))
}

fn json_with_etag(
    status: actix_web::http::StatusCode,
    bytes: Bytes,
    etag: String,
    public: bool,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::ETAG, etag));
    cache_headers(&mut response, public);
    response.content_type("application/json").body(bytes)
}

/// A `Link: <…>; rel="next"` value: `path` with the request's query, `param` set to `value`.
pub fn next_link(request: &HttpRequest, path: &str, param: &str, value: &str) -> String {
    let mut query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.query_string().as_bytes())
            .into_owned()
            .filter(|(name, _)| name != param)
            .collect();
    query.push((param.to_owned(), value.to_owned()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("<{path}?{query}>; rel=\"next\"")
}
