//! The OpenAPI document of the projection service (served at `/openapi.json` with the kit's
//! paths).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The service's own paths and schemas.
#[derive(OpenApi)]
#[openapi(
    info(title = "projection-service", description = "Receives the event store's webhook \
        deliveries and projects order events into Redis read models (OrderSummary, \
        CustomerOrders, OrderAnalytics); checkpoint and lag; rebuild into a fresh generation."),
    paths(
        crate::routes::events::receive,
        crate::routes::status::status,
        crate::routes::rebuild::start,
    ),
    components(schemas(
        crate::routes::events::Processed,
        crate::routes::status::ProjectionStatus,
        crate::routes::status::StoreLag,
        crate::routes::rebuild::RebuildStarted,
    )),
    modifiers(&BearerAuth),
    tags((name = "projection", description = "Webhook, status and rebuild"))
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the routes reference.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_the_routes() {
        let json = serde_json::to_value(document()).unwrap();
        for path in [
            "/api/projections/orders/events",
            "/api/projections/orders/status",
            "/api/projections/orders/rebuild",
        ] {
            assert!(json["paths"].get(path).is_some(), "{path} missing");
        }
        assert!(json["components"]["securitySchemes"]["bearer"].is_object());
    }
}
