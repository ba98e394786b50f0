//! `GET /analytics/orders`: the `OrderAnalytics` read model.

use actix_web::{HttpRequest, HttpResponse, web};
use shared_domain::service::{ApiError, ErrorBody};

use super::{AppState, counted, position_header};
use crate::errors::freshness_error;
use crate::metrics::Endpoint;
use crate::openapi::{OrderAnalyticsDoc, ReadParams};
use crate::params::parse_freshness;

/// Orders and revenue per current status, and totals of every order ever placed.
#[utoipa::path(get, path = "/analytics/orders", tag = "analytics",
    params(ReadParams),
    responses(
        (status = 200, description = "Counts and revenue per status, totals", body = OrderAnalyticsDoc,
            headers(("x-global-position" = u64, description = "Checkpoint of the data"))),
        (status = 400, description = "Bad minGlobalPosition, waitMs or x-min-global-position", body = ErrorBody),
        (status = 503, description = "Redis unavailable, or minGlobalPosition not reached within waitMs", body = ErrorBody,
            headers(("Retry-After" = u64))),
    ))]
pub async fn get_analytics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let answer = async {
        let demand = parse_freshness(&req, &state.wait)?;
        let read = state
            .watch
            .read_at_least(demand, || state.store.analytics())
            .await
            .map_err(freshness_error)?;
        Ok(HttpResponse::Ok()
            .insert_header(position_header(read.checkpoint))
            .json(&read.value))
    }
    .await;
    counted(&state, Endpoint::Analytics, answer)
}
