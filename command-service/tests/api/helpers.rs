//! `spawn_app`: the real command service on port 0, in front of a real event store service of
//! its own (in-process, port 0) on a fresh, migrated PostgreSQL database.

use std::time::Duration;

use command_service::{Application, Config};
use reqwest::Response;
use serde_json::{Value, json};
use shared_domain::client::EventStoreClient;
use shared_domain::event::ReadEvent;
use shared_domain::event_store::EventStore;
use shared_domain::service::Shutdown;
use shared_domain::testing::postgres::fresh_database;
use tokio::task::JoinHandle;

/// The store the command service writes to (its default `EVENTSTORE_NAME`).
pub const STORE: &str = "orders";

/// A running command service and the event store behind it.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    /// A client of the event store, for looking behind the command service.
    pub store: EventStoreClient,
    pub eventstore: EventStoreServer,
    shutdown: Shutdown,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.trigger();
        self.eventstore.shutdown.trigger();
    }
}

/// An event store service running in this process.
pub struct EventStoreServer {
    pub port: u16,
    pub database_url: String,
    shutdown: Shutdown,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl EventStoreServer {
    /// Starts the event store service on `database_url` (port 0: any free port).
    pub async fn start(database_url: &str, port: u16) -> Self {
        let mut config = eventstore_service::Config::for_database(database_url);
        config.port = port;
        config.http_workers = Some(2);
        // Many tests run at once against one PostgreSQL server (100 connections).
        config.db_pool_size = 4;
        config.shutdown.grace = Duration::from_secs(5);
        let app = eventstore_service::Application::build(config)
            .await
            .expect("the event store service builds");
        let port = app.port();
        let shutdown = Shutdown::new();
        let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self {
            port,
            database_url: database_url.to_owned(),
            shutdown,
            server: Some(server),
        }
    }

    /// Stops it and waits until it has stopped.
    pub async fn stop(&mut self) {
        self.shutdown.trigger();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
    }

    /// Starts it again on the same port and database.
    pub async fn restart(&mut self) {
        self.stop().await;
        *self = Self::start(&self.database_url.clone(), self.port).await;
    }
}

/// A fresh database migrated for the event store (cloned from a template per schema).
pub async fn fresh_eventstore_database() -> String {
    let template = format!(
        "eventstore_{}",
        eventstore_service::db::migrations_fingerprint()
    );
    fresh_database(&template, |url| async move {
        eventstore_service::db::migrate(&url)
            .await
            .map_err(Into::into)
    })
    .await
    .url
}

/// Starts the service with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the service with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::start(start_eventstore().await, adjust).await
}

/// An event store service on a fresh database, with the `orders` store created.
pub async fn start_eventstore() -> EventStoreServer {
    let database_url = fresh_eventstore_database().await;
    let eventstore = EventStoreServer::start(&database_url, 0).await;
    eventstore
        .client()
        .create_store_if_missing(Some("orders of the command-service tests"))
        .await
        .expect("the orders store is created");
    eventstore
}

impl EventStoreServer {
    /// A client of its `orders` store.
    pub fn client(&self) -> EventStoreClient {
        EventStoreClient::new(&self.url(), STORE).expect("a client")
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl TestApp {
    /// The command service in front of `eventstore` (unless `adjust` points it elsewhere).
    pub async fn start(eventstore: EventStoreServer, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new(eventstore.url());
        config.host = [127, 0, 0, 1].into();
        config.port = 0;
        config.http_workers = Some(2);
        adjust(&mut config);
        let app = Application::build(config).expect("bind port 0");
        let address = format!("http://127.0.0.1:{}", app.port());
        let shutdown = Shutdown::new();
        tokio::spawn(app.serve(shutdown.clone()).expect("server starts"));
        Self {
            address,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("a client"),
            store: eventstore.client(),
            eventstore,
            shutdown,
        }
    }
}

impl TestApp {
    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.post_with(path, body, &[]).await
    }

    /// `POST path` with a JSON body and extra headers.
    pub async fn post_with(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.post(format!("{}{path}", self.address)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("command service answers")
    }

    /// `POST path` with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Response {
        self.http
            .post(format!("{}{path}", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("command service answers")
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("command service answers")
    }

    /// Places the standard order (2 × 10 + 1 × 5.5) and returns its id.
    pub async fn place_order(&self) -> String {
        let response = self.post("/orders", &place_body()).await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let body: Value = response.json().await.expect("JSON");
        body["orderId"].as_str().expect("orderId").to_owned()
    }

    /// The events of one order's stream, as the event store holds them.
    pub async fn events(&self, order_id: &str) -> Vec<ReadEvent> {
        self.store
            .read_stream(order_id)
            .await
            .expect("read stream")
            .events
    }

    /// Every event of the store, in global order.
    pub async fn all_events(&self) -> Vec<ReadEvent> {
        self.store
            .read_all(1, 1000, None)
            .await
            .expect("read all")
            .events
    }

    /// How many events the store holds in all.
    pub async fn event_count(&self) -> usize {
        self.all_events().await.len()
    }
}

/// The walkthrough's kind of order.
pub fn place_body() -> Value {
    json!({
        "customerId": "cust-1",
        "items": [
            {"productId": "sku-1", "quantity": 2, "price": 10},
            {"productId": "sku-2", "quantity": 1, "price": 5.5}
        ]
    })
}

/// A ship body.
pub fn ship_body() -> Value {
    json!({"trackingNumber": "TRK123", "carrier": "UPS"})
}

/// JSON of a response, with its status.
pub async fn status_and_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, json)
}
