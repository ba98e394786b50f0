//! Deterministic order events for the projection bench: batches of 100 events that are
//! complete on their own (every order's `order.placed` comes first), so that concurrent
//! clients never depend on each other.

use serde_json::{Value, json};
use shared_domain::event::ReadEvent;

use super::BATCH;

/// Orders per batch: half go placed → shipped → delivered (75 events), half stay placed (25).
const ORDERS: usize = 50;

/// The data of an order's events, in order.
pub fn order_events(order: &str, customer: &str, lifecycle: bool) -> Vec<(&'static str, Value)> {
    let mut events = vec![(
        "order.placed",
        json!({"orderId": order, "customerId": customer,
               "items": [{"productId": "p-1", "quantity": 2, "price": 9.99},
                         {"productId": "p-2", "quantity": 1, "price": 0.1}],
               "totalAmount": 20.08, "placedAt": "2024-05-01T12:00:00.250Z"}),
    )];
    if lifecycle {
        events.push((
            "order.shipped",
            json!({"orderId": order, "trackingNumber": "TRK-1", "carrier": "UPS",
                   "shippedAt": "2024-05-02T08:30:00Z"}),
        ));
        events.push((
            "order.delivered",
            json!({"orderId": order, "deliveredAt": "2024-05-03T17:00:00Z"}),
        ));
    }
    events
}

/// A read event as the store would deliver it.
pub fn read_event(
    stream: &str,
    position: u64,
    global: u64,
    event_type: &str,
    data: Value,
) -> ReadEvent {
    ReadEvent {
        stream_id: stream.to_owned(),
        stream_position: position,
        global_position: global,
        event_id: uuid_from(global),
        event_type: event_type.to_owned(),
        data,
        metadata: None,
        schema_version: 1,
        transaction_id: global.to_string(),
        created_at: chrono_epoch(),
    }
}

/// Batch `i` of client `c` of `clients`: [`BATCH`] events with global positions of their own.
pub fn batch(clients: usize, c: usize, i: u64) -> Vec<ReadEvent> {
    let slot = i * clients as u64 + c as u64;
    let mut global = slot * BATCH as u64 + 1;
    // Orders interleaved the way concurrent commands interleave: all placed first, then the
    // shipments and deliveries.
    let orders: Vec<(String, bool)> = (0..ORDERS)
        .map(|k| (format!("bench-{slot}-{k}"), k % 2 == 0))
        .collect();
    let lives: Vec<Vec<(&'static str, Value)>> = orders
        .iter()
        .map(|(order, lifecycle)| {
            order_events(order, &format!("customer-{}", slot % 97), *lifecycle)
        })
        .collect();
    let mut events = Vec::with_capacity(BATCH);
    for step in 0..3 {
        for ((order, _), life) in orders.iter().zip(&lives) {
            if let Some((event_type, data)) = life.get(step) {
                events.push(read_event(
                    order,
                    step as u64 + 1,
                    global,
                    event_type,
                    data.clone(),
                ));
                global += 1;
            }
        }
    }
    events
}

/// The exact delivery body of `events`.
pub fn delivery(events: &[ReadEvent]) -> String {
    json!({
        "events": events,
        "subscriptionId": "order-summary-projection",
        "eventStoreName": "orders",
        "deliveryId": "bench",
        "attempt": 1,
    })
    .to_string()
}

fn uuid_from(n: u64) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(n))
}

fn chrono_epoch() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_714_564_800, 0).unwrap_or_default()
}
