//! `POST/GET /api/event-stores`, `GET/DELETE /api/event-stores/{store}`.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use shared_domain::service::{ApiError, JsonBody, QueryParams};
use shared_domain::wire::{CreateEventStoreRequest, EventStoreInfo, EventStoreList};

use super::params::{self, DeleteQuery};
use crate::model::StoreName;
use crate::startup::AppState;
use crate::storage::stores;

/// Longest store description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Creates a store: 201 with the store, 409 when the name is taken.
#[utoipa::path(post, path = "/api/event-stores", tag = "event stores",
    request_body(content = Object, description = "`{name, description?, settings?}`"),
    responses(
        (status = 201, description = "Created", body = Object),
        (status = 400, description = "Invalid name, description or settings", body = shared_domain::service::ErrorBody),
        (status = 409, description = "A store with this name exists", body = shared_domain::service::ErrorBody),
    ))]
pub async fn create_store(
    state: web::Data<AppState>,
    body: JsonBody<CreateEventStoreRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let name = StoreName::parse(&request.name).map_err(|m| ApiError::validation("name", m))?;
    if let Some(description) = &request.description
        && description.chars().count() > MAX_DESCRIPTION_CHARS
    {
        return Err(ApiError::validation(
            "description",
            format!("description is at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let settings = match request.settings {
        None | Some(Value::Null) => json!({}),
        Some(settings @ Value::Object(_)) => settings,
        Some(_) => {
            return Err(ApiError::validation(
                "settings",
                "settings must be a JSON object",
            ));
        }
    };
    let info: EventStoreInfo = stores::create(
        &state.pool,
        &name,
        request.description.as_deref(),
        &settings,
    )
    .await?;
    tracing::info!(store = %name, "event store created");
    Ok(HttpResponse::Created().json(info))
}

/// Lists every store with its statistics.
#[utoipa::path(get, path = "/api/event-stores", tag = "event stores",
    responses((status = 200, description = "`{eventStores: [...]}`", body = Object)))]
pub async fn list_stores(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let event_stores = stores::list(&state.pool).await?;
    Ok(HttpResponse::Ok().json(EventStoreList { event_stores }))
}

/// One store with statistics: streams, events, bytes, oldest and newest event.
#[utoipa::path(get, path = "/api/event-stores/{store}", tag = "event stores",
    params(("store" = String, Path, description = "Store name")),
    responses(
        (status = 200, description = "The store", body = Object),
        (status = 404, description = "No such store", body = shared_domain::service::ErrorBody),
    ))]
pub async fn get_store(
    state: web::Data<AppState>,
    store: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = params::store_name(&store)?;
    Ok(HttpResponse::Ok().json(stores::get(&state.pool, &name).await?))
}

/// Deletes a store and all its events; needs `?confirm=true`.
#[utoipa::path(delete, path = "/api/event-stores/{store}", tag = "event stores",
    params(("store" = String, Path, description = "Store name"),
           ("confirm" = bool, Query, description = "Must be true")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "confirm=true missing", body = shared_domain::service::ErrorBody),
        (status = 404, description = "No such store", body = shared_domain::service::ErrorBody),
    ))]
pub async fn delete_store(
    state: web::Data<AppState>,
    store: web::Path<String>,
    query: QueryParams<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = params::store_name(&store)?;
    if !query.confirm {
        return Err(ApiError::validation(
            "confirm",
            "deleting a store removes all its events: add ?confirm=true",
        ));
    }
    stores::delete(&state.pool, &name).await?;
    tracing::info!(store = %name, "event store deleted");
    Ok(HttpResponse::NoContent().finish())
}
