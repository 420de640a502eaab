//! The GraphQL subscribers: websockets on `/graphql` (graphql-transport-ws, authenticated in
//! `connection_init`) subscribed to `talkChanges(after:)`, each recording the seq of every
//! event and checking every 100th state.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tests::bench::now_us;

use crate::listener::Listener;

/// A graphql-transport-ws ping this often keeps the server from closing an idle subscriber.
const PING_EVERY: Duration = Duration::from_secs(20);

const SUBSCRIPTION: &str = "subscription($after: ID) { talkChanges(after: $after) { seq type aggregateId version occurredAt state } }";

/// A graphql-transport-ws message, as far as a subscriber reads each one.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    payload: Option<Payload>,
}

#[derive(serde::Deserialize)]
struct Payload {
    data: Option<Data>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    talk_changes: Option<Change>,
}

#[derive(serde::Deserialize)]
struct Change {
    seq: String,
}

/// Whether a `next` message's state is the state of the talk the event is about.
fn state_matches(bytes: &[u8]) -> bool {
    let Ok(message) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    let change = &message["payload"]["data"]["talkChanges"];
    let id = &change["state"]["talk"]["id"];
    id.is_string()
        && *id == change["aggregateId"]
        && change["state"]["talk"]["version"] == change["version"]
}

/// One subscriber: connects, authenticates, subscribes after `after`, records until `stop`.
async fn subscriber(
    client: awc::Client,
    url: String,
    token: Rc<String>,
    after: i64,
    listener: Arc<Listener>,
    stop: Arc<AtomicBool>,
    ready: Arc<AtomicUsize>,
) {
    let setup = async {
        let (_, mut socket) = client
            .ws(&url)
            .protocols(["graphql-transport-ws"])
            .connect()
            .await
            .map_err(|e| format!("the websocket upgrade failed: {e}"))?;
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
        socket
            .send(ws::Message::Text(init.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        let ack = actix_web::rt::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .map_err(|_| "no connection_ack within 30 s".to_string())?;
        match ack {
            Some(Ok(ws::Frame::Text(bytes)))
                if serde_json::from_slice::<Value>(&bytes)
                    .is_ok_and(|m| m["type"] == "connection_ack") => {}
            other => return Err(format!("no connection_ack: {other:?}")),
        }
        let subscribe = json!({
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIPTION, "variables": {"after": after.to_string()}},
        });
        socket
            .send(ws::Message::Text(subscribe.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(socket)
    };
    let mut socket = match setup.await {
        Ok(socket) => socket,
        Err(e) => {
            listener.problem(e);
            ready.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    ready.fetch_add(1, Ordering::SeqCst);
    let mut last_ping = Instant::now();
    let mut received: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        if last_ping.elapsed() > PING_EVERY {
            last_ping = Instant::now();
            let ping = json!({"type": "ping"}).to_string();
            if socket.send(ws::Message::Text(ping.into())).await.is_err() {
                listener.problem("cannot send a ping".into());
                return;
            }
        }
        let frame =
            match actix_web::rt::time::timeout(Duration::from_millis(200), socket.next()).await {
                Err(_) => continue,
                Ok(frame) => frame,
            };
        match frame {
            Some(Ok(ws::Frame::Text(bytes))) => {
                let at = now_us();
                received += 1;
                // Each message is parsed for its type and seq only, skipping the state; every
                // 100th is parsed whole and its state checked. A listener elsewhere would pay
                // for reading the state, not this machine's server.
                let message: Envelope = match serde_json::from_slice(&bytes) {
                    Ok(message) => message,
                    Err(e) => {
                        listener.problem(format!("a message that is not JSON: {e}"));
                        continue;
                    }
                };
                let whole = || {
                    String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(300)
                        .collect::<String>()
                };
                match message.kind.as_str() {
                    "next" => {
                        let change = message
                            .payload
                            .and_then(|p| p.data)
                            .and_then(|d| d.talk_changes);
                        let seq = change.as_ref().and_then(|c| c.seq.parse::<i64>().ok());
                        let Some(seq) = seq else {
                            listener.problem(format!("a next message without a seq: {}", whole()));
                            continue;
                        };
                        if received.is_multiple_of(100) && !state_matches(&bytes) {
                            listener
                                .problem(format!("a state that is not the talk's: {}", whole()));
                            continue;
                        }
                        listener.record(seq, at);
                    }
                    "ping" => {
                        let pong = json!({"type": "pong"}).to_string();
                        let _ = socket.send(ws::Message::Text(pong.into())).await;
                    }
                    "pong" => {}
                    _ => {
                        listener.problem(format!("the subscription ended: {}", whole()));
                        return;
                    }
                }
            }
            Some(Ok(ws::Frame::Ping(bytes))) => {
                let _ = socket.send(ws::Message::Pong(bytes)).await;
            }
            Some(Ok(ws::Frame::Close(reason))) => {
                listener.problem(format!("the server closed the websocket: {reason:?}"));
                return;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                listener.problem(format!("websocket error: {e}"));
                return;
            }
            None => {
                listener.problem("the websocket ended".into());
                return;
            }
        }
    }
    let _ = socket.send(ws::Message::Close(None)).await;
}

/// Runs the subscribers on a thread of their own.
pub(crate) fn start_subscribers(
    url: String,
    token: String,
    after: i64,
    listeners: Vec<Arc<Listener>>,
    stop: Arc<AtomicBool>,
    ready: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            // Each subscriber holds its connection for the whole run; awc's connector holds
            // at most 100 at once unless told otherwise, and the others would wait for one.
            let client = awc::Client::builder()
                .connector(awc::Connector::new().limit(listeners.len().max(1)))
                .timeout(Duration::from_secs(30))
                .finish();
            let token = Rc::new(token);
            let tasks: Vec<_> = listeners
                .into_iter()
                .map(|listener| {
                    actix_web::rt::spawn(subscriber(
                        client.clone(),
                        url.clone(),
                        token.clone(),
                        after,
                        listener,
                        stop.clone(),
                        ready.clone(),
                    ))
                })
                .collect();
            for task in tasks {
                let _ = task.await;
            }
        });
    })
}
