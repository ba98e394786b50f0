//! Request bodies as they arrive, and the domain commands they become.
//!
//! Bodies are strict: an unknown field is a 400 naming it (a client that misspells `signedBy`
//! learns so, instead of delivering an unsigned order). Types are checked by serde at the field
//! path (`items[0].quantity: invalid value: integer `-1`, expected u32`); the domain's own input
//! rules run next, in [`shared_domain::orders::validate`], before any I/O.

use serde::{Deserialize, Serialize};
use shared_domain::money::Money;
use shared_domain::orders::{
    CancelOrder, DeliverOrder, OrderCommand, OrderItem, PlaceOrder, ShipOrder,
};
use utoipa::ToSchema;

/// `POST /orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrderBody {
    #[schema(example = "cust-42")]
    pub customer_id: String,
    /// At least one.
    pub items: Vec<ItemBody>,
    /// The new order's id. Generated when absent: `order-<UUID v7>`, or, with an
    /// `Idempotency-Key`, `order-<UUID v5 of the key>` so a retried request finds its order.
    #[serde(default)]
    #[schema(example = "order-0190f3c4-8c1e-7d2a-9b4e-3f1a2b3c4d5e")]
    pub order_id: Option<String>,
}

/// One line of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemBody {
    #[schema(example = "sku-1")]
    pub product_id: String,
    /// 1 ..= 1 000 000.
    #[schema(example = 2)]
    pub quantity: u32,
    /// Unit price, a JSON number (kept exact: `0.1 × 3` totals `0.3`).
    #[schema(value_type = f64, example = 19.99)]
    pub price: Money,
}

/// `POST /orders/{orderId}/ship`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShipOrderBody {
    #[schema(example = "TRK123")]
    pub tracking_number: String,
    #[schema(example = "UPS")]
    pub carrier: String,
}

/// `POST /orders/{orderId}/deliver`; the body may also be empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliverOrderBody {
    #[serde(default)]
    #[schema(example = "Ada Lovelace")]
    pub signed_by: Option<String>,
}

/// `POST /orders/{orderId}/cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelOrderBody {
    #[schema(example = "customer changed their mind")]
    pub reason: String,
}

impl PlaceOrderBody {
    /// The `order.place` command for the order `order_id` (the body's, or one the caller chose).
    pub fn into_command(self, order_id: String) -> OrderCommand {
        OrderCommand::Place(PlaceOrder {
            order_id,
            customer_id: self.customer_id,
            items: self
                .items
                .into_iter()
                .map(|item| OrderItem {
                    product_id: item.product_id,
                    quantity: item.quantity,
                    price: item.price,
                })
                .collect(),
        })
    }
}

impl ShipOrderBody {
    /// The `order.ship` command for `order_id`.
    pub fn into_command(self, order_id: String) -> OrderCommand {
        OrderCommand::Ship(ShipOrder {
            order_id,
            tracking_number: self.tracking_number,
            carrier: self.carrier,
        })
    }
}

impl DeliverOrderBody {
    /// The `order.deliver` command for `order_id`.
    pub fn into_command(self, order_id: String) -> OrderCommand {
        OrderCommand::Deliver(DeliverOrder {
            order_id,
            signed_by: self.signed_by,
        })
    }
}

impl CancelOrderBody {
    /// The `order.cancel` command for `order_id`.
    pub fn into_command(self, order_id: String) -> OrderCommand {
        OrderCommand::Cancel(CancelOrder {
            order_id,
            reason: self.reason,
        })
    }
}
