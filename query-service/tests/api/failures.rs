//! Bad input → 400 naming the parameter; Redis down, frozen or absent → 503 quickly, never a
//! hang; recovery when Redis returns. Tests that stop Redis run their own `redis-server`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{ThrowawayRedis, spawn_app, spawn_app_with, test_config};
use crate::model::Model;

async fn assert_400_naming(
    app: &crate::helpers::TestApp,
    path: &str,
    header: Option<&str>,
    field: &str,
) {
    let mut request = app.http.get(format!("{}{path}", app.url));
    if let Some(value) = header {
        request = request.header("x-min-global-position", value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 400, "{path}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "ValidationError", "{path}");
    assert_eq!(body["details"]["field"], field, "{path}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    let cases = [
        ("/orders?status=lost", None, "status"),
        ("/orders?limit=0", None, "limit"),
        ("/orders?limit=1001", None, "limit"),
        ("/orders?limit=many", None, "limit"),
        ("/orders?cursor=not-a-cursor", None, "cursor"),
        ("/orders/customer/c-1?cursor=%25%25", None, "cursor"),
        ("/orders/customer/c-1?status=pending", None, "status"),
        (
            "/orders/o-1?minGlobalPosition=-3",
            None,
            "minGlobalPosition",
        ),
        (
            "/orders/o-1?minGlobalPosition=soon",
            None,
            "minGlobalPosition",
        ),
        (
            "/analytics/orders?minGlobalPosition=1&waitMs=long",
            None,
            "waitMs",
        ),
        ("/orders/o-1", Some("yesterday"), "x-min-global-position"),
    ];
    for (path, header, field) in cases {
        assert_400_naming(&app, path, header, field).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_gives_503_quickly_and_service_recovers() {
    // Arrange: the service and the projector on a Redis of this test's own.
    let mut redis = ThrowawayRedis::start();
    let mut config = test_config(&redis.url());
    config.redis_timeout = Duration::from_secs(1); // the production default
    config.wait.resync = Duration::from_secs(60); // only pub/sub can release waits in time
    let app = spawn_app_with(config).await;
    let mut model = Model::new();
    app.project(&[model.place("order-1", "cust-1", "5", 1)])
        .await;
    assert_eq!(app.get("/orders/order-1").await.status(), 200);

    // Act: kill Redis.
    let killed = Instant::now();
    redis.kill();

    // Assert: the summary cache (which holds order-1 now) notices the loss at once — until it
    // does, it may still answer order-1 from memory, which is current: a dead Redis changes
    // nothing — and from then on every read route answers 503 with Retry-After, fast.
    while !app
        .get("/metrics")
        .await
        .text()
        .await
        .unwrap()
        .contains("query_cache_up 0")
    {
        assert!(
            killed.elapsed() < Duration::from_millis(2500),
            "the cache did not notice that Redis is gone"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for path in [
        "/orders/order-1",
        "/orders",
        "/orders/customer/cust-1",
        "/analytics/orders",
    ] {
        let started = Instant::now();
        let response = app.get(path).await;
        assert_eq!(response.status(), 503, "{path}");
        assert!(response.headers().contains_key("retry-after"), "{path}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{path}: {:?}",
            started.elapsed()
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "Unavailable");
    }
    assert_eq!(app.get("/health/ready").await.status(), 503);
    assert_eq!(app.get("/health/live").await.status(), 200);

    // And it recovers once Redis is back (empty: it kept no data).
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get("/orders/order-1").await.status();
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The checkpoint subscription came back too: a wait is released by the projection's message.
    app.wait_subscribed().await;
    let placed = model.place("order-2", "cust-1", "5", 1);
    let position = placed.global_position;
    let request = {
        let (http, url) = (app.http.clone(), app.url.clone());
        tokio::spawn(async move {
            http.get(format!(
                "{url}/orders/order-2?minGlobalPosition={position}&waitMs=5000"
            ))
            .send()
            .await
            .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let applied_at = Instant::now();
    app.project(&[placed]).await;
    assert_eq!(request.await.unwrap().status(), 200);
    assert!(
        applied_at.elapsed() < Duration::from_secs(5),
        "{:?}",
        applied_at.elapsed()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_gives_503_within_the_timeout_not_a_hang() {
    let redis = ThrowawayRedis::start();
    let mut config = test_config(&redis.url());
    config.redis_timeout = Duration::from_millis(300);
    let app = spawn_app_with(config).await;
    assert_eq!(app.get("/orders/o-1").await.status(), 404);

    redis.signal("STOP");
    let started = Instant::now();
    let response = app.get("/orders/o-1").await;
    let elapsed = started.elapsed();
    redis.signal("CONT");

    assert_eq!(response.status(), 503);
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_redis_at_start_still_starts_and_answers_503() {
    let nothing = format!("redis://127.0.0.1:{}", shared_domain::testing::free_port());
    let mut config = test_config(&nothing);
    config.redis_timeout = Duration::from_secs(1); // the production default
    let app = spawn_app_with(config).await;

    let started = Instant::now();
    let response = app.get("/orders?minGlobalPosition=5").await;

    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/health/ready").await.status(), 503);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_json_404() {
    let app = spawn_app().await;
    let response = app.get("/nothing/here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "NotFound");
    app.stop().await;
}
