//! The walkthrough's flows, with the answers and the stored events exactly as it shapes them.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{place_body, ship_body, spawn_app, status_and_json};

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn is_rfc3339_millis_utc(value: &Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with('Z')
}

#[tokio::test]
async fn place_ship_deliver_answers_and_stores_the_walkthrough_events() {
    let app = spawn_app().await;

    // Place.
    let response = app.post("/orders", &place_body()).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let position_header = response.headers()["x-global-position"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, placed) = status_and_json(response).await;
    assert_eq!(status, 201, "{placed}");
    let order_id = placed["orderId"].as_str().unwrap().to_owned();
    assert!(order_id.starts_with("order-"), "{order_id}");
    assert_eq!(location, format!("/orders/{order_id}"));
    assert_eq!(
        keys(&placed),
        BTreeSet::from([
            "orderId",
            "totalAmount",
            "status",
            "streamVersion",
            "globalPosition"
        ])
    );
    assert_eq!(placed["totalAmount"], json!(25.5));
    assert_eq!(placed["status"], "pending");
    assert_eq!(placed["streamVersion"], 1);
    assert_eq!(placed["globalPosition"].to_string(), position_header);

    // Ship.
    let response = app
        .post(&format!("/orders/{order_id}/ship"), &ship_body())
        .await;
    assert!(response.headers().contains_key("x-global-position"));
    let (status, shipped) = status_and_json(response).await;
    assert_eq!(status, 200, "{shipped}");
    assert_eq!(
        shipped,
        json!({
            "orderId": order_id, "status": "shipped", "trackingNumber": "TRK123",
            "streamVersion": 2, "globalPosition": shipped["globalPosition"].clone()
        })
    );
    assert!(shipped["globalPosition"].as_u64() > placed["globalPosition"].as_u64());

    // Deliver.
    let response = app
        .post(
            &format!("/orders/{order_id}/deliver"),
            &json!({"signedBy": "Ada"}),
        )
        .await;
    let (status, delivered) = status_and_json(response).await;
    assert_eq!(status, 200, "{delivered}");
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["trackingNumber"], "TRK123");
    assert_eq!(delivered["streamVersion"], 3);

    // The stream: exactly the walkthrough's three events.
    let events = app.events(&order_id).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["order.placed", "order.shipped", "order.delivered"]);
    let positions: Vec<u64> = events.iter().map(|e| e.stream_position).collect();
    assert_eq!(positions, [1, 2, 3]);

    let data = &events[0].data;
    assert_eq!(
        keys(data),
        BTreeSet::from(["orderId", "customerId", "items", "totalAmount", "placedAt"])
    );
    assert_eq!(data["orderId"], order_id.as_str());
    assert_eq!(data["customerId"], "cust-1");
    assert_eq!(data["items"], place_body()["items"]);
    assert_eq!(data["totalAmount"], json!(25.5));
    assert!(is_rfc3339_millis_utc(&data["placedAt"]), "{data}");

    let data = &events[1].data;
    assert_eq!(
        keys(data),
        BTreeSet::from(["orderId", "trackingNumber", "carrier", "shippedAt"])
    );
    assert_eq!(data["trackingNumber"], "TRK123");
    assert_eq!(data["carrier"], "UPS");

    let data = &events[2].data;
    assert_eq!(
        keys(data),
        BTreeSet::from(["orderId", "deliveredAt", "signedBy"])
    );
    assert_eq!(data["signedBy"], "Ada");
}

#[tokio::test]
async fn place_then_cancel_stores_placed_and_cancelled() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;

    let response = app
        .post(
            &format!("/orders/{order_id}/cancel"),
            &json!({"reason": "changed my mind"}),
        )
        .await;
    let (status, cancelled) = status_and_json(response).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["streamVersion"], 2);
    assert!(cancelled.get("trackingNumber").is_none(), "{cancelled}");

    let events = app.events(&order_id).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["order.placed", "order.cancelled"]);
    assert_eq!(
        keys(&events[1].data),
        BTreeSet::from(["orderId", "reason", "cancelledAt"])
    );
    assert_eq!(events[1].data["reason"], "changed my mind");
}

