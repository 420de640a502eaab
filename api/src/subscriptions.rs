//! GraphQL subscriptions over a websocket on `/graphql`: the `graphql-transport-ws` protocol
//! (and the older `graphql-ws`), as async-graphql implements them, carried by actix-ws.
//!
//! A client authenticates in `connection_init` with `{"Authorization": "Bearer <token>"}`
//! (or `{"token": "<token>"}`), or with the upgrade request's `Authorization` header; without
//! a token it sees the changes of published talks only. A bad token closes the connection
//! (code 1002, with the reason).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::Data;
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use futures_util::StreamExt;

use crate::auth::{AuthError, Authority, Viewer};
use crate::graphql::AppSchema;
use crate::graphql::changes::SessionToken;

/// A connection that sends nothing (not even a ping) for this long is closed.
const KEEPALIVE: Duration = Duration::from_secs(90);

/// A runtime of its own, on one thread, for subscription streams.
///
/// Its thread runs at a lower priority than the request workers (niceness 10 on Linux): when
/// the CPUs are busy, requests, and the writes they make, go first, and subscribers wait a
/// little longer for their events. A write holds the database's write lock on SQLite while it
/// waits for its worker between statements, so a worker that had to share the CPU evenly with
/// a burst of subscription messages would slow every other write as well.
pub struct StreamRuntime(Option<tokio::runtime::Runtime>);

/// The niceness of the stream runtime's thread, on Linux.
pub const STREAM_NICENESS: i32 = 10;

/// Lowers the calling thread's priority to [`STREAM_NICENESS`]; a failure is only logged.
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    // thread-priority maps 0..=99 onto niceness 19..=-20 on Linux: 22 is niceness 10.
    let result = ThreadPriorityValue::try_from(22u8)
        .map_err(|e| e.to_owned())
        .and_then(|value| {
            set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|e| format!("{e:?}"))
        });
    if let Err(error) = result {
        tracing::warn!(%error, "cannot lower the priority of the subscription thread");
    }
}

impl StreamRuntime {
    pub fn new() -> std::io::Result<Self> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("lectern-streams")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .map(|runtime| Self(Some(runtime)))
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = &self.0 {
            runtime.spawn(task);
        }
    }
}

