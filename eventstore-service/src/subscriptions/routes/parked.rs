//! The routes of a subscription's secret and its parked batches: `GET …/secret`,
//! `GET …/dead-letters`, `POST …/dead-letters/{deadLetterId}/redeliver`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;
use shared_domain::event::ReadEvent;
use shared_domain::service::ApiError;

use super::{db_error, internal, pool_error, subscription};
use crate::delivery::batch;
use crate::startup::AppState;
use crate::subscriptions::dead_letters;

#[utoipa::path(get, path = "/api/event-stores/{store}/subscriptions/{id}/secret", tag = "subscriptions", params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id")),
    responses((status = 200, description = "`{secret}`", body = Object), (status = 404, description = "Not found or unsigned", body = shared_domain::service::ErrorBody)))]
pub async fn secret(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    let row = subscription(&state, &store, &id).await?;
    match row.secret {
        Some(secret) => Ok(HttpResponse::Ok().json(json!({ "secret": secret.expose() }))),
        None => Err(ApiError::not_found(format!(
            "subscription {id:?} has no signing secret"
        ))),
    }
}

#[utoipa::path(get, path = "/api/event-stores/{store}/subscriptions/{id}/dead-letters", tag = "subscriptions", params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id")),
    responses((status = 200, description = "`{deadLetters: [...]}`", body = Object), (status = 404, description = "Not found", body = shared_domain::service::ErrorBody)))]
pub async fn dead_letter_list(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    let row = subscription(&state, &store, &id).await?;
    let client = state.pool.get().await.map_err(pool_error)?;
    let letters = dead_letters::list(&**client, row.store_id, &id, 1000)
        .await
        .map_err(db_error)?;
    Ok(HttpResponse::Ok().json(json!({ "deadLetters": letters })))
}

/// One delivery attempt of a parked batch, now, with its original delivery id.
#[utoipa::path(post, path = "/api/event-stores/{store}/subscriptions/{id}/dead-letters/{deadLetterId}/redeliver", tag = "subscriptions",
    params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id"), ("deadLetterId" = String, Path, description = "Dead letter id")),
    responses((status = 200, description = "Acknowledged", body = Object), (status = 404, description = "Not found", body = shared_domain::service::ErrorBody), (status = 409, description = "Redelivered already", body = shared_domain::service::ErrorBody), (status = 502, description = "The receiver did not acknowledge", body = shared_domain::service::ErrorBody)))]
pub async fn redeliver(
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id, letter_id) = path.into_inner();
    let row = subscription(&state, &store, &id).await?;
    let letter_id = uuid::Uuid::parse_str(&letter_id)
        .map_err(|_| ApiError::validation("deadLetterId", "deadLetterId: not a dead-letter id"))?;
    let client = state.pool.get().await.map_err(pool_error)?;
    let letter = dead_letters::get(&**client, row.store_id, &id, letter_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("dead letter {letter_id} does not exist")))?;
    if letter.status != "PARKED" {
        return Err(ApiError::conflict(
            "IllegalStateError",
            format!("dead letter {letter_id} was redelivered already"),
            json!({"status": letter.status}),
        ));
    }
    let events: Vec<ReadEvent> = serde_json::from_value(letter.events.clone()).map_err(internal)?;
    let attempt = letter.attempts + 1;
    let outcome = batch::send(
        &state.delivery.client,
        &row,
        &events,
        &letter.delivery_id,
        attempt,
    )
    .await;
    let error = outcome.as_ref().err().map(|f| f.error.clone());
    dead_letters::record_redelivery(&**client, letter_id, error.as_deref())
        .await
        .map_err(db_error)?;
    let letter = dead_letters::get(&**client, row.store_id, &id, letter_id)
        .await
        .map_err(db_error)?;
    match outcome {
        Ok(_) => {
            state.delivery.metrics.delivered(&store, &id, events.len());
            Ok(HttpResponse::Ok().json(json!({ "redelivered": true, "deadLetter": letter })))
        }
        Err(failed) => {
            state.delivery.metrics.failed(&store, &id);
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "DeliveryFailed",
                format!(
                    "the webhook did not acknowledge the redelivery: {}",
                    failed.error
                ),
                json!({ "status": failed.status, "deadLetter": letter }),
            ))
        }
    }
}
