//! Optimistic concurrency under concurrent appends.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{STORE, TestApp, events_body, spawn_app, spawn_on_database};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_known_versions_are_stale_still_answers_right() {
    // Arrange: `first` writes the stream and so knows it at version 1; `second` then moves it
    // to version 3 behind first's back.
    let first = spawn_app().await;
    let second = spawn_on_database(&first.database_url, |_| {}).await;
    first
        .append_ok("s", &events_body(1, json!("no_stream")))
        .await;
    second.append_ok("s", &events_body(2, json!(1))).await;
    let stale = "eventstore_append_stale_predictions_total";
    let before = first.metric(stale).await;

    // Act: the expected version 1 (what first believes) is predicted to succeed at position 2,
    // which exists; then second moves on again, and first's `any` is predicted at position 4,
    // which exists too; last, an append first can now predict right.
    let conflict = first.post_append("s", &events_body(1, json!(1))).await;
    let conflict_status = conflict.status();
    let conflict: Value = conflict.json().await.unwrap();
    second.append_ok("s", &events_body(1, json!("any"))).await;
    let any = first.append_ok("s", &events_body(1, json!("any"))).await;
    let predicted = first.append_ok("s", &events_body(1, json!(5))).await;

    // Assert: the conflict names the real version, `any` is written after what second wrote,
    // and both stale predictions were taken and corrected by reading (the last one was right).
    assert_eq!(conflict_status, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(
        conflict["details"]["currentVersion"],
        json!(3),
        "{conflict}"
    );
    assert_eq!(any.events[0].stream_position, 5);
    assert_eq!(predicted.events[0].stream_position, 6);
    assert_positions_are_contiguous(&first, "s", 6).await;
    assert_eq!(first.metric(stale).await - before, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_repeat_on_a_known_stream_is_answered_with_the_original() {
    // Arrange: the stream is known after the first append, so the repeat is predicted.
    let app = spawn_app().await;
    let mut body = events_body(2, json!("no_stream"));
    body["options"]["idempotencyKey"] = json!("key-1");
    let original = app.append_ok("k", &body).await;
    app.append_ok("other", &events_body(1, json!("any"))).await;

    // Act
    let repeat = app.post_append("k", &body).await;
    let status = repeat.status();
    let repeat: Value = repeat.json().await.unwrap();

    // Assert: the same result, nothing written twice.
    assert!(status.is_success(), "{status} {repeat}");
    assert_eq!(
        repeat["globalPosition"],
        json!(original.global_position),
        "{repeat}"
    );
    assert_positions_are_contiguous(&app, "k", 2).await;
    assert_eq!(app.all_events().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_deleted_and_created_again_starts_its_streams_afresh() {
    // Arrange: the writer knows stream "a" at version 3 of the old store.
    let app = spawn_app().await;
    app.append_ok("a", &events_body(3, json!("no_stream")))
        .await;
    let deleted = app
        .http
        .delete(app.url(&format!("/api/event-stores/{STORE}?confirm=true")))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    app.create_store(STORE).await;

    // Act
    let fresh = app
        .append_ok("a", &events_body(1, json!("no_stream")))
        .await;

    // Assert
    assert_eq!(fresh.events[0].stream_position, 1);
    assert_eq!(fresh.global_position, 1);
    assert_positions_are_contiguous(&app, "a", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prediction_above_what_the_database_holds_is_refused_not_written_with_a_gap() {
    // Arrange: the writer saw stream "s" reach version 2; then the database loses the second
    // event (as after a failover to a standby that had not received it, or a restore).
    let app = spawn_app().await;
    app.append_ok("s", &events_body(2, json!("no_stream")))
        .await;
    let (db, connection) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute(
        "DELETE FROM events WHERE stream_id = 's' AND stream_position = 2; \
         UPDATE streams SET version = 1 WHERE stream_id = 's'",
    )
    .await
    .unwrap();
    let stale = "eventstore_append_stale_predictions_total";
    let before = app.metric(stale).await;

    // Act: predicted at position 3, which would leave position 2 empty.
    let written = app.append_ok("s", &events_body(1, json!("any"))).await;

    // Assert: the guard refused the prediction; the reading path wrote position 2.
    assert_eq!(written.events[0].stream_position, 2);
    assert_positions_are_contiguous(&app, "s", 2).await;
    assert_eq!(app.metric(stale).await - before, 1.0);
}
