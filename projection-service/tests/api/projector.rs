//! The projections through the library API: exactly-once effect, indexes, analytics, checkpoint.

use std::collections::HashMap;

use projection_service::projector::{ApplyReport, ProjectionError};
use redis::AsyncCommands;
use shared_domain::orders::OrderStatus;
use shared_domain::read_model::{OrderAnalytics, OrderSummary};

use crate::events::{cancelled, histories, placed, read_event, shipped};
use crate::helpers::TestRedis;

async fn summary(redis: &TestRedis, order: &str) -> Option<OrderSummary> {
    let mut conn = redis.conn.clone();
    let hash: HashMap<String, String> = conn
        .hgetall(redis.keys.generation("g0").order_summary(order))
        .await
        .unwrap();
    OrderSummary::from_hash(&hash).unwrap()
}

async fn analytics(redis: &TestRedis) -> OrderAnalytics {
    let mut conn = redis.conn.clone();
    let hash: HashMap<String, String> = conn
        .hgetall(redis.keys.generation("g0").analytics())
        .await
        .unwrap();
    OrderAnalytics::from_hash(&hash).unwrap()
}

/// Read models of `events` applied once, in batches of 100.
async fn baseline(events: &[shared_domain::event::ReadEvent]) -> TestRedis {
    let redis = TestRedis::new().await;
    for batch in events.chunks(100) {
        redis.projector().apply(batch).await.unwrap();
    }
    redis
}

#[tokio::test]
async fn placed_event_builds_the_walkthrough_summary_and_indexes() {
    let redis = TestRedis::new().await;
    let (t, data) = placed("order-1", "cust-1", "19.99", 2);
    let report = redis
        .projector()
        .apply(&[read_event("order-1", 1, 5, &t, data)])
        .await
        .unwrap();

    assert_eq!(
        report,
        ApplyReport {
            applied: 1,
            duplicates: 0,
            skipped: 0,
            checkpoint: 5
        }
    );
    let s = summary(&redis, "order-1").await.unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        serde_json::json!({"orderId": "order-1", "customerId": "cust-1", "totalAmount": 39.98,
            "itemCount": 1, "status": "pending", "placedAt": "2024-05-01T12:00:00.250Z",
            "_revision": 1})
    );
    let mut conn = redis.conn.clone();
    let g = redis.keys.generation("g0");
    for index in [
        g.all_orders(),
        g.orders_by_status(OrderStatus::Pending),
        g.customer_orders("cust-1"),
    ] {
        let members: Vec<(String, f64)> = conn.zrange_withscores(&index, 0, -1).await.unwrap();
        assert_eq!(members, vec![("order-1".to_owned(), 5.0)], "{index}");
    }
    assert_eq!(redis.projector().checkpoint().await.unwrap(), 5);
    redis.cleanup().await;
}

#[tokio::test]
async fn status_change_moves_the_order_between_status_indexes_and_totals() {
    let redis = TestRedis::new().await;
    let (t1, d1) = placed("order-1", "cust-1", "0.1", 1);
    let (t2, d2) = placed("order-2", "cust-1", "0.2", 1);
    let (t3, d3) = shipped("order-1");
    let (t4, d4) = cancelled("order-1");
    let events = [
        read_event("order-1", 1, 1, &t1, d1),
        read_event("order-2", 1, 2, &t2, d2),
        read_event("order-1", 2, 3, &t3, d3),
        read_event("order-1", 3, 4, &t4, d4),
    ];

    redis.projector().apply(&events).await.unwrap();

    let s = summary(&redis, "order-1").await.unwrap();
    assert_eq!(s.status, OrderStatus::Cancelled);
    assert_eq!(s.tracking_number.as_deref(), Some("TRK-order-1"));
    assert_eq!(s.revision, 3);
    let mut conn = redis.conn.clone();
    let g = redis.keys.generation("g0");
    let pending: Vec<String> = conn
        .zrange(g.orders_by_status(OrderStatus::Pending), 0, -1)
        .await
        .unwrap();
    let shipped_ids: Vec<String> = conn
        .zrange(g.orders_by_status(OrderStatus::Shipped), 0, -1)
        .await
        .unwrap();
    let cancelled_ids: Vec<(String, f64)> = conn
        .zrange_withscores(g.orders_by_status(OrderStatus::Cancelled), 0, -1)
        .await
        .unwrap();
    assert_eq!(pending, vec!["order-2"]);
    assert!(shipped_ids.is_empty());
    assert_eq!(cancelled_ids, vec![("order-1".to_owned(), 1.0)]);
    let a = serde_json::to_value(analytics(&redis).await).unwrap();
    assert_eq!(
        a,
        serde_json::json!({"totalOrders": 2, "totalRevenue": 0.3, "byStatus": {
            "cancelled": {"count": 1, "revenue": 0.1},
            "delivered": {"count": 0, "revenue": 0},
            "pending": {"count": 1, "revenue": 0.2},
            "shipped": {"count": 0, "revenue": 0}}})
    );
    redis.cleanup().await;
}

#[tokio::test]
async fn revenue_stays_exact_over_many_cents() {
    let redis = TestRedis::new().await;
    let events: Vec<_> = (1..=1000u64)
        .map(|i| {
            let order = format!("order-{i}");
            let (t, d) = placed(&order, "c", "0.1", 1);
            read_event(&order, 1, i, &t, d)
        })
        .collect();

    redis.projector().apply(&events).await.unwrap();

    let a = analytics(&redis).await;
    assert_eq!(a.total_revenue.to_string(), "100");
    assert_eq!(a.by_status["pending"].revenue.to_string(), "100");
    redis.cleanup().await;
}

