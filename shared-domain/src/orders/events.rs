//! Events: what happened, in the past tense. JSON exactly as the walkthrough's
//! `{"type": "order.placed", "data": {"orderId", …}}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::OrderItem;
use crate::money::Money;

/// Every event of an order's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OrderEvent {
    #[serde(rename = "order.placed")]
    Placed(OrderPlaced),
    #[serde(rename = "order.shipped")]
    Shipped(OrderShipped),
    #[serde(rename = "order.delivered")]
    Delivered(OrderDelivered),
    #[serde(rename = "order.cancelled")]
    Cancelled(OrderCancelled),
}

impl OrderEvent {
    /// The walkthrough's type string, e.g. `order.placed`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Placed(_) => "order.placed",
            Self::Shipped(_) => "order.shipped",
            Self::Delivered(_) => "order.delivered",
            Self::Cancelled(_) => "order.cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: String,
    pub customer_id: String,
    pub items: Vec<OrderItem>,
    pub total_amount: Money,
    pub placed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderShipped {
    pub order_id: String,
    pub tracking_number: String,
    pub carrier: String,
    pub shipped_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDelivered {
    pub order_id: String,
    pub delivered_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub order_id: String,
    pub reason: String,
    pub cancelled_at: DateTime<Utc>,
}
