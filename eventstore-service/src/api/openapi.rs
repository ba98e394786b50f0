//! The service's OpenAPI document (served at `/openapi.json` with the kit's routes merged in).

use utoipa::OpenApi;

use super::{append, read, stores};

/// The event store's own paths.
#[derive(OpenApi)]
#[openapi(
    info(title = "eventstore-service", description = "A DeltaBase-style event store on PostgreSQL"),
    paths(
        stores::create_store, stores::list_stores, stores::get_store, stores::delete_store,
        append::append, read::read_stream, read::read_all,
    ),
    components(schemas(shared_domain::service::ErrorBody)),
    modifiers(&ApiKeySecurity),
    security(("api_key" = []), ("bearer" = [])),
    tags(
        (name = "event stores", description = "Create, list, inspect and delete named stores"),
        (name = "streams", description = "Append, read a stream, read all in global order"),
    )
)]
pub struct ApiDoc;

/// Declares the two ways to present the API key.
struct ApiKeySecurity;

impl utoipa::Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    // Issue 4: the subscription routes document themselves.
    document.merge(crate::subscriptions::routes::SubscriptionsDoc::openapi());
    document
}
