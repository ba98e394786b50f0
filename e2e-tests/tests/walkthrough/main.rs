//! The walkthrough's flow through the whole stack, each test with a stack of its own (real
//! processes, fresh database and Redis namespace): a command becomes an event in the store, the
//! store delivers it by webhook to the projection, and the query service answers from the read
//! model. Reads pass the `globalPosition` a command returned as `minGlobalPosition`, so they
//! see their own writes without sleeping.

mod stack;

use serde_json::{Value, json};
use stack::Stack;

/// How long a read may wait for the projection to reach a position: generous, because the
/// test suite shares two cores with everything else it runs.
const WAIT_MS: u64 = 10_000;

/// Places an order of 2 × 10 + 1 × 5.5 for `customer`; returns (orderId, globalPosition).
async fn place_order(stack: &Stack, customer: &str) -> (String, u64) {
    let (status, body) = stack
        .post_command(
            "/orders",
            json!({
                "customerId": customer,
                "items": [
                    {"productId": "prod-1", "quantity": 2, "price": 10},
                    {"productId": "prod-2", "quantity": 1, "price": 5.5}
                ]
            }),
        )
        .await;
    assert_eq!(status, 201, "POST /orders: {body}");
    assert_eq!(body["status"], "pending", "{body}");
    assert_eq!(body["totalAmount"], json!(25.5), "{body}");
    (order_id(&body), position(&body))
}

fn order_id(body: &Value) -> String {
    body["orderId"]
        .as_str()
        .unwrap_or_else(|| panic!("no orderId in {body}"))
        .to_owned()
}

fn position(body: &Value) -> u64 {
    body["globalPosition"]
        .as_u64()
        .unwrap_or_else(|| panic!("no globalPosition in {body}"))
}

/// `GET /orders/{id}` once the projection has reached `position`.
async fn read_order(stack: &Stack, order: &str, position: u64) -> Value {
    let (status, body) = stack
        .query(&format!(
            "/orders/{order}?minGlobalPosition={position}&waitMs={WAIT_MS}"
        ))
        .await;
    assert_eq!(status, 200, "GET /orders/{order}: {body}");
    body
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {list}"))
        .iter()
        .map(order_id)
        .collect()
}

