//! [`CommandFailure`]: every way a command can fail once its request has parsed, and the one
//! place where each becomes an HTTP status and body ([`CommandFailure::to_api_error`]) and a
//! metrics outcome ([`CommandFailure::outcome`]).

use std::time::Duration;

use serde_json::{Map, Value, json};
use shared_domain::decider::CommandError;
use shared_domain::error::DomainError;
use shared_domain::event_store::StoreError;
use shared_domain::service::ApiError;

/// Seconds a client is asked to wait (`Retry-After`) when the event store is unavailable.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandFailure {
    /// The decider refused it, the store failed, or concurrent writers kept winning.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The `Idempotency-Key` was used on this order for a different request.
    #[error("idempotency key {key:?} was used for a different request")]
    IdempotencyKeyReused { key: String },
    /// `If-Match` named another version than the stream has.
    #[error("stream is at version {current:?}, not {expected}")]
    PreconditionFailed { expected: u64, current: Option<u64> },
    /// The whole command took longer than its budget.
    #[error("the command did not finish within {0:?}")]
    TimedOut(Duration),
}

impl CommandFailure {
    /// The `outcome` label of the command metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Command(CommandError::Domain(DomainError::Validation { .. })) => "invalid",
            Self::Command(CommandError::Domain(error)) if is_missing_order(error) => "not_found",
            Self::Command(CommandError::Domain(_)) => "illegal_state",
            Self::Command(CommandError::ConflictRetriesExhausted { .. })
            | Self::Command(CommandError::Store(StoreError::VersionConflict { .. })) => "conflict",
            Self::Command(CommandError::Store(StoreError::Unavailable(_))) => "unavailable",
            Self::Command(CommandError::Store(StoreError::Rejected { status, .. }))
                if is_our_misconfiguration(*status) =>
            {
                "unavailable"
            }
            Self::Command(_) => "error",
            Self::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            Self::PreconditionFailed { .. } => "precondition_failed",
            Self::TimedOut(_) => "timeout",
        }
    }

    /// The HTTP answer for this failure of a command on `order_id`.
    pub fn to_api_error(&self, order_id: &str) -> ApiError {
        match self {
            Self::Command(CommandError::Domain(error)) => domain_error(error, order_id),
            Self::Command(CommandError::ConflictRetriesExhausted { attempts, .. }) => {
                ApiError::conflict(
                    "StreamVersionConflict",
                    format!(
                        "order {order_id} was changed by concurrent commands {attempts} times in a row; retry the command"
                    ),
                    json!({ "orderId": order_id, "attempts": attempts }),
                )
            }
            Self::Command(CommandError::Store(StoreError::VersionConflict {
                expected,
                current,
            })) => ApiError::conflict(
                "StreamVersionConflict",
                format!("order {order_id} was changed concurrently; retry the command"),
                json!({ "orderId": order_id, "expectedVersion": expected.to_string(), "currentVersion": current }),
            ),
            Self::Command(CommandError::Store(StoreError::Unavailable(cause))) => {
                tracing::warn!(order_id, error = %cause, "event store unavailable");
                ApiError::unavailable(
                    "the event store is unavailable; retry later",
                    RETRY_AFTER_SECS,
                )
            }
            Self::Command(CommandError::Store(StoreError::Rejected { status, .. }))
                if is_our_misconfiguration(*status) =>
            {
                // Our API key or store name is wrong: not the client's fault, and not fixed by
                // its retry alone, but readiness says so too and operators see this line.
                tracing::error!(order_id, error = %self, "the event store refuses this service");
                ApiError::unavailable(
                    "the event store is not usable by this service; retry later",
                    RETRY_AFTER_SECS,
                )
            }
            Self::Command(other) => ApiError::internal(other),
            Self::IdempotencyKeyReused { key } => ApiError::unprocessable(
                "IdempotencyKeyReused",
                format!(
                    "Idempotency-Key {key:?} was already used on order {order_id} for a different request; use a new key for a new request"
                ),
                json!({ "orderId": order_id, "idempotencyKey": key }),
            ),
            Self::PreconditionFailed { expected, current } => ApiError::new(
                actix_web::http::StatusCode::PRECONDITION_FAILED,
                "StreamVersionConflict",
                match current {
                    Some(current) => format!(
                        "If-Match expected order {order_id} at version {expected}, but it is at version {current}"
                    ),
                    None => format!(
                        "If-Match expected order {order_id} at version {expected}, but it changed concurrently"
                    ),
                },
                json!({ "orderId": order_id, "expectedVersion": expected, "currentVersion": current }),
            ),
            Self::TimedOut(budget) => {
                tracing::warn!(
                    order_id,
                    budget_ms = budget.as_millis() as u64,
                    "command timed out"
                );
                ApiError::unavailable(
                    format!(
                        "the command did not complete within {} ms; retry (safely, with the same Idempotency-Key)",
                        budget.as_millis()
                    ),
                    RETRY_AFTER_SECS,
                )
            }
        }
    }
}

