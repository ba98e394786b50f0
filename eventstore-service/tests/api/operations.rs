//! Health, readiness, metrics and the OpenAPI document.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{events_body, spawn_app, spawn_on_database};

#[tokio::test]
async fn liveness_and_readiness_answer_ok_with_postgres_up() {
    let app = spawn_app().await;

    let live = app.get("/health/live").await;
    let ready = app.get("/health/ready").await;

    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["postgres"], "ok");
}

#[tokio::test]
async fn readiness_is_503_when_postgres_cannot_be_reached() {
    let app = spawn_app().await;
    let unreachable = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        shared_domain::testing::free_port()
    );
    let broken = spawn_on_database(&unreachable, |config| {
        config.migrate_on_start = false;
        config.db_timeout = std::time::Duration::from_millis(500);
    })
    .await;

    let ready = broken.get("/health/ready").await;
    let append = broken
        .http
        .post(broken.stream_url("test-store", "s"))
        .json(&events_body(1, json!("any")))
        .send()
        .await
        .unwrap();

    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(append.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(append.headers().contains_key("retry-after"));
    let body: Value = append.json().await.unwrap();
    assert_eq!(body["error"], "Unavailable");
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    drop(app);
}

#[tokio::test]
async fn metrics_count_appends_and_batches() {
    let app = spawn_app().await;
    app.append_ok("s", &events_body(3, json!("any"))).await;

    let text = app.get("/metrics").await.text().await.unwrap();

    assert!(
        text.contains("eventstore_events_appended_total 3"),
        "{text}"
    );
    assert!(text.contains("eventstore_append_batches_total 1"), "{text}");
    assert!(text.contains("http_requests_total"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = spawn_app().await;

    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();

    for path in [
        "/api/event-stores",
        "/api/event-stores/{store}",
        "/api/event-stores/{store}/streams/{streamId}",
        "/api/event-stores/{store}/events",
        "/health/ready",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_echoes_the_callers() {
    let app = spawn_app().await;

    let response = app
        .http
        .get(app.url("/api/event-stores"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();

    assert_eq!(response.headers()["x-request-id"], "req-123");
    assert!(response.headers().contains_key("traceparent"));
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;

    for path in [
        "/api/nothing-here",
        "/nothing-here",
        "/api/event-stores/test-store/unknown",
    ] {
        let response = app.get(path).await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "NotFound", "{path}");
    }
}
