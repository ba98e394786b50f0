//! Durability: a 201 means committed; a restart loses nothing that was answered 201.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use shared_domain::wire::AppendResult;

use deadpool_postgres::Pool;
use eventstore_service::Config;
use eventstore_service::db::{self, DetachOnPanic};

use crate::helpers::{STORE, events_body, fresh_migrated_database, spawn_app, spawn_on_database};

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

/// Runs `BEGIN` (and a `SET LOCAL` that lives only as long as that transaction) on a pooled
/// connection and panics while the transaction is open, holding the connection bare or behind
/// [`DetachOnPanic`]; then whether the pool's next connection (the pool has one) is inside that
/// transaction.
async fn next_connection_inside_abandoned_transaction(pool: &Pool, guarded: bool) -> bool {
    let abandoned = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let client = pool.get().await.unwrap();
            client
                .batch_execute("BEGIN; SET LOCAL application_name = 'abandoned'")
                .await
                .unwrap();
            if guarded {
                let _client = DetachOnPanic::new(client);
                panic!("a bug between BEGIN and COMMIT");
            }
            let _client = client;
            panic!("a bug between BEGIN and COMMIT");
        })
    };
    assert!(abandoned.await.unwrap_err().is_panic());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let next = pool.get().await.unwrap();
    let row = next
        .query_one(
            "SELECT current_setting('application_name') = 'abandoned'",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_a_transaction_never_hands_the_transaction_to_the_next_user() {
    let database_url = fresh_migrated_database().await;
    let mut config = Config::for_database(database_url);
    config.db_pool_size = 1;
    let pool = db::pool(&config).unwrap();

    // A bare pooled connection goes back to the pool with the transaction open (the hazard)…
    assert!(next_connection_inside_abandoned_transaction(&pool, false).await);
    drop(deadpool_postgres::Object::take(pool.get().await.unwrap()));
    // …one behind the writer's guard is closed instead, and the server rolls back.
    assert!(!next_connection_inside_abandoned_transaction(&pool, true).await);
}

/// Threads of this process named `name` (Linux truncates names to 15 bytes).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == name)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writers_thread_ends_with_the_service() {
    const WRITERS: &str = "eventstore-writ";
    let before = threads_named(WRITERS);
    let mut app = spawn_app().await;
    app.append_ok("s-1", &events_body(1, json!("no_stream")))
        .await;
    assert_eq!(
        threads_named(WRITERS),
        before + 1,
        "one writers' thread per service"
    );

    app.stop().await;

    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while threads_named(WRITERS) > before {
        assert!(
            std::time::Instant::now() < deadline,
            "the writers' thread outlived its service"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