#[tokio::test]
async fn revenue_with_many_digits_moves_exactly_between_statuses() {
    let redis = TestRedis::new().await;
    // 3 × 12345678.1234567 and 1 × 0.0000001: chunks at exponents -7, 0 and 7.
    let (t1, d1) = placed("order-1", "c", "12345678.1234567", 3);
    let (t2, d2) = placed("order-2", "c", "0.0000001", 1);
    let (t3, d3) = cancelled("order-1");
    let events = [
        read_event("order-1", 1, 1, &t1, d1),
        read_event("order-2", 1, 2, &t2, d2),
        read_event("order-1", 2, 3, &t3, d3),
    ];

    redis.projector().apply(&events).await.unwrap();

    let a = analytics(&redis).await;
    assert_eq!(a.total_revenue.to_string(), "37037034.3703702");
    assert_eq!(
        a.by_status["cancelled"].revenue.to_string(),
        "37037034.3703701"
    );
    assert_eq!(a.by_status["pending"].revenue.to_string(), "0.0000001");
    assert_eq!(a.by_status["pending"].count, 1);
    let s = summary(&redis, "order-1").await.unwrap();
    assert_eq!(s.total_amount.to_string(), "37037034.3703701");
    redis.cleanup().await;
}

#[tokio::test]
async fn the_same_batch_delivered_twice_changes_nothing_the_second_time() {
    let events = histories(50, 1, 1);
    let once = baseline(&events).await;
    let twice = baseline(&events).await;

    let second = twice.projector().apply(&events).await.unwrap();

    assert_eq!(second.applied, 0);
    assert_eq!(second.duplicates, events.len());
    assert_eq!(once.dump().await, twice.dump().await);
    once.cleanup().await;
    twice.cleanup().await;
}

#[tokio::test]
async fn overlapping_batches_give_the_same_read_models() {
    let events = histories(60, 2, 1);
    let once = baseline(&events).await;
    let overlapping = TestRedis::new().await;

    // Windows of 40 moving by 25: every event but the first few arrives twice.
    let mut start = 0;
    while start < events.len() {
        let end = (start + 40).min(events.len());
        overlapping
            .projector()
            .apply(&events[start..end])
            .await
            .unwrap();
        start += 25;
    }

    assert_eq!(once.dump().await, overlapping.dump().await);
    once.cleanup().await;
    overlapping.cleanup().await;
}

#[tokio::test]
async fn concurrent_deliveries_of_the_same_batches_give_the_same_read_models() {
    let events = histories(80, 3, 1);
    let once = baseline(&events).await;
    let concurrent = TestRedis::new().await;

    // Two "replicas" each deliver every batch, at the same time.
    let replica = |projector: projection_service::projector::Projector| {
        let events = events.clone();
        async move {
            for batch in events.chunks(20) {
                projector.apply(batch).await.unwrap();
            }
        }
    };
    tokio::join!(
        replica(concurrent.projector()),
        replica(concurrent.projector())
    );

    assert_eq!(once.dump().await, concurrent.dump().await);
    once.cleanup().await;
    concurrent.cleanup().await;
}

#[tokio::test]
async fn an_event_without_its_order_placed_is_refused_and_holds_the_checkpoint() {
    let redis = TestRedis::new().await;
    let (t1, d1) = placed("order-1", "c", "1", 1);
    redis
        .projector()
        .apply(&[read_event("order-1", 1, 1, &t1, d1)])
        .await
        .unwrap();
    let (t2, d2) = shipped("order-9");

    let error = redis
        .projector()
        .apply(&[read_event("order-9", 2, 2, &t2, d2)])
        .await
        .unwrap_err();

    assert!(
        matches!(error, ProjectionError::MissingPredecessor { ref order_id, global_position: 2, .. } if order_id == "order-9"),
        "{error:?}"
    );
    assert_eq!(redis.projector().checkpoint().await.unwrap(), 1);
    assert!(summary(&redis, "order-9").await.is_none());
    redis.cleanup().await;
}

#[tokio::test]
async fn unknown_event_types_are_skipped_but_counted_in_the_checkpoint() {
    let redis = TestRedis::new().await;
    let event = read_event(
        "customer-1",
        1,
        7,
        "customer.renamed",
        serde_json::json!({}),
    );

    let report = redis.projector().apply(&[event]).await.unwrap();

    assert_eq!(report.skipped, 1);
    assert_eq!(report.checkpoint, 7);
    redis.cleanup().await;
}

#[tokio::test]
async fn an_invalid_event_fails_the_whole_batch_with_nothing_written() {
    let redis = TestRedis::new().await;
    let (t1, d1) = placed("order-1", "c", "1", 1);
    let mut bad = read_event("order-2", 1, 2, &t1, d1.clone());
    bad.data["customerId"] = serde_json::json!(17);

    let error = redis
        .projector()
        .apply(&[read_event("order-1", 1, 1, &t1, d1), bad])
        .await
        .unwrap_err();

    assert!(
        matches!(error, ProjectionError::InvalidEvent { ref field, .. } if field == "events[1].data.customerId"),
        "{error:?}"
    );
    assert!(redis.dump().await.is_empty());
    redis.cleanup().await;
}

#[tokio::test]
async fn checkpoint_moves_are_published_on_the_channel() {
    let redis = TestRedis::new().await;
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(redis.keys.checkpoint_channel())
        .await
        .unwrap();
    let (t, d) = placed("order-1", "c", "1", 1);

    redis
        .projector()
        .apply(&[read_event("order-1", 1, 42, &t, d)])
        .await
        .unwrap();

    let message = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        use futures_util::StreamExt;
        pubsub.on_message().next().await.unwrap()
    })
    .await
    .unwrap();
    assert_eq!(message.get_payload::<String>().unwrap(), "g0 42");
    redis.cleanup().await;
}
