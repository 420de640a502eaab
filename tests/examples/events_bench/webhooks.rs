//! The webhook receivers: actix-web on ports of 127.0.0.1, answering 204, each recording the
//! seq of every delivery (from `Lectern-Event-Seq`) and checking every 100th body.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;
use tests::bench::now_us;

use crate::Error;
use crate::api::rfc3339_us;
use crate::listener::Hooks;

/// One delivery to receiver `index`.
async fn receive(
    hooks: web::Data<Hooks>,
    index: web::Path<usize>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let at = now_us();
    let Some(listener) = hooks.get(index.into_inner()) else {
        return HttpResponse::NotFound().finish();
    };
    let seq = request
        .headers()
        .get("lectern-event-seq")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let Some(seq) = seq else {
        listener.problem("a delivery without Lectern-Event-Seq".into());
        return HttpResponse::NoContent().finish();
    };
    if listener.count.load(Ordering::Relaxed) % 100 == 0 {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v)
                if v["seq"].as_i64() == Some(seq)
                    && v["aggregate_id"].is_string()
                    && v["occurred_at"].as_str().and_then(rfc3339_us).is_some()
                    && request.headers().contains_key("lectern-signature") => {}
            Ok(v) => listener.problem(format!(
                "seq {seq}: unexpected body {}",
                v.to_string().chars().take(200).collect::<String>()
            )),
            Err(e) => listener.problem(format!("seq {seq}: the body is not JSON: {e}")),
        }
    }
    listener.record(seq, at);
    HttpResponse::NoContent().finish()
}

/// Starts `hooks.len()` receivers, one port each, on a thread of their own; their URLs and a
/// handle to stop them.
pub(crate) fn start_receivers(
    hooks: Hooks,
) -> Result<
    (
        Vec<String>,
        actix_web::dev::ServerHandle,
        std::thread::JoinHandle<()>,
    ),
    Error,
> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let count = hooks.len();
            let data = web::Data::new(hooks);
            let mut server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                    .route("/hook/{index}", web::post().to(receive))
            })
            .workers(1)
            .disable_signals()
            .backlog(1024);
            for _ in 0..count {
                server = match server.bind("127.0.0.1:0") {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
            }
            let addrs = server.addrs();
            let server = server.run();
            let urls = addrs
                .iter()
                .enumerate()
                .map(|(i, a)| format!("http://{a}/hook/{i}"))
                .collect::<Vec<_>>();
            let _ = tx.send(Ok((urls, server.handle())));
            let _ = server.await;
        });
    });
    let (urls, handle) = rx.recv()??;
    Ok((urls, handle, thread))
}
