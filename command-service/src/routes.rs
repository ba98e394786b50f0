//! The command routes: each handler turns its request into an [`OrderCommand`] and hands it to
//! [`CommandApp::run`], which does the rest the same way for all four.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_LENGTH, IF_MATCH, TRANSFER_ENCODING};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use shared_domain::orders::{OrderCommand, OrdersDecider};
use shared_domain::retry::RetryPolicy;
use shared_domain::service::{ApiError, JsonBody, TraceContext};

use crate::error::CommandFailure;
use crate::execute::{Preconditions, execute};
use crate::idempotency::{IDEMPOTENCY_KEY_HEADER, IdempotencyKey, derived_order_id, new_order_id};
use crate::metrics::CommandMetrics;
use crate::requests::{CancelOrderBody, DeliverOrderBody, PlaceOrderBody, ShipOrderBody};
use crate::store::CommandStore;

/// Everything a command handler needs; one per service, shared by all workers.
pub struct CommandApp<S> {
    /// The event store (production: the HTTP client).
    pub store: Arc<S>,
    /// The Orders decider, with the wall clock.
    pub decider: OrdersDecider,
    /// Conflict retry schedule.
    pub conflict_retries: RetryPolicy,
    /// Budget of a whole command.
    pub command_timeout: Duration,
    /// Command metrics.
    pub metrics: CommandMetrics,
}

impl<S: CommandStore> CommandApp<S> {
    /// Runs `command` and answers: the success answer, or the failure mapped to its status.
    pub async fn run(
        &self,
        command: OrderCommand,
        preconditions: Preconditions,
        trace: &TraceContext,
    ) -> Result<HttpResponse, ApiError> {
        let started = Instant::now();
        let store = self.store.scoped(trace);
        let result = tokio::time::timeout(
            self.command_timeout,
            execute(
                &store,
                &self.decider,
                &self.conflict_retries,
                &command,
                &preconditions,
                trace,
            ),
        )
        .await
        .unwrap_or(Err(CommandFailure::TimedOut(self.command_timeout)));
        let command_type = command.command_type();
        let order_id = command.order_id();
        match result {
            Ok(done) => {
                let outcome = if done.replayed { "replayed" } else { "success" };
                let attempts = (!done.replayed).then_some(done.attempts);
                self.metrics
                    .observe(command_type, outcome, started.elapsed(), attempts);
                tracing::debug!(
                    order_id,
                    command = command_type,
                    outcome,
                    attempts = done.attempts,
                    "command handled"
                );
                Ok(done.answer.into_response(done.replayed))
            }
            Err(failure) => {
                let outcome = failure.outcome();
                self.metrics
                    .observe(command_type, outcome, started.elapsed(), None);
                tracing::debug!(order_id, command = command_type, outcome, "command refused");
                Err(failure.to_api_error(order_id))
            }
        }
    }
}

/// Registers the four command routes for a service on store `S`.
pub fn command_routes<S: CommandStore>(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders", web::post().to(place_order::<S>))
        .route("/orders/{orderId}/ship", web::post().to(ship_order::<S>))
        .route(
            "/orders/{orderId}/deliver",
            web::post().to(deliver_order::<S>),
        )
        .route(
            "/orders/{orderId}/cancel",
            web::post().to(cancel_order::<S>),
        );
}

/// Place an order.
///
/// `orderId` is generated when the body has none: `order-<UUID v7>`, or `order-<UUID v5 of the
/// Idempotency-Key>` so that a retried request finds the order it created.
#[utoipa::path(post, path = "/orders", tag = "commands",
    request_body = PlaceOrderBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (1–255 visible ASCII characters, e.g. a UUID)"),
    ),
    responses(
        (status = 201, description = "Order placed (or, with a repeated Idempotency-Key, placed earlier)", body = crate::answers::OrderPlacedAnswer,
            headers(("x-global-position" = u64, description = "Global position of the order's event"), ("Location" = String, description = "/orders/{orderId}"))),
        (status = 400, description = "Invalid body (names the field)", body = shared_domain::service::ErrorBody),
        (status = 409, description = "An order with this orderId exists", body = shared_domain::service::ErrorBody),
        (status = 413, description = "Body too large", body = shared_domain::service::ErrorBody),
        (status = 415, description = "Not JSON", body = shared_domain::service::ErrorBody),
        (status = 422, description = "Idempotency-Key reused for another request", body = shared_domain::service::ErrorBody),
        (status = 503, description = "Event store unavailable (Retry-After)", body = shared_domain::service::ErrorBody),
    ))]
pub async fn place_order<S: CommandStore>(
    app: web::Data<CommandApp<S>>,
    body: JsonBody<PlaceOrderBody>,
    preconditions: Preconditions,
    trace: TraceContext,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    let order_id = match (body.order_id.take(), &preconditions.idempotency_key) {
        (Some(id), _) => id,
        (None, Some(key)) => derived_order_id(key),
        (None, None) => new_order_id(),
    };
    app.run(body.into_command(order_id), preconditions, &trace)
        .await
}

/// Ship a pending order.
#[utoipa::path(post, path = "/orders/{orderId}/ship", tag = "commands",
    request_body = ShipOrderBody,
    params(("orderId" = String, Path, description = "The order"), ChangeHeaders),
    responses(
        (status = 200, description = "Order shipped", body = crate::answers::OrderChangedAnswer,
            headers(("x-global-position" = u64, description = "Global position of the command's event"))),
        (status = 400, description = "Invalid body or order id (names the field)", body = shared_domain::service::ErrorBody),
        (status = 404, description = "No such order", body = shared_domain::service::ErrorBody),
        (status = 409, description = "Not allowed in the order's status (details.currentStatus), or concurrent changes won every retry", body = shared_domain::service::ErrorBody),
        (status = 412, description = "If-Match names another version", body = shared_domain::service::ErrorBody),
        (status = 422, description = "Idempotency-Key reused for another request", body = shared_domain::service::ErrorBody),
        (status = 503, description = "Event store unavailable (Retry-After)", body = shared_domain::service::ErrorBody),
    ))]
