//! `spawn_app`: the real command service on port 0, in front of an event store of its own.

use std::sync::Arc;

use command_service::{Application, Config};
use reqwest::Response;
use serde_json::{Value, json};
use shared_domain::event::ReadEvent;
use shared_domain::event_store::{EventStore, InMemoryEventStore};
use shared_domain::service::Shutdown;

/// A running command service and the store behind it.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub store: Arc<InMemoryEventStore>,
    shutdown: Shutdown,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Starts the service with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the service with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let store = Arc::new(InMemoryEventStore::new());
    let mut config = Config::new("http://127.0.0.1:1");
    config.host = [127, 0, 0, 1].into();
    config.port = 0;
    config.http_workers = Some(2);
    adjust(&mut config);
    let app = Application::with_store(config, Arc::clone(&store)).expect("bind port 0");
    let address = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.serve(shutdown.clone()).expect("server starts"));
    TestApp {
        address,
        http: reqwest::Client::new(),
        store,
        shutdown,
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

    /// The events of one order's stream.
    pub async fn events(&self, order_id: &str) -> Vec<ReadEvent> {
        self.store
            .read_stream(order_id)
            .await
            .expect("read stream")
            .events
    }

    /// How many events the store holds in all.
    pub async fn event_count(&self) -> usize {
        self.store.all_events().len()
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
