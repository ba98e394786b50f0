//! State: derived from events; what `decide` needs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::OrderEvent;
use crate::money::Money;

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: String,
    pub quantity: u32,
    pub price: Money,
}

/// `'pending' | 'shipped' | 'delivered' | 'cancelled'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    /// All statuses, in lifecycle order.
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status `{s}`: expected pending, shipped, delivered or cancelled")
            })
    }
}

/// The current state of an order (`status: None` = the order does not exist).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderState {
    pub order_id: Option<String>,
    pub customer_id: Option<String>,
    pub items: Vec<OrderItem>,
    pub total_amount: Money,
    pub status: Option<OrderStatus>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub placed_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl OrderState {
    /// The status as the walkthrough prints it in messages (`null` when absent).
    pub fn status_label(&self) -> &'static str {
        self.status.map_or("null", OrderStatus::as_str)
    }
}

/// `initialState()`: no items, zero total, no status.
pub fn initial_state() -> OrderState {
    OrderState::default()
}

/// `evolve(state, event)`.
pub fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
    match event {
        OrderEvent::Placed(e) => OrderState {
            order_id: Some(e.order_id.clone()),
            customer_id: Some(e.customer_id.clone()),
            items: e.items.clone(),
            total_amount: e.total_amount,
            status: Some(OrderStatus::Pending),
            placed_at: Some(e.placed_at),
            ..OrderState::default()
        },
        OrderEvent::Shipped(e) => OrderState {
            status: Some(OrderStatus::Shipped),
            tracking_number: Some(e.tracking_number.clone()),
            carrier: Some(e.carrier.clone()),
            shipped_at: Some(e.shipped_at),
            ..state
        },
        OrderEvent::Delivered(e) => OrderState {
            status: Some(OrderStatus::Delivered),
            delivered_at: Some(e.delivered_at),
            ..state
        },
        OrderEvent::Cancelled(e) => OrderState {
            status: Some(OrderStatus::Cancelled),
            cancelled_at: Some(e.cancelled_at),
            ..state
        },
    }
}
