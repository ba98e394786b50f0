//! Starting the service for these tests — in-process on the test's runtime, or on a runtime of
//! its own that a test can kill mid-delivery — and small request helpers.

use std::future::Future;
use std::time::Duration;

use eventstore_service::{Application, Config, db};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared_domain::service::Shutdown;
use shared_domain::testing::postgres::fresh_database;
use shared_domain::wire::AppendResult;
use tokio::task::JoinHandle;

/// The store the tests use.
pub const STORE: &str = "orders";

/// A fresh database, migrated (cloned from a template keyed by the migrations' fingerprint).
pub async fn fresh_migrated_database() -> String {
    let template = format!("eventstore_{}", db::migrations_fingerprint());
    fresh_database(&template, |url| async move {
        db::migrate(&url).await.map_err(Into::into)
    })
    .await
    .url
}

/// Test settings: a short lease and safety poll, a named instance.
pub fn config(database_url: &str, instance: &str) -> Config {
    let mut config = Config::for_database(database_url);
    config.http_workers = Some(1);
    config.shutdown.grace = Duration::from_secs(5);
    config.subscriptions.lease_ttl = Duration::from_millis(600);
    config.subscriptions.poll_interval = Duration::from_millis(250);
    config.subscriptions.instance_id = instance.to_owned();
    config
}

/// A service instance and a client for it.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    shutdown: Option<Shutdown>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// For an instance on a runtime of its own: dropping the sender kills that runtime.
    kill: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The service on a fresh database with the store [`STORE`].
pub async fn spawn_app() -> TestApp {
    let url = fresh_migrated_database().await;
    let app = spawn_on(config(&url, "instance-a")).await;
    app.create_store(STORE).await;
    app
}

/// The service with `config`, on the test's runtime.
pub async fn spawn_on(config: Config) -> TestApp {
    let app = Application::build(config)
        .await
        .expect("the service builds");
    let port = app.port();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        http: client(),
        shutdown: Some(shutdown),
        server: Some(server),
        kill: None,
        thread: None,
    }
}

/// The service with `config` on a Tokio runtime of its own, which [`TestApp::kill`] drops
/// mid-flight (as a crash would: no lease released, no request finished).
pub async fn spawn_killable(config: Config) -> TestApp {
    let (port_tx, port_rx) = tokio::sync::oneshot::channel();
    let (kill_tx, kill_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.spawn(async move {
            let app = Application::build(config)
                .await
                .expect("the service builds");
            let _ = port_tx.send(app.port());
            let _ = app.run_until_stopped(Shutdown::new()).await;
        });
        // Blocks until the test kills the instance (or drops it).
        let _ = kill_rx.recv();
        runtime.shutdown_background();
    });
    let port = port_rx.await.expect("the killable instance starts");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        http: client(),
        shutdown: None,
        server: None,
        kill: Some(kill_tx),
        thread: Some(thread),
    }
}

impl TestApp {
    /// Graceful stop (leases released).
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.trigger();
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.kill().await;
    }

    /// Drops an instance's runtime: its tasks stop where they are.
    pub async fn kill(&mut self) {
        self.kill.take();
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join().unwrap())
                .await
                .unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn create_store(&self, name: &str) {
        let (status, body) = self
            .post("/api/event-stores", &json!({ "name": name }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Appends events of the given types to `stream`.
    pub async fn append(&self, stream: &str, types: &[&str]) -> AppendResult {
        let events: Vec<Value> = types
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"type": t, "data": {"i": i}}))
            .collect();
        let (status, body) = self
            .post(
                &format!("/api/event-stores/{STORE}/streams/{stream}"),
                &json!({ "events": events }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// `POST …/subscribe` that must create.
    pub async fn subscribe(&self, spec: &Value) -> Value {
        let (status, body) = self
            .post(&format!("/api/event-stores/{STORE}/subscribe"), spec)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// `GET …/subscriptions/{id}`.
    pub async fn show(&self, id: &str) -> Value {
        let (status, body) = self
            .get(&format!("/api/event-stores/{STORE}/subscriptions/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `POST …/subscriptions/{id}/{action}`.
    pub async fn operate(&self, id: &str, action: &str, body: &Value) -> (StatusCode, Value) {
        self.post(
            &format!("/api/event-stores/{STORE}/subscriptions/{id}/{action}"),
            body,
        )
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = &self.shutdown {
            shutdown.trigger();
        }
        self.kill.take();
    }
}

/// A webhook subscription to `url` with a fast retry policy.
pub fn webhook_spec(id: &str, url: &str, max_attempts: u32) -> Value {
    json!({
        "id": id,
        "eventFilter": "*",
        "webhook": {
            "url": url,
            "timeoutMs": 2000,
            "retryPolicy": {"maxAttempts": max_attempts, "strategy": "fixed",
                "initialDelayMs": 50, "jitterPercent": 0}
        }
    })
}

/// Polls `check` every 20 ms until it answers `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The checkpoint as stored, read straight from PostgreSQL.
pub async fn stored_checkpoint(database_url: &str, id: &str) -> u64 {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT last_processed_event_global_position FROM subscriptions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    u64::try_from(row.get::<_, i64>(0)).unwrap()
}
