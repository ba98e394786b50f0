//! The subscription REST API (under `/api`, behind the API key):
//!
//! | method, path | answer |
//! |---|---|
//! | `POST /event-stores/{store}/subscribe` | 201 created (with `secret` once when generated), 200 the identical existing one, 409 the id is taken by another definition |
//! | `GET /event-stores/{store}/subscriptions[/{id}]` | list; one with status, `statusDetails`, checkpoint, lag |
//! | `DELETE …/subscriptions/{id}` | 204 |
//! | `POST …/{id}/pause`, `/resume`, `/reset {fromGlobalPosition}` | 200 the subscription |
//! | `GET …/{id}/secret` | the signing secret (for operators who lost the one-time answer) |
//! | `GET …/{id}/dead-letters`, `POST …/{id}/dead-letters/{dl}/redeliver` | parked batches; one attempt now |

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use shared_domain::service::{ApiError, JsonBody};

use super::apply::{self, Applied, ApplyError, Mode};
use super::db::{self, StoreRef, SubscriptionRow};
use super::spec::{SubscriptionDefinition, SubscriptionSpec, check_id, join};
use super::view;
use crate::model::StoreName;
use crate::startup::AppState;

mod parked;

/// The OpenAPI paths of these routes (merged into the service's document).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        subscribe, list, show, remove, pause, resume, reset,
        parked::secret, parked::dead_letter_list, parked::redeliver
    ),
    tags((name = "subscriptions", description = "Webhook subscriptions: subscribe, operate, dead letters"))
)]
pub struct SubscriptionsDoc;

/// Mounts the routes (relative to `/api`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    const SUB: &str = "/event-stores/{store}/subscriptions/{id}";
    cfg.service(web::resource("/event-stores/{store}/subscribe").route(web::post().to(subscribe)))
        .service(web::resource("/event-stores/{store}/subscriptions").route(web::get().to(list)))
        .service(
            web::resource(SUB)
                .route(web::get().to(show))
                .route(web::delete().to(remove)),
        )
        .service(web::resource(format!("{SUB}/pause")).route(web::post().to(pause)))
        .service(web::resource(format!("{SUB}/resume")).route(web::post().to(resume)))
        .service(web::resource(format!("{SUB}/reset")).route(web::post().to(reset)))
        .service(web::resource(format!("{SUB}/secret")).route(web::get().to(parked::secret)))
        .service(
            web::resource(format!("{SUB}/dead-letters"))
                .route(web::get().to(parked::dead_letter_list)),
        )
        .service(
            web::resource(format!("{SUB}/dead-letters/{{deadLetterId}}/redeliver"))
                .route(web::post().to(parked::redeliver)),
        );
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

fn db_error(e: tokio_postgres::Error) -> ApiError {
    if e.is_closed() || e.as_db_error().is_none() {
        ApiError::unavailable("the event store database is unavailable", 1)
    } else {
        internal(e)
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> ApiError {
    tracing::warn!(error = %e, "no database connection");
    ApiError::unavailable("the event store database is unavailable", 1)
}

async fn store_ref(state: &AppState, store: &str) -> Result<StoreRef, ApiError> {
    StoreName::parse(store).map_err(|m| ApiError::validation("store", m))?;
    let client = state.pool.get().await.map_err(pool_error)?;
    db::find_store(&**client, store)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("event store {store:?} does not exist")))
}

async fn subscription(
    state: &AppState,
    store: &str,
    id: &str,
) -> Result<SubscriptionRow, ApiError> {
    let store_ref = store_ref(state, store).await?;
    check_id(id).map_err(|m| ApiError::validation("subscriptionId", m))?;
    let client = state.pool.get().await.map_err(pool_error)?;
    db::get(&**client, store_ref.id, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!("subscription {id:?} does not exist in {store:?}"))
        })
}

/// `POST …/subscribe`.
#[utoipa::path(post, path = "/api/event-stores/{store}/subscribe", tag = "subscriptions", params(("store" = String, Path, description = "Event store name")),
    request_body(content = Object, description = "One subscription as in the config file: `{id?, eventFilter, subscriberType?, initialPosition?, batchSize?, onRetriesExhausted?, webhook: {url, headers?, timeoutMs?, retryPolicy?, secret?}}`"),
    responses(
        (status = 201, description = "Created (with `secret` once when generated)", body = Object),
        (status = 200, description = "An identical subscription exists", body = Object),
        (status = 400, description = "A field is invalid (`details.field`)", body = shared_domain::service::ErrorBody),
        (status = 404, description = "No such store", body = shared_domain::service::ErrorBody),
        (status = 409, description = "The id holds another definition", body = shared_domain::service::ErrorBody),
    ))]
