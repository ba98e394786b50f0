//! Health, metrics, OpenAPI and request ids.

use serde_json::Value;

use crate::helpers::{place_body, spawn_app, status_and_json};

#[tokio::test]
async fn live_and_ready_answer_200() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/live").await.status(), 200);
    let (status, body) = status_and_json(app.get("/health/ready").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["eventstore"], "ok");
}

#[tokio::test]
async fn metrics_count_commands_by_type_and_outcome() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;
    app.post(
        &format!("/orders/{order_id}/deliver"),
        &serde_json::json!({}),
    )
    .await;
    app.post(
        "/orders/order-x/cancel",
        &serde_json::json!({"reason": "r"}),
    )
    .await;

    let text = app.get("/metrics").await.text().await.unwrap();

    for line in [
        r#"commands_total{command="order.place",outcome="success"} 1"#,
        r#"commands_total{command="order.deliver",outcome="illegal_state"} 1"#,
        r#"commands_total{command="order.cancel",outcome="not_found"} 1"#,
        r#"command_duration_seconds_count{command="order.place",outcome="success"} 1"#,
        r#"command_attempts_count{command="order.place"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn openapi_documents_the_command_routes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/orders",
        "/orders/{orderId}/ship",
        "/orders/{orderId}/deliver",
        "/orders/{orderId}/cancel",
        "/health/ready",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["schemas"].get("PlaceOrderBody").is_some());
}

#[tokio::test]
async fn answers_carry_the_request_id() {
    let app = spawn_app().await;
    let response = app
        .post_with("/orders", &place_body(), &[("x-request-id", "req-42")])
        .await;
    assert_eq!(response.headers()["x-request-id"], "req-42");
}
