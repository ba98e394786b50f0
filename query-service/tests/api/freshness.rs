//! Read-your-writes: `minGlobalPosition` / `x-min-global-position` and `waitMs`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, test_config};
use crate::model::Model;
use shared_domain::testing::redis::redis_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_already_reached_answers_at_once() {
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 10, 1)).await;
    let position = model.last_position();

    let response = app
        .get(&format!("/orders?minGlobalPosition={position}&waitMs=0"))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-global-position"],
        position.to_string().as_str()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_is_released_by_a_later_projection_through_pub_sub() {
    // Arrange: the safety re-read is slowed to a minute, so only pub/sub can release in time.
    let mut config = test_config(&redis_url());
    config.wait.resync = Duration::from_secs(60);
    let app = spawn_app_with(config).await;
    app.wait_subscribed().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 5, 2)).await;
    let placed = model.place("order-new", "cust-9", "5", 2);
    let position = placed.global_position;

    // Act: ask for the new order before it is projected; project it 300 ms later.
    let request = {
        let (http, url) = (app.http.clone(), app.url.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let response = http
                .get(format!(
                    "{url}/orders/order-new?minGlobalPosition={position}&waitMs=5000"
                ))
                .send()
                .await
                .unwrap();
            (response, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let applied_at = Instant::now();
    app.project(&[placed]).await;
    let (response, waited) = request.await.unwrap();
    let released_after_apply = applied_at.elapsed();

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["orderId"],
        "order-new"
    );
    assert!(
        waited >= Duration::from_millis(300),
        "it waited ({waited:?})"
    );
    assert!(
        released_after_apply < Duration::from_secs(5),
        "released by the projection's message, not a timer ({released_after_apply:?})"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("query_read_your_writes_waits_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("query_read_your_writes_timeouts_total 0"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_form_waits_too() {
    let app = spawn_app().await;
    let mut model = Model::new();
    let placed = model.place("order-h", "cust-1", "5", 1);
    let position = placed.global_position;
    let request = {
        let (http, url) = (app.http.clone(), app.url.clone());
        tokio::spawn(async move {
            http.get(format!("{url}/orders/customer/cust-1"))
                .header("x-min-global-position", position.to_string())
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.project(&[placed]).await;

    let response = request.await.unwrap();

    assert_eq!(response.status(), 200);
    let list: Vec<Value> = response.json().await.unwrap();
    assert_eq!(list.len(), 1, "the list reflects the position asked for");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_runs_out_answers_503_with_retry_after_within_the_bound() {
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 3, 4)).await;
    let ahead = model.last_position() + 1;

    let started = Instant::now();
    let response = app
        .get(&format!(
            "/analytics/orders?minGlobalPosition={ahead}&waitMs=400"
        ))
        .await;
    let elapsed = started.elapsed();

    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(2400),
        "answered within the bound ({elapsed:?})"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Unavailable");
    assert_eq!(body["details"]["minGlobalPosition"], ahead);
    assert_eq!(body["details"]["checkpoint"], ahead - 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("query_read_your_writes_timeouts_total 1"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_ms_is_capped_by_configuration() {
    let mut config = test_config(&redis_url());
    config.wait.max = Duration::from_millis(200);
    let app = spawn_app_with(config).await;

    let started = Instant::now();
    let response = app.get("/orders/x?minGlobalPosition=99&waitMs=60000").await;

    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(2200),
        "{:?}",
        started.elapsed()
    );
    app.stop().await;
}
