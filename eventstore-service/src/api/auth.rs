//! The API key: when `EVENTSTORE_API_KEY` is set, every `/api` route needs it (as `X-API-Key` or
//! `Authorization: Bearer`), compared in constant time. Health, metrics and OpenAPI stay open.
//! The setting may list several keys (whitespace or commas), each accepted: a key is rotated by
//! adding the new one, moving the clients over, then removing the old one.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use shared_domain::service::auth::require_any_token;

use crate::startup::AppState;

/// Middleware for the `/api` scope.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let expected = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.config.api_key.clone());
    if let Some(expected) = expected {
        require_any_token(req.request(), &expected)?;
    }
    next.call(req).await
}
