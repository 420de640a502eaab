//! The HTTP client of the traffic, what an answer is, and what a failed request is.

use std::time::Duration;

use awc::error::SendRequestError;
use awc::http::Method;
use serde_json::{Value, json};
use tests::bench::env::Secret;
use tests::bench::excerpt;
use tests::bench::http::client;

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A failed request: a short kind for counting and a detail for the report.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) kind: String,
    pub(crate) detail: String,
    /// Whether the server may have acted on it (a transport failure after the request may
    /// have been sent, or any answer but the expected one).
    pub(crate) maybe_applied: bool,
    /// A transport failure: no HTTP answer at all.
    pub(crate) transport: bool,
}

impl Problem {
    pub(crate) fn wrong(detail: String) -> Self {
        Self {
            kind: "wrong answer".into(),
            detail,
            maybe_applied: true,
            transport: false,
        }
    }
}

/// An HTTP answer: its status, content type, and body (JSON, or `Null` with an excerpt of the
/// raw text in `raw`).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Value,
    pub(crate) raw: String,
}

/// The client every request goes through.
pub(crate) struct Http {
    client: awc::Client,
    base: String,
    bearer: String,
}

impl Http {
    /// A client of `base` with at most `connections` connections, sending `token` as the
    /// bearer on the requests that ask for it.
    pub(crate) fn new(base: &str, token: &Secret, connections: usize) -> Self {
        Self {
            client: client(connections, REQUEST_TIMEOUT),
            base: base.to_owned(),
            bearer: format!("Bearer {}", token.expose()),
        }
    }

    /// Sends a request to `path` (with the token when `auth`, `headers`, and a body with its
    /// content type): the answer, or the transport failure as a problem.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        auth: bool,
        headers: &[(&'static str, String)],
        body: Option<(&'static str, String)>,
    ) -> Result<Reply, Problem> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if auth {
            request = request.insert_header(("Authorization", self.bearer.as_str()));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, value.as_str()));
        }
        let sent = match body {
            Some((content_type, body)) => {
                request
                    .insert_header(("Content-Type", content_type))
                    .send_body(body)
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.map_err(|e| {
            let (kind, maybe_applied) = match &e {
                // awc reports a request in flight on a pooled connection that broke as a
                // connect error too ("connector has been disconnected"): it may have been sent.
                SendRequestError::Connect(_) => ("connect failed", true),
                SendRequestError::Timeout => ("timeout", true),
                _ => ("connection lost", true),
            };
            Problem {
                kind: kind.into(),
                detail: e.to_string(),
                maybe_applied,
                transport: true,
            }
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .map_err(|e| Problem {
                kind: "body lost".into(),
                detail: format!("{status}: {e}"),
                maybe_applied: true,
                transport: true,
            })?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let raw = if body.is_null() {
            excerpt(&String::from_utf8_lossy(&bytes))
        } else {
            String::new()
        };
        Ok(Reply {
            status,
            content_type,
            body,
            raw,
        })
    }

    /// `GET path` anonymously: its body as text, when it answers 200.
    pub(crate) async fn text(&self, path: &str) -> Option<String> {
        let mut response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        if response.status().as_u16() != 200 {
            return None;
        }
        let bytes = response.body().limit(16 * 1024 * 1024).await.ok()?;
        String::from_utf8(bytes.to_vec()).ok()
    }

    /// `GET /api/v1/talks/{slug}`, with the token when `auth`.
    pub(crate) async fn get_talk(&self, slug: &str, auth: bool) -> Result<Reply, Problem> {
        let path = format!("/api/v1/talks/{slug}");
        self.send(Method::GET, &path, auth, &[], None).await
    }

    /// A GraphQL request, with the token when `auth`.
    pub(crate) async fn graphql(
        &self,
        query: &str,
        variables: Value,
        auth: bool,
    ) -> Result<Reply, Problem> {
        let body = json!({"query": query, "variables": variables}).to_string();
        self.send(
            Method::POST,
            "/graphql",
            auth,
            &[],
            Some(("application/json", body)),
        )
        .await
    }
}

/// The problem an unexpected answer is: its status (`503 problem+json` for an RFC 9457 503),
/// or the GraphQL error code.
pub(crate) fn answer_problem(reply: &Reply, expected: u16) -> Option<Problem> {
    let detail = || {
        if reply.body.is_null() {
            reply.raw.clone()
        } else {
            excerpt(&reply.body.to_string())
        }
    };
    if reply.status != expected {
        let kind = if reply.content_type.starts_with("application/problem+json") {
            format!("{} problem+json", reply.status)
        } else {
            format!("{} {}", reply.status, reply.content_type)
        };
        return Some(Problem {
            kind,
            detail: detail(),
            maybe_applied: true,
            transport: false,
        });
    }
    if let Some(errors) = reply.body.get("errors").filter(|e| !e.is_null()) {
        let code = errors[0]["extensions"]["code"].as_str().unwrap_or("?");
        return Some(Problem {
            kind: format!("graphql {code}"),
            detail: detail(),
            maybe_applied: true,
            transport: false,
        });
    }
    None
}
