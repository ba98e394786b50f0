//! The event store under hostile input.

use e2e_tests::stack::{API_KEY, Stack};
use reqwest::Method;
use serde_json::json;

use crate::{
    INVALID_UTF8, assert_alive, assert_client_error, nested_json, oversized_json, send, send_raw,
};

const KEY: (&str, &str) = ("X-API-Key", API_KEY);
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn stream_url(stack: &Stack, encoded_stream: &str) -> String {
    format!(
        "{}/api/event-stores/orders/streams/{encoded_stream}",
        stack.eventstore
    )
}

#[tokio::test]
async fn malformed_append_bodies_are_refused_and_write_nothing() {
    let stack = Stack::start().await;
    let url = stream_url(&stack, "hostile-1");
    let mut nested = b"{\"events\": [{\"type\": \"t\", \"data\": ".to_vec();
    nested.extend(nested_json(100_000));
    nested.extend(b"}]}");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a body over 1 MiB", oversized_json(), 413),
        ("100,000 nested arrays", nested, 400),
        ("invalid UTF-8", INVALID_UTF8.to_vec(), 400),
        (
            "a number beyond f64 in data",
            br#"{"events": [{"type": "t", "data": {"n": 1e400}}]}"#.to_vec(),
            400,
        ),
        (
            "expectedStreamVersion 2^64",
            br#"{"events": [{"type": "t", "data": {}}], "expectedStreamVersion": 18446744073709551616}"#.to_vec(),
            400,
        ),
        (
            "expectedStreamVersion -1",
            br#"{"events": [{"type": "t", "data": {}}], "expectedStreamVersion": -1}"#.to_vec(),
            400,
        ),
        (
            "expectedStreamVersion 1.5",
            br#"{"events": [{"type": "t", "data": {}}], "expectedStreamVersion": 1.5}"#.to_vec(),
            400,
        ),
        ("no events", br#"{"events": []}"#.to_vec(), 400),
    ];

    for (what, body, expected) in cases {
        let answer = send(&stack, Method::POST, &url, &[KEY, JSON], Some(body)).await;
        assert_eq!(answer.0, expected, "{what}: {}", answer.1);
        assert_client_error(what, &answer);
    }

    let (status, stream) = stack
        .get_store("/api/event-stores/orders/streams/hostile-1")
        .await;
    assert_eq!(status, 200, "{stream}");
    assert_eq!(
        stream["currentStreamVersion"], 0,
        "something was written: {stream}"
    );
    assert_alive(&stack, &stack.eventstore).await;
}

