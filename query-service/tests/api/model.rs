//! Order histories as the event store delivers them, and the model of what the read models must
//! then say (status, customer, revision, placement position, amount of every order).

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use shared_domain::event::ReadEvent;
use shared_domain::money::Money;

/// What the query service must answer about one order.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOrder {
    pub customer_id: String,
    pub status: &'static str,
    /// Stream position of its last event (`_revision`).
    pub revision: u64,
    /// Global position of its `order.placed` (the index score).
    pub placed_at: u64,
    pub total: Money,
}

/// Orders placed and moved on, with the events that did it, numbered in global order.
#[derive(Debug, Default)]
pub struct Model {
    pub orders: BTreeMap<String, ModelOrder>,
    next_global: u64,
}

const PRICES: [&str; 5] = ["0.1", "19.99", "5", "1234.56", "0.07"];

impl Model {
    /// An empty model whose first event gets global position 1.
    pub fn new() -> Self {
        Self {
            orders: BTreeMap::new(),
            next_global: 1,
        }
    }

    /// The global position of the last event made (0 = none).
    pub fn last_position(&self) -> u64 {
        self.next_global - 1
    }

    fn event(&mut self, order_id: &str, event_type: &str, data: Value) -> ReadEvent {
        let global = self.next_global;
        self.next_global += 1;
        let order = self.orders.get_mut(order_id).expect("order placed first");
        order.revision += 1;
        serde_json::from_value(json!({
            "streamId": order_id,
            "streamPosition": order.revision,
            "globalPosition": global,
            "eventId": format!("00000000-0000-4000-8000-{global:012x}"),
            "type": event_type,
            "data": data,
            "metadata": {},
            "schemaVersion": 1,
            "transactionId": global.to_string(),
            "createdAt": "2024-05-01T12:00:00Z"
        }))
        .expect("a valid ReadEvent")
    }

    /// `order.placed` of `quantity` × `price`.
    pub fn place(
        &mut self,
        order_id: &str,
        customer_id: &str,
        price: &str,
        quantity: u32,
    ) -> ReadEvent {
        let unit: Money = price.parse().expect("a decimal price");
        let total = unit * quantity;
        self.orders.insert(
            order_id.to_owned(),
            ModelOrder {
                customer_id: customer_id.to_owned(),
                status: "pending",
                revision: 0,
                placed_at: self.next_global,
                total,
            },
        );
        let price: Value = serde_json::from_str(price).expect("a JSON number");
        self.event(
            order_id,
            "order.placed",
            json!({"orderId": order_id, "customerId": customer_id,
                   "items": [{"productId": "p-1", "quantity": quantity, "price": price}],
                   "totalAmount": total, "placedAt": "2024-05-01T12:00:00.250Z"}),
        )
    }

    pub fn ship(&mut self, order_id: &str) -> ReadEvent {
        self.set_status(order_id, "shipped");
        self.event(
            order_id,
            "order.shipped",
            json!({"orderId": order_id, "trackingNumber": format!("TRK-{order_id}"),
                   "carrier": "UPS", "shippedAt": "2024-05-02T08:30:00Z"}),
        )
    }

    pub fn deliver(&mut self, order_id: &str) -> ReadEvent {
        self.set_status(order_id, "delivered");
        self.event(
            order_id,
            "order.delivered",
            json!({"orderId": order_id, "deliveredAt": "2024-05-03T17:00:00Z"}),
        )
    }

    pub fn cancel(&mut self, order_id: &str) -> ReadEvent {
        self.set_status(order_id, "cancelled");
        self.event(
            order_id,
            "order.cancelled",
            json!({"orderId": order_id, "reason": "changed mind",
                   "cancelledAt": "2024-05-02T09:00:00Z"}),
        )
    }

    fn set_status(&mut self, order_id: &str, status: &'static str) {
        self.orders
            .get_mut(order_id)
            .expect("order placed first")
            .status = status;
    }

    /// `count` new orders (ids `<prefix>-<n>`, customers `customer-<n % 13>`) in mixed states:
    /// delivered, cancelled, shipped-then-cancelled, shipped or pending, their events
    /// interleaved pseudo-randomly (seeded, so failures reproduce).
    pub fn mixed(&mut self, prefix: &str, count: usize, seed: u64) -> Vec<ReadEvent> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut plans: Vec<(String, Vec<&'static str>)> = (0..count)
            .map(|i| {
                let plan = match rng.gen_range(0..5) {
                    0 => vec!["deliver", "ship"],
                    1 => vec!["cancel"],
                    2 => vec!["cancel", "ship"],
                    3 => vec!["ship"],
                    _ => vec![],
                };
                let mut steps = plan;
                steps.push("place");
                (format!("{prefix}-{i}"), steps)
            })
            .collect();
        let mut events = Vec::new();
        while !plans.is_empty() {
            let slot = rng.gen_range(0..plans.len());
            let (order_id, steps) = &mut plans[slot];
            let order_id = order_id.clone();
            let step = steps.pop().expect("plans are never empty");
            let event = match step {
                "place" => {
                    let i: usize = order_id
                        .rsplit('-')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    let price = PRICES[rng.gen_range(0..PRICES.len())];
                    let quantity = rng.gen_range(1..4);
                    self.place(&order_id, &format!("customer-{}", i % 13), price, quantity)
                }
                "ship" => self.ship(&order_id),
                "deliver" => self.deliver(&order_id),
                _ => self.cancel(&order_id),
            };
            events.push(event);
            if plans[slot].1.is_empty() {
                plans.swap_remove(slot);
            }
        }
        events
    }

    /// Order ids, newest first, of the orders `keep` selects.
    pub fn newest_first(&self, keep: impl Fn(&ModelOrder) -> bool) -> Vec<String> {
        let mut selected: Vec<(&String, &ModelOrder)> =
            self.orders.iter().filter(|(_, o)| keep(o)).collect();
        selected.sort_by_key(|(_, o)| std::cmp::Reverse(o.placed_at));
        selected.into_iter().map(|(id, _)| id.clone()).collect()
    }
}
