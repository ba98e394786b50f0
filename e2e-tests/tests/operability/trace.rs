//! One `traceparent`, followed from `POST /orders` through every hop: the command service's log,
//! its call to the event store (the store's log), the webhook delivery's headers (continued
//! from the event's metadata) and the projection service's log.

use std::time::Duration;

use serde_json::{Value, json};
use shared_domain::service::TraceContext;
use shared_domain::testing::redis::redis_url;

use crate::in_process::{InProcessStack, Options, Secrets, eventually};
use crate::logs::logs;
use crate::probe::Probe;

/// Log lines of `service` (named by the request span, or by the target of a background task)
/// that carry `trace_id`.
fn lines_of(lines: &[Value], service: &str, trace_id: &str) -> Vec<Value> {
    let module = service.replace('-', "_");
    lines
        .iter()
        .filter(|line| {
            let span = &line["span"];
            let named = span["service"] == service
                || line["target"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&module));
            named && span["trace_id"] == trace_id
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_traceparent_is_followed_from_the_command_to_the_projection() {
    // Arrange: the stack, plus a probe subscribed to every order event to see delivery headers.
    let probe = Probe::start().await;
    let stack = InProcessStack::start(Options {
        secrets: Secrets::fresh(),
        redis_url: redis_url(),
        probe_url: Some(probe.url.clone()),
    })
    .await;
    let caller = TraceContext::new_root();
    let trace_id = caller.trace_id().to_owned();
    let http = reqwest::Client::new();

    // Act: one command, with the caller's trace and request id.
    let response = http
        .post(format!("{}/orders", stack.command))
        .header("traceparent", caller.to_traceparent())
        .header("x-request-id", "trace-e2e-1")
        .json(&json!({"customerId": "c-trace",
                      "items": [{"productId": "p-1", "quantity": 1, "price": 5}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let answered = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    let placed: Value = response.json().await.unwrap();
    let order_id = placed["orderId"].as_str().unwrap().to_owned();
    let position = placed["globalPosition"].as_u64().unwrap();

    // The projection has applied it once the query side sees it.
    let read = http
        .get(format!(
            "{}/orders/{order_id}?minGlobalPosition={position}&waitMs=10000",
            stack.query
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let delivery = eventually(Duration::from_secs(10), "the probe's delivery", || {
        let received = probe.received();
        let order_id = order_id.clone();
        async move {
            received.into_iter().find(|r| {
                r.body["events"]
                    .as_array()
                    .is_some_and(|events| events.iter().any(|e| e["streamId"] == order_id))
            })
        }
    })
    .await;

    // Assert: the answer continues the caller's trace ...
    let answered = TraceContext::from_traceparent(&answered).unwrap();
    assert_eq!(answered.trace_id(), trace_id);

    // ... the webhook delivery carries it (and the request id), continued from the event ...
    let delivered = TraceContext::from_traceparent(&delivery.headers["traceparent"]).unwrap();
    assert_eq!(delivered.trace_id(), trace_id, "{:?}", delivery.headers);
    assert_eq!(delivery.headers["x-request-id"], "trace-e2e-1");

    // ... and every service's log has lines in it, each with the request id.
    // (Waited for as asserted below: a service logs "request completed" after its answer is
    // on its way, so the caller can see the answer before the line is written.)
    let completed = |lines: &[Value], service: &str| {
        lines_of(lines, service, &trace_id)
            .iter()
            .any(|l| l["message"] == "request completed" && l["request_id"] == "trace-e2e-1")
    };
    let lines = eventually(Duration::from_secs(5), "the last hops' log lines", || {
        let lines = logs().lines();
        let found = [
            "command-service",
            "eventstore-service",
            "projection-service",
        ]
        .iter()
        .all(|service| completed(&lines, service))
            && lines_of(&lines, "eventstore-service", &trace_id)
                .iter()
                .any(|l| l["message"] == "webhook answered");
        async move { found.then_some(lines) }
    })
    .await;
    for service in [
        "command-service",
        "eventstore-service",
        "projection-service",
    ] {
        let traced = lines_of(&lines, service, &trace_id);
        assert!(
            traced
                .iter()
                .any(|l| l["message"] == "request completed" && l["request_id"] == "trace-e2e-1"),
            "no request line of {service} in trace {trace_id}: {traced:#?}"
        );
    }
    // The store's request is the command's append to this order's stream.
    let store_lines = lines_of(&lines, "eventstore-service", &trace_id);
    assert!(
        store_lines
            .iter()
            .any(|l| l["message"] == "request completed"
                && l["route"] == "/api/event-stores/{store}/streams/{streamId}"),
        "no append in the trace: {store_lines:#?}"
    );
    // The delivery's own log line (in the event store) is in the trace too.
    assert!(
        store_lines
            .iter()
            .any(|l| l["message"] == "webhook answered"),
        "no delivery line in the trace: {store_lines:#?}"
    );

    stack.stop().await;
    probe.stop().await;
}
