//! Turning delivered [`ReadEvent`]s into the arguments of the apply script, before anything is
//! written: a batch with one malformed event is refused whole (400, nothing written).

use serde::de::DeserializeOwned;
use serde_json::Value;
use shared_domain::event::ReadEvent;
use shared_domain::orders::{OrderCancelled, OrderDelivered, OrderPlaced, OrderShipped};
use shared_domain::read_model::{format_time, revenue_chunks};

use super::ProjectionError;

/// One event, checked and reduced to what the read models need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProjectedEvent {
    /// The stream id, which names the order (DESIGN.md: an order's stream is its `orderId`).
    pub order_id: String,
    pub stream_position: u64,
    pub global_position: u64,
    pub event_type: String,
    pub change: Change,
}

/// What an event does to the read models.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Placed {
        customer_id: String,
        /// Exact decimal text (`Money`'s `Display`).
        total_amount: String,
        /// The total as exact integer chunks `(exponent, value)` for the revenue counters.
        revenue: Vec<(i32, i64)>,
        item_count: usize,
        placed_at: String,
    },
    Shipped {
        tracking_number: String,
        carrier: String,
        shipped_at: String,
    },
    Delivered {
        delivered_at: String,
    },
    Cancelled {
        cancelled_at: String,
    },
    /// A type these projections do not handle (a subscription filter such as `*`): skipped,
    /// but it still counts towards the checkpoint.
    Ignored,
}

impl ProjectedEvent {
    /// The apply script's `kind` argument, `None` for an ignored event.
    pub fn kind(&self) -> Option<&'static str> {
        match self.change {
            Change::Placed { .. } => Some("placed"),
            Change::Shipped { .. } => Some("shipped"),
            Change::Delivered { .. } => Some("delivered"),
            Change::Cancelled { .. } => Some("cancelled"),
            Change::Ignored => None,
        }
    }
}

/// Checks every event of a batch and converts it; the first problem names the event by its
/// index in the batch and the field by its JSON path (`events[3].data.customerId`).
pub(crate) fn project_all(events: &[ReadEvent]) -> Result<Vec<ProjectedEvent>, ProjectionError> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| project(index, event))
        .collect()
}

fn project(index: usize, event: &ReadEvent) -> Result<ProjectedEvent, ProjectionError> {
    let invalid = |field: &str, message: String| ProjectionError::InvalidEvent {
        index,
        field: format!("events[{index}].{field}"),
        message,
    };
    if event.stream_position == 0 {
        return Err(invalid(
            "streamPosition",
            "streamPosition counts from 1".into(),
        ));
    }
    if event.global_position == 0 {
        return Err(invalid(
            "globalPosition",
            "globalPosition counts from 1".into(),
        ));
    }
    let change = match event.event_type.as_str() {
        "order.placed" => {
            let e: OrderPlaced = data(index, &event.data)?;
            check_order_id(index, &e.order_id, &event.stream_id)?;
            Change::Placed {
                customer_id: e.customer_id,
                total_amount: e.total_amount.to_string(),
                revenue: revenue_chunks(e.total_amount),
                item_count: e.items.len(),
                placed_at: format_time(e.placed_at),
            }
        }
        "order.shipped" => {
            let e: OrderShipped = data(index, &event.data)?;
            check_order_id(index, &e.order_id, &event.stream_id)?;
            Change::Shipped {
                tracking_number: e.tracking_number,
                carrier: e.carrier,
                shipped_at: format_time(e.shipped_at),
            }
        }
        "order.delivered" => {
            let e: OrderDelivered = data(index, &event.data)?;
            check_order_id(index, &e.order_id, &event.stream_id)?;
            Change::Delivered {
                delivered_at: format_time(e.delivered_at),
            }
        }
        "order.cancelled" => {
            let e: OrderCancelled = data(index, &event.data)?;
            check_order_id(index, &e.order_id, &event.stream_id)?;
            Change::Cancelled {
                cancelled_at: format_time(e.cancelled_at),
            }
        }
        _ => Change::Ignored,
    };
    Ok(ProjectedEvent {
        order_id: event.stream_id.clone(),
        stream_position: event.stream_position,
        global_position: event.global_position,
        event_type: event.event_type.clone(),
        change,
    })
}

fn data<T: DeserializeOwned>(index: usize, data: &Value) -> Result<T, ProjectionError> {
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing field at the enclosing object; put it into the path.
        let field = match inner.strip_prefix("missing field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or_default();
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            }
            None if path == "." => String::new(),
            None => path,
        };
        let field = if field.is_empty() {
            format!("events[{index}].data")
        } else {
            format!("events[{index}].data.{field}")
        };
        ProjectionError::InvalidEvent {
            index,
            message: format!("{field}: {inner}"),
            field,
        }
    })
}

fn check_order_id(index: usize, order_id: &str, stream_id: &str) -> Result<(), ProjectionError> {
    if order_id == stream_id {
        return Ok(());
    }
    let field = format!("events[{index}].data.orderId");
    Err(ProjectionError::InvalidEvent {
        index,
        message: format!(
            "{field} must equal the event's streamId (an order's stream is named by its orderId)"
        ),
        field,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read_event(event_type: &str, data: Value) -> ReadEvent {
        serde_json::from_value(json!({
            "streamId": "order-1", "streamPosition": 1, "globalPosition": 7,
            "eventId": "0190a5b4-0000-7000-8000-000000000001", "type": event_type,
            "data": data, "metadata": null, "schemaVersion": 1, "transactionId": "1",
            "createdAt": "2024-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn placed_keeps_the_exact_total_and_counts_lines() {
        let event = read_event(
            "order.placed",
            json!({"orderId": "order-1", "customerId": "c-1",
                   "items": [{"productId": "p", "quantity": 3, "price": 0.1},
                             {"productId": "q", "quantity": 1, "price": 0.2}],
                   "totalAmount": 0.5, "placedAt": "2024-01-01T00:00:00.120Z"}),
        );
        let projected = project_all(&[event]).unwrap();
        assert_eq!(
            projected[0].change,
            Change::Placed {
                customer_id: "c-1".into(),
                total_amount: "0.5".into(),
                revenue: vec![(-7, 5_000_000)],
                item_count: 2,
                placed_at: "2024-01-01T00:00:00.120Z".into(),
            }
        );
    }

    #[test]
    fn a_missing_field_is_named_with_its_event_index() {
        let event = read_event(
            "order.shipped",
            json!({"orderId": "order-1", "carrier": "UPS", "shippedAt": "2024-01-01T00:00:00Z"}),
        );
        let ok = read_event("other.thing", json!({}));
        let error = project_all(&[ok, event]).unwrap_err();
        match error {
            ProjectionError::InvalidEvent { index, field, .. } => {
                assert_eq!(index, 1);
                assert_eq!(field, "events[1].data.trackingNumber");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_types_are_ignored_not_rejected() {
        let projected = project_all(&[read_event("customer.renamed", json!(42))]).unwrap();
        assert_eq!(projected[0].change, Change::Ignored);
        assert_eq!(projected[0].kind(), None);
    }

    #[test]
    fn order_id_must_match_the_stream() {
        let event = read_event(
            "order.cancelled",
            json!({"orderId": "order-2", "reason": "x", "cancelledAt": "2024-01-01T00:00:00Z"}),
        );
        assert!(matches!(
            project_all(&[event]),
            Err(ProjectionError::InvalidEvent { ref field, .. }) if field == "events[0].data.orderId"
        ));
    }
}
