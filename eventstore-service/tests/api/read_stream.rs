//! Reading one stream: directions, ranges, limits, missing streams.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{events_body, spawn_app};

fn positions(read: &shared_domain::wire::ReadStreamResult) -> Vec<u64> {
    read.events.iter().map(|e| e.stream_position).collect()
}

#[tokio::test]
async fn a_stream_reads_forward_and_backward_within_bounds() {
    let app = spawn_app().await;
    app.append_ok("s", &events_body(10, json!("no_stream")))
        .await;
    app.append_ok("other", &events_body(3, json!("no_stream")))
        .await;

    let cases = [
        ("", (1..=10).collect::<Vec<u64>>()),
        ("limit=3", vec![1, 2, 3]),
        ("fromStreamPosition=4&limit=2", vec![4, 5]),
        ("fromStreamPosition=8&toStreamPosition=9", vec![8, 9]),
        ("direction=backward", (1..=10).rev().collect()),
        ("direction=backward&limit=2", vec![10, 9]),
        (
            "direction=backward&fromStreamPosition=5&toStreamPosition=3",
            vec![5, 4, 3],
        ),
        ("fromStreamPosition=11", vec![]),
    ];
    for (query, expected) in cases {
        let read = app.read_stream("s", query).await;
        assert_eq!(positions(&read), expected, "{query}");
        assert_eq!(read.current_stream_version, 10, "{query}");
        assert!(read.events.iter().all(|e| e.stream_id == "s"));
    }
}

#[tokio::test]
async fn a_missing_stream_is_empty_with_version_zero() {
    let app = spawn_app().await;

    let read = app.read_stream("nothing-here", "").await;

    assert!(read.events.is_empty());
    assert_eq!(read.current_stream_version, 0);
}

#[tokio::test]
async fn reading_a_stream_of_an_unknown_store_is_not_found() {
    let app = spawn_app().await;

    let response = app
        .http
        .get(app.stream_url("nope-store", "s"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn events_read_back_as_they_were_appended() {
    let app = spawn_app().await;
    let written = app
        .append_ok(
            "s",
            &json!({"events": [{"type": "a.b", "data": {"n": [1, {"x": null}], "s": "ü€"},
                                "metadata": {"correlationId": "c-1"}}]}),
        )
        .await;

    let read = app.read_stream("s", "").await;

    assert_eq!(read.events, written.events);
}