#[tokio::test]
async fn deliver_accepts_an_empty_body() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;
    app.post(&format!("/orders/{order_id}/ship"), &ship_body())
        .await;

    let response = app
        .http
        .post(format!("{}/orders/{order_id}/deliver", app.address))
        .send()
        .await
        .unwrap();

    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    let events = app.events(&order_id).await;
    assert!(events[2].data.get("signedBy").is_none());
}

#[tokio::test]
async fn a_supplied_order_id_names_the_stream() {
    let app = spawn_app().await;
    let mut body = place_body();
    body["orderId"] = json!("order-from-client-1");

    let (status, placed) = status_and_json(app.post("/orders", &body).await).await;

    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["orderId"], "order-from-client-1");
    assert_eq!(app.events("order-from-client-1").await.len(), 1);
}

#[tokio::test]
async fn events_carry_trace_context_request_id_and_command_type() {
    let app = spawn_app().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let response = app
        .post_with(
            "/orders",
            &place_body(),
            &[("traceparent", traceparent), ("x-request-id", "req-abc-1")],
        )
        .await;

    let (status, placed) = status_and_json(response).await;
    assert_eq!(status, 201);
    let events = app.events(placed["orderId"].as_str().unwrap()).await;
    let metadata = events[0].metadata.as_ref().expect("metadata");
    assert_eq!(metadata["requestId"], "req-abc-1");
    assert_eq!(metadata["commandType"], "order.place");
    let stamped = metadata["traceparent"].as_str().unwrap();
    assert!(
        stamped.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "same trace id: {stamped}"
    );
    assert!(metadata.get("idempotencyKey").is_none());
}

#[tokio::test]
async fn refusals_keep_the_walkthrough_messages_and_status() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;
    let path = |action: &str| format!("/orders/{order_id}/{action}");

    // Deliver a pending order.
    let (status, body) = status_and_json(app.post(&path("deliver"), &json!({})).await).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "IllegalStateError");
    assert_eq!(body["message"], "Cannot deliver order in status: pending");
    assert_eq!(body["details"]["currentStatus"], "pending");

    // Ship twice.
    app.post(&path("ship"), &ship_body()).await;
    let (status, body) = status_and_json(app.post(&path("ship"), &ship_body()).await).await;
    assert_eq!(status, 409);
    assert_eq!(body["message"], "Cannot ship order in status: shipped");
    assert_eq!(body["details"]["currentStatus"], "shipped");

    // Cancel a delivered order.
    app.post(&path("deliver"), &json!({})).await;
    let cancel = json!({"reason": "late"});
    let (status, body) = status_and_json(app.post(&path("cancel"), &cancel).await).await;
    assert_eq!(status, 409);
    assert_eq!(body["message"], "Cannot cancel a delivered order");
    assert_eq!(body["details"]["currentStatus"], "delivered");

    // Place an order that exists.
    let mut again = place_body();
    again["orderId"] = json!(order_id);
    let (status, body) = status_and_json(app.post("/orders", &again).await).await;
    assert_eq!(status, 409);
    assert_eq!(body["message"], format!("Order {order_id} already exists"));

    assert_eq!(
        app.events(&order_id).await.len(),
        3,
        "refusals wrote nothing"
    );
}

#[tokio::test]
async fn cancelling_twice_is_refused() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;
    let cancel = json!({"reason": "late"});
    app.post(&format!("/orders/{order_id}/cancel"), &cancel)
        .await;

    let (status, body) = status_and_json(
        app.post(&format!("/orders/{order_id}/cancel"), &cancel)
            .await,
    )
    .await;

    assert_eq!(status, 409);
    assert_eq!(body["message"], "Order is already cancelled");
    assert_eq!(body["details"]["currentStatus"], "cancelled");
}

#[tokio::test]
async fn commands_on_a_missing_order_are_404() {
    let app = spawn_app().await;
    for (action, body) in [
        ("ship", ship_body()),
        ("deliver", json!({})),
        ("cancel", json!({"reason": "x"})),
    ] {
        let response = app
            .post(&format!("/orders/order-missing/{action}"), &body)
            .await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 404, "{action}: {body}");
        assert_eq!(body["error"], "NotFound");
        assert_eq!(body["message"], "Order order-missing does not exist");
    }
    assert_eq!(app.event_count().await, 0);
}