impl Drop for StreamRuntime {
    fn drop(&mut self) {
        // Dropped from async code when the server stops: do not wait for the streams.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// `GET /graphql` with `Upgrade: websocket`.
pub async fn upgrade(
    schema: web::Data<AppSchema>,
    authority: web::Data<Arc<Authority>>,
    runtime: web::Data<StreamRuntime>,
    request: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let protocol = request
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|protocols| {
            protocols
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return Ok(HttpResponse::BadRequest().json(serde_json::json!({
            "errors": [{
                "message": "the websocket needs the subprotocol graphql-transport-ws",
                "extensions": { "code": "BAD_USER_INPUT" }
            }]
        })));
    };
    // A token on the upgrade request itself, for clients that can send headers.
    let from_header = match crate::routes::caller(&authority, &request).await {
        Ok(caller) => caller.viewer,
        Err(e) => return Ok(refusal(&e)),
    };
    let header_token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|token| SessionToken(token.trim().to_owned()));
    let (mut response, session, messages) = actix_ws::handle(&request, body)?;
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol.sec_websocket_protocol()),
    );
    // The socket is read and written on this worker, as actix-ws needs; the GraphQL side (which
    // resolves every event for every subscriber) runs on the streaming runtime's thread, so that
    // a burst of events holds up neither the requests of this worker nor the runtime that
    // drives the database connections.
    let (to_graphql, from_client) = tokio::sync::mpsc::channel::<web::Bytes>(16);
    let (to_client, mut from_graphql) = tokio::sync::mpsc::channel::<WsMessage>(64);
    let mut pong = session.clone();
    actix_web::rt::spawn(async move {
        let mut messages = messages;
        while let Some(message) = messages.next().await {
            let bytes = match message {
                Ok(actix_ws::Message::Text(text)) => text.into_bytes(),
                Ok(actix_ws::Message::Binary(bytes)) => bytes,
                Ok(actix_ws::Message::Ping(bytes)) => {
                    let _ = pong.pong(&bytes).await;
                    continue;
                }
                Ok(actix_ws::Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            if to_graphql.send(bytes).await.is_err() {
                break;
            }
        }
        // Dropping the sender ends the GraphQL side's input: it stops its streams.
    });
    let incoming = futures_util::stream::unfold(from_client, |mut rx| async move {
        rx.recv().await.map(|bytes| (bytes, rx))
    });
    let authority = authority.get_ref().clone();
    let mut connection = Data::default();
    connection.insert(from_header);
    if let Some(token) = header_token {
        connection.insert(token);
    }
    let graphql = WebSocket::new(schema.get_ref().clone(), incoming, protocol)
        .connection_data(connection)
        .on_connection_init(move |payload| {
            let authority = authority.clone();
            async move { connection_init(&authority, payload).await }
        })
        .keepalive_timeout(KEEPALIVE);
    runtime.spawn(async move {
        let mut graphql = std::pin::pin!(graphql);
        while let Some(message) = graphql.next().await {
            if to_client.send(message).await.is_err() {
                return;
            }
        }
    });
    actix_web::rt::spawn(async move {
        let mut session = session;
        while let Some(message) = from_graphql.recv().await {
            match message {
                WsMessage::Text(text) => {
                    if session.text(text).await.is_err() {
                        return;
                    }
                }
                WsMessage::Close(code, reason) => {
                    let _ = session
                        .close(Some(actix_ws::CloseReason {
                            code: code.into(),
                            description: Some(reason),
                        }))
                        .await;
                    return;
                }
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}

/// The viewer a `connection_init` payload names; anonymous without a token.
async fn connection_init(
    authority: &Authority,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let mut data = Data::default();
    let token = payload.as_object().and_then(|fields| {
        fields.iter().find_map(|(key, value)| {
            let value = value.as_str()?;
            if key.eq_ignore_ascii_case("authorization") {
                Some(
                    value
                        .strip_prefix("Bearer ")
                        .or_else(|| value.strip_prefix("bearer "))
                        .unwrap_or(value),
                )
            } else if key == "token" || key == "accessToken" {
                Some(value)
            } else {
                None
            }
        })
    });
    if let Some(token) = token {
        let viewer: Viewer = authority
            .verify(token.trim())
            .await
            .map_err(|e| async_graphql::Error::new(e.to_string()))?;
        data.insert(viewer);
        data.insert(SessionToken(token.trim().to_owned()));
    }
    Ok(data)
}

fn refusal(error: &AuthError) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            crate::routes::www_authenticate(error),
        ))
        .json(serde_json::json!({
            "errors": [{ "message": error.to_string(), "extensions": { "code": "UNAUTHENTICATED" } }]
        }))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The niceness of the calling thread, from `/proc/thread-self/stat` (field 19).
    fn niceness() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("a stat file");
        // The command name may hold spaces: count fields after its closing parenthesis.
        let after = &stat[stat.rfind(')').expect("a command name") + 2..];
        after
            .split(' ')
            .nth(16)
            .expect("a nice field")
            .parse()
            .expect("a number")
    }

    #[test]
    fn the_stream_thread_runs_below_the_request_workers() {
        let runtime = StreamRuntime::new().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            tx.send(niceness()).unwrap();
        });
        let stream = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the stream runtime ran the task");
        // Unless the whole process already runs lower (and may not raise a thread back).
        let own = niceness();
        assert!(
            stream == STREAM_NICENESS || (own > STREAM_NICENESS && stream == own),
            "the stream thread runs at niceness {stream}, this one at {own}"
        );
    }
}
