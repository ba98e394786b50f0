//! A webhook receiver for tests: a real HTTP server on port 0 that records every request
//! (headers, raw body, time) and answers as told — fail the first k requests, fail always, fail
//! batches holding some event types, answer slowly, send `Retry-After`.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use shared_domain::wire::WebhookDelivery;
use tokio::time::Instant;

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Answer 500 to the first `fail_first` requests.
    pub fail_first: usize,
    /// Answer 500 to every request.
    pub always_fail: bool,
    /// Answer 500 to batches holding an event of one of these types.
    pub fail_types: Vec<String>,
    /// Sent with every failure.
    pub retry_after: Option<String>,
    /// Wait this long before answering the first `slow_first` requests.
    pub delay: Duration,
    pub slow_first: usize,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: reqwest::header::HeaderMap,
    pub raw: Vec<u8>,
    pub body: WebhookDelivery,
    /// The status answered (0 while a slow answer is still pending).
    pub status: u16,
}

impl Received {
    pub fn positions(&self) -> Vec<u64> {
        self.body.events.iter().map(|e| e.global_position).collect()
    }

    pub fn acked(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn delivery_id(&self) -> String {
        self.body.delivery_id.clone().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct State {
    behaviour: Behaviour,
    received: Vec<Received>,
}

/// A running receiver.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            behaviour,
            received: Vec::new(),
        }));
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .default_service(web::to(handle))
        })
        .listen(listener)
        .unwrap()
        .workers(2)
        .disable_signals()
        .shutdown_timeout(0)
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Global positions acknowledged so far, in the order received.
    pub fn acked_positions(&self) -> Vec<u64> {
        self.received()
            .iter()
            .filter(|r| r.acked())
            .flat_map(Received::positions)
            .collect()
    }
}

async fn handle(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (index, status, retry_after, delay) = {
        let mut state = state.lock().unwrap();
        let n = state.received.len();
        let b = &state.behaviour;
        let parsed: WebhookDelivery = serde_json::from_slice(&body).unwrap();
        let poisoned = parsed
            .events
            .iter()
            .any(|e| b.fail_types.contains(&e.event_type));
        let fail = b.always_fail || n < b.fail_first || poisoned;
        let status = if fail { 500 } else { 200 };
        let delay = if n < b.slow_first {
            b.delay
        } else {
            Duration::ZERO
        };
        let retry_after = b.retry_after.clone().filter(|_| fail);
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in request.headers() {
            headers.append(
                reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                reqwest::header::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        state.received.push(Received {
            at: Instant::now(),
            headers,
            raw: body.to_vec(),
            body: parsed,
            status: if delay.is_zero() { status } else { 0 },
        });
        (n, status, retry_after, delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
        state.lock().unwrap().received[index].status = status;
    }
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(retry_after) = retry_after {
        response.insert_header(("retry-after", retry_after));
    }
    response.body(if status == 200 {
        "ok"
    } else {
        "receiver is down"
    })
}
