//! Appends: the four expected-version modes, the answer's shape, atomicity, stream ids.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{events_body, spawn_app};

#[tokio::test]
async fn append_answers_the_designed_shape() {
    let app = spawn_app().await;

    let body = json!({"events": [
        {"type": "order.placed", "data": {"total": 3}, "metadata": {"by": "me"}, "schemaVersion": 2},
        {"type": "order.shipped", "data": {}},
    ]});
    let response = app.post_append("order-1", &body).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["streamId"], "order-1");
    assert_eq!(answer["createdNewStream"], true);
    assert_eq!(answer["eventsAppended"], 2);
    assert_eq!(answer["currentStreamVersion"], 2);
    assert_eq!(answer["nextExpectedStreamVersion"], 2);
    assert_eq!(answer["globalPosition"], 2);
    let first = &answer["events"][0];
    assert_eq!(first["streamPosition"], 1);
    assert_eq!(first["globalPosition"], 1);
    assert_eq!(first["type"], "order.placed");
    assert_eq!(first["data"], json!({"total": 3}));
    assert_eq!(first["metadata"], json!({"by": "me"}));
    assert_eq!(first["schemaVersion"], 2);
    assert!(first["eventId"].as_str().unwrap().len() == 36);
    assert!(first["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(answer["events"][1]["schemaVersion"], 1);
}

#[tokio::test]
async fn append_with_stale_version_is_rejected() {
    let app = spawn_app().await;
    app.append_ok("s", &events_body(3, json!("any"))).await;

    let response = app.post_append("s", &events_body(1, json!(2))).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "StreamVersionConflict");
    assert_eq!(body["details"]["expectedVersion"], 2);
    assert_eq!(body["details"]["currentVersion"], 3);
    assert_eq!(app.read_stream("s", "").await.current_stream_version, 3);
}

#[tokio::test]
async fn append_with_the_current_version_succeeds() {
    let app = spawn_app().await;
    app.append_ok("s", &events_body(3, json!("any"))).await;

    let result = app.append_ok("s", &events_body(2, json!(3))).await;

    assert_eq!(result.current_stream_version, 5);
    assert!(!result.created_new_stream);
}

#[tokio::test]
async fn each_expected_version_mode_is_enforced() {
    let app = spawn_app().await;
    // (stream state before, expected, accepted?)
    let cases = [
        ("missing-1", 0, json!("no_stream"), true),
        ("existing-1", 2, json!("no_stream"), false),
        ("missing-2", 0, json!("stream_exists"), false),
        ("existing-2", 2, json!("stream_exists"), true),
        ("missing-3", 0, json!("any"), true),
        ("existing-3", 2, json!("any"), true),
        ("missing-4", 0, json!(0), true),
        ("existing-4", 2, json!(0), false),
        ("existing-5", 2, json!(2), true),
        ("existing-6", 2, json!(1), false),
        ("missing-5", 0, json!(1), false),
    ];
    for (stream, before, expected, accepted) in cases {
        if before > 0 {
            app.append_ok(stream, &events_body(before, json!("no_stream")))
                .await;
        }

        let response = app
            .post_append(stream, &events_body(1, expected.clone()))
            .await;

        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if accepted {
            assert_eq!(status, StatusCode::CREATED, "{stream} {expected}: {body}");
            assert_eq!(body["currentStreamVersion"], before as u64 + 1);
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{stream} {expected}: {body}");
            assert_eq!(body["details"]["currentVersion"], before as u64);
            let version = app.read_stream(stream, "").await.current_stream_version;
            assert_eq!(version, before as u64, "{stream}: nothing written");
        }
    }
}

#[tokio::test]
async fn expected_version_is_accepted_at_the_top_level() {
    let app = spawn_app().await;
    app.append_ok("s", &events_body(1, json!("any"))).await;

    let response = app
        .post_append(
            "s",
            &json!({"events": [{"type": "a", "data": {}}], "expectedStreamVersion": "no_stream"}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_refused_append_of_many_events_writes_none_of_them() {
    let app = spawn_app().await;
    app.append_ok("s", &events_body(1, json!("any"))).await;

    let response = app
        .post_append("s", &events_body(50, json!("no_stream")))
        .await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(app.all_events().await.len(), 1);
}

#[tokio::test]
async fn appending_to_an_unknown_store_is_not_found() {
    let app = spawn_app().await;

    let response = app
        .http
        .post(app.stream_url("no-such-store", "s"))
        .json(&events_body(1, json!("any")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "NotFound");
}

#[tokio::test]
async fn a_stream_id_with_a_slash_or_spaces_is_reachable_percent_encoded() {
    let app = spawn_app().await;
    let stream = "tenant/7 order?#1%";

    let result = app
        .append_ok(stream, &events_body(2, json!("no_stream")))
        .await;
    let read = app.read_stream(stream, "").await;

    assert_eq!(result.stream_id, stream);
    assert_eq!(read.current_stream_version, 2);
    assert_eq!(read.events[0].stream_id, stream);
    assert_eq!(
        app.read_stream("tenant", "").await.current_stream_version,
        0
    );
}

#[tokio::test]
async fn dot_segment_stream_ids_are_refused_even_percent_encoded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let body = r#"{"events":[{"type":"a","data":{}}]}"#;
    for segment in ["%2E", "%2e%2E"] {
        // Raw HTTP: URL libraries resolve dot segments before sending.
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .unwrap();
        let request = format!(
            "POST /api/event-stores/test-store/streams/{segment} HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();

        assert!(answer.starts_with("HTTP/1.1 400"), "{segment}: {answer}");
        assert!(
            answer.contains(r#""field":"streamId""#),
            "{segment}: {answer}"
        );
    }
    assert!(app.all_events().await.is_empty());
}
