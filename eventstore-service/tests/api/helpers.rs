//! `spawn_app()`: the real service on port 0 over a fresh, migrated database of its own, and
//! small request helpers the tests share.

use std::time::Duration;

use eventstore_service::{Application, Config, db};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared_domain::service::Shutdown;
use shared_domain::testing::postgres::fresh_database;
use shared_domain::wire::{AppendResult, ReadAllResult, ReadStreamResult};
use tokio::task::JoinHandle;

/// The store most tests use; `spawn_app` creates it.
pub const STORE: &str = "test-store";

/// A running service and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub database_url: String,
    pub http: reqwest::Client,
    pub shutdown: Shutdown,
    pub server: Option<JoinHandle<std::io::Result<()>>>,
    pub api_key: Option<String>,
}

/// A fresh database, migrated (cloned from a template keyed by the migrations' fingerprint).
pub async fn fresh_migrated_database() -> String {
    let template = format!("eventstore_{}", db::migrations_fingerprint());
    fresh_database(&template, |url| async move {
        db::migrate(&url).await.map_err(Into::into)
    })
    .await
    .url
}

/// The service on a fresh database, with the store [`STORE`] created.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with settings changed by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let url = fresh_migrated_database().await;
    let app = spawn_on_database(&url, configure).await;
    app.create_store(STORE).await;
    app
}

/// The service on an existing database (a second replica, a restart).
pub async fn spawn_on_database(database_url: &str, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_database(database_url);
    config.http_workers = Some(2);
    config.shutdown.grace = Duration::from_secs(5);
    configure(&mut config);
    let api_key = config.api_key.clone();
    let app = Application::build(config)
        .await
        .expect("the service builds");
    let port = app.port();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        database_url: database_url.to_owned(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a reqwest client"),
        shutdown,
        server: Some(server),
        api_key,
    }
}

impl TestApp {
    /// Stops the service and waits until it has.
    pub async fn stop(&mut self) {
        self.shutdown.trigger();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        // The first key when the setting lists several (a rotation in progress).
        match self
            .api_key
            .as_deref()
            .and_then(|keys| keys.split_whitespace().next())
        {
            Some(key) => request.header("x-api-key", key),
            None => request,
        }
    }

    pub async fn create_store(&self, name: &str) {
        let response = self
            .authed(self.http.post(self.url("/api/event-stores")))
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("create store");
        assert_eq!(response.status(), StatusCode::CREATED, "creating {name}");
    }

    /// `POST /api/event-stores/{STORE}/streams/{stream}` with a JSON body.
    pub async fn post_append(&self, stream: &str, body: &Value) -> Response {
        self.authed(self.http.post(self.stream_url(STORE, stream)))
            .json(body)
            .send()
            .await
            .expect("append request")
    }

    /// An append that must succeed.
    pub async fn append_ok(&self, stream: &str, body: &Value) -> AppendResult {
        let response = self.post_append(stream, body).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::CREATED, "{text}");
        serde_json::from_str(&text).expect("an AppendResult")
    }

    pub fn stream_url(&self, store: &str, stream: &str) -> String {
        let mut url = reqwest::Url::parse(&self.address).expect("address");
        url.path_segments_mut().expect("base").extend([
            "api",
            "event-stores",
            store,
            "streams",
            stream,
        ]);
        url.to_string()
    }

    /// `GET …/streams/{stream}?{query}`.
    pub async fn read_stream(&self, stream: &str, query: &str) -> ReadStreamResult {
        let url = format!("{}?{query}", self.stream_url(STORE, stream));
        let response = self
            .authed(self.http.get(url))
            .send()
            .await
            .expect("read stream");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a ReadStreamResult")
    }

    /// `GET …/events?{query}`.
    pub async fn read_all(&self, query: &str) -> ReadAllResult {
        let response = self
            .get(&format!("/api/event-stores/{STORE}/events?{query}"))
            .await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str(&text).expect("a ReadAllResult")
    }

    /// A sample of the service's `GET /metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.expect("metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.authed(self.http.get(self.url(path)))
            .send()
            .await
            .expect("GET")
    }

    /// Every event of [`STORE`], by reading all from 1.
    pub async fn all_events(&self) -> Vec<shared_domain::event::ReadEvent> {
        let mut events = Vec::new();
        let mut from = 1;
        loop {
            let page = self
                .read_all(&format!("fromGlobalPosition={from}&limit=1000"))
                .await;
            let done = page.events.is_empty();
            events.extend(page.events);
            from = page.next_global_position;
            if done {
                return events;
            }
        }
    }
}

/// An append body of `n` events of type `test.happened`, with the given expected version.
pub fn events_body(n: usize, expected: Value) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"type": "test.happened", "data": {"i": i}}))
        .collect();
    json!({ "events": events, "options": { "expectedStreamVersion": expected } })
}
