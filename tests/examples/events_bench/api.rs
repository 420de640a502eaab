//! The API as the benchmark calls it: the login, JSON posts, and the change events read back
//! through GraphQL `changes`.

use std::time::Duration;

use serde_json::{Value, json};
use tests::bench::env::Secret;
use tests::bench::http::client;

use crate::Error;

/// How long one request (a write among them) may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

const CHANGES: &str = "query($after: ID) { changes(after: $after, first: 500) { events { seq aggregateId version occurredAt } nextCursor hasMore } }";

/// An RFC 3339 time as microseconds since the Unix epoch.
pub(crate) fn rfc3339_us(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// A client of the server, logged in as the admin.
pub(crate) struct Api {
    pub(crate) client: awc::Client,
    pub(crate) base: String,
    pub(crate) bearer: String,
}

impl Api {
    /// Logs in at `base` with `email` and `password` over a pool of `connections`
    /// connections: the client, and the access token (for the subscribers).
    pub(crate) async fn login(
        base: &str,
        connections: usize,
        email: &str,
        password: &Secret,
    ) -> Result<(Self, String), Error> {
        let mut api = Self {
            client: client(connections, REQUEST_TIMEOUT),
            base: base.to_owned(),
            bearer: String::new(),
        };
        let (status, body) = api
            .post_json(
                "/auth/login",
                &json!({"email": email, "password": password.expose()}),
            )
            .await?;
        let token = body["accessToken"]
            .as_str()
            .ok_or_else(|| format!("login: {status} {body}"))?
            .to_owned();
        api.bearer = format!("Bearer {token}");
        Ok((api, token))
    }

    /// POSTs `body` as JSON with the token: the status and the body (`Null` when not JSON).
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Result<(u16, Value), Error> {
        let mut response = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("Authorization", self.bearer.as_str()))
            .insert_header(("Content-Type", "application/json"))
            .send_body(body.to_string())
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let bytes = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((response.status().as_u16(), value))
    }

    /// Every event after `after`, oldest first.
    pub(crate) async fn events_after(&self, mut after: i64) -> Result<Vec<Event>, Error> {
        let mut events = Vec::new();
        loop {
            let (status, body) = self
                .post_json(
                    "/graphql",
                    &json!({"query": CHANGES, "variables": {"after": after.to_string()}}),
                )
                .await?;
            let page = &body["data"]["changes"];
            if status != 200 || !page.is_object() {
                return Err(format!("changes: {status} {body}").into());
            }
            for e in page["events"].as_array().into_iter().flatten() {
                events.push(Event {
                    seq: e["seq"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or("seq")?,
                    talk: e["aggregateId"].as_str().ok_or("aggregateId")?.to_owned(),
                    version: e["version"].as_i64().ok_or("version")? as i32,
                    occurred_us: e["occurredAt"]
                        .as_str()
                        .and_then(rfc3339_us)
                        .ok_or("occurredAt")?,
                });
            }
            after = page["nextCursor"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or("nextCursor")?;
            if page["hasMore"] != true {
                return Ok(events);
            }
        }
    }
}

/// A change event: its seq, talk id, version, and `occurred_at` in µs.
pub(crate) struct Event {
    pub(crate) seq: i64,
    pub(crate) talk: String,
    pub(crate) version: i32,
    pub(crate) occurred_us: i64,
}
