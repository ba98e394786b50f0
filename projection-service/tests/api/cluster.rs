//! Redis Cluster rules: every key one script or command touches shares one hash slot (the
//! namespace's hash tag), so the projection runs unchanged on a cluster node, which refuses
//! cross-slot access.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::app::{ADMIN_TOKEN, Options, spawn_app_with};
use crate::events::histories;
use crate::helpers::TestRedis;
use crate::own_redis::OwnRedis;
use crate::store_stub::StoreStub;

#[tokio::test]
async fn deliveries_and_a_rebuild_work_on_a_cluster_node_that_enforces_one_slot_per_script() {
    let cluster = OwnRedis::start_cluster();
    // The node does refuse a script that touches two slots.
    let mut conn = redis::Client::open(cluster.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let cross_slot: redis::RedisResult<()> =
        redis::Script::new("redis.call('SET', KEYS[1], 1) redis.call('SET', KEYS[2], 1)")
            .key("{a}:x")
            .key("{b}:x")
            .invoke_async(&mut conn)
            .await;
    assert!(
        cross_slot.is_err(),
        "the cluster node must refuse cross-slot scripts"
    );

    let events = histories(150, 61, 1);
    let stub = StoreStub::start(events.clone()).await;
    let app = spawn_app_with(Options {
        admin: true,
        redis_url: Some(cluster.url()),
        eventstore_url: Some(stub.url.clone()),
        ..Options::default()
    })
    .await;
    let expected = TestRedis::new().await;
    expected.projector().apply(&events).await.unwrap();

    // Live deliveries (a status change moves orders between status sets and revenue chunks).
    for batch in events.chunks(60) {
        assert_eq!(app.deliver(batch).await.status(), 200);
    }
    assert_eq!(app.redis.dump().await, expected.dump().await);

    // A rebuild (lease, new generation, guarded switch, deleting the old generation).
    let started = app
        .client
        .post(app.url("/api/projections/orders/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.status().await["rebuild"]["state"] == json!("running") {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(app.status().await["rebuild"]["state"], json!("completed"));
    assert_eq!(app.status().await["generation"], json!("g1"));
    assert_eq!(app.redis.dump().await, expected.dump().await);
    expected.cleanup().await;
    app.stop().await;
    stub.stop().await;
}
