//! GraphQL subscriptions over a websocket on `/graphql`: the `graphql-transport-ws` protocol
//! (and the older `graphql-ws`), as async-graphql implements them, carried by actix-ws.
//!
//! A client authenticates in `connection_init` with `{"Authorization": "Bearer <token>"}`
//! (or `{"token": "<token>"}`), or with the upgrade request's `Authorization` header; without
//! a token it sees the changes of published talks only. A bad token closes the connection
//! (code 1002, the reason starting `UNAUTHENTICATED:`); a token that cannot be checked because
//! the database is unavailable closes it with 1013, `SERVICE_UNAVAILABLE:`. A token on the
//! upgrade request is refused before the upgrade, with the HTTP status and GraphQL error of any
//! other request (401 `UNAUTHENTICATED`, 503 `SERVICE_UNAVAILABLE`).
//!
//! An event's `next` message is spliced from the JSON text every subscriber with the same
//! selection shares (see `crate::graphql::splices`); a message that cannot be made whole
//! closes the connection (1011) rather than reach the client.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::Data;
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use futures_util::StreamExt;

use crate::auth::{AuthError, Authority, Viewer};
use crate::graphql::AppSchema;
use crate::graphql::changes::SessionToken;
use crate::graphql::splices::Splices;
use crate::runtime::DeliveryRuntime;

/// A connection that sends nothing (not even a ping) for this long is closed.
const KEEPALIVE: Duration = Duration::from_secs(90);
/// Messages the GraphQL side may queue for the socket's writer.
const QUEUED: usize = 64;
/// The close code of a connection whose message could not be made (RFC 6455's 1011).
const CLOSE_INTERNAL_ERROR: u16 = 1011;

/// `GET /graphql` with `Upgrade: websocket`.
pub async fn upgrade(
    schema: web::Data<AppSchema>,
    authority: web::Data<Arc<Authority>>,
    runtime: web::Data<DeliveryRuntime>,
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
        Err(e) => return Ok(crate::rest::problem::graphql_refusal(&e)),
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
    // resolves every event for every subscriber) runs on the delivery runtime's thread (see
    // `crate::runtime`), so that a burst of events does not hold up the requests of this worker.
    let (to_graphql, from_client) = tokio::sync::mpsc::channel::<web::Bytes>(16);
    let (to_client, mut from_graphql) = tokio::sync::mpsc::channel::<WsMessage>(QUEUED);
    let mut pong = session.clone();
    actix_web::rt::spawn(async move {
        let mut messages = messages;
        loop {
            // When the GraphQL side is over (a refused init, a closed connection), so is this
            // loop: it holds a handle to the session, which stays open until every handle goes.
            let message = tokio::select! {
                message = messages.next() => message,
                () = to_graphql.closed() => break,
            };
            let Some(message) = message else { break };
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
    // How a refused `connection_init` closes the socket, when not as async-graphql closes it.
    let init_close: Arc<OnceLock<(u16, String)>> = Arc::default();
    let init_close_set = init_close.clone();
    let mut connection = Data::default();
    // The connection's messages carry the events' shared JSON text (see `graphql::splices`).
    let splices = Splices::new().map(Arc::new);
    if let Some(splices) = &splices {
        connection.insert(Arc::clone(splices));
    }
    connection.insert(from_header);
    if let Some(token) = header_token {
        connection.insert(token);
    }
    let graphql = WebSocket::new(schema.get_ref().clone(), incoming, protocol)
        .connection_data(connection)
        .on_connection_init(move |payload| {
            let authority = authority.clone();
            let close = init_close_set.clone();
            async move { connection_init(&authority, payload, &close).await }
        })
        .keepalive_timeout(KEEPALIVE);
    runtime.spawn(async move {
        let mut graphql = std::pin::pin!(graphql);
        loop {
            // The writer below stops after a close: then this side stops too, without waiting
            // for the client's next message.
            let message = tokio::select! {
                message = graphql.next() => message,
                () = to_client.closed() => return,
            };
            let Some(mut message) = message else { return };
            if let (WsMessage::Close(..), Some((code, reason))) = (&message, init_close.get()) {
                message = WsMessage::Close(*code, reason.clone());
            }
            if let (WsMessage::Text(text), Some(splices)) = (&mut message, &splices) {
                match splices.splice(std::mem::take(text)) {
                    Ok(spliced) => *text = spliced,
                    Err(e) => {
                        // Never a placeholder to the client: the connection ends instead.
                        tracing::error!(error = %e, "closing a subscription connection");
                        let close = WsMessage::Close(CLOSE_INTERNAL_ERROR, "internal error".into());
                        let _ = to_client.send(close).await;
                        return;
                    }
                }
            }
            if to_client.send(message).await.is_err() {
                return;
            }
        }
    });
    actix_web::rt::spawn(async move {
        let mut session = session;
        // Every message queued is handed on at each wake-up, not one per wake-up.
        let mut batch = Vec::with_capacity(QUEUED);
        while from_graphql.recv_many(&mut batch, QUEUED).await > 0 {
            for message in batch.drain(..) {
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
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}

/// The close code of a connection whose `connection_init` met an unavailable database: 1013,
/// "try again later" (RFC 6455's registry), rather than the 1002 of a refused token.
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// The viewer a `connection_init` payload names; anonymous without a token. A refusal closes
/// the connection with its reason prefixed by the GraphQL error code it maps to
/// (`UNAUTHENTICATED: invalid token: …`, `SERVICE_UNAVAILABLE: …`); an outage sets `close` so
/// that the connection closes with [`CLOSE_TRY_AGAIN_LATER`].
async fn connection_init(
    authority: &Authority,
    payload: serde_json::Value,
    close: &OnceLock<(u16, String)>,
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
        let viewer: Viewer = match authority.verify(token.trim()).await {
            Ok(viewer) => viewer,
            Err(error) => {
                let graphql = crate::graphql::errors::auth_to_graphql(&error);
                let code = graphql
                    .extensions
                    .as_ref()
                    .and_then(|extensions| extensions.get("code"))
                    .map(|code| code.to_string().trim_matches('"').to_owned())
                    .unwrap_or_default();
                let reason = format!("{code}: {}", graphql.message);
                if matches!(
                    error,
                    AuthError::Service(service::ServiceError::Unavailable(_))
                ) {
                    let _ = close.set((CLOSE_TRY_AGAIN_LATER, reason.clone()));
                }
                return Err(async_graphql::Error::new(reason));
            }
        };
        data.insert(viewer);
        data.insert(SessionToken(token.trim().to_owned()));
    }
    Ok(data)
}
