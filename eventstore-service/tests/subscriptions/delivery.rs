//! Delivery to one receiver: ordering, retries, ERROR and resume, dead letters, signing,
//! latency, concurrent writers, metrics.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{STORE, eventually, spawn_app, webhook_spec};
use crate::receiver::{Behaviour, Receiver};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_k_attempts_then_up_gets_every_event_in_order() {
    // Arrange: the receiver fails its first 3 requests; the policy allows 5 attempts, 50 ms apart.
    let app = spawn_app().await;
    let receiver = Receiver::start(Behaviour {
        fail_first: 3,
        ..Behaviour::default()
    })
    .await;
    let mut spec = webhook_spec("flaky", &receiver.url, 5);
    spec["batchSize"] = json!(4);
    for i in 0..10 {
        app.append(&format!("order-{}", i % 3), &["order.placed"])
            .await;
    }

    // Act
    app.subscribe(&spec).await;
    let acked = eventually(WAIT, "10 acknowledged events", || async {
        let acked = receiver.acked_positions();
        (acked.len() >= 10).then_some(acked)
    })
    .await;

    // Assert: in order, none skipped, none twice once acknowledged.
    assert_eq!(acked, (1..=10).collect::<Vec<u64>>());
    let received = receiver.received();
    let first = &received[..4];
    assert!(
        first
            .iter()
            .all(|r| r.delivery_id() == first[0].delivery_id()),
        "retries keep the delivery id"
    );
    assert_eq!(
        first
            .iter()
            .map(|r| r.body.attempt.unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(
        first.iter().all(|r| r.positions() == vec![1, 2, 3, 4]),
        "a retry sends the same batch"
    );
    for pair in first.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(45),
            "retried after {gap:?}, policy says 50 ms"
        );
    }
    let mut attempts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &received {
        *attempts.entry(r.delivery_id()).or_default() += 1;
    }
    assert!(attempts.values().all(|n| *n <= 5), "{attempts:?}");
    let shown = eventually(WAIT, "checkpoint 10", || async {
        let shown = app.show("flaky").await;
        (shown["lastProcessedEventGlobalPosition"] == 10).then_some(shown)
    })
    .await;
    assert_eq!(shown["status"], "ACTIVE");
    assert_eq!(shown["lag"], 0);
    assert_eq!(shown["statusDetails"], serde_json::Value::Null);
    let (_, metrics) = app.get("/metrics").await;
    let labels = format!(r#"{{store="{STORE}",subscription="flaky"}}"#);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(&format!(
            "eventstore_subscription_failed_attempts_total{labels} 3"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "eventstore_subscription_events_delivered_total{labels} 10"
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_recovers_stops_the_subscription_with_error_until_resumed() {
    // Arrange
    let app = spawn_app().await;
    let receiver = Receiver::start(Behaviour {
        always_fail: true,
        ..Behaviour::default()
    })
    .await;
    app.append("order-1", &["order.placed", "order.shipped"])
        .await;

    // Act
    app.subscribe(&webhook_spec("doomed", &receiver.url, 3))
        .await;
    let shown = eventually(WAIT, "status ERROR", || async {
        let shown = app.show("doomed").await;
        (shown["status"] == "ERROR").then_some(shown)
    })
    .await;

    // Assert: ERROR with details, nothing acknowledged, exactly maxAttempts calls.
    let details = &shown["statusDetails"];
    assert!(
        details["lastError"].as_str().unwrap().contains("HTTP 500"),
        "{details}"
    );
    assert!(details["lastErrorAt"].is_string(), "{details}");
    assert_eq!(details["retryCount"], 3);
    assert_eq!(details["nextRetryAt"], serde_json::Value::Null);
    assert_eq!(shown["lastProcessedEventGlobalPosition"], 0);
    assert_eq!(shown["lag"], 2);
    app.append("order-2", &["order.placed"]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "no attempt beyond maxAttempts, nothing skipped"
    );

    // Act: the receiver recovers and an operator resumes.
    receiver.set(Behaviour::default());
    let (status, body) = app.operate("doomed", "resume", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Assert: everything arrives, in order.
    let acked = eventually(WAIT, "3 acknowledged events", || async {
        let acked = receiver.acked_positions();
        (acked.len() >= 3).then_some(acked)
    })
    .await;
    assert_eq!(acked, vec![1, 2, 3]);
    let shown = eventually(WAIT, "ACTIVE at 3", || async {
        let shown = app.show("doomed").await;
        (shown["lastProcessedEventGlobalPosition"] == 3).then_some(shown)
    })
    .await;
    assert_eq!(shown["status"], "ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_mode_parks_a_failing_batch_goes_on_and_redelivers_it() {
    // Arrange: batches of one; the receiver refuses `order.poison`.
    let app = spawn_app().await;
    let receiver = Receiver::start(Behaviour {
        fail_types: vec!["order.poison".into()],
        ..Behaviour::default()
    })
    .await;
    let mut spec = webhook_spec("parking", &receiver.url, 2);
    spec["batchSize"] = json!(1);
    spec["onRetriesExhausted"] = json!("deadLetter");
    app.append("o-1", &["order.placed"]).await;
    app.append("o-2", &["order.poison"]).await;
    app.append("o-3", &["order.shipped"]).await;

    // Act
    app.subscribe(&spec).await;
    eventually(WAIT, "positions 1 and 3 acknowledged", || async {
        (receiver.acked_positions() == vec![1, 3]).then_some(())
    })
    .await;

    // Assert: the poison batch is parked, the subscription went on.
    let path = format!("/api/event-stores/{STORE}/subscriptions/parking/dead-letters");
    let (status, body) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let letters = body["deadLetters"].as_array().unwrap();
    assert_eq!(letters.len(), 1, "{body}");
    let letter = &letters[0];
    assert_eq!(letter["firstGlobalPosition"], 2);
    assert_eq!(letter["lastGlobalPosition"], 2);
    assert_eq!(letter["attempts"], 2);
    assert_eq!(letter["status"], "PARKED");
    let shown = app.show("parking").await;
    assert_eq!(shown["status"], "ACTIVE");
    assert_eq!(shown["lastProcessedEventGlobalPosition"], 3);

    // Act: the receiver is fixed; redeliver.
    receiver.set(Behaviour::default());
    let id = letter["id"].as_str().unwrap();
    let (status, body) = app
        .post(&format!("{path}/{id}/redeliver"), &json!({}))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deadLetter"]["status"], "REDELIVERED");
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.positions(), vec![2]);
    assert_eq!(last.delivery_id(), letter["deliveryId"].as_str().unwrap());
    let (status, _) = app
        .post(&format!("{path}/{id}/redeliver"), &json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a redelivered letter is not sent twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_verify_with_the_standardwebhooks_crate() {
    // Arrange
    let app = spawn_app().await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let mut spec = webhook_spec("signed", &receiver.url, 3);
    spec["webhook"]["secret"] = json!("generate");
    spec["webhook"]["headers"] = json!({"Authorization": "Bearer token-1"});
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    // Act
    let created = app.subscribe(&spec).await;
    let (status, _) = app
        .post(
            &format!("/api/event-stores/{STORE}/streams/o-1"),
            &json!({"events": [{"type": "order.placed", "data": {},
                "metadata": {"traceparent": traceparent, "requestId": "req-42"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let received = eventually(WAIT, "a delivery", || async { receiver.received().pop() }).await;

    // Assert: the secret was shown once, and the signature checks with another implementation.
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&received.raw, &received.headers)
        .expect("a valid Standard Webhooks signature");
    assert_eq!(received.headers["authorization"], "Bearer token-1");
    assert_eq!(
        received.headers["webhook-id"],
        received.delivery_id().as_str()
    );
    assert_eq!(received.headers["x-request-id"], "req-42");
    let sent = received.headers["traceparent"].to_str().unwrap();
    assert!(
        sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{sent}"
    );
    assert_eq!(received.body.subscription_id.as_deref(), Some("signed"));
    assert_eq!(received.body.event_store_name.as_deref(), Some(STORE));
    let again = app
        .post(&format!("/api/event-stores/{STORE}/subscribe"), &spec)
        .await;
    assert_eq!(
        again.0,
        StatusCode::OK,
        "identical subscribe returns the existing one"
    );
    assert!(
        again.1.get("secret").is_none(),
        "the secret is shown only once"
    );
    let shown = app.show("signed").await;
    assert_eq!(shown["webhook"]["signed"], true);
    assert!(!shown.to_string().contains("whsec_") && !shown.to_string().contains("token-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_event_reaches_an_idle_subscriber_within_milliseconds() {
    // Arrange: the safety poll is 60 s and the lease (renewed every third) 30 s, so only
    // LISTEN/NOTIFY can wake the idle worker this fast.
    let url = crate::helpers::fresh_migrated_database().await;
    let mut config = crate::helpers::config(&url, "solo");
    config.subscriptions.poll_interval = Duration::from_secs(60);
    config.subscriptions.lease_ttl = Duration::from_secs(30);
    let app = crate::helpers::spawn_on(config).await;
    app.create_store(STORE).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    app.subscribe(&webhook_spec("fast", &receiver.url, 3)).await;
    app.append("o-1", &["order.placed"]).await;
    eventually(WAIT, "the first event", || async {
        (receiver.acked_positions().len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Act
    let started = tokio::time::Instant::now();
    app.append("o-1", &["order.shipped"]).await;
    eventually(WAIT, "the second event", || async {
        (receiver.acked_positions().len() == 2).then_some(())
    })
    .await;

    // Assert
    let latency = started.elapsed();
    assert!(latency < Duration::from_millis(500), "took {latency:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_delivered_once_each_in_strictly_increasing_order() {
    // Arrange
    let app = std::sync::Arc::new(spawn_app().await);
    let receiver = Receiver::start(Behaviour::default()).await;
    let mut spec = webhook_spec("busy", &receiver.url, 5);
    spec["batchSize"] = json!(7);
    app.subscribe(&spec).await;

    // Act: 4 writers × 25 appends of 1–2 events, while delivery runs.
    let mut writers = Vec::new();
    for w in 0..4 {
        let app = app.clone();
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            for i in 0..25 {
                let types: &[&str] = if i % 2 == 0 {
                    &["order.placed"]
                } else {
                    &["order.placed", "order.shipped"]
                };
                app.append(&format!("w{w}-{}", i % 5), types).await;
                n += types.len();
            }
            n
        }));
    }
    let mut total = 0;
    for writer in writers {
        total += writer.await.unwrap();
    }
    let acked = eventually(WAIT, "every event", || async {
        let acked = receiver.acked_positions();
        (acked.len() >= total).then_some(acked)
    })
    .await;

    // Assert: exactly once each, strictly increasing global positions.
    assert_eq!(acked.len(), total);
    assert!(
        acked.windows(2).all(|w| w[0] < w[1]),
        "not strictly increasing: {acked:?}"
    );
    assert_eq!(acked, (1..=total as u64).collect::<Vec<_>>());
    assert!(receiver.received().iter().all(|r| r.acked()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_the_types_and_metrics_count_per_subscription() {
    // Arrange
    let app = spawn_app().await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let mut spec = webhook_spec("shipping", &receiver.url, 3);
    spec["eventFilter"] = json!(["*.shipped", "billing.*"]);

    // Act
    app.subscribe(&spec).await;
    app.append(
        "o-1",
        &[
            "order.placed",
            "order.shipped",
            "billing.invoiced",
            "order.cancelled",
        ],
    )
    .await;
    let acked = eventually(WAIT, "the two matching events", || async {
        let acked = receiver.acked_positions();
        (acked.len() >= 2).then_some(acked)
    })
    .await;

    // Assert
    assert_eq!(acked, vec![2, 3]);
    let types: HashSet<String> = receiver
        .received()
        .iter()
        .flat_map(|r| {
            r.body
                .events
                .iter()
                .map(|e| e.event_type.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        types,
        HashSet::from(["order.shipped".to_owned(), "billing.invoiced".to_owned()])
    );
    let shown = eventually(WAIT, "checkpoint past the skipped tail", || async {
        let shown = app.show("shipping").await;
        (shown["lastProcessedEventGlobalPosition"] == 4).then_some(shown)
    })
    .await;
    assert_eq!(shown["lag"], 0);
    let (_, metrics) = app.get("/metrics").await;
    let metrics = metrics.as_str().unwrap().to_owned();
    let labels = format!(r#"{{store="{STORE}",subscription="shipping"}}"#);
    assert!(
        metrics.contains(&format!(
            "eventstore_subscription_events_delivered_total{labels} 2"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("eventstore_subscription_lag_events{labels}")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "eventstore_subscription_last_success_timestamp_seconds{labels}"
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_from_the_receiver_is_honoured() {
    // Arrange: the receiver fails once asking for 1 s; the policy alone would wait 50 ms.
    let app = spawn_app().await;
    let receiver = Receiver::start(Behaviour {
        fail_first: 1,
        retry_after: Some("1".into()),
        ..Behaviour::default()
    })
    .await;
    let mut spec = webhook_spec("polite", &receiver.url, 3);
    spec["webhook"]["retryPolicy"]["maxDelayMs"] = json!(5000);
    app.append("o-1", &["order.placed"]).await;

    // Act
    app.subscribe(&spec).await;
    eventually(WAIT, "the event", || async {
        (receiver.acked_positions() == vec![1]).then_some(())
    })
    .await;

    // Assert
    let received = receiver.received();
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    let failed = &received[0];
    assert_eq!(failed.status, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_connection_reconnects_after_being_killed() {
    // Arrange: as above, only notifications can wake the worker quickly.
    let url = crate::helpers::fresh_migrated_database().await;
    let mut config = crate::helpers::config(&url, "solo");
    config.subscriptions.poll_interval = Duration::from_secs(60);
    config.subscriptions.lease_ttl = Duration::from_secs(30);
    let app = crate::helpers::spawn_on(config).await;
    app.create_store(STORE).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    app.subscribe(&webhook_spec("resilient", &receiver.url, 3))
        .await;
    app.append("o-1", &["order.placed"]).await;
    eventually(WAIT, "the first event", || async {
        (receiver.acked_positions().len() == 1).then_some(())
    })
    .await;

    // Act: PostgreSQL drops the LISTEN connection; events are written while it is down.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let killed: i64 = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    app.append("o-1", &["order.shipped"]).await;

    // Assert: the reconnect wakes the worker for what was missed, and later events wake it too.
    assert_eq!(killed, 1, "one LISTEN connection");
    eventually(
        Duration::from_secs(3),
        "the event written while disconnected",
        || async { (receiver.acked_positions().len() == 2).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = tokio::time::Instant::now();
    app.append("o-1", &["order.delivered"]).await;
    eventually(WAIT, "the next event", || async {
        (receiver.acked_positions().len() == 3).then_some(())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
}
