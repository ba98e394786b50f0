//! `GET /orders/{orderId}`, `GET /orders`, `GET /orders/customer/{customerId}`.

use std::sync::Arc;

use actix_web::http::header::{CACHE_CONTROL, ContentType, ETAG, LINK};
use actix_web::{HttpRequest, HttpResponse, web};
use shared_domain::service::{ApiError, ErrorBody};

use super::conditional::{etag, matches_if_none_match};
use super::links::next_link;
use super::{AppState, counted, position_header};
use crate::errors::{freshness_error, order_not_found};
use crate::metrics::Endpoint;
use crate::openapi::{OrderSummaryDoc, ReadParams};
use crate::params::{ListParams, parse_freshness, parse_list, reject_status_filter};
use crate::store::{ListIndex, Read, RenderedPage};

/// One order's summary, as the walkthrough's `GET /orders/:orderId`.
#[utoipa::path(get, path = "/orders/{orderId}", tag = "orders",
    params(("orderId" = String, Path, description = "The order id (its stream id)"), ReadParams,
        ("If-None-Match" = Option<String>, Header, description = "ETag of a copy the client holds")),
    responses(
        (status = 200, description = "The order summary; `ETag` from generation and `_revision`",
            body = OrderSummaryDoc,
            headers(("ETag" = String), ("x-global-position" = u64, description = "Checkpoint of the data"))),
        (status = 304, description = "The client's copy (If-None-Match) is current"),
        (status = 400, description = "Bad minGlobalPosition, waitMs or x-min-global-position", body = ErrorBody),
        (status = 404, description = "`{\"error\": \"Order not found\", …}`", body = ErrorBody),
        (status = 503, description = "Redis unavailable, or minGlobalPosition not reached within waitMs", body = ErrorBody,
            headers(("Retry-After" = u64))),
    ))]
pub async fn get_order(
    req: HttpRequest,
    order_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let answer = async {
        let demand = parse_freshness(&req, &state.wait)?;
        let min_checkpoint = demand.as_ref().map_or(0, |d| d.min_position);
        let read = state
            .watch
            .read_at_least(demand, || state.store.order(&order_id, min_checkpoint))
            .await
            .map_err(freshness_error)?;
        let Some(summary) = &read.value else {
            return Err(order_not_found(&order_id));
        };
        let tag = etag(&read.generation, summary.revision);
        if matches_if_none_match(&req, &tag) {
            return Ok(HttpResponse::NotModified()
                .insert_header((ETAG, tag))
                .insert_header(position_header(read.checkpoint))
                .finish());
        }
        Ok(HttpResponse::Ok()
            .insert_header((ETAG, tag))
            .insert_header((CACHE_CONTROL, "no-cache"))
            .insert_header(position_header(read.checkpoint))
            .content_type(ContentType::json())
            .body(summary.json.clone()))
    }
    .await;
    counted(&state, Endpoint::Order, answer)
}

/// Orders newest first, all or in one status (the walkthrough's `GET /orders?status=`), read from
/// the projection's sorted-set indexes. The answer is a plain JSON array; the next page is in the
/// `Link` header.
#[utoipa::path(get, path = "/orders", tag = "orders",
    params(
        ("status" = Option<String>, Query, description = "pending, shipped, delivered or cancelled; empty or absent = all"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Opaque; from the previous page's Link header"),
        ReadParams),
    responses(
        (status = 200, description = "Up to `limit` orders, newest first", body = Vec<OrderSummaryDoc>,
            headers(("Link" = String, description = "`</orders?…&cursor=…>; rel=\"next\"` when more follow"),
                ("x-global-position" = u64, description = "Checkpoint of the data"))),
        (status = 400, description = "Bad status, limit, cursor, minGlobalPosition or waitMs", body = ErrorBody),
        (status = 503, description = "Redis unavailable, or minGlobalPosition not reached within waitMs", body = ErrorBody,
            headers(("Retry-After" = u64))),
    ))]
pub async fn list_orders(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let answer = async {
        let params = parse_list(req.query_string())?;
        let index = params.status.map_or(ListIndex::All, ListIndex::Status);
        list(&req, &state, index, &params).await
    }
    .await;
    counted(&state, Endpoint::Orders, answer)
}

/// One customer's orders, newest first (the walkthrough's `GET /orders/customer/:customerId`),
/// from the `CustomerOrders` index; paged like `GET /orders`.
#[utoipa::path(get, path = "/orders/customer/{customerId}", tag = "orders",
    params(
        ("customerId" = String, Path, description = "The customer id"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Opaque; from the previous page's Link header"),
        ReadParams),
    responses(
        (status = 200, description = "Up to `limit` of the customer's orders, newest first (empty for an unknown customer)",
            body = Vec<OrderSummaryDoc>,
            headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when more follow"),
                ("x-global-position" = u64, description = "Checkpoint of the data"))),
        (status = 400, description = "Bad limit, cursor, minGlobalPosition or waitMs; or a status filter (not supported here)", body = ErrorBody),
        (status = 503, description = "Redis unavailable, or minGlobalPosition not reached within waitMs", body = ErrorBody,
            headers(("Retry-After" = u64))),
    ))]
pub async fn list_customer_orders(
    req: HttpRequest,
    customer_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let answer = async {
        let params = parse_list(req.query_string())?;
        reject_status_filter(&params)?;
        list(&req, &state, ListIndex::Customer(&customer_id), &params).await
    }
    .await;
    counted(&state, Endpoint::CustomerOrders, answer)
}

async fn list(
    req: &HttpRequest,
    state: &AppState,
    index: ListIndex<'_>,
    params: &ListParams,
) -> Result<HttpResponse, ApiError> {
    let demand = parse_freshness(req, &state.wait)?;
    let min_checkpoint = demand.as_ref().map_or(0, |d| d.min_position);
    let read = state
        .watch
        .read_at_least(demand, || {
            state
                .store
                .page(index, params.cursor.as_ref(), params.limit, min_checkpoint)
        })
        .await
        .map_err(freshness_error)?;
    Ok(page_response(req, &read))
}

fn page_response(req: &HttpRequest, read: &Read<Arc<RenderedPage>>) -> HttpResponse {
    let page = &read.value;
    let mut response = HttpResponse::Ok();
    response.insert_header(position_header(read.checkpoint));
    if let Some(next) = &page.next {
        response.insert_header((LINK, next_link(req, next)));
    }
    response
        .content_type(ContentType::json())
        .body(page.body.clone())
}