#[tokio::test]
async fn placed_order_travels_from_command_to_read_model_and_through_shipping() {
    let stack = Stack::start().await;

    // 1-4: the command is decided and its event appended to the order's stream.
    let (order, placed_at) = place_order(&stack, "cust-1").await;
    let (status, stream) = stack
        .get_store(&format!("/api/event-stores/orders/streams/{order}"))
        .await;
    assert_eq!(status, 200, "{stream}");
    let events = stream["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{stream}");
    assert_eq!(events[0]["type"], "order.placed");
    assert_eq!(events[0]["streamPosition"], 1);
    assert_eq!(events[0]["globalPosition"], json!(placed_at));
    assert_eq!(events[0]["data"]["customerId"], "cust-1");

    // 5-7: the webhook delivers it, the projection writes the read model, the query reads it.
    let summary = read_order(&stack, &order, placed_at).await;
    assert_eq!(summary["orderId"], json!(order));
    assert_eq!(summary["customerId"], "cust-1");
    assert_eq!(summary["status"], "pending");
    assert_eq!(summary["itemCount"], 2);
    assert_eq!(summary["totalAmount"], json!(25.5));
    assert_eq!(summary["_revision"], 1);

    // The subscription from config/deltabase.toml is active and has moved its checkpoint.
    let (status, subscription) = stack
        .get_store("/api/event-stores/orders/subscriptions/order-summary-projection")
        .await;
    assert_eq!(status, 200, "{subscription}");
    assert_eq!(subscription["status"], "ACTIVE", "{subscription}");

    // Ship, then deliver: each read back at the position its command returned.
    let (status, shipped) = stack
        .post_command(
            &format!("/orders/{order}/ship"),
            json!({"trackingNumber": "TRK123", "carrier": "UPS"}),
        )
        .await;
    assert_eq!(status, 200, "{shipped}");
    assert_eq!(shipped["status"], "shipped");
    let summary = read_order(&stack, &order, position(&shipped)).await;
    assert_eq!(summary["status"], "shipped");
    assert_eq!(summary["trackingNumber"], "TRK123");
    assert_eq!(summary["carrier"], "UPS");
    assert_eq!(summary["_revision"], 2);

    let (status, delivered) = stack
        .post_command(
            &format!("/orders/{order}/deliver"),
            json!({"signedBy": "J. Doe"}),
        )
        .await;
    assert_eq!(status, 200, "{delivered}");
    let summary = read_order(&stack, &order, position(&delivered)).await;
    assert_eq!(summary["status"], "delivered");
    assert!(summary["deliveredAt"].is_string(), "{summary}");
    assert_eq!(summary["_revision"], 3);

    // The decider's rule holds end to end: a delivered order cannot be cancelled.
    let (status, refused) = stack
        .post_command(
            &format!("/orders/{order}/cancel"),
            json!({"reason": "too late"}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
}

#[tokio::test]
async fn cancelled_order_is_cancelled_in_the_read_model_and_stays_cancelled() {
    let stack = Stack::start().await;
    let (order, _) = place_order(&stack, "cust-2").await;

    let (status, cancelled) = stack
        .post_command(
            &format!("/orders/{order}/cancel"),
            json!({"reason": "Changed my mind"}),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let summary = read_order(&stack, &order, position(&cancelled)).await;
    assert_eq!(summary["status"], "cancelled");
    assert!(summary["cancelledAt"].is_string(), "{summary}");

    let (status, again) = stack
        .post_command(
            &format!("/orders/{order}/cancel"),
            json!({"reason": "twice"}),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    let (status, ship) = stack
        .post_command(
            &format!("/orders/{order}/ship"),
            json!({"trackingNumber": "TRK9", "carrier": "DHL"}),
        )
        .await;
    assert_eq!(status, 409, "{ship}");

    let (status, missing) = stack
        .post_command("/orders/no-such-order/cancel", json!({"reason": "x"}))
        .await;
    assert_eq!(status, 404, "{missing}");
    let (status, _) = stack.query("/orders/no-such-order").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn lists_by_status_and_customer_and_analytics_follow_the_events() {
    let stack = Stack::start().await;
    // alice: one pending, one shipped, one delivered; bob: one cancelled.
    let (pending, _) = place_order(&stack, "alice").await;
    let (shipped, _) = place_order(&stack, "alice").await;
    let (delivered, _) = place_order(&stack, "alice").await;
    let (cancelled, _) = place_order(&stack, "bob").await;
    let ship = json!({"trackingNumber": "TRK1", "carrier": "UPS"});
    for order in [&shipped, &delivered] {
        let (status, body) = stack
            .post_command(&format!("/orders/{order}/ship"), ship.clone())
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = stack
        .post_command(&format!("/orders/{delivered}/deliver"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = stack
        .post_command(
            &format!("/orders/{cancelled}/cancel"),
            json!({"reason": "no"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let last = position(&body);

    // Status filter: each list holds exactly the orders in that status.
    let (status, list) = stack
        .query(&format!(
            "/orders?status=pending&minGlobalPosition={last}&waitMs={WAIT_MS}"
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), vec![pending.clone()]);
    for (state, expected) in [
        ("shipped", &shipped),
        ("delivered", &delivered),
        ("cancelled", &cancelled),
    ] {
        let (status, list) = stack.query(&format!("/orders?status={state}")).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(ids(&list), vec![expected.clone()], "status={state}");
    }
    let (status, all) = stack.query("/orders").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all).len(), 4, "{all}");

    // Customer lists: newest first.
    let (status, alice) = stack.query("/orders/customer/alice").await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(
        ids(&alice),
        vec![delivered.clone(), shipped.clone(), pending.clone()]
    );
    let (_, bob) = stack.query("/orders/customer/bob").await;
    assert_eq!(ids(&bob), vec![cancelled.clone()]);

    // Analytics: orders and revenue per current status, and totals (each order is 25.5).
    let (status, analytics) = stack
        .query(&format!(
            "/analytics/orders?minGlobalPosition={last}&waitMs={WAIT_MS}"
        ))
        .await;
    assert_eq!(status, 200, "{analytics}");
    assert_eq!(analytics["totalOrders"], 4, "{analytics}");
    assert_eq!(analytics["totalRevenue"], json!(102), "{analytics}");
    for state in ["pending", "shipped", "delivered", "cancelled"] {
        assert_eq!(
            analytics["byStatus"][state]["count"], 1,
            "{state}: {analytics}"
        );
        assert_eq!(
            analytics["byStatus"][state]["revenue"],
            json!(25.5),
            "{state}: {analytics}"
        );
    }
}