pub async fn ship_order<S: CommandStore>(
    app: web::Data<CommandApp<S>>,
    order_id: web::Path<String>,
    body: JsonBody<ShipOrderBody>,
    preconditions: Preconditions,
    trace: TraceContext,
) -> Result<HttpResponse, ApiError> {
    let command = body.into_inner().into_command(order_id.into_inner());
    app.run(command, preconditions, &trace).await
}

/// Deliver a shipped order. The body may be empty.
#[utoipa::path(post, path = "/orders/{orderId}/deliver", tag = "commands",
    request_body(content = DeliverOrderBody, description = "Optional"),
    params(("orderId" = String, Path, description = "The order"), ChangeHeaders),
    responses(
        (status = 200, description = "Order delivered", body = crate::answers::OrderChangedAnswer),
        (status = 400, description = "Invalid body or order id", body = shared_domain::service::ErrorBody),
        (status = 404, description = "No such order", body = shared_domain::service::ErrorBody),
        (status = 409, description = "Not allowed in the order's status", body = shared_domain::service::ErrorBody),
        (status = 503, description = "Event store unavailable (Retry-After)", body = shared_domain::service::ErrorBody),
    ))]
pub async fn deliver_order<S: CommandStore>(
    app: web::Data<CommandApp<S>>,
    order_id: web::Path<String>,
    body: JsonBodyOrEmpty<DeliverOrderBody>,
    preconditions: Preconditions,
    trace: TraceContext,
) -> Result<HttpResponse, ApiError> {
    let command = body.0.into_command(order_id.into_inner());
    app.run(command, preconditions, &trace).await
}

/// Cancel an order that is neither delivered nor cancelled.
#[utoipa::path(post, path = "/orders/{orderId}/cancel", tag = "commands",
    request_body = CancelOrderBody,
    params(("orderId" = String, Path, description = "The order"), ChangeHeaders),
    responses(
        (status = 200, description = "Order cancelled", body = crate::answers::OrderChangedAnswer),
        (status = 400, description = "Invalid body or order id", body = shared_domain::service::ErrorBody),
        (status = 404, description = "No such order", body = shared_domain::service::ErrorBody),
        (status = 409, description = "Already delivered or cancelled", body = shared_domain::service::ErrorBody),
        (status = 503, description = "Event store unavailable (Retry-After)", body = shared_domain::service::ErrorBody),
    ))]
pub async fn cancel_order<S: CommandStore>(
    app: web::Data<CommandApp<S>>,
    order_id: web::Path<String>,
    body: JsonBody<CancelOrderBody>,
    preconditions: Preconditions,
    trace: TraceContext,
) -> Result<HttpResponse, ApiError> {
    let command = body.into_inner().into_command(order_id.into_inner());
    app.run(command, preconditions, &trace).await
}

/// The optional headers of a command on an existing order (documentation only).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct ChangeHeaders {
    /// Makes a retry return the first answer (1–255 visible ASCII characters, e.g. a UUID).
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
    /// `"<streamVersion>"` (the `ETag` of an earlier answer): decide only if the order is still
    /// at that version; 412 otherwise, and no retry on a concurrent change.
    #[param(rename = "If-Match")]
    if_match: Option<String>,
}

impl FromRequest for Preconditions {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(preconditions(req))
    }
}

fn preconditions(req: &HttpRequest) -> Result<Preconditions, ApiError> {
    let idempotency_key = req
        .headers()
        .get(IDEMPOTENCY_KEY_HEADER)
        .map(|value| IdempotencyKey::parse(value.as_bytes()))
        .transpose()?;
    let if_match = req
        .headers()
        .get(IF_MATCH)
        .map(|value| parse_if_match(value.as_bytes()))
        .transpose()?
        .flatten();
    Ok(Preconditions {
        idempotency_key,
        if_match,
    })
}

/// `If-Match: "3"` (or `3`) → `Some(3)`; `*` → `None` (any version will do).
fn parse_if_match(raw: &[u8]) -> Result<Option<u64>, ApiError> {
    let text = std::str::from_utf8(raw).unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_matches('"').parse::<u64>().map(Some).map_err(|_| {
        ApiError::validation(
            "If-Match",
            "header If-Match must be a stream version as the ETag of an answer gives it, e.g. \"3\"",
        )
    })
}

/// [`JsonBody`], except that an empty body (no `Content-Length`, or 0) is `T::default()`: for
/// commands whose fields are all optional.
pub struct JsonBodyOrEmpty<T>(pub T);

impl<T: serde::de::DeserializeOwned + Default + 'static> FromRequest for JsonBodyOrEmpty<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared_empty = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map_or(!req.headers().contains_key(TRANSFER_ENCODING), |v| {
                v.trim() == "0"
            });
        if declared_empty {
            return Box::pin(async { Ok(Self(T::default())) });
        }
        let body = JsonBody::<T>::from_request(req, payload);
        Box::pin(async move { body.await.map(|b| Self(b.into_inner())) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_quoted_or_bare_versions_and_star() {
        assert_eq!(parse_if_match(b"\"3\"").unwrap(), Some(3));
        assert_eq!(parse_if_match(b"3").unwrap(), Some(3));
        assert_eq!(parse_if_match(b"*").unwrap(), None);
        let error = parse_if_match(b"W/\"x\"").unwrap_err();
        assert_eq!(error.details()["field"], "If-Match");
    }
}
