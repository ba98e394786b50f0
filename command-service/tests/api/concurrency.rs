//! Concurrent commands on one order: the store's optimistic concurrency decides, and every loser
//! is re-decided against the winner's state.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{ship_body, spawn_app, status_and_json};

#[tokio::test]
async fn twenty_concurrent_ships_one_wins_nineteen_conflict() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;
    let path = format!("/orders/{order_id}/ship");

    let answers = join_all((0..20).map(|i| {
        let body = json!({"trackingNumber": format!("TRK-{i}"), "carrier": "UPS"});
        let path = path.clone();
        let app = &app;
        async move { status_and_json(app.post(&path, &body).await).await }
    }))
    .await;

    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let conflicts: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
    assert_eq!(ok, 1, "{answers:?}");
    assert_eq!(conflicts.len(), 19, "{answers:?}");
    for (_, body) in conflicts {
        assert_eq!(body["error"], "IllegalStateError", "{body}");
        assert_eq!(body["details"]["currentStatus"], "shipped");
    }
    let events = app.events(&order_id).await;
    let shipped = events
        .iter()
        .filter(|e| e.event_type == "order.shipped")
        .count();
    assert_eq!(shipped, 1);
    assert_eq!(events.len(), 2);
}

/// Ship and cancel race on a pending order. Exactly one of them takes stream position 2. If
/// cancel wins, ship is refused (a cancelled order cannot ship). If ship wins, cancel is
/// re-decided against the shipped order, which the walkthrough allows to be cancelled, and
/// lands at position 3: the history is the one a sequential run would give.
#[tokio::test]
async fn concurrent_ship_and_cancel_exactly_one_takes_the_next_position() {
    let app = spawn_app().await;
    for _ in 0..10 {
        let order_id = app.place_order().await;
        let ship_path = format!("/orders/{order_id}/ship");
        let cancel_path = format!("/orders/{order_id}/cancel");
        let cancel_body = json!({"reason": "race"});
        let ship_body = ship_body();
        let ship = app.post(&ship_path, &ship_body);
        let cancel = app.post(&cancel_path, &cancel_body);

        let (ship, cancel) = tokio::join!(ship, cancel);
        let (ship_status, _) = status_and_json(ship).await;
        let (cancel_status, _) = status_and_json(cancel).await;

        let events = app.events(&order_id).await;
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        match types[1] {
            "order.cancelled" => {
                assert_eq!((ship_status, cancel_status), (409, 200));
                assert_eq!(types, ["order.placed", "order.cancelled"]);
            }
            "order.shipped" => {
                assert_eq!((ship_status, cancel_status), (200, 200));
                assert_eq!(types, ["order.placed", "order.shipped", "order.cancelled"]);
            }
            other => panic!("unexpected {other}"),
        }
    }
}

/// With `If-Match` both commands are decided against version 1 and never re-decided: exactly
/// one wins, the other is told the order changed (412).
#[tokio::test]
async fn concurrent_ship_and_cancel_with_if_match_exactly_one_wins() {
    let app = spawn_app().await;
    for _ in 0..10 {
        let order_id = app.place_order().await;
        let if_match = [("If-Match", "\"1\"")];
        let ship_path = format!("/orders/{order_id}/ship");
        let cancel_path = format!("/orders/{order_id}/cancel");
        let cancel_body = json!({"reason": "race"});
        let ship_request = ship_body();
        let ship = app.post_with(&ship_path, &ship_request, &if_match);
        let cancel = app.post_with(&cancel_path, &cancel_body, &if_match);

        let (ship, cancel) = tokio::join!(ship, cancel);
        let (ship_status, ship_body) = status_and_json(ship).await;
        let (cancel_status, cancel_body) = status_and_json(cancel).await;

        let mut statuses = [ship_status, cancel_status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "{ship_body} {cancel_body}");
        assert_eq!(app.events(&order_id).await.len(), 2);
    }
}

#[tokio::test]
async fn if_match_with_a_stale_version_is_412_and_writes_nothing() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;

    let response = app
        .post_with(
            &format!("/orders/{order_id}/ship"),
            &ship_body(),
            &[("If-Match", "\"5\"")],
        )
        .await;

    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["details"]["currentVersion"], 1);
    assert_eq!(app.events(&order_id).await.len(), 1);
}

#[tokio::test]
async fn answers_carry_the_stream_version_as_etag() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;

    let response = app
        .post_with(
            &format!("/orders/{order_id}/ship"),
            &ship_body(),
            &[("If-Match", "\"1\"")],
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
}
