//! [`RequestContext`]: the one middleware every service wraps its app in. Per request it
//!
//! 1. takes the client's `x-request-id` if valid (≤ 128 of `[A-Za-z0-9._-]`), else makes one;
//! 2. continues the client's W3C `traceparent` if valid, else starts a trace; this hop gets a
//!    fresh span id ([`TraceContext`], stored in the request extensions for handlers);
//! 3. runs the request inside a `tracing` span `http_request{service, request_id, trace_id,
//!    span_id, method, route}`, so every log line of the request carries them;
//! 4. sets `x-request-id` and `traceparent` on the answer;
//! 5. records `http_requests_total` and `http_request_duration_seconds` by method, route
//!    pattern and status, and logs the request once at the end (at `debug` for the health and
//!    metrics routes that probes hit every few seconds, `info` otherwise).
//!
//! No header value, query string or body is logged: only the route pattern.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

use super::metrics::Metrics;
use super::telemetry;
use super::trace_context::{REQUEST_ID_HEADER, TRACEPARENT_HEADER, TraceContext};

/// Route label for requests that match no route, so raw paths never become label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any (used by
/// [`ApiError::internal`](super::error::ApiError::internal) to tell the client what to grep for).
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The middleware factory: `App::new().wrap(RequestContext::new(metrics.clone()))`.
#[derive(Clone, Debug)]
pub struct RequestContext {
    metrics: Metrics,
}

impl RequestContext {
    /// Records into `metrics`, and names the service in each request span after
    /// [`Metrics::service_name`].
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestContext
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestContextMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestContextMiddleware {
            service: Rc::new(service),
            metrics: self.metrics.clone(),
        }))
    }
}

/// The middleware service [`RequestContext`] builds; not used directly.
pub struct RequestContextMiddleware<S> {
    service: Rc<S>,
    metrics: Metrics,
}

impl<S, B> Service<ServiceRequest> for RequestContextMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let mut context =
            TraceContext::from_headers(header(REQUEST_ID_HEADER), header(TRACEPARENT_HEADER));

        let method = method_label(req.method());
        let early_route = req.match_pattern();
        let span = tracing::info_span!(
            "http_request",
            service = %self.metrics.service_name(),
            request_id = %context.request_id(),
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
            method = %method,
            route = %early_route.as_deref().unwrap_or(UNMATCHED_ROUTE),
        );
        // With an OpenTelemetry exporter, this span is the exported server span and the
        // context takes its ids; without one, nothing changes.
        telemetry::link_request_span(&span, &mut context);
        span.record("trace_id", context.trace_id());
        span.record("span_id", context.span_id());
        req.extensions_mut().insert(context.clone());
        // No clone of `req.request()` may live across `service.call`: actix's router needs the
        // request's `Rc` unshared to record the match (`match_info_mut` panics otherwise).
        let service = Rc::clone(&self.service);
        let metrics = self.metrics.clone();
        let request_id = context.request_id().to_owned();

        Box::pin(
            REQUEST_ID.scope(
                request_id,
                async move {
                    let mut response = match service.call(req).await {
                        Ok(response) => response,
                        Err(error) => {
                            // Handler errors arrive as responses already; an `Err` comes from an
                            // inner middleware. Count and log it; actix renders it.
                            let status = error.as_response_error().status_code().as_u16();
                            let route = early_route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
                            let elapsed = started.elapsed();
                            metrics.observe_http(method, &route, status, elapsed);
                            log_completion(
                                method,
                                &route,
                                status,
                                elapsed.as_secs_f64() * 1000.0,
                                &context,
                            );
                            return Err(error);
                        }
                    };
                    set_header(&mut response, REQUEST_ID_HEADER, context.request_id());
                    set_header(&mut response, TRACEPARENT_HEADER, &context.to_traceparent());

                    // Routing has run now, so this is the pattern that actually answered.
                    let route = response
                        .request()
                        .match_pattern()
                        .or(early_route)
                        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
                    let status = response.status().as_u16();
                    let elapsed = started.elapsed();
                    metrics.observe_http(method, &route, status, elapsed);
                    log_completion(
                        method,
                        &route,
                        status,
                        elapsed.as_secs_f64() * 1000.0,
                        &context,
                    );
                    Ok(response)
                }
                .instrument(span),
            ),
        )
    }
}

/// The one log line per request. Method, route and request id come from the span; they are
/// repeated here so a JSON line is self-contained for log search.
fn log_completion(method: &str, route: &str, status: u16, latency_ms: f64, context: &TraceContext) {
    let request_id = context.request_id();
    let quiet = route.starts_with("/health/") || route == "/metrics";
    if quiet && status < 500 {
        tracing::debug!(
            method,
            route,
            status,
            latency_ms,
            request_id,
            "request completed"
        );
    } else if status >= 500 {
        tracing::warn!(
            method,
            route,
            status,
            latency_ms,
            request_id,
            "request completed"
        );
    } else {
        tracing::info!(
            method,
            route,
            status,
            latency_ms,
            request_id,
            "request completed"
        );
    }
}

fn set_header<B>(response: &mut ServiceResponse<B>, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// Method as a bounded label value: the standard methods, anything else `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
