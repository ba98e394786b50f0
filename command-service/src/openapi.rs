//! The OpenAPI document of the command routes; `common_routes` merges in the kit's operational
//! routes and serves it at `/openapi.json`.

use utoipa::OpenApi;

/// The command service's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "command-service",
        description = "Commands on orders: place, ship, deliver, cancel. Each answer carries the order's streamVersion and the globalPosition of its event (also as x-global-position) for read-your-writes on the query side."
    ),
    paths(
        crate::routes::place_order,
        crate::routes::ship_order,
        crate::routes::deliver_order,
        crate::routes::cancel_order,
    ),
    components(schemas(
        crate::requests::PlaceOrderBody,
        crate::requests::ItemBody,
        crate::requests::ShipOrderBody,
        crate::requests::DeliverOrderBody,
        crate::requests::CancelOrderBody,
        crate::answers::OrderPlacedAnswer,
        crate::answers::OrderChangedAnswer,
    )),
    tags((name = "commands", description = "The write side of the Orders domain"))
)]
pub struct ApiDoc;
