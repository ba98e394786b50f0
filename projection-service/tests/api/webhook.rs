//! The webhook over real HTTP with the exact delivery body: answers, authentication, signature,
//! malformed input, and identical read models under duplicate/overlapping/concurrent delivery.

use serde_json::{Value, json};
use standardwebhooks::Webhook;

use crate::app::{Options, SECRET, TOKEN, delivery_body, spawn_app, spawn_app_with};
use crate::events::{histories, placed, read_event, shipped};
use crate::helpers::TestRedis;

#[tokio::test]
async fn a_delivery_is_applied_and_answered_like_the_walkthrough() {
    let app = spawn_app().await;
    let events = histories(10, 11, 1);

    let response = app.deliver(&events).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["processed"], json!(events.len()));
    assert_eq!(body["applied"], json!(events.len()));
    assert_eq!(body["checkpoint"], json!(events.len()));
    assert!(!app.redis.dump().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_walkthrough_body_with_only_events_is_accepted() {
    let app = spawn_app().await;
    let (t, d) = placed("order-1", "c", "10", 2);
    let body = json!({"events": [read_event("order-1", 1, 1, &t, d)]});

    let response = app.post_events_raw(body.to_string()).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["processed"], json!(1));
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401_and_writes_nothing() {
    let app = spawn_app().await;
    let body = delivery_body(&histories(3, 12, 1), 1).to_string();

    let wrong = app
        .client
        .post(app.url("/api/projections/orders/events"))
        .bearer_auth("not-the-token")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let missing = app
        .client
        .post(app.url("/api/projections/orders/events"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();

    for response in [wrong, missing] {
        assert_eq!(response.status(), 401);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], json!("Unauthorized"));
        assert!(!error.to_string().contains("not-the-token"));
    }
    assert!(app.redis.dump().await.is_empty());
    app.stop().await;
}

fn sign(body: &str, timestamp: i64) -> (String, String) {
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let signature = Webhook::new(SECRET)
        .unwrap()
        .sign(&id, timestamp, body.as_bytes())
        .unwrap();
    (id, signature)
}

async fn post_signed(
    app: &crate::app::TestApp,
    body: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/projections/orders/events"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_delivery_is_accepted() {
    let app = spawn_app_with(Options {
        secret: true,
        ..Options::default()
    })
    .await;
    let body = delivery_body(&histories(3, 13, 1), 1).to_string();
    let now = chrono::Utc::now().timestamp();
    let (id, signature) = sign(&body, now);

    let response = post_signed(&app, &body, &id, now, &signature).await;

    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_signature_a_stale_timestamp_or_no_signature_is_401_and_writes_nothing() {
    let app = spawn_app_with(Options {
        secret: true,
        ..Options::default()
    })
    .await;
    let body = delivery_body(&histories(3, 14, 1), 1).to_string();
    let now = chrono::Utc::now().timestamp();
    let (id, good) = sign(&body, now);
    let (_, over_other_body) = sign("{\"events\":[]}", now);
    let stale = now - 6 * 60;
    let (stale_id, stale_signature) = sign(&body, stale);

    let tampered = post_signed(&app, &body, &id, now, &over_other_body).await;
    let old = post_signed(&app, &body, &stale_id, stale, &stale_signature).await;
    let replayed_later = post_signed(&app, &body, &id, now + 1, &good).await;
    let unsigned = app.post_events_raw(body.clone()).await;

    for response in [tampered, old, replayed_later, unsigned] {
        assert_eq!(response.status(), 401);
    }
    assert!(app.redis.dump().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_400_and_writes_nothing() {
    let app = spawn_app().await;

    let response = app.post_events_raw("{\"events\": [".to_owned()).await;

    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], json!("ValidationError"));
    assert!(app.redis.dump().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_event_of_the_wrong_shape_is_400_naming_the_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let mut events = histories(5, 15, 1);
    let last = events.len() - 1;
    events[last].data["orderId"] = json!(["not", "a", "string"]);

    let response = app.deliver(&events).await;

    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["details"]["field"],
        json!(format!("events[{last}].data.orderId"))
    );
    assert!(app.redis.dump().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_body_missing_events_is_400_naming_the_field() {
    let app = spawn_app().await;

    let response = app
        .post_events_raw(json!({"subscriptionId": "x"}).to_string())
        .await;

    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["details"]["field"], json!("events"));
    app.stop().await;
}

#[tokio::test]
async fn wrong_content_type_is_415_and_an_oversized_body_is_413() {
    let app = spawn_app().await;
    let text = app
        .client
        .post(app.url("/api/projections/orders/events"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let huge = app.post_events_raw(" ".repeat(2 * 1024 * 1024)).await;

    assert_eq!(text.status(), 415);
    assert_eq!(huge.status(), 413);
    app.stop().await;
}

#[tokio::test]
async fn an_event_whose_order_was_never_placed_is_a_5xx_so_the_store_retries() {
    let app = spawn_app().await;
    let (t, d) = shipped("order-x");

    let response = app.deliver(&[read_event("order-x", 2, 9, &t, d)]).await;

    assert_eq!(response.status(), 500);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], json!("MissingPredecessor"));
    assert_eq!(error["details"]["orderId"], json!("order-x"));
    assert_eq!(app.status().await["checkpoint"], json!(0));
    app.stop().await;
}

/// Read models of `events` delivered once, in batches of 100, through the library.
async fn reference(events: &[shared_domain::event::ReadEvent]) -> TestRedis {
    let redis = TestRedis::new().await;
    for batch in events.chunks(100) {
        redis.projector().apply(batch).await.unwrap();
    }
    redis
}

#[tokio::test]
async fn once_twice_overlapping_and_concurrent_http_deliveries_give_identical_read_models() {
    let events = histories(120, 16, 1);
    let expected = reference(&events).await;
    let (once, twice, overlapping, concurrent) =
        tokio::join!(spawn_app(), spawn_app(), spawn_app(), spawn_app());

    for batch in events.chunks(50) {
        assert_eq!(once.deliver(batch).await.status(), 200);
    }
    for batch in events.chunks(50) {
        assert_eq!(twice.deliver(batch).await.status(), 200);
        assert_eq!(twice.deliver(batch).await.status(), 200);
    }
    let mut start = 0;
    while start < events.len() {
        let window = &events[start..(start + 70).min(events.len())];
        assert_eq!(overlapping.deliver(window).await.status(), 200);
        start += 45;
    }
    // Two clients (two replicas of the deliverer) send every batch at the same time.
    for batch in events.chunks(30) {
        let (a, b) = tokio::join!(concurrent.deliver(batch), concurrent.deliver(batch));
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    }

    let expected_dump = expected.dump().await;
    for app in [&once, &twice, &overlapping, &concurrent] {
        assert_eq!(app.redis.dump().await, expected_dump);
    }
    expected.cleanup().await;
    for app in [once, twice, overlapping, concurrent] {
        app.stop().await;
    }
}

#[tokio::test]
async fn status_health_metrics_and_openapi_answer() {
    let app = spawn_app().await;
    app.deliver(&histories(4, 17, 1)).await;
    app.deliver(&histories(4, 17, 1)).await;

    let status = app.status().await;
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let openapi: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(status["generation"], json!("g0"));
    assert!(status["checkpoint"].as_u64().unwrap() > 0);
    assert_eq!(ready.status(), 200);
    assert!(metrics.contains("projection_events_applied_total"));
    assert!(metrics.contains("projection_events_duplicate_total"));
    assert!(metrics.contains("projection_batch_duration_seconds"));
    assert!(openapi["paths"]["/api/projections/orders/events"].is_object());
    app.stop().await;
}
