//! A fault-injecting HTTP proxy in front of the projection service's webhook. The soak points
//! the subscription's `${SERVICE_URL}` at it, so it can make the webhook path fail without
//! touching either service:
//!
//! * [`ProxyMode::Pass`]: forward the request, return the projection's answer;
//! * [`ProxyMode::Refuse`]: answer 503 without forwarding (the receiver is down);
//! * [`ProxyMode::LoseAnswer`]: forward, let the projection apply the batch, then answer 502 —
//!   the store must deliver the same events again, and the projection must not apply them twice.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::stack::HarnessError;

/// Largest body the proxy forwards.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Longest a forwarded call may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Request headers not copied to the forwarded request (hop-by-hop, or set by the client).
const SKIPPED_HEADERS: [&str; 4] = ["host", "content-length", "connection", "transfer-encoding"];

/// What the proxy does with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ProxyMode {
    Pass = 0,
    Refuse = 1,
    LoseAnswer = 2,
}

/// What the proxy has seen.
#[derive(Debug, Default)]
pub struct ProxyCounts {
    /// Deliveries passed on, answered with the projection's answer.
    pub forwarded: AtomicU64,
    /// Deliveries answered 503 without forwarding.
    pub refused: AtomicU64,
    /// Deliveries applied by the projection whose answer was replaced by 502.
    pub answers_lost: AtomicU64,
    /// Forwarding failures (projection down or hung): answered 502.
    pub unreachable: AtomicU64,
}

struct ProxyState {
    /// Base URL of the projection service (set once the stack knows its port).
    target: RwLock<String>,
    mode: AtomicU8,
    counts: Arc<ProxyCounts>,
    client: reqwest::Client,
}

/// A running proxy; stopped on [`WebhookProxy::stop`].
pub struct WebhookProxy {
    /// Base URL to give the event store, e.g. `http://127.0.0.1:41000`.
    pub url: String,
    state: web::Data<ProxyState>,
    handle: ServerHandle,
}

impl WebhookProxy {
    /// Starts a proxy on a free port, in [`ProxyMode::Pass`], with no target yet (answers 502
    /// until [`WebhookProxy::set_target`]).
    pub fn start() -> Result<Self, HarnessError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| HarnessError(format!("proxy: bind: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError(format!("proxy: {e}")))?
            .port();
        let client = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .build()
            .map_err(|e| HarnessError(format!("proxy: HTTP client: {e}")))?;
        let state = web::Data::new(ProxyState {
            target: RwLock::new(String::new()),
            mode: AtomicU8::new(ProxyMode::Pass as u8),
            counts: Arc::new(ProxyCounts::default()),
            client,
        });
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .default_service(web::to(forward))
        })
        .workers(1)
        .listen(listener)
        .map_err(|e| HarnessError(format!("proxy: listen: {e}")))?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        })
    }

    /// Where to forward to: a base URL.
    pub fn set_target(&self, target: &str) {
        if let Ok(mut current) = self.state.target.write() {
            *current = target.trim_end_matches('/').to_owned();
        }
    }

    /// Switches what the proxy does from the next request on.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.state.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// What the proxy has seen so far.
    pub fn counts(&self) -> Arc<ProxyCounts> {
        self.state.counts.clone()
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn forward(req: HttpRequest, body: web::Bytes, state: web::Data<ProxyState>) -> HttpResponse {
    let counts = &state.counts;
    let mode = state.mode.load(Ordering::SeqCst);
    if mode == ProxyMode::Refuse as u8 {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"error": "Unavailable", "message": "soak proxy: refused"}));
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::POST);
    let target = state.target.read().map(|t| t.clone()).unwrap_or_default();
    if target.is_empty() {
        counts.unreachable.fetch_add(1, Ordering::Relaxed);
        return bad_gateway("soak proxy: no target yet");
    }
    let mut outgoing = state
        .client
        .request(method, format!("{target}{path}"))
        .body(body.to_vec());
    for (name, value) in req.headers() {
        if !SKIPPED_HEADERS.contains(&name.as_str()) {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = match outgoing.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            response.bytes().await.map(|body| (status, body))
        }
        Err(e) => Err(e),
    };
    let Ok((status, body)) = answer else {
        counts.unreachable.fetch_add(1, Ordering::Relaxed);
        return bad_gateway("soak proxy: the projection did not answer");
    };
    if mode == ProxyMode::LoseAnswer as u8 {
        counts.answers_lost.fetch_add(1, Ordering::Relaxed);
        return bad_gateway("soak proxy: answer lost");
    }
    counts.forwarded.fetch_add(1, Ordering::Relaxed);
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY))
        .content_type("application/json")
        .body(body)
}

fn bad_gateway(message: &str) -> HttpResponse {
    HttpResponse::BadGateway().json(serde_json::json!({"error": "BadGateway", "message": message}))
}
