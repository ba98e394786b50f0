//! A real HTTP server in the test answering the event store's read-all API
//! (`GET /api/event-stores/{store}/events?fromGlobalPosition&limit` → `{events,
//! nextGlobalPosition}`), fed by the test. It can hold back the newest events (as a store whose
//! readers cannot see them yet) and answer slowly, to catch a rebuild in the act.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::json;
use shared_domain::event::ReadEvent;

#[derive(Default)]
struct Log {
    events: Vec<ReadEvent>,
    /// Readers see events up to this global position only (`None`: all).
    visible_up_to: Option<u64>,
    /// Pause before each answer.
    delay: Duration,
    /// Read-all requests answered.
    reads: u64,
}

/// The stub and its URL. Cheap to clone.
#[derive(Clone)]
pub struct StoreStub {
    pub url: String,
    log: Arc<Mutex<Log>>,
    handle: actix_web::dev::ServerHandle,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadAllQuery {
    from_global_position: Option<u64>,
    limit: Option<usize>,
}

async fn read_all(
    log: web::Data<Arc<Mutex<Log>>>,
    query: web::Query<ReadAllQuery>,
) -> HttpResponse {
    let delay = log.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut log = log.lock().unwrap();
    log.reads += 1;
    let from = query.from_global_position.unwrap_or(1);
    let limit = query.limit.unwrap_or(100).min(1000);
    let visible = log.visible_up_to.unwrap_or(u64::MAX);
    let page: Vec<&ReadEvent> = log
        .events
        .iter()
        .filter(|e| e.global_position >= from && e.global_position <= visible)
        .take(limit)
        .collect();
    let next = page.last().map_or(from, |e| e.global_position + 1);
    HttpResponse::Ok().json(json!({"events": page, "nextGlobalPosition": next}))
}

impl StoreStub {
    pub async fn start(events: Vec<ReadEvent>) -> Self {
        let log = Arc::new(Mutex::new(Log {
            events,
            ..Log::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let data = web::Data::new(Arc::clone(&log));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/api/event-stores/{store}/events", web::get().to(read_all))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, log, handle }
    }

    pub fn append(&self, events: &[ReadEvent]) {
        self.log.lock().unwrap().events.extend_from_slice(events);
    }

    pub fn set_visible_up_to(&self, position: Option<u64>) {
        self.log.lock().unwrap().visible_up_to = position;
    }

    pub fn set_delay(&self, delay: Duration) {
        self.log.lock().unwrap().delay = delay;
    }

    pub fn reads(&self) -> u64 {
        self.log.lock().unwrap().reads
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
