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

#[tokio::test]
async fn the_healthcheck_subcommand_exits_0_when_live_and_1_when_not() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().expect("a port").to_owned();
    let binary = env!("CARGO_BIN_EXE_command-service");

    let live = tokio::process::Command::new(binary)
        .arg("healthcheck")
        .env("PORT", &port)
        .status()
        .await
        .expect("runs");
    let dead = tokio::process::Command::new(binary)
        .arg("healthcheck")
        .env("PORT", shared_domain::testing::free_port().to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("runs");

    assert_eq!(live.code(), Some(0));
    assert_eq!(dead.code(), Some(1));
}

#[tokio::test]
async fn help_lists_the_environment_variables() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_command-service"))
        .arg("--help")
        .output()
        .await
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for name in [
        "EVENTSTORE_URL",
        "EVENTSTORE_API_KEY",
        "EVENTSTORE_NAME",
        "EVENTSTORE_TIMEOUT_MS",
        "COMMAND_CONFLICT_ATTEMPTS",
        "PORT",
        "healthcheck",
    ] {
        assert!(help.contains(name), "{name} missing from:\n{help}");
    }
}

#[tokio::test]
async fn a_bad_setting_stops_the_binary_with_exit_code_2() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_command-service"))
        .env("EVENTSTORE_TIMEOUT_MS", "soon")
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("EVENTSTORE_TIMEOUT_MS"));
}
