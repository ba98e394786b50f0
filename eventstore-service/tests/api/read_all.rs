//! Read-all: global order, paging, type filters, and gap-freedom under concurrent writers —
//! shown against a naive sequence-ordered reader that loses events under the same load.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::json;
use tokio_postgres::NoTls;

use crate::helpers::{TestApp, events_body, fresh_migrated_database, spawn_app, spawn_on_database};

/// How long the writers of the load tests run.
const LOAD: Duration = Duration::from_secs(4);
const WRITERS: usize = 8;

#[tokio::test]
async fn read_all_returns_every_store_event_in_global_order_in_pages() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.append_ok(&format!("s-{i}"), &events_body(3, json!("any")))
            .await;
    }

    let first = app.read_all("limit=4").await;
    let second = app
        .read_all(&format!(
            "fromGlobalPosition={}&limit=100",
            first.next_global_position
        ))
        .await;
    let end = app
        .read_all(&format!(
            "fromGlobalPosition={}",
            second.next_global_position
        ))
        .await;

    let globals = |p: &shared_domain::wire::ReadAllResult| -> Vec<u64> {
        p.events.iter().map(|e| e.global_position).collect()
    };
    assert_eq!(globals(&first), vec![1, 2, 3, 4]);
    assert_eq!(first.next_global_position, 5);
    assert_eq!(globals(&second), (5..=15).collect::<Vec<_>>());
    assert_eq!(second.next_global_position, 16);
    assert!(end.events.is_empty());
    assert_eq!(end.next_global_position, 16);
}

#[tokio::test]
async fn read_all_with_a_type_filter_returns_only_matching_events() {
    let app = spawn_app().await;
    for event_type in [
        "order.placed",
        "order.shipped",
        "user.created",
        "order.cancelled",
        "user.cancelled",
    ] {
        app.append_ok("s", &json!({"events": [{"type": event_type, "data": {}}]}))
            .await;
    }

    let cases = [
        (
            "order.*",
            vec!["order.placed", "order.shipped", "order.cancelled"],
        ),
        ("*.cancelled", vec!["order.cancelled", "user.cancelled"]),
        (
            "user.created,order.placed",
            vec!["order.placed", "user.created"],
        ),
        (
            "*",
            vec![
                "order.placed",
                "order.shipped",
                "user.created",
                "order.cancelled",
                "user.cancelled",
            ],
        ),
        ("nothing.matches", vec![]),
    ];
    for (filter, expected) in cases {
        let page = app.read_all(&format!("type={}", urlencode(filter))).await;
        let types: Vec<&str> = page.events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, expected, "{filter}");
        assert_eq!(page.next_global_position, 6, "{filter}");
    }
}

#[tokio::test]
async fn read_all_of_an_unknown_store_is_not_found() {
    let app = spawn_app().await;

    let response = app.get("/api/event-stores/no-such/events").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

fn urlencode(text: &str) -> String {
    text.replace('*', "%2A").replace(',', "%2C")
}

/// Appends one event at a time to its own streams until `stop`; the global positions answered.
async fn write_until(app: &TestApp, writer: usize, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut answered = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let n = 1 + i % 3;
        let result = app
            .append_ok(
                &format!("w{writer}-{}", i % 5),
                &events_body(n, json!("any")),
            )
            .await;
        answered.extend(result.events.iter().map(|e| e.global_position));
        i += 1;
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_all_under_concurrent_writers_sees_every_event_once_and_never_goes_back() {
    // Arrange: two replicas on one database (so two writers race for the counter lock), eight
    // HTTP writers spread over them, and a reader following read-all from its last position.
    let first = spawn_app().await;
    let second = spawn_on_database(&first.database_url, |_| {}).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writers_done = Arc::new(AtomicBool::new(false));

    // Act
    let writers = async {
        let answered = join_all((0..WRITERS).map(|w| {
            let app = if w % 2 == 0 { &first } else { &second };
            write_until(app, w, stop.clone())
        }))
        .await;
        writers_done.store(true, Ordering::SeqCst);
        answered
    };
    let reader = async {
        let mut seen: Vec<u64> = Vec::new();
        let mut from = 1;
        let started = Instant::now();
        loop {
            let done = writers_done.load(Ordering::SeqCst);
            let page = first
                .read_all(&format!("fromGlobalPosition={from}&limit=50"))
                .await;
            seen.extend(page.events.iter().map(|e| e.global_position));
            assert!(page.next_global_position >= from, "the cursor went back");
            from = page.next_global_position;
            if started.elapsed() > LOAD {
                stop.store(true, Ordering::Relaxed);
            }
            if done && page.events.is_empty() {
                return seen;
            }
        }
    };
    let (answered, seen) = tokio::join!(writers, reader);

    // Assert: strictly increasing (never below a passed position, never twice), and exactly the
    // events that were answered 201.
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "out of order or repeated"
    );
    let answered: BTreeSet<u64> = answered.into_iter().flatten().collect();
    let seen_set: BTreeSet<u64> = seen.iter().copied().collect();
    assert!(answered.len() > 100, "too little load: {}", answered.len());
    assert_eq!(seen_set, answered, "the reader missed or invented events");
    assert_eq!(
        seen,
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "gaps in global positions"
    );
}

/// The naive design the store must not have: positions from a sequence (BIGSERIAL), read with
/// `WHERE position > $last ORDER BY position`. Writers take a position, then hold their
/// transaction open for a random moment (as any writer may: a slow network, a busy server)
/// before committing, so positions commit out of order and the reader passes gaps that fill
/// later. Under the same kind of load, the real read-all (test above) misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_naive_sequence_ordered_reader_loses_events_under_concurrent_writers() {
    // Arrange
    let url = fresh_migrated_database().await;
    let admin = connect(&url).await;
    admin
        .batch_execute(
            "CREATE TABLE naive_events (position BIGSERIAL PRIMARY KEY, writer int NOT NULL)",
        )
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));

    // Act
    let writers = join_all((0..WRITERS).map(|writer| {
        let (url, stop) = (url.clone(), stop.clone());
        async move {
            let mut client = connect(&url).await;
            let mut committed = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let delay = rand::thread_rng().gen_range(0.0..0.02);
                let tx = client.transaction().await.unwrap();
                let row = tx
                    .query_one(
                        "INSERT INTO naive_events (writer) VALUES ($1) RETURNING position",
                        &[&(writer as i32)],
                    )
                    .await
                    .unwrap();
                tx.execute("SELECT pg_sleep($1)", &[&delay]).await.unwrap();
                tx.commit().await.unwrap();
                committed.push(row.get::<_, i64>(0));
            }
            committed
        }
    }));
    let reader = async {
        let client = connect(&url).await;
        let mut seen = Vec::new();
        let mut last = 0i64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            let rows = client
                .query(
                    "SELECT position FROM naive_events WHERE position > $1 ORDER BY position",
                    &[&last],
                )
                .await
                .unwrap();
            for row in rows {
                last = row.get(0);
                seen.push(last);
            }
        }
        stop.store(true, Ordering::Relaxed);
        seen
    };
    let (committed, seen) = tokio::join!(writers, reader);

    // Assert: committed up to the reader's last position, yet never seen by it.
    let last_seen = *seen.last().unwrap();
    let seen: BTreeSet<i64> = seen.into_iter().collect();
    let lost: Vec<i64> = committed
        .into_iter()
        .flatten()
        .filter(|p| *p < last_seen && !seen.contains(p))
        .collect();
    assert!(!lost.is_empty(), "the naive reader lost nothing this time");
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}
