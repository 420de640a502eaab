//! Live notices: the edit page hears, as server-sent events, of every change to its talk
//! committed after the version it shows (another editor's save, a publish, an import), from the
//! change events this process follows already ([`ChangeHub`]).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use service::sea_orm::DatabaseConnection;
use service::visibility::Audience;

use super::StudioSettings;
use super::error::StudioError;
use super::session::Signed;
use super::talks::{emails_for_all, talk_id, when, who};
use crate::changes::ChangeHub;

/// How often an idle stream says it is still there (proxies close silent connections).
const KEEP_ALIVE: Duration = Duration::from_secs(25);

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// The version the page shows.
    version: i32,
}

/// One `saved` event, as the page's script reads it.
#[derive(Debug, serde::Serialize)]
struct Saved {
    version: i32,
    /// `updated`, `published`, `unpublished`, `deleted`.
    change: String,
    by: String,
    at: String,
    /// Whether the signed-in user made the change (in another window, say).
    yours: bool,
}

fn frame(saved: &Saved) -> web::Bytes {
    let data = serde_json::to_string(saved).unwrap_or_else(|_| "{}".into());
    web::Bytes::from(format!("event: saved\ndata: {data}\n\n"))
}

/// `GET /studio/talks/{id}/live?version=N`: `text/event-stream` of the talk's changes after
/// version N. The stream ends after the session's idle time; the browser then connects again,
/// which needs an open session.
pub async fn live(
    signed: Signed,
    hub: web::Data<Arc<ChangeHub>>,
    db: web::Data<DatabaseConnection>,
    settings: web::Data<StudioSettings>,
    id: web::Path<String>,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse, StudioError> {
    let id = talk_id(&id)?;
    let shown = query.version;
    let me = signed.viewer().actor();
    let db = db.get_ref().clone();
    let hub = hub.get_ref().clone();
    // Events after this one come from the stream; what came before is in the talk's version.
    let after = service::events::last_seq(&db).await?;
    let current = service::talks::find_by_id(&db, id).await?;
    let lifetime = settings.idle;
    let stream = async_stream::stream! {
        let mut announced = shown;
        if let Some(record) = current.filter(|r| r.talk.version > shown) {
            let by = record.talk.updated_by.clone().unwrap_or_default();
            let emails = emails_for_all(&db, [by.as_str()]).await.unwrap_or_default();
            announced = record.talk.version;
            yield Ok::<_, actix_web::Error>(frame(&Saved {
                version: record.talk.version,
                change: "updated".into(),
                by: who(Some(&by), &emails),
                at: when(record.talk.updated_at),
                yours: by == me,
            }));
        }
        let events = hub
            .follow(Some(after), Audience::Staff, Vec::new())
            .filter(move |event| {
                let keep = event
                    .as_ref()
                    .map_or(true, |e| e.model.aggregate_id == id);
                async move { keep }
            });
        let mut events = std::pin::pin!(events);
        let mut tick = tokio::time::interval(KEEP_ALIVE);
        tick.tick().await;
        let deadline = tokio::time::sleep(lifetime);
        let mut deadline = std::pin::pin!(deadline);
        loop {
            tokio::select! {
                event = events.next() => {
                    let Some(Ok(event)) = event else { break };
                    let model = &event.model;
                    if model.version <= announced && model.kind == "talk.updated" {
                        continue;
                    }
                    announced = announced.max(model.version);
                    let emails = emails_for_all(&db, [model.actor.as_str()]).await.unwrap_or_default();
                    yield Ok(frame(&Saved {
                        version: model.version,
                        change: model.kind.trim_start_matches("talk.").to_owned(),
                        by: who(Some(&model.actor), &emails),
                        at: when(model.occurred_at),
                        yours: model.actor == me,
                    }));
                }
                _ = tick.tick() => yield Ok(web::Bytes::from_static(b": keep-alive\n\n")),
                () = &mut deadline => break,
            }
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
