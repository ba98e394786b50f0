//! The HTTP routes of the read side and the state they share.

pub mod analytics;
mod conditional;
mod links;
pub mod orders;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, web};
use shared_domain::service::ApiError;

use crate::config::WaitSettings;
use crate::freshness::CheckpointWatch;
use crate::metrics::{Endpoint, Outcome, QueryMetrics};
use crate::store::ReadModelStore;

/// Header on every read answer: the checkpoint (global position) of the data answered, so a
/// client can tell how fresh it is and pass it on as `x-min-global-position`.
pub const GLOBAL_POSITION_HEADER: HeaderName = HeaderName::from_static("x-global-position");

/// What every handler needs. Shared by all workers (`web::Data`).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The read models.
    pub store: ReadModelStore,
    /// The live checkpoint, for read-your-writes waits.
    pub watch: CheckpointWatch,
    /// Read counters by endpoint and outcome.
    pub metrics: QueryMetrics,
    /// Read-your-writes wait bounds.
    pub wait: WaitSettings,
}

/// Registers the read routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders", web::get().to(orders::list_orders))
        .route(
            "/orders/customer/{customerId}",
            web::get().to(orders::list_customer_orders),
        )
        .route("/orders/{orderId}", web::get().to(orders::get_order))
        .route("/analytics/orders", web::get().to(analytics::get_analytics));
}

/// Counts the answer under `endpoint` and passes it on.
fn counted(
    state: &AppState,
    endpoint: Endpoint,
    answer: Result<HttpResponse, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let status = match &answer {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.status().as_u16(),
    };
    state.metrics.read(endpoint, Outcome::of_status(status));
    answer
}

/// The `x-global-position` header value.
fn position_header(checkpoint: u64) -> (HeaderName, HeaderValue) {
    (GLOBAL_POSITION_HEADER, HeaderValue::from(checkpoint))
}
