//! The input rules a user expects where the walkthrough is silent. Each rejection names the
//! field (as a JSON path) and says why.

use std::str::FromStr;

use super::commands::{CancelOrder, DeliverOrder, OrderCommand, PlaceOrder, ShipOrder};
use crate::error::DomainError;
use crate::money::Money;

/// Longest id (order, customer, product).
pub const MAX_ID_LEN: usize = 128;
/// Longest free text (tracking number, carrier, reason, signature).
pub const MAX_TEXT_LEN: usize = 500;
/// Most items in one order.
pub const MAX_ITEMS: usize = 100;
/// Largest quantity of one item.
pub const MAX_QUANTITY: u32 = 1_000_000;
/// Largest unit price.
pub const MAX_PRICE: &str = "1000000000";

/// An id is 1..=128 characters of `A-Z a-z 0-9 - _ . : @`: safe in a URL path, a stream id and a
/// Redis key without escaping.
pub fn validate_id(field: &str, value: &str) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::invalid_field(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value == "." || value == ".." {
        // An id is a URL path segment (`/orders/{orderId}`, the store's stream URL), and URL
        // clients resolve these two as path steps: the request would reach another route.
        return Err(DomainError::invalid_field(
            field,
            format!("{field} must not be \".\" or \"..\""),
        ));
    }
    if value.len() > MAX_ID_LEN {
        return Err(DomainError::invalid_field(
            field,
            format!("{field} must be at most {MAX_ID_LEN} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(*c)))
    {
        return Err(DomainError::invalid_field(
            field,
            format!("{field} contains {bad:?}; allowed are letters, digits and - _ . : @"),
        ));
    }
    Ok(())
}

fn validate_text(field: &str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid_field(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > MAX_TEXT_LEN {
        return Err(DomainError::invalid_field(
            field,
            format!("{field} must be at most {MAX_TEXT_LEN} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::invalid_field(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

fn max_price() -> Money {
    Money::from_str(MAX_PRICE).unwrap_or(Money::ZERO)
}

/// Every input rule of `command` that does not depend on the order's state, so that an edge
/// (an HTTP handler) can reject bad input before any I/O. `decide` applies the same rules.
pub fn validate(command: &OrderCommand) -> Result<(), DomainError> {
    match command {
        OrderCommand::Place(c) => require_items(c).and_then(|()| validate_place(c)),
        OrderCommand::Ship(c) => validate_ship(c),
        OrderCommand::Deliver(c) => validate_deliver(c),
        OrderCommand::Cancel(c) => validate_cancel(c),
    }
}

/// The walkthrough's "Order must have at least one item".
pub(super) fn require_items(command: &PlaceOrder) -> Result<(), DomainError> {
    if command.items.is_empty() {
        return Err(DomainError::Validation {
            message: "Order must have at least one item".into(),
            field: Some("items".into()),
            details: serde_json::json!({ "field": "items" }),
        });
    }
    Ok(())
}

/// Field rules of `order.place` other than "at least one item" (which `decide` checks with the
/// walkthrough's message).
pub(super) fn validate_place(command: &PlaceOrder) -> Result<(), DomainError> {
    validate_id("orderId", &command.order_id)?;
    validate_id("customerId", &command.customer_id)?;
    if command.items.len() > MAX_ITEMS {
        return Err(DomainError::invalid_field(
            "items",
            format!("an order may have at most {MAX_ITEMS} items"),
        ));
    }
    for (i, item) in command.items.iter().enumerate() {
        validate_id(&format!("items[{i}].productId"), &item.product_id)?;
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(DomainError::invalid_field(
                format!("items[{i}].quantity"),
                format!("quantity must be a positive integer of at most {MAX_QUANTITY}"),
            ));
        }
        if item.price.is_negative() || item.price > max_price() {
            return Err(DomainError::invalid_field(
                format!("items[{i}].price"),
                format!("price must be between 0 and {MAX_PRICE}"),
            ));
        }
    }
    Ok(())
}

pub(super) fn validate_ship(command: &ShipOrder) -> Result<(), DomainError> {
    validate_id("orderId", &command.order_id)?;
    validate_text("trackingNumber", &command.tracking_number)?;
    validate_text("carrier", &command.carrier)
}

pub(super) fn validate_deliver(command: &DeliverOrder) -> Result<(), DomainError> {
    validate_id("orderId", &command.order_id)?;
    match &command.signed_by {
        Some(signed_by) => validate_text("signedBy", signed_by),
        None => Ok(()),
    }
}

pub(super) fn validate_cancel(command: &CancelOrder) -> Result<(), DomainError> {
    validate_id("orderId", &command.order_id)?;
    validate_text("reason", &command.reason)
}
