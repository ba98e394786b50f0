//! The command service under hostile input.

use e2e_tests::stack::Stack;
use reqwest::Method;
use serde_json::json;

use crate::{
    INVALID_UTF8, assert_alive, assert_client_error, nested_json, oversized_json, send, send_raw,
};

const JSON: (&str, &str) = ("Content-Type", "application/json");

#[tokio::test]
async fn malformed_place_order_bodies_are_refused_and_write_nothing() {
    let stack = Stack::start().await;
    let url = format!("{}/orders", stack.command);
    let mut nested = br#"{"customerId": "c", "items": "#.to_vec();
    nested.extend(nested_json(100_000));
    nested.push(b'}');
    let item = |quantity: &str, price: &str| {
        format!(r#"{{"customerId": "c", "orderId": "hostile-o", "items": [{{"productId": "p", "quantity": {quantity}, "price": {price}}}]}}"#)
            .into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a body over 1 MiB", oversized_json(), 413),
        ("100,000 nested arrays", nested, 400),
        ("invalid UTF-8", INVALID_UTF8.to_vec(), 400),
        ("quantity 1e30", item("1e30", "1"), 400),
        ("quantity 2^32", item("4294967296", "1"), 400),
        ("quantity -1", item("-1", "1"), 400),
        ("quantity 0", item("0", "1"), 400),
        ("quantity 1.5", item("1.5", "1"), 400),
        ("price 1e400", item("1", "1e400"), 400),
        ("price -5", item("1", "-5"), 400),
        (
            "price 30 digits",
            item("1", "123456789012345678901234567890"),
            400,
        ),
        ("price as text", item("1", "\"ten\""), 400),
        (
            "a total beyond any money",
            item("4294967295", "79228162514264337593543950335"),
            400,
        ),
    ];
    for (what, body, expected) in cases {
        let answer = send(&stack, Method::POST, &url, &[JSON], Some(body)).await;
        assert_eq!(answer.0, expected, "{what}: {}", answer.1);
        assert_client_error(what, &answer);
    }
    let (status, stream) = stack
        .get_store("/api/event-stores/orders/streams/hostile-o")
        .await;
    assert_eq!(status, 200, "{stream}");
    assert_eq!(stream["currentStreamVersion"], 0, "written: {stream}");
    assert_alive(&stack, &stack.command).await;
}

#[tokio::test]
async fn order_ids_with_slashes_dots_nul_quotes_and_sql_never_reach_another_stream() {
    let stack = Stack::start().await;
    let ids = [
        "a/b",
        "..",
        "../../etc/passwd",
        "a\u{0}b",
        "\"quoted\"",
        "x'; DROP TABLE events; --",
        "{orders}:*",
        "a\r\nb",
    ];
    for id in ids {
        let body = json!({
            "orderId": id, "customerId": "c",
            "items": [{"productId": "p", "quantity": 1, "price": 1}],
        });
        let answer = send(
            &stack,
            Method::POST,
            &format!("{}/orders", stack.command),
            &[JSON],
            Some(body.to_string().into_bytes()),
        )
        .await;
        match answer.0 {
            // Accepted: the order lives in the stream of exactly that id.
            201 => {
                let (_, placed) = (
                    answer.0,
                    serde_json::from_str::<serde_json::Value>(&answer.1).unwrap_or_default(),
                );
                assert_eq!(placed["orderId"], id, "{}", answer.1);
                let encoded: String = url_encode(id);
                let (status, stream) = stack
                    .get_store(&format!("/api/event-stores/orders/streams/{encoded}"))
                    .await;
                assert_eq!(status, 200, "{id:?}: {stream}");
                assert_eq!(stream["events"][0]["streamId"], id, "{stream}");
            }
            _ => {
                let error = assert_client_error(&format!("orderId {id:?}"), &answer);
                assert_eq!(error["details"]["field"], "orderId", "{id:?}: {error}");
            }
        }
    }
    // In the path: a 404 (no such order) or a 400, never a 5xx or another order.
    for path in [
        "..%2F..%2Fadmin",
        "a%00b",
        "x%27%3B%20DROP%20TABLE%20events%3B--",
        "%22",
    ] {
        let answer = send(
            &stack,
            Method::POST,
            &format!("{}/orders/{path}/ship", stack.command),
            &[JSON],
            Some(br#"{"trackingNumber": "T", "carrier": "UPS"}"#.to_vec()),
        )
        .await;
        assert!(
            answer.0 == 404 || answer.0 == 400,
            "ship {path}: {} {}",
            answer.0,
            answer.1
        );
        assert_client_error(path, &answer);
    }
    for encoded in ["..", "%2E%2E"] {
        let answer = send_raw(
            &stack.command,
            &format!("POST /orders/{encoded}/ship HTTP/1.1\r\nContent-Type: application/json"),
            br#"{"trackingNumber": "T", "carrier": "UPS"}"#,
        )
        .await;
        assert!(
            answer.0 == 404 || answer.0 == 400,
            "ship {encoded}: {} {}",
            answer.0,
            answer.1
        );
        assert_client_error(encoded, &answer);
    }
    assert_alive(&stack, &stack.command).await;
}

#[tokio::test]
async fn idempotency_keys_that_are_too_long_or_not_text_are_400() {
    let stack = Stack::start().await;
    let url = format!("{}/orders", stack.command);
    let body = br#"{"customerId": "c", "items": [{"productId": "p", "quantity": 1, "price": 1}]}"#;
    let long = "k".repeat(256);
    for (what, key) in [("256 characters", long.as_str()), ("blank", "   ")] {
        let answer = send(
            &stack,
            Method::POST,
            &url,
            &[JSON, ("Idempotency-Key", key)],
            Some(body.to_vec()),
        )
        .await;
        assert_eq!(answer.0, 400, "{what}: {}", answer.1);
        let error = assert_client_error(what, &answer);
        assert_eq!(error["details"]["field"], "Idempotency-Key", "{error}");
    }
}

/// Percent-encodes every byte outside `A-Za-z0-9-_.~` (one path segment).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
