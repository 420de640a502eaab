//! A webhook receiver on a free loopback port that records what it is sent and answers as a
//! test tells it to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The status the receiver answered.
    pub status: u16,
}

impl Delivery {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a delivery body is JSON")
    }
}

#[derive(Default)]
struct State {
    deliveries: Vec<Delivery>,
    /// Requests still to refuse, with this status.
    refuse: usize,
    refuse_status: u16,
}

/// A receiver running in the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    /// Starts a receiver that answers 204 to everything.
    pub async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("cannot bind a receiver");
        let address = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        Receiver {
            url: format!("http://{address}/hook"),
            state,
        }
    }

    /// Refuses the next `count` requests with `status`.
    pub fn refuse_next(&self, count: usize, status: u16) {
        let mut state = self.state.lock().unwrap();
        state.refuse = count;
        state.refuse_status = status;
    }

    /// Everything received so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }

    /// Waits until at least `count` requests arrived, at most `timeout`; returns them all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let deliveries = self.deliveries();
            if deliveries.len() >= count || Instant::now() >= deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut state = state.lock().unwrap();
    let status = if state.refuse > 0 {
        state.refuse -= 1;
        state.refuse_status
    } else {
        204
    };
    state.deliveries.push(Delivery {
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    value.to_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a valid status"))
        .finish()
}