pub async fn subscribe(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<SubscriptionSpec>,
) -> Result<HttpResponse, ApiError> {
    let store = path.into_inner();
    store_ref(&state, &store).await?;
    let allowlist = state.delivery.settings.allowlist.as_deref();
    let def = SubscriptionDefinition::check(&body, "", allowlist)
        .map_err(|e| ApiError::validation(e.path.clone(), e.to_string()))?;
    if let Some(list) = allowlist {
        list.check_url(&def.webhook.url).await.map_err(|reason| {
            ApiError::validation(
                "webhook.url",
                format!("{}: {reason}", join("webhook", "url")),
            )
        })?;
    }
    let outcome = apply::apply(&state.pool, &store, &def, Mode::CreateOnly)
        .await
        .map_err(|e| match e {
            ApplyError::StoreNotFound(s) => {
                ApiError::not_found(format!("event store {s:?} does not exist"))
            }
            ApplyError::Db(e) => db_error(e),
            ApplyError::Pool(e) => pool_error(e),
        })?;
    let mut answer = view::subscription(&outcome.row);
    if let Some(secret) = &outcome.generated_secret {
        answer["secret"] = json!(secret.expose());
    }
    match outcome.applied {
        Applied::Created => {
            state.delivery.wakeups.signal_subscription(&store);
            Ok(HttpResponse::Created().json(answer))
        }
        Applied::Conflict => Err(ApiError::conflict(
            "SubscriptionExists",
            format!(
                "subscription {:?} exists with a different definition; delete it first or use another id",
                def.id
            ),
            json!({"subscriptionId": def.id}),
        )),
        _ => Ok(HttpResponse::Ok().json(answer)),
    }
}

#[utoipa::path(get, path = "/api/event-stores/{store}/subscriptions", tag = "subscriptions", params(("store" = String, Path, description = "Event store name")),
    responses((status = 200, description = "`{subscriptions: [...]}`", body = Object), (status = 404, description = "No such store", body = shared_domain::service::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = store_ref(&state, &path).await?;
    let client = state.pool.get().await.map_err(pool_error)?;
    let rows = db::list(&**client, store.id).await.map_err(db_error)?;
    let items: Vec<_> = rows.iter().map(view::subscription).collect();
    Ok(HttpResponse::Ok().json(json!({ "subscriptions": items })))
}

#[utoipa::path(get, path = "/api/event-stores/{store}/subscriptions/{id}", tag = "subscriptions", params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id")),
    responses((status = 200, description = "Status, statusDetails, lastProcessedEventGlobalPosition, lag", body = Object), (status = 404, description = "Not found", body = shared_domain::service::ErrorBody)))]
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    let row = subscription(&state, &store, &id).await?;
    Ok(HttpResponse::Ok().json(view::subscription(&row)))
}

#[utoipa::path(delete, path = "/api/event-stores/{store}/subscriptions/{id}", tag = "subscriptions", params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found", body = shared_domain::service::ErrorBody)))]
pub async fn remove(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    let row = subscription(&state, &store, &id).await?;
    let client = state.pool.get().await.map_err(pool_error)?;
    db::delete(&**client, row.store_id, &id)
        .await
        .map_err(db_error)?;
    db::notify_changed(&**client, &store, &id)
        .await
        .map_err(db_error)?;
    state.delivery.wakeups.signal_subscription(&store);
    Ok(HttpResponse::NoContent().finish())
}

/// Runs an operator action and answers the subscription as it now is.
async fn operate<F, Fut>(
    state: &AppState,
    store: &str,
    id: &str,
    action: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(deadpool_postgres::Object, i32) -> Fut,
    Fut: std::future::Future<Output = Result<deadpool_postgres::Object, tokio_postgres::Error>>,
{
    let row = subscription(state, store, id).await?;
    let client = state.pool.get().await.map_err(pool_error)?;
    let client = action(client, row.store_id).await.map_err(db_error)?;
    db::notify_changed(&**client, store, id)
        .await
        .map_err(db_error)?;
    state.delivery.wakeups.signal_subscription(store);
    let row = db::get(&**client, row.store_id, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!("subscription {id:?} does not exist in {store:?}"))
        })?;
    Ok(HttpResponse::Ok().json(view::subscription(&row)))
}

#[utoipa::path(post, path = "/api/event-stores/{store}/subscriptions/{id}/pause", tag = "subscriptions", params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id")),
    responses((status = 200, description = "SUSPENDED", body = Object), (status = 404, description = "Not found", body = shared_domain::service::ErrorBody)))]
pub async fn pause(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    let sub = id.clone();
    operate(&state, &store, &id, |c, s| async move {
        db::pause(&**c, s, &sub).await?;
        Ok(c)
    })
    .await
}

#[utoipa::path(post, path = "/api/event-stores/{store}/subscriptions/{id}/resume", tag = "subscriptions", params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id")),
    responses((status = 200, description = "ACTIVE, with a fresh retry budget", body = Object), (status = 404, description = "Not found", body = shared_domain::service::ErrorBody)))]
pub async fn resume(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    let sub = id.clone();
    operate(&state, &store, &id, |c, s| async move {
        db::resume(&**c, s, &sub).await?;
        Ok(c)
    })
    .await
}

/// Body of `reset`: where the next delivery starts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetRequest {
    pub from_global_position: u64,
}

#[utoipa::path(post, path = "/api/event-stores/{store}/subscriptions/{id}/reset", tag = "subscriptions", params(("store" = String, Path, description = "Event store name"), ("id" = String, Path, description = "Subscription id")),
    request_body(content = Object, description = "`{fromGlobalPosition}` (≥ 1): the next delivery starts there"),
    responses((status = 200, description = "The subscription", body = Object), (status = 400, description = "Bad fromGlobalPosition", body = shared_domain::service::ErrorBody), (status = 404, description = "Not found", body = shared_domain::service::ErrorBody)))]
pub async fn reset(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: JsonBody<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = path.into_inner();
    let from = body.from_global_position;
    if from == 0 {
        return Err(ApiError::validation(
            "fromGlobalPosition",
            "fromGlobalPosition: global positions start at 1",
        ));
    }
    let sub = id.clone();
    operate(&state, &store, &id, |c, s| async move {
        db::reset(&**c, s, &sub, from).await?;
        Ok(c)
    })
    .await
}
