//! How the failures of a read become HTTP answers, in one place.
//!
//! * Redis down, refusing or slower than `REDIS_TIMEOUT_MS` → 503 `Unavailable`, `Retry-After: 1`.
//! * Read-your-writes wait ran out → 503 `Unavailable`, `Retry-After: 1`, with the position asked
//!   for and the one reached in `details`.
//! * Stored data of the wrong shape → 500, cause logged, opaque body.
//! * A missing order → 404 whose `error` is the walkthrough's `"Order not found"` (not the kit's
//!   `NotFound`), so the walkthrough's clients keep working; `message` and `details` follow the
//!   wire conventions.

use actix_web::http::StatusCode;
use serde_json::json;
use shared_domain::service::ApiError;

use crate::freshness::FreshnessError;
use crate::store::StoreError;

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The walkthrough's 404 `error` value.
pub const ORDER_NOT_FOUND: &str = "Order not found";

/// A store failure as an answer.
pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Timeout(_) | StoreError::Redis(_) => {
            tracing::warn!(%error, "read model store unavailable");
            ApiError::unavailable("the read-model store is unavailable", RETRY_AFTER_SECS)
        }
        StoreError::Corrupt(_) => ApiError::internal(error),
    }
}

/// A failed read-your-writes read as an answer.
pub fn freshness_error(error: FreshnessError) -> ApiError {
    match error {
        FreshnessError::Store(error) => store_error(error),
        FreshnessError::NotReached {
            wanted,
            reached,
            waited,
        } => ApiError::unavailable(
            format!(
                "the read model has not yet reached global position {wanted} (it is at {reached}); retry shortly"
            ),
            RETRY_AFTER_SECS,
        )
        .with_details(json!({
            "minGlobalPosition": wanted,
            "checkpoint": reached,
            "waitedMs": waited.as_millis() as u64,
            "retryAfterSeconds": RETRY_AFTER_SECS,
        })),
    }
}

/// 404 for an order id nobody placed (or the projection has not seen yet).
pub fn order_not_found(order_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ORDER_NOT_FOUND,
        format!("no order with id {order_id:?}"),
        json!({ "orderId": order_id }),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn not_found_keeps_the_walkthrough_error_value() {
        let body = order_not_found("o-1").body();
        assert_eq!(body.error, "Order not found");
        assert_eq!(body.details["orderId"], "o-1");
    }

    #[test]
    fn timeouts_and_unreached_positions_are_503_with_retry_after() {
        let error = store_error(StoreError::Timeout(Duration::from_secs(1)));
        assert_eq!(error.status(), 503);
        let error = freshness_error(FreshnessError::NotReached {
            wanted: 9,
            reached: 4,
            waited: Duration::from_millis(250),
        });
        assert_eq!(error.status(), 503);
        assert_eq!(error.details()["minGlobalPosition"], 9);
        assert_eq!(error.details()["checkpoint"], 4);
        assert_eq!(error.details()["waitedMs"], 250);
    }

    #[test]
    fn corrupt_data_is_an_opaque_500() {
        let error = store_error(StoreError::Corrupt("field `status`: bad".to_owned()));
        assert_eq!(error.status(), 500);
        assert!(!error.message().contains("status"));
    }
}
