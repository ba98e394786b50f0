//! The OpenAPI document of the query service (served at `/openapi.json` with the kit's paths).
//!
//! The read-model types live in shared-domain without a schema derive, so their wire shapes are
//! described here by doc-only mirrors; a test checks each mirror against what the real type
//! serializes to, so the two cannot drift apart.

#![allow(dead_code)] // the mirrors exist only for their derived schemas

use std::collections::BTreeMap;

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Required, Schema};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::params::MIN_POSITION_HEADER;

/// The service's own paths and schemas (the kit adds health, metrics and this document).
#[derive(OpenApi)]
#[openapi(
    info(title = "query-service", description = "Reads of the Orders read models: single orders, \
        newest-first lists by status and by customer (paged, `Link: rel=\"next\"`), analytics, \
        and read-your-writes with `minGlobalPosition`."),
    paths(
        crate::routes::orders::get_order,
        crate::routes::orders::list_orders,
        crate::routes::orders::list_customer_orders,
        crate::routes::analytics::get_analytics,
    ),
    components(schemas(OrderSummaryDoc, OrderAnalyticsDoc, StatusTotalsDoc)),
    tags(
        (name = "orders", description = "Order summaries"),
        (name = "analytics", description = "Order analytics"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The walkthrough's `OrderSummaryReadModel`.
#[derive(ToSchema)]
#[schema(as = OrderSummary)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummaryDoc {
    order_id: String,
    customer_id: String,
    /// Exact decimal amount, as a JSON number.
    #[schema(value_type = f64, example = 59.97)]
    total_amount: String,
    /// Number of order lines.
    item_count: u32,
    #[schema(example = "pending")]
    /// `pending`, `shipped`, `delivered` or `cancelled`.
    status: String,
    tracking_number: Option<String>,
    carrier: Option<String>,
    #[schema(format = DateTime)]
    placed_at: String,
    #[schema(format = DateTime)]
    shipped_at: Option<String>,
    #[schema(format = DateTime)]
    delivered_at: Option<String>,
    #[schema(format = DateTime)]
    cancelled_at: Option<String>,
    /// Stream position of the last event applied (the order's version).
    #[serde(rename = "_revision")]
    revision: u64,
}

/// Orders and revenue in one status.
#[derive(ToSchema)]
#[schema(as = StatusTotals)]
pub struct StatusTotalsDoc {
    count: u64,
    #[schema(value_type = f64)]
    revenue: String,
}

/// Orders and revenue per current status, and totals of every order ever placed (cancelled
/// ones included: net revenue is `totalRevenue - byStatus.cancelled.revenue`).
#[derive(ToSchema)]
#[schema(as = OrderAnalytics)]
#[serde(rename_all = "camelCase")]
pub struct OrderAnalyticsDoc {
    total_orders: u64,
    #[schema(value_type = f64)]
    total_revenue: String,
    /// Every status, with zeros where there are no orders.
    by_status: BTreeMap<String, StatusTotalsDoc>,
}

/// The read-your-writes parameters every read takes.
pub struct ReadParams;

impl IntoParams for ReadParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let integer = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
        };
        vec![
            ParameterBuilder::new()
                .name("minGlobalPosition")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "Answer only once the projection has applied this global position (the one a \
                     command returned); waits up to waitMs, then 503 with Retry-After",
                ))
                .schema(Some(integer()))
                .build(),
            ParameterBuilder::new()
                .name("waitMs")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "Longest wait for minGlobalPosition, in ms (default 2000, capped at 10000; \
                     both configurable); 0 = do not wait",
                ))
                .schema(Some(integer()))
                .build(),
            ParameterBuilder::new()
                .name(MIN_POSITION_HEADER)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Same as minGlobalPosition (the larger of the two counts)",
                ))
                .schema(Some(integer()))
                .build(),
        ]
    }
}

/// Property names of a schema in the document's components.
pub fn schema_properties(doc: &utoipa::openapi::OpenApi, name: &str) -> Vec<String> {
    let Some(components) = &doc.components else {
        return Vec::new();
    };
    match components.schemas.get(name) {
        Some(utoipa::openapi::RefOr::T(Schema::Object(object))) => {
            object.properties.keys().cloned().collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;
    use shared_domain::money::Money;
    use shared_domain::orders::OrderStatus;
    use shared_domain::read_model::{OrderAnalytics, OrderSummary};

    use super::*;

    fn keys_of(value: &serde_json::Value) -> BTreeSet<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn summary_schema_lists_exactly_the_serialized_fields() {
        let now = Utc::now();
        let full = OrderSummary {
            order_id: "o-1".to_owned(),
            customer_id: "c-1".to_owned(),
            total_amount: Money::from(3),
            item_count: 1,
            status: OrderStatus::Delivered,
            tracking_number: Some("T".to_owned()),
            carrier: Some("UPS".to_owned()),
            placed_at: now,
            shipped_at: Some(now),
            delivered_at: Some(now),
            cancelled_at: Some(now),
            revision: 3,
        };
        let serialized = keys_of(&serde_json::to_value(&full).unwrap());
        let documented: BTreeSet<String> = schema_properties(&document(), "OrderSummary")
            .into_iter()
            .collect();
        assert_eq!(documented, serialized);
    }

    #[test]
    fn analytics_schema_lists_exactly_the_serialized_fields() {
        let serialized = keys_of(&serde_json::to_value(OrderAnalytics::default()).unwrap());
        let documented: BTreeSet<String> = schema_properties(&document(), "OrderAnalytics")
            .into_iter()
            .collect();
        assert_eq!(documented, serialized);
    }

    #[test]
    fn document_has_every_read_route() {
        let doc = document();
        for path in [
            "/orders",
            "/orders/{orderId}",
            "/orders/customer/{customerId}",
            "/analytics/orders",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path} missing");
        }
    }
}
