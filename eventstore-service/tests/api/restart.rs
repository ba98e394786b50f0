//! Durability: a 201 means committed; a restart loses nothing that was answered 201.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use shared_domain::wire::AppendResult;

use crate::helpers::{STORE, events_body, spawn_app, spawn_on_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_that_was_answered_201() {
    // Arrange: appends in flight when the service is told to stop.
    let mut app = spawn_app().await;
    let appends = join_all((0..64).map(|i| {
        let app = &app;
        async move {
            tokio::time::sleep(Duration::from_millis(i * 3)).await;
            let sent = app
                .http
                .post(app.stream_url(STORE, &format!("s-{}", i % 7)))
                .json(&events_body(3, json!("any")))
                .send()
                .await;
            // After the stop, connections are refused: such appends were never acknowledged.
            match sent {
                Ok(response) if response.status() == StatusCode::CREATED => {
                    Some(response.json::<AppendResult>().await.unwrap())
                }
                _ => None,
            }
        }
    }));
    let stop = async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        app.shutdown.trigger();
    };
    let (answered, ()) = tokio::join!(appends, stop);
    app.stop().await;
    let answered: Vec<_> = answered.into_iter().flatten().collect();
    assert!(
        !answered.is_empty(),
        "nothing was answered 201 before the stop"
    );

    // Act: a new service on the same database.
    let restarted = spawn_on_database(&app.database_url, |_| {}).await;

    // Assert: every acknowledged event is there, as it was answered.
    let stored = restarted.all_events().await;
    for result in &answered {
        for event in &result.events {
            let found = stored
                .iter()
                .find(|e| e.global_position == event.global_position);
            assert_eq!(found, Some(event), "acknowledged event lost or changed");
        }
    }
    let globals: Vec<u64> = stored.iter().map(|e| e.global_position).collect();
    assert_eq!(globals, (1..=stored.len() as u64).collect::<Vec<_>>());
}
