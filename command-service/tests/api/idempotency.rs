//! `Idempotency-Key`: a retry answers the first answer again and writes nothing.

use serde_json::json;

use crate::helpers::{place_body, ship_body, spawn_app, status_and_json};

#[tokio::test]
async fn retried_place_with_one_key_makes_one_order() {
    let app = spawn_app().await;
    let key = [("Idempotency-Key", "3f1c9a52-place-1")];

    let first = app.post_with("/orders", &place_body(), &key).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (first_status, first_body) = status_and_json(first).await;
    let again = app.post_with("/orders", &place_body(), &key).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let (again_status, again_body) = status_and_json(again).await;

    assert_eq!(
        (first_status, again_status),
        (201, 201),
        "{first_body} {again_body}"
    );
    assert_eq!(first_body, again_body);
    let order_id = first_body["orderId"].as_str().unwrap();
    assert_eq!(app.events(order_id).await.len(), 1);
    assert_eq!(app.event_count().await, 1, "one order, not two");
}

#[tokio::test]
async fn concurrent_places_with_one_key_make_one_order() {
    let app = spawn_app().await;
    let key = [("Idempotency-Key", "3f1c9a52-place-concurrent")];

    let answers = futures_util::future::join_all((0..10).map(|_| async {
        status_and_json(app.post_with("/orders", &place_body(), &key).await).await
    }))
    .await;

    for (status, body) in &answers {
        assert_eq!(*status, 201, "{body}");
        assert_eq!(body, &answers[0].1);
    }
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn key_reused_with_another_body_is_422_and_writes_nothing() {
    let app = spawn_app().await;
    let key = [("Idempotency-Key", "3f1c9a52-reused")];
    app.post_with("/orders", &place_body(), &key).await;
    let mut other = place_body();
    other["customerId"] = json!("cust-2");

    let (status, body) = status_and_json(app.post_with("/orders", &other, &key).await).await;

    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "IdempotencyKeyReused");
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn the_same_request_spelled_differently_is_a_retry() {
    let app = spawn_app().await;
    let key = [("Idempotency-Key", "3f1c9a52-spelling")];
    app.post_with("/orders", &place_body(), &key).await;
    // Same fields in another order, a price written as 10.0: the same request.
    let respelled = json!({
        "items": [
            {"price": 10.0, "quantity": 2, "productId": "sku-1"},
            {"productId": "sku-2", "quantity": 1, "price": 5.50}
        ],
        "customerId": "cust-1"
    });

    let (status, _) = status_and_json(app.post_with("/orders", &respelled, &key).await).await;

    assert_eq!(status, 201);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn a_retried_ship_answers_as_it_did_even_after_the_order_moved_on() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;
    let ship = format!("/orders/{order_id}/ship");
    let key = [("Idempotency-Key", "ship-once")];
    let (_, first) = status_and_json(app.post_with(&ship, &ship_body(), &key).await).await;
    app.post(&format!("/orders/{order_id}/deliver"), &json!({}))
        .await;

    let (status, again) = status_and_json(app.post_with(&ship, &ship_body(), &key).await).await;

    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);
    assert_eq!(again["status"], "shipped");
    assert_eq!(again["streamVersion"], 2);
    assert_eq!(app.events(&order_id).await.len(), 3);
}

#[tokio::test]
async fn the_key_and_request_hash_are_stamped_on_the_event() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;

    app.post_with(
        &format!("/orders/{order_id}/ship"),
        &ship_body(),
        &[("Idempotency-Key", "stamp-1")],
    )
    .await;

    let events = app.events(&order_id).await;
    let metadata = events[1].metadata.as_ref().unwrap();
    assert_eq!(metadata["idempotencyKey"], "stamp-1");
    assert!(
        metadata["requestHash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[tokio::test]
async fn keys_are_scoped_to_the_order() {
    let app = spawn_app().await;
    let (a, b) = (app.place_order().await, app.place_order().await);
    let key = [("Idempotency-Key", "same-key")];

    let (status_a, _) = status_and_json(
        app.post_with(&format!("/orders/{a}/ship"), &ship_body(), &key)
            .await,
    )
    .await;
    let (status_b, _) = status_and_json(
        app.post_with(&format!("/orders/{b}/ship"), &ship_body(), &key)
            .await,
    )
    .await;

    assert_eq!((status_a, status_b), (200, 200));
    assert_eq!(app.events(&b).await.len(), 2);
}

#[tokio::test]
async fn a_refused_command_is_not_remembered() {
    let app = spawn_app().await;
    let order_id = "order-later-1";
    let ship = format!("/orders/{order_id}/ship");
    let key = [("Idempotency-Key", "ship-later")];
    let (status, _) = status_and_json(app.post_with(&ship, &ship_body(), &key).await).await;
    assert_eq!(status, 404);
    let mut place = place_body();
    place["orderId"] = json!(order_id);
    app.post("/orders", &place).await;

    let (status, body) = status_and_json(app.post_with(&ship, &ship_body(), &key).await).await;

    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn malformed_keys_are_400() {
    let app = spawn_app().await;
    let long = "k".repeat(256);
    for key in ["", "   ", long.as_str()] {
        let (status, body) = status_and_json(
            app.post_with("/orders", &place_body(), &[("Idempotency-Key", key)])
                .await,
        )
        .await;
        assert_eq!(status, 400, "{key:?}: {body}");
        assert_eq!(body["details"]["field"], "Idempotency-Key");
    }
    assert_eq!(app.event_count().await, 0);
}