#[tokio::test]
async fn stream_ids_with_slashes_dots_nul_quotes_and_sql_are_stored_verbatim_or_refused() {
    let stack = Stack::start().await;
    // (what, the id as sent in the path, the id the store must then hold)
    let ids = [
        ("a slash", "orders%2F1", "orders/1"),
        (
            "dot-dot-slash",
            "..%2F..%2Fetc%2Fpasswd",
            "../../etc/passwd",
        ),
        ("a literal %00", "a%2500b", "a%00b"),
        ("quotes", "%22quoted%22%27single%27", "\"quoted\"'single'"),
        (
            "SQL",
            "x%27%3B%20DROP%20TABLE%20events%3B%20--",
            "x'; DROP TABLE events; --",
        ),
        ("a Redis glob", "%7Borders%7D%3A*", "{orders}:*"),
        ("unicode", "%C3%BCn%C3%AFc%C3%B6d%C3%A9", "ünïcödé"),
    ];
    for (what, encoded, id) in ids {
        let body = json!({"events": [{"type": "hostile.tested", "data": {"id": id}}]});
        let answer = send(
            &stack,
            Method::POST,
            &stream_url(&stack, encoded),
            &[KEY, JSON],
            Some(body.to_string().into_bytes()),
        )
        .await;
        assert_eq!(answer.0, 201, "{what}: {}", answer.1);

        let (status, stream) = stack
            .get_store(&format!("/api/event-stores/orders/streams/{encoded}"))
            .await;
        assert_eq!(status, 200, "{what}: {stream}");
        assert_eq!(stream["events"][0]["streamId"], id, "{what}: {stream}");
        assert_eq!(stream["currentStreamVersion"], 1, "{what}: {stream}");
    }

    // `.` and `..` are not stream ids (URL clients resolve them as path steps): sent raw, as
    // only a client that does not normalise URLs can.
    for encoded in ["..", "%2E%2E", ".", "%2e"] {
        let answer = send_raw(
            &stack.eventstore,
            &format!(
                "POST /api/event-stores/orders/streams/{encoded} HTTP/1.1\r\nX-API-Key: {API_KEY}\r\nContent-Type: application/json"
            ),
            br#"{"events": [{"type": "t", "data": {}}]}"#,
        )
        .await;
        let error = assert_client_error(encoded, &answer);
        assert_eq!(answer.0, 400, "{encoded}: {}", answer.1);
        assert_eq!(error["details"]["field"], "streamId", "{error}");
    }

    // A NUL (or any control character) is not a stream id.
    let answer = send(
        &stack,
        Method::POST,
        &stream_url(&stack, "a%00b"),
        &[KEY, JSON],
        Some(br#"{"events": [{"type": "t", "data": {}}]}"#.to_vec()),
    )
    .await;
    let error = assert_client_error("a NUL in the stream id", &answer);
    assert_eq!(error["details"]["field"], "streamId", "{error}");

    // The store still holds its own tables and events: read-all sees the eight.
    let (status, all) = stack
        .get_store("/api/event-stores/orders/events?type=hostile.*")
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["events"].as_array().map(Vec::len), Some(ids.len()));
}

