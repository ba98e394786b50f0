//! Optimistic concurrency under concurrent appends.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, events_body, spawn_app, spawn_on_database};

/// Positions of the whole stream, checked to be 1..=n without gap or duplicate.
async fn assert_positions_are_contiguous(app: &TestApp, stream: &str, n: u64) {
    let read = app.read_stream(stream, "limit=1000").await;
    let positions: Vec<u64> = read.events.iter().map(|e| e.stream_position).collect();
    assert_eq!(positions, (1..=n).collect::<Vec<_>>());
    assert_eq!(read.current_stream_version, n);
}

/// Fires `bodies` at `stream` concurrently, round-robin over `apps`; (status, body) per request.
async fn fire(apps: &[&TestApp], stream: &str, bodies: Vec<Value>) -> Vec<(StatusCode, Value)> {
    let requests = bodies.iter().enumerate().map(|(i, body)| {
        let app = apps[i % apps.len()];
        async move {
            let response = app.post_append(stream, body).await;
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    });
    join_all(requests).await
}

fn count(answers: &[(StatusCode, Value)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_expecting_the_same_version_let_exactly_one_win() {
    // Arrange: a stream at version 2.
    let app = spawn_app().await;
    app.append_ok("order-1", &events_body(2, json!("no_stream")))
        .await;

    // Act: 32 appends of 3 events, all expecting version 2.
    let answers = fire(&[&app], "order-1", vec![events_body(3, json!(2)); 32]).await;

    // Assert
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::CONFLICT), 31, "{answers:?}");
    for (status, body) in &answers {
        if *status == StatusCode::CONFLICT {
            assert_eq!(body["error"], "StreamVersionConflict");
            assert_eq!(body["details"]["expectedVersion"], 2);
            assert_eq!(body["details"]["currentVersion"], 5);
        }
    }
    assert_positions_are_contiguous(&app, "order-1", 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_no_stream_appends_to_a_new_stream_let_exactly_one_win() {
    let app = spawn_app().await;

    let answers = fire(
        &[&app],
        "fresh",
        vec![events_body(2, json!("no_stream")); 32],
    )
    .await;

    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::CONFLICT), 31, "{answers:?}");
    let winner = &answers
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap()
        .1;
    assert_eq!(winner["createdNewStream"], true);
    assert_positions_are_contiguous(&app, "fresh", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_any_appends_are_all_written_each_contiguous() {
    let app = spawn_app().await;

    let answers = fire(&[&app], "busy", vec![events_body(5, json!("any")); 20]).await;

    assert_eq!(count(&answers, StatusCode::CREATED), 20, "{answers:?}");
    assert_positions_are_contiguous(&app, "busy", 100).await;
    let read = app.read_stream("busy", "limit=1000").await;
    for (_, body) in &answers {
        // Each append's events are contiguous in the stream and in global order, and share a
        // transaction id.
        let events = body["events"].as_array().unwrap();
        let first = events[0]["streamPosition"].as_u64().unwrap();
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event["streamPosition"].as_u64().unwrap(), first + i as u64);
            assert_eq!(
                event["globalPosition"].as_u64().unwrap(),
                events[0]["globalPosition"].as_u64().unwrap() + i as u64
            );
            assert_eq!(event["transactionId"], events[0]["transactionId"]);
            let stored = &read.events[(first - 1) as usize + i];
            assert_eq!(
                stored.event_id.to_string(),
                event["eventId"].as_str().unwrap()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_let_exactly_one_of_the_same_expected_version_win() {
    // Arrange: two service replicas over one database, so batches race on the counter lock and
    // the unique key rather than inside one writer.
    let first = spawn_app().await;
    let second = spawn_on_database(&first.database_url, |_| {}).await;
    first
        .append_ok("shared", &events_body(1, json!("no_stream")))
        .await;

    // Act
    let answers = fire(
        &[&first, &second],
        "shared",
        vec![events_body(2, json!(1)); 32],
    )
    .await;

    // Assert
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::CONFLICT), 31, "{answers:?}");
    assert_positions_are_contiguous(&first, "shared", 3).await;
    let all = first.all_events().await;
    let globals: Vec<u64> = all.iter().map(|e| e.global_position).collect();
    assert_eq!(globals, vec![1, 2, 3]);
}
