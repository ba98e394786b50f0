//! Idempotent appends: the same idempotency key (body or header) or the same event ids return
//! the original result and write nothing again; the same key with another request is refused.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared_domain::wire::AppendResult;
use uuid::Uuid;

use crate::helpers::{STORE, spawn_app};

fn keyed(key: &str, value: i64) -> Value {
    json!({
        "events": [{"type": "payment.taken", "data": {"amount": value}}],
        "options": {"idempotencyKey": key, "expectedStreamVersion": "any"},
    })
}

#[tokio::test]
async fn retry_with_the_same_idempotency_key_returns_the_original_result() {
    let app = spawn_app().await;
    let original = app.append_ok("pay-1", &keyed("k-1", 10)).await;

    let retried = app.append_ok("pay-1", &keyed("k-1", 10)).await;

    assert_eq!(retried, original);
    assert_eq!(app.all_events().await.len(), 1);
}

#[tokio::test]
async fn the_idempotency_key_header_works_like_the_body_option() {
    let app = spawn_app().await;
    let body = json!({"events": [{"type": "payment.taken", "data": {}}]});
    let send = || async {
        app.http
            .post(app.stream_url(STORE, "pay-2"))
            .header("Idempotency-Key", "header-key")
            .json(&body)
            .send()
            .await
            .unwrap()
    };

    let first: AppendResult = send().await.json().await.unwrap();
    let second = send().await;

    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.json::<AppendResult>().await.unwrap(), first);
    assert_eq!(app.all_events().await.len(), 1);
}

#[tokio::test]
async fn a_retry_after_other_appends_still_returns_the_original_result() {
    let app = spawn_app().await;
    let original = app.append_ok("pay-3", &keyed("k-3", 1)).await;
    app.append_ok("pay-3", &keyed("k-other", 2)).await;

    let retried = app.append_ok("pay-3", &keyed("k-3", 1)).await;

    assert_eq!(retried, original);
    assert_eq!(retried.current_stream_version, 1);
    assert_eq!(app.all_events().await.len(), 2);
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_refused() {
    let app = spawn_app().await;
    app.append_ok("pay-4", &keyed("k-4", 10)).await;

    let response = app.post_append("pay-4", &keyed("k-4", 99)).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "IdempotencyKeyReused");
    assert_eq!(app.all_events().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_the_same_key_write_once() {
    let app = spawn_app().await;
    let body = keyed("k-5", 5);

    let results = join_all((0..16).map(|_| app.append_ok("pay-5", &body))).await;

    for result in &results {
        assert_eq!(*result, results[0]);
    }
    assert_eq!(app.all_events().await.len(), 1);
}

#[tokio::test]
async fn retry_with_the_same_event_ids_returns_the_original_result() {
    let app = spawn_app().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let body = json!({"events": [
        {"type": "x.happened", "data": {}, "eventId": a},
        {"type": "x.happened", "data": {}, "eventId": b},
    ], "options": {"expectedStreamVersion": "no_stream"}});
    let original = app.append_ok("ids", &body).await;

    // The retry's expected version (no_stream) no longer holds: the ids alone identify it.
    let retried = app.append_ok("ids", &body).await;

    assert_eq!(retried, original);
    assert_eq!(app.all_events().await.len(), 2);
}

#[tokio::test]
async fn an_event_id_stored_elsewhere_is_a_conflict() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();
    let body = json!({"events": [{"type": "x.happened", "data": {}, "eventId": id}]});
    app.append_ok("first", &body).await;

    let response = app.post_append("second", &body).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "DuplicateEventId");
    assert_eq!(answer["details"]["eventId"], id.to_string());
    assert_eq!(app.all_events().await.len(), 1);
}
