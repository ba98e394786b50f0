//! [`JsonBody`], the extractor to use instead of `web::Json` (and [`JsonBytes`], the same checks
//! without parsing, for signed webhooks): bad input becomes a precise 4xx
//! [`ApiError`] instead of actix's plain-text errors.
//!
//! * wrong or missing `Content-Type` → 415;
//! * a body over the limit ([`JsonLimit`] in `app_data`, default [`DEFAULT_JSON_LIMIT`]) → 413,
//!   refused from `Content-Length` before reading when possible;
//! * malformed JSON → 400 naming line and column; nesting deeper than serde_json's recursion
//!   limit (128) → 400;
//! * a value of the wrong type, a missing field → 400 `ValidationError` whose `details.field` is
//!   the path (`items[0].quantity`), via `serde_path_to_error`.

use std::ops::{Deref, DerefMut};

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::error::ApiError;

/// Default request-body limit: 1 MiB.
pub const DEFAULT_JSON_LIMIT: usize = 1024 * 1024;

/// The body limit for [`JsonBody`], in bytes: `App::new().app_data(JsonLimit(64 * 1024))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimit(pub usize);

impl Default for JsonLimit {
    fn default() -> Self {
        Self(DEFAULT_JSON_LIMIT)
    }
}

/// A JSON request body parsed into `T`, or a precise 4xx [`ApiError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for JsonBody<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBytes::from_request(req, payload);
        Box::pin(async move { parse_json(&body.await?.0).map(JsonBody) })
    }
}

/// The raw bytes of a JSON request body, with [`JsonBody`]'s 415 and 413 checks but not yet
/// parsed: for handlers that must see the exact bytes first (verifying a webhook signature),
/// then [`parse_json`] them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBytes(pub Bytes);

impl FromRequest for JsonBytes {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<JsonLimit>().copied().unwrap_or_default().0;
        let checked = check_content_type(req).and_then(|()| check_content_length(req, limit));
        let mut payload = payload.take();
        Box::pin(async move {
            checked?;
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    tracing::debug!(error = %e, "cannot read request body");
                    ApiError::bad_request("the request body could not be read")
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::payload_too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(JsonBytes(body.freeze()))
        })
    }
}

/// Parses a JSON document into `T`, with the field path in every data error. Public so that
/// non-HTTP inputs (a webhook body already read for signature checking, a config file) get the
/// same errors.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty; expected a JSON document",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        json_error(&path, e.into_inner())
    })?;
    deserializer.end().map_err(|e| json_error(".", e))?;
    Ok(value)
}

/// Maps a serde_json error at `path` (`.` for the root) to a 400.
pub(crate) fn json_error(path: &str, error: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let (line, column) = (error.line(), error.column());
    let text = strip_position(&error.to_string());
    match error.classify() {
        Category::Data => {
            let field = field_path(path, &text);
            let message = match field.as_str() {
                "" => text,
                field => format!("{field}: {text}"),
            };
            ApiError::validation(field, message)
        }
        Category::Syntax | Category::Eof if text.contains("recursion limit") => {
            ApiError::bad_request(format!(
                "the JSON document is nested too deeply (at line {line}, column {column})"
            ))
            .with_details(json!({ "line": line, "column": column }))
        }
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(format!(
            "malformed JSON at line {line}, column {column}: {text}"
        ))
        .with_details(json!({ "line": line, "column": column })),
    }
}

/// The path of the offending field: the path where deserialisation stopped, plus the field name
/// for "missing field `x`" (serde reports those at the enclosing object).
pub(crate) fn field_path(path: &str, message: &str) -> String {
    let base = if path == "." { "" } else { path };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (base, missing) {
        ("", Some(name)) => name.to_owned(),
        (base, Some(name)) => format!("{base}.{name}"),
        (base, None) => base.to_owned(),
    }
}

/// serde_json appends " at line L column C"; the body carries those as numbers instead.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(
            "expected Content-Type: application/json",
        ))
    }
}

fn check_content_length(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(length) if length > limit => Err(ApiError::payload_too_large(limit)),
        _ => Ok(()),
    }
}
