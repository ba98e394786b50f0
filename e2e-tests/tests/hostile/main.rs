//! Hostile input against the four services as real processes: oversized bodies, deeply nested
//! JSON, invalid UTF-8, huge and negative numbers, zero and negative limits, ids with `/`, `..`,
//! NUL, quotes and SQL, header injection in webhook headers, missing credentials. Every answer
//! must be a 4xx that names the problem (or a success that stores exactly what was sent) —
//! never a 5xx, a hang or a crash — and the service must still be alive afterwards.
//!
//! One module per service; each test starts a stack of its own (`e2e_tests::stack`).

mod command;
mod eventstore;
mod projection;
mod query;

use std::time::Duration;

use e2e_tests::stack::Stack;
use reqwest::Method;
use serde_json::Value;

/// A body a little over the default 1 MiB limit.
pub fn oversized_json() -> Vec<u8> {
    let filler = "x".repeat(1024 * 1024 + 10);
    format!("{{\"filler\": \"{filler}\"}}").into_bytes()
}

/// JSON nested `depth` arrays deep inside `{"events": … }`-like wrappers.
pub fn nested_json(depth: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

/// Bytes that are not UTF-8, declared as JSON.
pub const INVALID_UTF8: &[u8] = b"{\"customerId\": \"\xff\xfe\xc0\xaf\", \"items\": []}";

/// Sends a request; returns status and body text. Panics on no answer (a hang or a crash).
pub async fn send(
    stack: &Stack,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, String) {
    let mut request = stack
        .http
        .request(method.clone(), url)
        .timeout(Duration::from_secs(20));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: no answer: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Sends `head` (request line and headers, without the final blank line) and `body` over a
/// plain TCP connection, bypassing URL normalisation (reqwest resolves `%2E%2E` as `..`);
/// returns the status and the body text.
pub async fn send_raw(base: &str, head: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let request = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 20 s")
        .expect("read the answer");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Asserts a 4xx with the wire's error shape (`{"error", "message"}`); returns the body.
#[track_caller]
pub fn assert_client_error(what: &str, (status, body): &(u16, String)) -> Value {
    assert!(
        (400..500).contains(status),
        "{what}: expected a 4xx, got {status}: {body}"
    );
    let json: Value = serde_json::from_str(body)
        .unwrap_or_else(|_| panic!("{what}: {status} without a JSON body: {body}"));
    assert!(
        json["error"].is_string() && json["message"].is_string(),
        "{what}: {status} without error/message: {body}"
    );
    json
}

/// Asserts `base` still answers `/health/live` (the process survived).
pub async fn assert_alive(stack: &Stack, base: &str) {
    let (status, body) = send(
        stack,
        Method::GET,
        &format!("{base}/health/live"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{base} is no longer alive: {body}");
}
