//! Crashes, restarts and several replicas on one database.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    STORE, config, eventually, fresh_migrated_database, spawn_killable, spawn_on,
    stored_checkpoint, webhook_spec,
};
use crate::receiver::{Behaviour, Receiver};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_mid_delivery_delivers_everything_at_least_once_after_restart() {
    // Arrange: the receiver holds the first request for 20 s, so the kill lands mid-delivery.
    let url = fresh_migrated_database().await;
    let mut first = spawn_killable(config(&url, "first")).await;
    first.create_store(STORE).await;
    let receiver = Receiver::start(Behaviour {
        delay: Duration::from_secs(20),
        slow_first: 1,
        ..Behaviour::default()
    })
    .await;
    let mut spec = webhook_spec("crashy", &receiver.url, 5);
    spec["batchSize"] = json!(3);
    spec["webhook"]["timeoutMs"] = json!(10000);
    for i in 0..7 {
        first.append(&format!("o-{i}"), &["order.placed"]).await;
    }
    first.subscribe(&spec).await;
    eventually(WAIT, "the first request in flight", || async {
        (!receiver.received().is_empty()).then_some(())
    })
    .await;

    // Act: crash, then look at the checkpoint, then start again.
    first.kill().await;
    let checkpoint_after_crash = stored_checkpoint(&url, "crashy").await;
    let mut second = spawn_on(config(&url, "second")).await;
    let acked = eventually(WAIT, "every event after the restart", || async {
        let acked = receiver.acked_positions();
        let distinct: std::collections::BTreeSet<u64> = acked.iter().copied().collect();
        (distinct.len() >= 7).then_some(acked)
    })
    .await;

    // Assert: nothing acknowledged before the crash, so the checkpoint had not moved; every
    // event delivered at least once, in order; the checkpoint ends at the last one.
    assert_eq!(
        checkpoint_after_crash, 0,
        "the checkpoint moved past an unacknowledged event"
    );
    assert_eq!(acked, (1..=7).collect::<Vec<u64>>());
    let received = receiver.received();
    assert_eq!(
        received[0].positions(),
        vec![1, 2, 3],
        "the interrupted batch"
    );
    assert!(
        received[1..].iter().any(|r| r.positions() == vec![1, 2, 3]),
        "sent again after the restart"
    );
    eventually(WAIT, "checkpoint 7", || async {
        (stored_checkpoint(&url, "crashy").await == 7).then_some(())
    })
    .await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once_and_the_survivor_takes_over_within_the_lease() {
    // Arrange: two replicas on one database, one subscription.
    let url = fresh_migrated_database().await;
    let lease = Duration::from_secs(1);
    let replica = |name: &str| {
        let mut settings = config(&url, name);
        settings.subscriptions.lease_ttl = lease;
        settings
    };
    let a = spawn_killable(replica("replica-a")).await;
    a.create_store(STORE).await;
    let b = spawn_killable(replica("replica-b")).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    a.subscribe(&webhook_spec("shared", &receiver.url, 5)).await;

    // Act: steady state — events written through both replicas.
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        app.append(&format!("o-{i}"), &["order.placed"]).await;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    eventually(WAIT, "20 events", || async {
        (receiver.acked_positions().len() >= 20).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Assert: each event once.
    assert_eq!(receiver.acked_positions(), (1..=20).collect::<Vec<u64>>());
    assert!(
        receiver.received().iter().all(|r| r.acked()),
        "no failed or repeated attempt"
    );

    // Act: kill the lease holder; write through the survivor.
    let shown = a.show("shared").await;
    let holder = shown["lease"]["owner"].as_str().unwrap().to_owned();
    let (mut dead, survivor) = if holder == "replica-a" {
        (a, b)
    } else {
        (b, a)
    };
    dead.kill().await;
    let killed_at = tokio::time::Instant::now();
    survivor.append("o-after", &["order.shipped"]).await;
    eventually(WAIT, "the event after the crash", || async {
        (receiver.acked_positions().len() >= 21).then_some(())
    })
    .await;

    // Assert: taken over within the lease time (the dead holder renewed at most a lease ago),
    // plus the standby's look-up interval (a fifth of it) and some scheduling slack.
    let took = killed_at.elapsed();
    eprintln!("takeover after {took:?} (lease {lease:?})");
    assert!(
        took < lease + lease / 5 + Duration::from_millis(400),
        "takeover took {took:?}"
    );
    let shown = survivor.show("shared").await;
    assert_ne!(shown["lease"]["owner"], holder.as_str());
    assert_eq!(receiver.acked_positions(), (1..=21).collect::<Vec<u64>>());
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for p in receiver.acked_positions() {
        *seen.entry(p).or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lease_holder_cannot_move_the_checkpoint() {
    // Arrange: a subscription whose lease a replica holds in epoch e.
    use eventstore_service::delivery::state;
    use eventstore_service::subscriptions::db;
    let url = fresh_migrated_database().await;
    let app = spawn_on({
        let mut c = config(&url, "api-only");
        c.subscriptions.enabled = false;
        c
    })
    .await;
    app.create_store(STORE).await;
    app.append("o-1", &["order.placed", "order.placed", "order.placed"])
        .await;
    app.subscribe(&webhook_spec("guarded", "http://127.0.0.1:9/none", 3))
        .await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let store = db::find_store(&client, STORE).await.unwrap().unwrap();
    let ttl = Duration::from_millis(100);
    let (old, _) = state::acquire(&client, store.id, "guarded", "old", ttl)
        .await
        .unwrap()
        .unwrap();

    // Act: the lease expires and another replica takes it over.
    assert!(
        state::acquire(&client, store.id, "guarded", "new", ttl)
            .await
            .unwrap()
            .is_none(),
        "not before expiry"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (new, _) = state::acquire(&client, store.id, "guarded", "new", ttl)
        .await
        .unwrap()
        .unwrap();

    // Assert: the old holder can neither move the checkpoint nor renew; the new one can.
    assert!(new.epoch > old.epoch);
    assert!(!state::acknowledge(&client, &old, 3, true).await.unwrap());
    assert!(state::renew(&client, &old).await.unwrap().is_none());
    assert!(state::acknowledge(&client, &new, 2, true).await.unwrap());
    assert!(
        !state::acknowledge(&client, &new, 1, true).await.unwrap(),
        "never backwards"
    );
    assert_eq!(stored_checkpoint(&url, "guarded").await, 2);
    // An operator reset moves the epoch on: the holder's next write fails too.
    let (status, _) = app
        .operate("guarded", "reset", &json!({"fromGlobalPosition": 1}))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(!state::acknowledge(&client, &new, 3, true).await.unwrap());
    assert_eq!(stored_checkpoint(&url, "guarded").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_schedule_survives_a_restart() {
    // Arrange: one failure, then a retry due 1.5 s later.
    let url = fresh_migrated_database().await;
    let mut first = spawn_on(config(&url, "before")).await;
    first.create_store(STORE).await;
    let receiver = Receiver::start(Behaviour {
        fail_first: 1,
        ..Behaviour::default()
    })
    .await;
    let mut spec = webhook_spec("patient", &receiver.url, 3);
    spec["webhook"]["retryPolicy"]["initialDelayMs"] = json!(1500);
    first.append("o-1", &["order.placed"]).await;
    first.subscribe(&spec).await;
    let shown = eventually(WAIT, "a recorded failure", || async {
        let shown = first.show("patient").await;
        shown["pendingRetry"].is_object().then_some(shown)
    })
    .await;

    // Act: restart.
    first.stop().await;
    let second = spawn_on(config(&url, "after")).await;
    eventually(WAIT, "the retried event", || async {
        (receiver.acked_positions() == vec![1]).then_some(())
    })
    .await;

    // Assert: the retry kept its time, attempt number and delivery id.
    assert_eq!(shown["pendingRetry"]["failedAttempts"], 1);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_millis(1400),
        "retried after {gap:?} instead of 1.5 s"
    );
    assert_eq!(received[1].body.attempt, Some(2));
    assert_eq!(received[1].delivery_id(), received[0].delivery_id());
    drop(second);
}
