//! Health, metrics and the OpenAPI document.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/live").await.status(), 200);
    app.wait_ready().await;
    let _ = app.get("/orders/o-1").await;

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"query_reads_total{endpoint="order",outcome="not_found"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/orders/{orderId}""#),
        "{metrics}"
    );

    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/orders",
        "/orders/{orderId}",
        "/orders/customer/{customerId}",
        "/analytics/orders",
        "/health/ready",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    app.stop().await;
}
