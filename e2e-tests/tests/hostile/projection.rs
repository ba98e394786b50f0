//! The projection's webhook and admin route under hostile input.

use e2e_tests::stack::{ADMIN_TOKEN, PROJECTION_TOKEN, Stack};
use reqwest::Method;
use serde_json::json;

use crate::{INVALID_UTF8, assert_alive, assert_client_error, nested_json, oversized_json, send};

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// A delivery of one `order.placed` with the positions written as given (raw JSON numbers).
fn placed(global_position: &str, stream_position: &str) -> Vec<u8> {
    let event = json!({
        "streamId": "hostile-p", "eventId": "0190f3c4-8c1e-7d2a-9b4e-3f1a2b3c4d5e",
        "type": "order.placed",
        "data": {"orderId": "hostile-p", "customerId": "c", "items": [], "totalAmount": 1,
                 "placedAt": "2026-01-01T00:00:00Z"},
        "metadata": {}, "schemaVersion": 1, "transactionId": "1",
        "createdAt": "2026-01-01T00:00:00Z",
    })
    .to_string();
    let event = event.trim_end_matches('}');
    format!(
        r#"{{"events": [{event}, "globalPosition": {global_position}, "streamPosition": {stream_position}}}]}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn deliveries_without_the_token_are_401_and_change_nothing() {
    let stack = Stack::start().await;
    let url = format!("{}/api/projections/orders/events", stack.projection);
    let token_as_basic = format!("Basic {PROJECTION_TOKEN}");
    let token_with_suffix = format!("Bearer {PROJECTION_TOKEN}x");
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let cases = [
        ("no token", None),
        ("a wrong token", Some("Bearer wrong-token")),
        ("the token as Basic", Some(token_as_basic.as_str())),
        ("the token plus a byte", Some(token_with_suffix.as_str())),
        ("the admin token", Some(admin.as_str())),
    ];
    for (what, authorization) in cases {
        let mut headers = vec![JSON];
        if let Some(value) = authorization {
            headers.push(("Authorization", value));
        }
        let answer = send(&stack, Method::POST, &url, &headers, Some(placed("1", "1"))).await;
        assert_eq!(answer.0, 401, "{what}: {}", answer.1);
        assert!(!answer.1.contains(PROJECTION_TOKEN), "{}", answer.1);
    }
    let (status, order) = stack.query("/orders/hostile-p").await;
    assert_eq!(
        status, 404,
        "an unauthenticated delivery was applied: {order}"
    );
}

#[tokio::test]
async fn malformed_deliveries_are_refused_before_anything_is_written() {
    let stack = Stack::start().await;
    let url = format!("{}/api/projections/orders/events", stack.projection);
    let bearer = format!("Bearer {PROJECTION_TOKEN}");
    let mut nested = br#"{"events": "#.to_vec();
    nested.extend(nested_json(100_000));
    nested.push(b'}');
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a body over 1 MiB", oversized_json(), 413),
        ("100,000 nested arrays", nested, 400),
        ("invalid UTF-8", INVALID_UTF8.to_vec(), 400),
        (
            "globalPosition 2^64",
            placed("18446744073709551616", "1"),
            400,
        ),
        ("globalPosition -1", placed("-1", "1"), 400),
        ("globalPosition 0", placed("0", "1"), 400),
        ("streamPosition 0", placed("1", "0"), 400),
        ("streamPosition 1e30", placed("1", "1e30"), 400),
    ];
    for (what, body, expected) in cases {
        let answer = send(
            &stack,
            Method::POST,
            &url,
            &[JSON, ("Authorization", &bearer)],
            Some(body),
        )
        .await;
        assert_eq!(answer.0, expected, "{what}: {}", answer.1);
        assert_client_error(what, &answer);
    }
    let (status, order) = stack.query("/orders/hostile-p").await;
    assert_eq!(status, 404, "a refused delivery was applied: {order}");
    assert_alive(&stack, &stack.projection).await;
}

#[tokio::test]
async fn rebuild_needs_the_admin_token_not_the_webhook_token() {
    let stack = Stack::start().await;
    let url = format!("{}/api/projections/orders/rebuild", stack.projection);
    let webhook = format!("Bearer {PROJECTION_TOKEN}");
    for (what, headers) in [
        ("no token", vec![]),
        (
            "the webhook token",
            vec![("Authorization", webhook.as_str())],
        ),
        ("a wrong token", vec![("Authorization", "Bearer nope")]),
    ] {
        let answer = send(&stack, Method::POST, &url, &headers, None).await;
        assert_eq!(answer.0, 401, "{what}: {}", answer.1);
    }
}
