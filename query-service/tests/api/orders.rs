//! `GET /orders/{id}` and `GET /analytics/orders`.

use reqwest::header::{ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};
use shared_domain::money::Money;

use crate::helpers::spawn_app;
use crate::model::Model;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_answered_as_the_walkthrough_summary() {
    let app = spawn_app().await;
    let mut model = Model::new();
    let events = vec![
        model.place("order-1", "cust-1", "19.99", 3),
        model.ship("order-1"),
    ];
    app.project(&events).await;

    let response = app.get("/orders/order-1").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-global-position"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "orderId": "order-1", "customerId": "cust-1", "totalAmount": 59.97, "itemCount": 1,
            "status": "shipped", "trackingNumber": "TRK-order-1", "carrier": "UPS",
            "placedAt": "2024-05-01T12:00:00.250Z", "shippedAt": "2024-05-02T08:30:00Z",
            "_revision": 2
        })
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_order_is_404_order_not_found() {
    let app = spawn_app().await;

    let response = app.get("/orders/no-such-order").await;

    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Order not found");
    assert_eq!(body["details"]["orderId"], "no-such-order");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_follows_the_revision_and_if_none_match_gives_304() {
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&[model.place("order-1", "cust-1", "5", 1)])
        .await;

    let first = app.get("/orders/order-1").await;
    let etag = first.headers()[ETAG].to_str().unwrap().to_owned();
    let not_modified = app
        .http
        .get(format!("{}/orders/order-1", app.url))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(not_modified.headers()[ETAG].to_str().unwrap(), etag);
    assert!(not_modified.bytes().await.unwrap().is_empty());

    app.project(&[model.cancel("order-1")]).await;
    // Read-your-writes is asked for by position: a plain read may be answered from the process
    // cache until Redis's invalidation arrives (well under a millisecond, but not zero).
    let changed = app
        .http
        .get(format!(
            "{}/orders/order-1?minGlobalPosition={}",
            app.url,
            model.last_position()
        ))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()[ETAG].to_str().unwrap(), etag);
    assert_eq!(
        changed.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_follow_the_generation_pointer() {
    // A rebuild fills a new generation with the real projector, then flips the pointer.
    let app = spawn_app().await;
    let mut model = Model::new();
    let placed = model.place("order-1", "cust-1", "5", 1);
    app.project(std::slice::from_ref(&placed)).await;
    let before = app.get("/orders/order-1").await;
    let etag_g0 = before.headers()[ETAG].to_str().unwrap().to_owned();
    let shipped = model.ship("order-1");
    app.projector
        .apply_to_generation("g1", &[placed, shipped])
        .await
        .unwrap();

    let mut redis = app.projector.redis().clone();
    redis::cmd("SET")
        .arg(app.keys.generation_pointer())
        .arg("g1")
        .exec_async(&mut redis)
        .await
        .unwrap();
    // A switch has no position to ask for: the cache drops everything when Redis pushes the
    // pointer's change, so the read turns within moments.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let after = loop {
        let after = app.get("/orders/order-1").await;
        if after.headers()[ETAG] != etag_g0.as_str() || std::time::Instant::now() > deadline {
            break after;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };

    assert_eq!(after.status(), 200);
    assert_ne!(
        after.headers()[ETAG].to_str().unwrap(),
        etag_g0,
        "the ETag names the generation"
    );
    assert_eq!(after.json::<Value>().await.unwrap()["status"], "shipped");
    let (list, _) = app.page("/orders?status=shipped").await;
    assert_eq!(list.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_count_and_sum_1000_orders_by_status() {
    let app = spawn_app().await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 1000, 21)).await;

    let response = app.get("/analytics/orders").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let total: Money = model.orders.values().map(|o| o.total).sum();
    assert_eq!(body["totalOrders"], 1000);
    assert_eq!(body["totalRevenue"], serde_json::to_value(total).unwrap());
    for status in ["pending", "shipped", "delivered", "cancelled"] {
        let orders: Vec<_> = model
            .orders
            .values()
            .filter(|o| o.status == status)
            .collect();
        let revenue: Money = orders.iter().map(|o| o.total).sum();
        assert_eq!(body["byStatus"][status]["count"], orders.len(), "{status}");
        assert_eq!(
            body["byStatus"][status]["revenue"],
            serde_json::to_value(revenue).unwrap(),
            "{status}"
        );
    }
    app.stop().await;
}
