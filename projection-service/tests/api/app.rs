//! `spawn_app`: the real service on port 0 over a fresh Redis namespace, and a client that
//! delivers batches exactly as the event store does.

use std::sync::Arc;

use projection_service::config::Secret;
use projection_service::rebuild::EventSource;
use projection_service::{Application, Config};
use serde_json::{Value, json};
use shared_domain::event::ReadEvent;
use shared_domain::service::Shutdown;

use crate::helpers::TestRedis;

pub const TOKEN: &str = "test-token";
pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A running service and its namespace.
pub struct TestApp {
    pub address: String,
    pub redis: TestRedis,
    pub client: reqwest::Client,
    pub shutdown: Shutdown,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// How to start the service.
#[derive(Default)]
pub struct Options {
    pub secret: bool,
    pub admin: bool,
    /// Redis URL other than the shared test server's.
    pub redis_url: Option<String>,
    /// Where rebuild reads events.
    pub source: Option<Arc<dyn EventSource>>,
    /// Where rebuild and lag read events, by URL (a real event store).
    pub eventstore_url: Option<String>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let redis = match &options.redis_url {
        Some(url) => TestRedis::at(url).await,
        None => TestRedis::new().await,
    };
    start(redis, options).await
}

/// A second replica on `other`'s namespace (stop it with [`TestApp::stop_server`]).
pub async fn spawn_on_namespace(other: &TestApp, options: Options) -> TestApp {
    start(
        TestRedis::with_namespace(&other.redis.url, &other.redis.namespace).await,
        options,
    )
    .await
}

async fn start(redis: TestRedis, options: Options) -> TestApp {
    let mut config = Config::new(redis.url.clone(), redis.namespace.clone(), TOKEN);
    config.host = std::net::Ipv4Addr::LOCALHOST.into();
    config.port = 0;
    config.redis_timeout = std::time::Duration::from_millis(500);
    config.old_generation_grace = std::time::Duration::from_millis(100);
    if options.secret {
        config.webhook_secret = Some(Secret::new(SECRET));
    }
    if options.admin {
        config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    }
    if let Some(url) = options.eventstore_url {
        config.eventstore.url = url;
    }
    let app = Application::build_with_source(config, options.source).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address,
        redis,
        client: reqwest::Client::new(),
        shutdown,
        server,
    }
}

/// The exact body the event store delivers.
pub fn delivery_body(events: &[ReadEvent], attempt: u32) -> Value {
    json!({
        "events": events,
        "subscriptionId": "order-summary-projection",
        "eventStoreName": "orders",
        "deliveryId": uuid::Uuid::new_v4(),
        "attempt": attempt,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs raw `body` to the webhook with the right token.
    pub async fn post_events_raw(&self, body: String) -> reqwest::Response {
        self.client
            .post(self.url("/api/projections/orders/events"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Delivers `events` as the event store does (unsigned).
    pub async fn deliver(&self, events: &[ReadEvent]) -> reqwest::Response {
        self.post_events_raw(delivery_body(events, 1).to_string())
            .await
    }

    /// Delivers until a 2xx, as the store's retry policy would (up to `attempts` times).
    pub async fn deliver_with_retries(&self, events: &[ReadEvent], attempts: u32) {
        for attempt in 1..=attempts {
            let response = self
                .post_events_raw(delivery_body(events, attempt).to_string())
                .await;
            if response.status().is_success() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("delivery still failing after {attempts} attempts");
    }

    pub async fn status(&self) -> Value {
        self.client
            .get(self.url("/api/projections/orders/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Stops the service and deletes its namespace.
    pub async fn stop(self) {
        let redis = self.stop_server().await;
        redis.cleanup().await;
    }

    /// Stops the service, keeping its namespace.
    pub async fn stop_server(self) -> TestRedis {
        self.shutdown.trigger();
        let _ = self.server.await;
        self.redis
    }
}
