//! [`ApiError`]: the one error type every HTTP answer of every service goes through, so that the
//! four services agree on the body shape, the status codes and what may be said to a client.
//!
//! The body is always `{"error": "<Type>", "message": "<sentence>", "details": {…}}`
//! ([`ErrorBody`]). 4xx bodies say what the client did wrong; 5xx bodies are opaque and the cause
//! goes to the log (see [`ApiError::internal`]).

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::request_context::current_request_id;

/// The JSON body of every error answer (also the OpenAPI schema services reference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable error type, e.g. `ValidationError`, `StreamVersionConflict`.
    #[schema(example = "ValidationError")]
    pub error: String,
    /// A sentence for humans saying what went wrong.
    #[schema(example = "items[0].quantity: invalid type: string \"two\", expected u32")]
    pub message: String,
    /// Structured facts about the error (`{}` when there are none), e.g. `{"field": "items[0].quantity"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub details: Value,
}

/// An error answer: status, type, message, details and the few headers some statuses need.
///
/// Construct it with the named constructors (one per status the wire conventions use) and return
/// it from a handler: it implements [`ResponseError`].
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    error_type: Cow<'static, str>,
    message: String,
    details: Value,
    headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    /// Any error answer. Prefer the named constructors; this is for the rare status they miss.
    /// `details` should be a JSON object (or `Value::Null` for none).
    pub fn new(
        status: StatusCode,
        error_type: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        details: Value,
    ) -> Self {
        Self {
            status,
            error_type: error_type.into(),
            message: message.into(),
            details,
            headers: Vec::new(),
        }
    }

    /// 400 `ValidationError` about one input field (a JSON path such as `items[0].quantity`, a
    /// query parameter or a header name); `details` is `{"field": field}`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            message,
            json!({ "field": field.into() }),
        )
    }

    /// 400 `ValidationError` about the request as a whole (no single field to blame).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            message,
            Value::Null,
        )
    }

    /// 401 `Unauthorized`, with `WWW-Authenticate: Bearer`. Never put the presented credential in
    /// `message`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            message,
            Value::Null,
        )
        .with_header(actix_web::http::header::WWW_AUTHENTICATE, "Bearer")
    }

    /// 403 `Forbidden`: the caller is known but may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message, Value::Null)
    }

    /// 404 `NotFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message, Value::Null)
    }

    /// 409 with a domain type such as `IllegalStateError` or `StreamVersionConflict`.
    pub fn conflict(error_type: &str, message: impl Into<String>, details: Value) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            error_type.to_owned(),
            message,
            details,
        )
    }

    /// 422: the body parsed but is semantically wrong.
    pub fn unprocessable(error_type: &str, message: impl Into<String>, details: Value) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_type.to_owned(),
            message,
            details,
        )
    }

    /// 413 `PayloadTooLarge`; `details` is `{"limitBytes": limit_bytes}`.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("request body is larger than the limit of {limit_bytes} bytes"),
            json!({ "limitBytes": limit_bytes }),
        )
    }

    /// 415 `UnsupportedMediaType`; `message` says which media type was expected.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
            Value::Null,
        )
    }

    /// 429 `TooManyRequests` with `Retry-After: retry_after_secs`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!("too many requests; retry after {retry_after_secs} s"),
            json!({ "retryAfterSeconds": retry_after_secs }),
        )
        .with_header(RETRY_AFTER, retry_after_secs.to_string())
    }

    /// 503 `Unavailable` (a dependency is down, or the service is shutting down) with
    /// `Retry-After: retry_after_secs`. Say which dependency, never its address or credentials.
    pub fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            message,
            json!({ "retryAfterSeconds": retry_after_secs }),
        )
        .with_header(RETRY_AFTER, retry_after_secs.to_string())
    }

    /// 500 `InternalError`. The `cause` is logged with `tracing::error!` (inside the request's span,
    /// so with its request id; URL passwords redacted); the body only says to look in the logs
    /// for that request id.
    pub fn internal(cause: impl fmt::Display) -> Self {
        // Causes can quote a connection string; the log gets it without the password.
        let cause = super::config::redact_urls_in(&cause.to_string());
        tracing::error!(error = %cause, "internal error");
        let request_id = current_request_id();
        let message = match &request_id {
            Some(id) => format!("internal error, see logs with request id {id}"),
            None => "internal error, see logs".to_owned(),
        };
        let details = match request_id {
            Some(id) => json!({ "requestId": id }),
            None => Value::Null,
        };
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            message,
            details,
        )
    }

    /// Adds a response header (e.g. `Retry-After`, `WWW-Authenticate`).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Replaces the details object.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error type (`ValidationError`, `NotFound`, …).
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The human sentence.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The details (`Value::Null` when there are none; the body then carries `{}`).
    pub fn details(&self) -> &Value {
        &self.details
    }

    /// The body as it goes on the wire.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.error_type.to_string(),
            message: self.message.clone(),
            details: match &self.details {
                Value::Null => json!({}),
                other => other.clone(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.insert_header((name.clone(), value));
            }
        }
        response.json(self.body())
    }
}
