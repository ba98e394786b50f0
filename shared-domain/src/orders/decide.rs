//! `decide(command, state)`: the walkthrough's rules and messages.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::commands::{CancelOrder, DeliverOrder, OrderCommand, PlaceOrder, ShipOrder};
use super::events::{OrderCancelled, OrderDelivered, OrderEvent, OrderPlaced, OrderShipped};
use super::state::{OrderState, OrderStatus};
use super::validation;
use crate::error::DomainError;
use crate::money::Money;

/// Decides the one event a command produces in `state`, stamping it with `now`.
pub fn decide(
    command: &OrderCommand,
    state: &OrderState,
    now: DateTime<Utc>,
) -> Result<OrderEvent, DomainError> {
    match command {
        OrderCommand::Place(c) => place(c, state, now),
        OrderCommand::Ship(c) => ship(c, state, now),
        OrderCommand::Deliver(c) => deliver(c, state, now),
        OrderCommand::Cancel(c) => cancel(c, state, now),
    }
}

fn place(
    c: &PlaceOrder,
    state: &OrderState,
    now: DateTime<Utc>,
) -> Result<OrderEvent, DomainError> {
    if let Some(status) = state.status {
        return Err(DomainError::illegal_state(
            format!("Order {} already exists", c.order_id),
            json!({ "orderId": c.order_id }),
            status.as_str(),
            "place order",
        ));
    }
    validation::require_items(c)?;
    validation::validate_place(c)?;
    let total_amount = c
        .items
        .iter()
        .try_fold(Money::ZERO, |sum, item| {
            item.price
                .checked_mul_quantity(item.quantity)
                .and_then(|line| sum.checked_add(line))
        })
        .ok_or_else(|| DomainError::invalid_field("items", "order total is too large"))?;
    Ok(OrderEvent::Placed(OrderPlaced {
        order_id: c.order_id.clone(),
        customer_id: c.customer_id.clone(),
        items: c.items.clone(),
        total_amount,
        placed_at: now,
    }))
}

fn ship(c: &ShipOrder, state: &OrderState, now: DateTime<Utc>) -> Result<OrderEvent, DomainError> {
    validation::validate_ship(c)?;
    if state.status != Some(OrderStatus::Pending) {
        return Err(DomainError::illegal_state(
            format!("Cannot ship order in status: {}", state.status_label()),
            json!({ "orderId": c.order_id, "status": state.status }),
            state.status_label(),
            "ship order",
        ));
    }
    Ok(OrderEvent::Shipped(OrderShipped {
        order_id: c.order_id.clone(),
        tracking_number: c.tracking_number.clone(),
        carrier: c.carrier.clone(),
        shipped_at: now,
    }))
}

fn deliver(
    c: &DeliverOrder,
    state: &OrderState,
    now: DateTime<Utc>,
) -> Result<OrderEvent, DomainError> {
    validation::validate_deliver(c)?;
    if state.status != Some(OrderStatus::Shipped) {
        return Err(DomainError::illegal_state(
            format!("Cannot deliver order in status: {}", state.status_label()),
            json!({ "orderId": c.order_id, "status": state.status }),
            state.status_label(),
            "deliver order",
        ));
    }
    Ok(OrderEvent::Delivered(OrderDelivered {
        order_id: c.order_id.clone(),
        delivered_at: now,
        signed_by: c.signed_by.clone(),
    }))
}

fn cancel(
    c: &CancelOrder,
    state: &OrderState,
    now: DateTime<Utc>,
) -> Result<OrderEvent, DomainError> {
    validation::validate_cancel(c)?;
    let refuse = |message: &str, current: &str| {
        Err(DomainError::illegal_state(
            message,
            json!({ "orderId": c.order_id }),
            current,
            "cancel order",
        ))
    };
    match state.status {
        Some(OrderStatus::Delivered) => refuse("Cannot cancel a delivered order", "delivered"),
        Some(OrderStatus::Cancelled) => refuse("Order is already cancelled", "cancelled"),
        None => refuse("Order does not exist", "null"),
        Some(OrderStatus::Pending | OrderStatus::Shipped) => {
            Ok(OrderEvent::Cancelled(OrderCancelled {
                order_id: c.order_id.clone(),
                reason: c.reason.clone(),
                cancelled_at: now,
            }))
        }
    }
}
