//! `GET /orders` and `GET /orders/customer/{id}` over 1,000 orders in mixed states.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{order_id, spawn_app};
use crate::model::Model;

const STATUSES: [&str; 4] = ["pending", "shipped", "delivered", "cancelled"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_of_1000_orders_are_complete_newest_first_and_filtered() {
    // Arrange
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 1000, 7)).await;

    // Act / Assert: everything, in one page of the maximum size
    let (all, next) = app.page("/orders?limit=1000").await;
    assert_eq!(next, None, "1000 orders fit one page of 1000");
    let ids: Vec<String> = all.iter().map(order_id).collect();
    assert_eq!(ids, model.newest_first(|_| true));
    for summary in &all {
        let expected = &model.orders[&order_id(summary)];
        assert_eq!(summary["status"], expected.status);
        assert_eq!(summary["customerId"], expected.customer_id.as_str());
        assert_eq!(summary["_revision"], expected.revision);
        assert_eq!(
            summary["totalAmount"],
            serde_json::to_value(expected.total).unwrap()
        );
    }

    // each status, walked in pages of 100
    let mut seen = 0;
    for status in STATUSES {
        let ids = app
            .walk(&format!("/orders?status={status}&limit=100"))
            .await;
        let expected = model.newest_first(|o| o.status == status);
        assert!(!expected.is_empty(), "the model has {status} orders");
        assert_eq!(ids, expected, "status={status}");
        seen += ids.len();
    }
    assert_eq!(seen, 1000, "the status lists partition the orders");

    // each customer, in the default page size
    for c in 0..13 {
        let customer = format!("customer-{c}");
        let ids = app.walk(&format!("/orders/customer/{customer}")).await;
        assert_eq!(
            ids,
            model.newest_first(|o| o.customer_id == customer),
            "{customer}"
        );
    }
    let (none, next) = app.page("/orders/customer/nobody").await;
    assert!(none.is_empty() && next.is_none());

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_page_is_50_with_a_link_to_the_next() {
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 120, 3)).await;

    let (first, next) = app.page("/orders").await;
    assert_eq!(first.len(), 50);
    let next = next.expect("a next page");
    assert!(next.starts_with("/orders?cursor="), "{next}");
    let (second, _) = app.page(&next).await;
    assert_eq!(second.len(), 50);
    let expected = model.newest_first(|_| true);
    let ids: Vec<String> = first.iter().chain(&second).map(order_id).collect();
    assert_eq!(ids, expected[..100]);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_visits_every_order_once_while_new_orders_arrive() {
    // Arrange: 1,000 orders; then, between every two pages, 10 new orders and status moves.
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 1000, 11)).await;
    let all_at_start: Vec<String> = model.newest_first(|_| true);
    let pending_at_start: HashSet<String> = model
        .newest_first(|o| o.status == "pending")
        .into_iter()
        .collect();
    let customer_at_start = model.newest_first(|o| o.customer_id == "customer-5");

    // Act: walk all orders, pending orders and one customer's orders side by side.
    let mut walks: Vec<(String, Vec<String>, Option<String>)> = [
        "/orders?limit=37",
        "/orders?status=pending&limit=29",
        "/orders/customer/customer-5?limit=7",
    ]
    .into_iter()
    .map(|p| (p.to_owned(), Vec::new(), Some(p.to_owned())))
    .collect();
    let mut round = 0;
    let mut shipped_meanwhile = HashSet::new();
    while walks.iter().any(|(_, _, next)| next.is_some()) {
        for (_, ids, next) in &mut walks {
            if let Some(path) = next.take() {
                let (page, link) = app.page(&path).await;
                ids.extend(page.iter().map(order_id));
                *next = link;
            }
        }
        // New orders (some for customer-5), and two pending orders shipped.
        let mut events = model.mixed(&format!("late{round}"), 10, 100 + round);
        let to_ship: Vec<String> = model
            .newest_first(|o| o.status == "pending")
            .into_iter()
            .filter(|id| id.starts_with("order-"))
            .take(2)
            .collect();
        for id in to_ship {
            events.push(model.ship(&id));
            shipped_meanwhile.insert(id);
        }
        app.project(&events).await;
        round += 1;
    }

    // Assert: the full walk saw exactly the orders that existed at its start, newest first.
    let [(_, all, _), (_, pending, _), (_, customer, _)] = walks.try_into().unwrap();
    assert_eq!(
        all, all_at_start,
        "every order exactly once, none of the late ones"
    );
    assert_eq!(customer, customer_at_start);
    // The pending walk: no duplicates, only orders pending at the start, and every order that
    // stayed pending throughout.
    let unique: HashSet<&String> = pending.iter().collect();
    assert_eq!(unique.len(), pending.len(), "no order twice");
    assert!(unique.iter().all(|id| pending_at_start.contains(*id)));
    for id in &pending_at_start {
        if !shipped_meanwhile.contains(id) {
            assert!(unique.contains(id), "{id} stayed pending but was skipped");
        }
    }
    assert!(
        round > 10,
        "the walk spanned many rounds of arrivals ({round})"
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_status_lists_everything_as_in_the_walkthrough() {
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 20, 5)).await;

    let (all, _) = app.page("/orders?status=").await;
    let ids: Vec<String> = all.iter().map(order_id).collect();
    assert_eq!(ids, model.newest_first(|_| true));
    assert!(all.iter().all(Value::is_object));

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_entries_keep_quotes_slashes_and_unicode_exactly() {
    // Pages travel from Redis as one JSON string (cjson); nothing may be lost on the way.
    let app = spawn_app().await;
    let mut model = Model::new();
    let customer = "cust \"quoted\" \\ / é ✓ \u{1}";
    app.project(&[model.place("order-1", customer, "0.1", 3)])
        .await;

    let (list, _) = app.page("/orders").await;
    let single: Value = app.get("/orders/order-1").await.json().await.unwrap();

    assert_eq!(list[0]["customerId"], customer);
    assert_eq!(list[0], single, "a list entry equals the single read");
    assert_eq!(list[0]["totalAmount"], serde_json::json!(0.3));
    app.stop().await;
}
