//! The end-to-end path with the real event store: a subscription from the config file (the
//! walkthrough's `deltabase.config.ts` as TOML, signed with a `whsec_` secret) delivers to this
//! service, which fills Redis; Redis stopping makes the store retry; a rebuild reads the real
//! read-all API.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eventstore_service::Application as EventStore;
use serde_json::{Value, json};
use shared_domain::client::EventStoreClient;
use shared_domain::event::{Event, ExpectedStreamVersion, ReadEvent};
use shared_domain::service::Shutdown;
use shared_domain::testing::postgres::fresh_database;
use shared_domain::wire::AppendRequest;

use crate::app::{ADMIN_TOKEN, Options, SECRET, TOKEN, TestApp, spawn_app_with};
use crate::events::histories;
use crate::helpers::TestRedis;
use crate::own_redis::OwnRedis;

const STORE: &str = "orders";

/// The event-store service on a fresh database, its config file subscribing `projection`.
struct Store {
    url: String,
    client: EventStoreClient,
    shutdown: Shutdown,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    config_file: PathBuf,
}

impl Store {
    async fn start(projection: &TestApp) -> Self {
        let template = format!(
            "eventstore_{}",
            eventstore_service::db::migrations_fingerprint()
        );
        let database = fresh_database(&template, |url| async move {
            eventstore_service::db::migrate(&url)
                .await
                .map_err(Into::into)
        })
        .await;
        let config_file = std::env::temp_dir().join(format!(
            "projection-e2e-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&config_file, walkthrough_config(projection)).unwrap();
        let mut config = eventstore_service::Config::for_database(&database.url);
        config.http_workers = Some(1);
        config.subscriptions.config_file = Some(config_file.clone());
        config.subscriptions.poll_interval = Duration::from_millis(250);
        let app = EventStore::build(config)
            .await
            .expect("the event store builds");
        let url = format!("http://127.0.0.1:{}", app.port());
        let shutdown = Shutdown::new();
        let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self {
            client: EventStoreClient::new(&url, STORE).unwrap(),
            url,
            shutdown,
            server,
            config_file,
        }
    }

    /// Appends the events of `history` (positions as generated) one append per event, each
    /// with the expected stream version, in global order — as the command service would.
    async fn append(&self, history: &[ReadEvent]) {
        for event in history {
            let expected = ExpectedStreamVersion::from_observed(event.stream_position - 1);
            let request = AppendRequest {
                events: vec![Event::new(event.event_type.clone(), event.data.clone())],
                expected_stream_version: Some(expected),
                ..AppendRequest::default()
            };
            self.client
                .append(&event.stream_id, &request)
                .await
                .expect("append");
        }
    }

    /// Everything in the store, as read-all returns it.
    async fn all_events(&self) -> Vec<ReadEvent> {
        let mut events = Vec::new();
        let mut from = 1;
        loop {
            let page = self.client.read_all(from, 1000, None).await.unwrap();
            if page.events.is_empty() {
                return events;
            }
            from = page.next_global_position;
            events.extend(page.events);
        }
    }

    async fn subscription(&self) -> Value {
        reqwest::get(format!(
            "{}/api/event-stores/{STORE}/subscriptions/order-summary-projection",
            self.url
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }

    async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.server.await;
        let _ = std::fs::remove_file(self.config_file);
    }
}

/// The walkthrough's subscription, pointing at `projection`, signed, with quick retries.
fn walkthrough_config(projection: &TestApp) -> String {
    format!(
        r#"
[[eventStores]]
name = "{STORE}"
description = "Order management system"

[[eventStores.subscriptions]]
id = "order-summary-projection"
eventFilter = ["order.placed", "order.shipped", "order.delivered", "order.cancelled"]
subscriberType = "webhook"
initialPosition = "earliest"
batchSize = 100
webhook.url = "{url}"
webhook.headers = {{ Authorization = "Bearer {TOKEN}" }}
webhook.timeoutMs = 5000
webhook.secret = "{SECRET}"
webhook.retryPolicy = {{ maxAttempts = 100, strategy = "fixed", initialDelayMs = 100 }}
"#,
        url = projection.url("/api/projections/orders/events"),
    )
}

/// Waits until the projection's checkpoint reaches `position`.
async fn wait_for_checkpoint(projection: &TestApp, position: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let checkpoint = projection.status().await["checkpoint"]
            .as_u64()
            .unwrap_or(0);
        if checkpoint >= position {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoint {checkpoint} did not reach {position}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn reference(events: &[ReadEvent]) -> TestRedis {
    let redis = TestRedis::new().await;
    for batch in events.chunks(100) {
        redis.projector().apply(batch).await.unwrap();
    }
    redis
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_reach_the_read_models_through_the_configured_subscription() {
    let projection = spawn_app_with(Options {
        secret: true,
        ..Options::default()
    })
    .await;
    let store = Store::start(&projection).await;
    let history = histories(150, 51, 1);

    store.append(&history).await;
    let stored = store.all_events().await;
    wait_for_checkpoint(
        &projection,
        stored.last().unwrap().global_position,
        Duration::from_secs(30),
    )
    .await;

    let expected = reference(&stored).await;
    assert_eq!(projection.redis.dump().await, expected.dump().await);
    let subscription = store.subscription().await;
    assert_eq!(
        subscription["checkpoint"]
            .as_u64()
            .or(subscription["lastProcessedEventGlobalPosition"].as_u64()),
        Some(stored.last().unwrap().global_position),
        "{subscription}"
    );
    expected.cleanup().await;
    projection.stop().await;
    store.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopping_makes_the_store_retry_and_the_read_models_converge() {
    let mut redis = OwnRedis::start();
    let projection = spawn_app_with(Options {
        secret: true,
        redis_url: Some(redis.url()),
        ..Options::default()
    })
    .await;
    let store = Store::start(&projection).await;
    let history = histories(120, 52, 1);
    let (first, rest) = history.split_at(100);
    store.append(first).await;
    wait_for_checkpoint(&projection, first.len() as u64, Duration::from_secs(30)).await;

    redis.stop();
    store.append(rest).await;
    // The store keeps getting 503s and retries.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = store.subscription().await;
    assert!(
        during.to_string().contains("503"),
        "the subscription should show the failing attempts: {during}"
    );
    assert!(redis.spawn(), "the port was taken while Redis was down");

    let stored = store.all_events().await;
    wait_for_checkpoint(
        &projection,
        stored.last().unwrap().global_position,
        Duration::from_secs(30),
    )
    .await;
    let expected = reference(&stored).await;
    assert_eq!(projection.redis.dump().await, expected.dump().await);
    expected.cleanup().await;
    projection.stop().await;
    store.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_from_the_real_store_equals_the_live_read_models() {
    // The store's config needs the projection's URL and the projection's rebuild needs the
    // store's: a second replica on the same namespace, started once the store runs, rebuilds.
    let first = spawn_app_with(Options::default()).await;
    let store = Store::start(&first).await;
    let history = histories(200, 53, 1);
    store.append(&history).await;
    let stored = store.all_events().await;
    wait_for_checkpoint(
        &first,
        stored.last().unwrap().global_position,
        Duration::from_secs(30),
    )
    .await;
    let live = first.redis.dump().await;
    let app = crate::app::spawn_on_namespace(
        &first,
        Options {
            admin: true,
            eventstore_url: Some(store.url.clone()),
            ..Options::default()
        },
    )
    .await;

    let started = app
        .client
        .post(app.url("/api/projections/orders/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.status().await["rebuild"]["state"] == json!("running") {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(app.status().await["rebuild"]["state"], json!("completed"));
    assert_eq!(app.status().await["generation"], json!("g1"));
    assert_eq!(app.redis.dump().await, live);
    app.stop_server().await;
    first.stop().await;
    store.stop().await;
}