/// A store answer of 401/403 (our API key) or 404 (our store name): the service is
/// misconfigured.
fn is_our_misconfiguration(status: u16) -> bool {
    matches!(status, 401 | 403 | 404)
}

/// Whether a domain refusal means "this order does not exist" (any command but a place on an
/// order with no events).
fn is_missing_order(error: &DomainError) -> bool {
    matches!(
        error,
        DomainError::IllegalState { current_state, attempted_action, .. }
            if current_state == "null" && attempted_action != "place order"
    )
}

fn domain_error(error: &DomainError, order_id: &str) -> ApiError {
    match error {
        DomainError::Validation {
            message,
            field,
            details,
        } => {
            let mut details = object(details);
            if let Some(field) = field {
                details.insert("field".into(), json!(field));
            }
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "ValidationError",
                message.clone(),
                Value::Object(details),
            )
        }
        error if is_missing_order(error) => {
            ApiError::not_found(format!("Order {order_id} does not exist"))
                .with_details(json!({ "orderId": order_id }))
        }
        DomainError::IllegalState {
            message,
            details,
            current_state,
            attempted_action,
        } => {
            let mut details = object(details);
            details.insert("orderId".into(), json!(order_id));
            details.insert("currentStatus".into(), json!(current_state));
            details.insert("attemptedAction".into(), json!(attempted_action));
            ApiError::conflict("IllegalStateError", message.clone(), Value::Object(details))
        }
    }
}

fn object(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn illegal(current: &str, action: &str) -> CommandFailure {
        CommandFailure::Command(CommandError::Domain(DomainError::illegal_state(
            "Cannot ship order in status: shipped",
            json!({"orderId": "o-1", "status": current}),
            current,
            action,
        )))
    }

    #[test]
    fn command_on_a_missing_order_is_404() {
        let error = illegal("null", "ship order").to_api_error("o-1");
        assert_eq!(error.status(), 404);
        assert_eq!(error.error_type(), "NotFound");
        assert_eq!(error.message(), "Order o-1 does not exist");
    }

    #[test]
    fn place_refused_is_409_not_404() {
        let error = illegal("pending", "place order").to_api_error("o-1");
        assert_eq!(error.status(), 409);
    }

    #[test]
    fn illegal_state_is_409_with_the_walkthrough_message_and_current_status() {
        let failure = illegal("shipped", "ship order");
        let error = failure.to_api_error("o-1");
        assert_eq!(error.status(), 409);
        assert_eq!(error.error_type(), "IllegalStateError");
        assert_eq!(error.message(), "Cannot ship order in status: shipped");
        assert_eq!(error.details()["currentStatus"], "shipped");
        assert_eq!(failure.outcome(), "illegal_state");
    }

    #[test]
    fn validation_names_the_field() {
        let failure = CommandFailure::Command(CommandError::Domain(DomainError::invalid_field(
            "items[0].quantity",
            "quantity must be a positive integer of at most 1000000",
        )));
        let error = failure.to_api_error("o-1");
        assert_eq!(error.status(), 400);
        assert_eq!(error.details()["field"], "items[0].quantity");
    }

    #[test]
    fn unavailable_store_is_503_with_retry_after() {
        let failure = CommandFailure::Command(CommandError::Store(StoreError::Unavailable(
            "connection refused".into(),
        )));
        let error = failure.to_api_error("o-1");
        assert_eq!(error.status(), 503);
        let response = actix_web::ResponseError::error_response(&error);
        assert_eq!(response.headers().get("retry-after").unwrap(), "1");
        assert!(
            !error.message().contains("refused"),
            "cause stays in the log"
        );
    }

    #[test]
    fn exhausted_conflict_retries_are_409() {
        let failure = CommandFailure::Command(CommandError::ConflictRetriesExhausted {
            stream_id: "o-1".into(),
            attempts: 5,
        });
        assert_eq!(failure.to_api_error("o-1").status(), 409);
        assert_eq!(failure.outcome(), "conflict");
    }

    #[test]
    fn a_store_refusing_our_key_or_store_name_is_503() {
        for status in [401, 404] {
            let failure = CommandFailure::Command(CommandError::Store(StoreError::Rejected {
                status,
                error: "NotFound".into(),
                message: "no store orders".into(),
            }));
            assert_eq!(failure.to_api_error("o-1").status(), 503);
            assert_eq!(failure.outcome(), "unavailable");
        }
    }

    #[test]
    fn store_protocol_errors_are_opaque_500s() {
        let failure = CommandFailure::Command(CommandError::Store(StoreError::Protocol(
            "secret internals".into(),
        )));
        let error = failure.to_api_error("o-1");
        assert_eq!(error.status(), 500);
        assert!(!error.message().contains("secret"));
    }
}
