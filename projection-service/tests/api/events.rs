//! Deterministic order histories as the event store would deliver them.

use serde_json::{Value, json};
use shared_domain::event::ReadEvent;

/// A small deterministic generator (so failures reproduce) — no need for `rand` here.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6364136223846793005).wrapping_add(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A `ReadEvent` at the given positions.
pub fn read_event(
    stream_id: &str,
    stream_position: u64,
    global_position: u64,
    event_type: &str,
    data: Value,
) -> ReadEvent {
    serde_json::from_value(json!({
        "streamId": stream_id,
        "streamPosition": stream_position,
        "globalPosition": global_position,
        "eventId": uuid::Uuid::new_v4(),
        "type": event_type,
        "data": data,
        "metadata": {"correlationId": "test"},
        "schemaVersion": 1,
        "transactionId": global_position.to_string(),
        "createdAt": "2024-05-01T12:00:00Z"
    }))
    .unwrap()
}

pub fn placed(order: &str, customer: &str, price: &str, quantity: u32) -> (String, Value) {
    // As the domain computes it: exact Money, sent as a JSON number.
    let price: shared_domain::money::Money = serde_json::from_str(price).unwrap();
    let total = price * quantity;
    (
        "order.placed".into(),
        json!({"orderId": order, "customerId": customer,
               "items": [{"productId": "p-1", "quantity": quantity, "price": price}],
               "totalAmount": total, "placedAt": "2024-05-01T12:00:00.250Z"}),
    )
}

pub fn shipped(order: &str) -> (String, Value) {
    (
        "order.shipped".into(),
        json!({"orderId": order, "trackingNumber": format!("TRK-{order}"), "carrier": "UPS",
               "shippedAt": "2024-05-02T08:30:00Z"}),
    )
}

pub fn delivered(order: &str) -> (String, Value) {
    (
        "order.delivered".into(),
        json!({"orderId": order, "deliveredAt": "2024-05-03T17:00:00Z", "signedBy": "Ann"}),
    )
}

pub fn cancelled(order: &str) -> (String, Value) {
    (
        "order.cancelled".into(),
        json!({"orderId": order, "reason": "changed mind", "cancelledAt": "2024-05-02T09:00:00Z"}),
    )
}

/// `orders` order histories, interleaved in a pseudo-random global order, numbered from
/// global position `first_global`. Each order is placed; then shipped and delivered,
/// cancelled, shipped then cancelled, shipped only, or left pending. Prices have cents, so
/// revenue sums only come out exact with exact arithmetic.
pub fn histories(orders: usize, seed: u64, first_global: u64) -> Vec<ReadEvent> {
    let mut rng = Lcg::new(seed);
    let prices = ["0.1", "0.2", "19.99", "5", "1234.56", "0.07"];
    let mut pending: Vec<Vec<(String, Value)>> = (0..orders)
        .map(|i| {
            let order = format!("order-{seed}-{i}");
            let customer = format!("customer-{}", i % 7);
            let price = prices[rng.below(prices.len() as u64) as usize];
            let mut life = vec![placed(&order, &customer, price, 1 + rng.below(3) as u32)];
            match rng.below(5) {
                0 => life.extend([shipped(&order), delivered(&order)]),
                1 => life.push(cancelled(&order)),
                2 => life.extend([shipped(&order), cancelled(&order)]),
                3 => life.push(shipped(&order)),
                _ => {}
            }
            life.reverse();
            life
        })
        .collect();
    let mut next_position = vec![1u64; orders];
    let mut events = Vec::new();
    let mut active: Vec<usize> = (0..orders).collect();
    let mut global = first_global;
    while !active.is_empty() {
        let slot = rng.below(active.len() as u64) as usize;
        let i = active[slot];
        let (event_type, data) = pending[i].pop().unwrap();
        let order = data["orderId"].as_str().unwrap().to_owned();
        events.push(read_event(
            &order,
            next_position[i],
            global,
            &event_type,
            data,
        ));
        next_position[i] += 1;
        global += 1;
        if pending[i].is_empty() {
            active.swap_remove(slot);
        }
    }
    events
}