#[tokio::test]
async fn bad_names_limits_and_positions_are_400_naming_the_parameter() {
    let stack = Stack::start().await;
    let base = &stack.eventstore;
    let gets = [
        (
            "limit=0",
            "/api/event-stores/orders/events?limit=0",
            "limit",
        ),
        (
            "limit=-1",
            "/api/event-stores/orders/events?limit=-1",
            "limit",
        ),
        (
            "limit=1001",
            "/api/event-stores/orders/events?limit=1001",
            "limit",
        ),
        (
            "fromGlobalPosition=-5",
            "/api/event-stores/orders/events?fromGlobalPosition=-5",
            "fromGlobalPosition",
        ),
        (
            "fromGlobalPosition=2^64",
            "/api/event-stores/orders/events?fromGlobalPosition=18446744073709551616",
            "fromGlobalPosition",
        ),
        (
            "a stream read with limit=0",
            "/api/event-stores/orders/streams/s?limit=0",
            "limit",
        ),
        (
            "a store name with SQL",
            "/api/event-stores/x%27%3B%20DROP%20TABLE%20events%3B--",
            "store",
        ),
        (
            "a store name with dots",
            "/api/event-stores/..%2F..",
            "store",
        ),
    ];
    for (what, path, field) in gets {
        let answer = send(&stack, Method::GET, &format!("{base}{path}"), &[KEY], None).await;
        let error = assert_client_error(what, &answer);
        assert_eq!(answer.0, 400, "{what}: {}", answer.1);
        assert_eq!(error["details"]["field"], field, "{what}: {error}");
    }
    let create = send(
        &stack,
        Method::POST,
        &format!("{base}/api/event-stores"),
        &[KEY, JSON],
        Some(br#"{"name": "x'); DROP TABLE events; --"}"#.to_vec()),
    )
    .await;
    assert_eq!(create.0, 400, "{}", create.1);
    assert_alive(&stack, base).await;
}

#[tokio::test]
async fn webhook_headers_cannot_inject_lines_or_override_what_the_store_sets() {
    let stack = Stack::start().await;
    let subscribe = format!("{}/api/event-stores/orders/subscribe", stack.eventstore);
    let headers_cases = [
        (
            "CR LF in a value",
            json!({"X-Note": "a\r\nX-Injected: yes"}),
        ),
        ("LF in a value", json!({"X-Note": "a\nX-Injected: yes"})),
        ("NUL in a value", json!({"X-Note": "a\u{0}b"})),
        ("a space in a name", json!({"X Note": "a"})),
        ("a colon in a name", json!({"X-Note:": "a"})),
        ("CR LF in a name", json!({"X-Note\r\nX-Injected": "a"})),
        ("Host", json!({"Host": "internal.example"})),
        ("Content-Length", json!({"Content-Length": "0"})),
        ("Transfer-Encoding", json!({"Transfer-Encoding": "chunked"})),
        (
            "a webhook signature",
            json!({"webhook-signature": "v1,forged"}),
        ),
    ];
    for (what, headers) in headers_cases {
        let body = json!({
            "id": "hostile-headers",
            "eventFilter": "*",
            "subscriberType": "webhook",
            "webhook": {"url": "http://127.0.0.1:9/hook", "headers": headers},
        });
        let answer = send(
            &stack,
            Method::POST,
            &subscribe,
            &[KEY, JSON],
            Some(body.to_string().into_bytes()),
        )
        .await;
        let error = assert_client_error(what, &answer);
        assert_eq!(answer.0, 400, "{what}: {}", answer.1);
        let field = error["details"]["field"].as_str().unwrap_or_default();
        assert!(field.starts_with("webhook.headers"), "{what}: {error}");
    }
    let (status, list) = stack
        .get_store("/api/event-stores/orders/subscriptions")
        .await;
    assert_eq!(status, 200, "{list}");
    assert!(
        !list.to_string().contains("hostile-headers"),
        "a refused subscription was stored: {list}"
    );
}

#[tokio::test]
async fn every_api_route_refuses_a_missing_or_wrong_key() {
    let stack = Stack::start().await;
    let base = &stack.eventstore;
    let sub = "/api/event-stores/orders/subscriptions/order-summary-projection";
    let routes = [
        (Method::POST, "/api/event-stores".to_owned()),
        (Method::GET, "/api/event-stores".to_owned()),
        (Method::GET, "/api/event-stores/orders".to_owned()),
        (
            Method::DELETE,
            "/api/event-stores/orders?confirm=true".to_owned(),
        ),
        (
            Method::POST,
            "/api/event-stores/orders/streams/s".to_owned(),
        ),
        (Method::GET, "/api/event-stores/orders/streams/s".to_owned()),
        (Method::GET, "/api/event-stores/orders/events".to_owned()),
        (
            Method::POST,
            "/api/event-stores/orders/subscribe".to_owned(),
        ),
        (
            Method::GET,
            "/api/event-stores/orders/subscriptions".to_owned(),
        ),
        (Method::GET, sub.to_owned()),
        (Method::DELETE, sub.to_owned()),
        (Method::POST, format!("{sub}/pause")),
        (Method::POST, format!("{sub}/resume")),
        (Method::POST, format!("{sub}/reset")),
        (Method::GET, format!("{sub}/secret")),
        (Method::GET, format!("{sub}/dead-letters")),
        (Method::POST, format!("{sub}/dead-letters/1/redeliver")),
    ];
    for (method, path) in routes {
        let url = format!("{base}{path}");
        for (what, headers) in [
            ("no key", vec![JSON]),
            ("a wrong key", vec![JSON, ("X-API-Key", "wrong")]),
            (
                "a wrong bearer",
                vec![JSON, ("Authorization", "Bearer wrong")],
            ),
            (
                "the key as Basic",
                vec![JSON, ("Authorization", "Basic ZTJlLWFwaS1rZXk=")],
            ),
        ] {
            let answer = send(&stack, method.clone(), &url, &headers, Some(b"{}".to_vec())).await;
            assert_eq!(answer.0, 401, "{method} {path} with {what}: {}", answer.1);
            assert!(!answer.1.contains(API_KEY), "the key leaked: {}", answer.1);
        }
    }
    // Nothing happened: the store and its subscription are still there.
    let (status, store) = stack.get_store("/api/event-stores/orders").await;
    assert_eq!(status, 200, "{store}");
    let (status, subscription) = stack.get_store(sub).await;
    assert_eq!(status, 200, "{subscription}");
    assert_eq!(subscription["status"], "ACTIVE", "{subscription}");
}
