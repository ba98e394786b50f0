//! Read-model types and the Redis key layout, shared by the projection service (which writes
//! them) and the query service (which reads them), so the two can never disagree.
//!
//! Every key of one deployment lives under a namespace written as a Redis Cluster hash tag,
//! `{<ns>}`, so that the keys a projection script touches together share one hash slot.
//! Inside a namespace, read models are kept per *generation*: a rebuild writes a fresh
//! generation and then flips `{<ns>}:generation` to it in one step, so a query never sees a
//! half-built model. The walkthrough's key `order-summary:{orderId}` is kept as the suffix:
//! `{orders}:g1:order-summary:order-123`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::orders::OrderStatus;

/// The walkthrough's `OrderSummaryReadModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub order_id: String,
    pub customer_id: String,
    pub total_amount: Money,
    pub item_count: u32,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    pub placed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Stream position of the last event applied: the idempotency guard.
    #[serde(rename = "_revision")]
    pub revision: u64,
}

/// Orders and revenue in one status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusTotals {
    pub count: u64,
    pub revenue: Money,
}

/// The `OrderAnalytics` read model: counts and revenue per status, and totals.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAnalytics {
    pub total_orders: u64,
    pub total_revenue: Money,
    pub by_status: BTreeMap<String, StatusTotals>,
}

/// Default namespace of the Orders read models.
pub const DEFAULT_NAMESPACE: &str = "orders";

/// The key layout of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadModelKeys {
    tag: String,
}

impl ReadModelKeys {
    /// Keys under namespace `ns` (e.g. `orders`, or a per-test namespace).
    pub fn new(ns: &str) -> Self {
        Self {
            tag: format!("{{{ns}}}"),
        }
    }

    /// The string key that holds the generation queries read (absent = generation `g0`).
    pub fn generation_pointer(&self) -> String {
        format!("{}:generation", self.tag)
    }

    /// The keys of one generation (`g0`, `g1`, …).
    pub fn generation(&self, generation: &str) -> GenerationKeys {
        GenerationKeys {
            prefix: format!("{}:{generation}:", self.tag),
        }
    }

    /// A pattern matching every key of the namespace (for SCAN in tests and clean-up).
    pub fn pattern(&self) -> String {
        format!("{}:*", self.tag)
    }
}

/// The keys of one generation of the read models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationKeys {
    prefix: String,
}

impl GenerationKeys {
    /// `OrderSummary` JSON of one order.
    pub fn order_summary(&self, order_id: &str) -> String {
        format!("{}order-summary:{order_id}", self.prefix)
    }

    /// Sorted set of every order id, scored by the global position of its `order.placed`
    /// (newest first = highest score).
    pub fn all_orders(&self) -> String {
        format!("{}index:orders", self.prefix)
    }

    /// Sorted set of the order ids currently in `status`, scored like [`Self::all_orders`].
    pub fn orders_by_status(&self, status: OrderStatus) -> String {
        format!("{}index:status:{}", self.prefix, status.as_str())
    }

    /// Sorted set of one customer's order ids (`CustomerOrders`), scored like
    /// [`Self::all_orders`].
    pub fn customer_orders(&self, customer_id: &str) -> String {
        format!("{}index:customer:{customer_id}", self.prefix)
    }

    /// Hash of analytics counters (`OrderAnalytics`).
    pub fn analytics(&self) -> String {
        format!("{}analytics", self.prefix)
    }

    /// The projection checkpoint: last global position applied.
    pub fn checkpoint(&self) -> String {
        format!("{}checkpoint", self.prefix)
    }

    /// The prefix itself, for scripts that derive further keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag_and_keep_the_walkthrough_suffix() {
        let keys = ReadModelKeys::new("orders");
        let g = keys.generation("g1");
        assert_eq!(
            g.order_summary("order-1"),
            "{orders}:g1:order-summary:order-1"
        );
        assert_eq!(keys.generation_pointer(), "{orders}:generation");
        assert!(
            g.orders_by_status(OrderStatus::Shipped)
                .starts_with("{orders}:")
        );
        assert!(g.customer_orders("c-1").starts_with("{orders}:"));
    }

    #[test]
    fn summary_json_matches_the_walkthrough() {
        let json = serde_json::json!({
            "orderId": "o-1", "customerId": "c-1", "totalAmount": 20, "itemCount": 1,
            "status": "pending", "placedAt": "2024-01-01T00:00:00Z", "_revision": 1
        });
        let summary: OrderSummary = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&summary).unwrap(), json);
    }
}
