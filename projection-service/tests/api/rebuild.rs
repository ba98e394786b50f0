//! Rebuild: replaying the store's read-all API into a fresh generation gives read models
//! identical to those built live, queries answer throughout, and live deliveries that arrive
//! during the rebuild are not lost.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::{Value, json};
use shared_domain::event::ReadEvent;

use crate::app::{ADMIN_TOKEN, Options, TestApp, spawn_app_with};
use crate::events::histories;
use crate::helpers::TestRedis;
use crate::store_stub::StoreStub;

/// The real query service on the projection's namespace.
struct QueryService {
    address: String,
    shutdown: shared_domain::service::Shutdown,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl QueryService {
    async fn start(app: &TestApp) -> Self {
        let mut config =
            query_service::Config::new(app.redis.url.clone(), app.redis.namespace.clone());
        config.host = std::net::Ipv4Addr::LOCALHOST.into();
        config.port = 0;
        let query = query_service::Application::build(config).unwrap();
        let address = format!("http://127.0.0.1:{}", query.port());
        let shutdown = shared_domain::service::Shutdown::new();
        let server = tokio::spawn(query.run_until_stopped(shutdown.clone()));
        Self {
            address,
            shutdown,
            server,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = reqwest::get(format!("{}{path}", self.address))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.server.await;
    }
}

async fn start_rebuild(app: &TestApp) -> reqwest::Response {
    app.client
        .post(app.url("/api/projections/orders/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

/// Polls the status until the rebuild is no longer running; returns its record.
async fn wait_for_rebuild(app: &TestApp) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = app.status().await;
        let state = status["rebuild"]["state"].as_str().unwrap_or("").to_owned();
        if state != "running" {
            return status["rebuild"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "rebuild did not finish: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn reference(events: &[ReadEvent]) -> TestRedis {
    let redis = TestRedis::new().await;
    for batch in events.chunks(500) {
        redis.projector().apply(batch).await.unwrap();
    }
    redis
}

async fn live_generation(app: &TestApp) -> String {
    app.status().await["generation"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn app_on(stub: &StoreStub) -> TestApp {
    spawn_app_with(Options {
        admin: true,
        eventstore_url: Some(stub.url.clone()),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn rebuild_of_10000_events_equals_live_while_queries_and_deliveries_go_on() {
    // 10,000 events delivered live, then a rebuild while 500 more arrive live.
    let mut events = histories(3300, 31, 1);
    events.truncate(10_000);
    let more = histories(170, 32, events.len() as u64 + 1);
    let stub = StoreStub::start(events.clone()).await;
    let app = app_on(&stub).await;
    for batch in events.chunks(100) {
        assert_eq!(app.deliver(batch).await.status(), 200);
    }
    let live_before = app.redis.dump().await;
    // Slow pages, so the rebuild is still running while we query and deliver.
    stub.set_delay(Duration::from_millis(40));

    let started = start_rebuild(&app).await;
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    let new_generation = started["generation"].as_str().unwrap().to_owned();
    let probe_order = events[0].stream_id.clone();
    let query = QueryService::start(&app).await;
    let mut queries_during_rebuild = 0;
    for batch in more.chunks(50) {
        // The store commits, then delivers.
        stub.append(batch);
        assert_eq!(app.deliver(batch).await.status(), 200);
        // Queries meanwhile, through the real query service: the live generation answers.
        if app.status().await["rebuild"]["state"] == json!("running") {
            let order = query.get(&format!("/orders/{probe_order}")).await;
            assert_eq!(order["orderId"], json!(probe_order));
            let analytics = query.get("/analytics/orders").await;
            assert!(analytics["totalOrders"].as_u64().unwrap() >= 3300);
            let mut conn = app.redis.conn.clone();
            let live = live_generation(&app).await;
            let summary: std::collections::HashMap<String, String> = conn
                .hgetall(app.redis.keys.generation(&live).order_summary(&probe_order))
                .await
                .unwrap();
            assert_eq!(summary["orderId"], probe_order);
            queries_during_rebuild += 1;
        }
    }
    stub.set_delay(Duration::ZERO);
    let record = wait_for_rebuild(&app).await;

    assert_eq!(record["state"], json!("completed"), "{record}");
    assert!(
        queries_during_rebuild > 0,
        "the rebuild finished too fast to query during it"
    );
    assert_eq!(live_generation(&app).await, new_generation);
    let order = query.get(&format!("/orders/{probe_order}")).await;
    assert_eq!(order["orderId"], json!(probe_order));
    query.stop().await;
    let all: Vec<ReadEvent> = events.iter().chain(&more).cloned().collect();
    let expected = reference(&all).await;
    let rebuilt = app.redis.dump().await;
    assert_eq!(rebuilt, expected.dump().await);
    assert_ne!(
        rebuilt, live_before,
        "the live deliveries during the rebuild are in"
    );
    // The replaced generation goes after its grace period.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.redis.dump_generation("g0").await.is_empty());
    expected.cleanup().await;
    app.stop().await;
    stub.stop().await;
}

#[tokio::test]
async fn rebuild_does_not_switch_before_it_holds_everything_the_live_generation_has() {
    let events = histories(80, 33, 1);
    let stub = StoreStub::start(events.clone()).await;
    let app = app_on(&stub).await;
    for batch in events.chunks(40) {
        app.deliver(batch).await;
    }
    // The store's readers do not see the newest events yet (they were delivered live already).
    let held_back = events.len() as u64 - 10;
    stub.set_visible_up_to(Some(held_back));

    assert_eq!(start_rebuild(&app).await.status(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = app.status().await;
    assert_eq!(status["rebuild"]["state"], json!("running"), "{status}");
    assert_eq!(status["generation"], json!("g0"));
    assert!(stub.reads() > 2, "the rebuild keeps reading");

    stub.set_visible_up_to(None);
    let record = wait_for_rebuild(&app).await;

    assert_eq!(record["state"], json!("completed"));
    let expected = reference(&events).await;
    assert_eq!(app.redis.dump().await, expected.dump().await);
    expected.cleanup().await;
    app.stop().await;
    stub.stop().await;
}

#[tokio::test]
async fn rebuild_needs_the_admin_token_and_runs_once_at_a_time() {
    let stub = StoreStub::start(histories(50, 34, 1)).await;
    stub.set_delay(Duration::from_millis(200));
    let app = app_on(&stub).await;
    let disabled = spawn_app_with(Options::default()).await;

    let no_token = app
        .client
        .post(app.url("/api/projections/orders/rebuild"))
        .send()
        .await
        .unwrap();
    let wrong_token = app
        .client
        .post(app.url("/api/projections/orders/rebuild"))
        .bearer_auth("test-token")
        .send()
        .await
        .unwrap();
    let off = start_rebuild(&disabled).await;
    let first = start_rebuild(&app).await;
    let second = start_rebuild(&app).await;

    assert_eq!(no_token.status(), 401);
    assert_eq!(wrong_token.status(), 401);
    assert_eq!(off.status(), 403);
    assert_eq!(first.status(), 202);
    assert_eq!(second.status(), 409);
    stub.set_delay(Duration::ZERO);
    assert_eq!(wait_for_rebuild(&app).await["state"], json!("completed"));
    app.stop().await;
    disabled.stop().await;
    stub.stop().await;
}

#[tokio::test]
async fn a_failed_rebuild_leaves_the_live_generation_alone() {
    let events = histories(30, 35, 1);
    let stub = StoreStub::start(events.clone()).await;
    let app = app_on(&stub).await;
    app.deliver(&events).await;
    let before = app.redis.dump().await;
    stub.stop().await; // the store goes away

    assert_eq!(start_rebuild(&app).await.status(), 202);
    let record = wait_for_rebuild(&app).await;

    assert_eq!(record["state"], json!("failed"));
    assert!(record["error"].as_str().unwrap().contains("event store"));
    assert_eq!(live_generation(&app).await, "g0");
    assert_eq!(app.redis.dump().await, before);
    app.stop().await;
}

#[tokio::test]
async fn status_reports_the_lag_behind_the_store() {
    let events = histories(20, 36, 1);
    let stub = StoreStub::start(events.clone()).await;
    let app = app_on(&stub).await;
    let delivered = 15;
    app.deliver(&events[..delivered]).await;

    let status = app.status().await;

    assert_eq!(status["checkpoint"], json!(delivered));
    assert_eq!(status["store"]["lag"], json!(events.len() - delivered));
    assert_eq!(status["store"]["headPosition"], json!(events.len()));
    app.stop().await;
    stub.stop().await;
}
