//! Commands: what someone wants to do. They can be rejected.

use serde::{Deserialize, Serialize};

use super::state::OrderItem;

/// Every command on an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OrderCommand {
    #[serde(rename = "order.place")]
    Place(PlaceOrder),
    #[serde(rename = "order.ship")]
    Ship(ShipOrder),
    #[serde(rename = "order.deliver")]
    Deliver(DeliverOrder),
    #[serde(rename = "order.cancel")]
    Cancel(CancelOrder),
}

impl OrderCommand {
    /// The order this command is about (its stream id).
    pub fn order_id(&self) -> &str {
        match self {
            Self::Place(c) => &c.order_id,
            Self::Ship(c) => &c.order_id,
            Self::Deliver(c) => &c.order_id,
            Self::Cancel(c) => &c.order_id,
        }
    }

    /// The walkthrough's type string, e.g. `order.ship`.
    pub fn command_type(&self) -> &'static str {
        match self {
            Self::Place(_) => "order.place",
            Self::Ship(_) => "order.ship",
            Self::Deliver(_) => "order.deliver",
            Self::Cancel(_) => "order.cancel",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrder {
    pub order_id: String,
    pub customer_id: String,
    pub items: Vec<OrderItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipOrder {
    pub order_id: String,
    pub tracking_number: String,
    pub carrier: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliverOrder {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelOrder {
    pub order_id: String,
    pub reason: String,
}
