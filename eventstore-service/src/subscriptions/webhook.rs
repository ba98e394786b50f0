//! The webhook of a subscription: as written (`webhook = {url, headers, timeoutMs,
//! retryPolicy, secret}`) and checked ([`WebhookTarget`]), with the field path in every error.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared_domain::retry::{RetryPolicy, RetryPolicySpec};

use super::spec::{FieldError, join};

/// Default and bounds of `webhook.timeoutMs`.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
pub const MAX_TIMEOUT_MS: u64 = 120_000;
/// Most configured headers, and the longest URL.
const MAX_HEADERS: usize = 50;
const MAX_URL_LEN: usize = 2048;
/// Headers the service sets itself; configuring them would break delivery or signing.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "traceparent",
    "x-request-id",
];

/// `webhook` of a subscription as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicySpec>,
    /// `whsec_…`, or `"generate"`.
    #[serde(default)]
    pub secret: Option<String>,
}

/// The checked webhook target.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub url: reqwest::Url,
    pub headers: BTreeMap<String, String>,
    pub timeout: Duration,
    /// As written, to store and show.
    pub retry_policy_spec: RetryPolicySpec,
    pub retry_policy: RetryPolicy,
}

impl WebhookTarget {
    /// The stored (and shown) form: `{url, headers, timeoutMs, retryPolicy}`. Never the secret.
    pub fn to_json(&self) -> Value {
        json!({
            "url": self.url.as_str(),
            "headers": self.headers,
            "timeoutMs": self.timeout.as_millis() as u64,
            "retryPolicy": self.retry_policy_spec,
        })
    }

    /// Reads the stored form back (it was checked when written).
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let spec = WebhookSpec {
            url: value["url"].as_str().unwrap_or_default().to_owned(),
            headers: serde_json::from_value(value["headers"].clone()).unwrap_or_default(),
            timeout_ms: value["timeoutMs"].as_u64(),
            retry_policy: serde_json::from_value(value["retryPolicy"].clone()).ok(),
            secret: None,
        };
        check_webhook(&spec, "webhook")
    }

    /// `(name, value)` pairs to send.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

pub(super) fn check_webhook(spec: &WebhookSpec, path: &str) -> Result<WebhookTarget, FieldError> {
    let url_path = join(path, "url");
    let url = reqwest::Url::parse(&spec.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| FieldError::new(&url_path, "not an absolute http(s) URL"))?;
    if spec.url.len() > MAX_URL_LEN {
        return Err(FieldError::new(
            &url_path,
            format!("must be at most {MAX_URL_LEN} characters"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new(
            &url_path,
            "must not carry credentials; put them in webhook.headers",
        ));
    }
    let headers_path = join(path, "headers");
    if spec.headers.len() > MAX_HEADERS {
        return Err(FieldError::new(
            &headers_path,
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    for (name, value) in &spec.headers {
        let header_path = join(&headers_path, name);
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(FieldError::new(header_path, "not a valid header name"));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(FieldError::new(
                header_path,
                "is set by the service and cannot be configured",
            ));
        }
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err(FieldError::new(
                header_path,
                "not a valid header value (printable ASCII, no line breaks)",
            ));
        }
    }
    let timeout_ms = spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(FieldError::new(
            join(path, "timeoutMs"),
            format!("must be between 1 and {MAX_TIMEOUT_MS}"),
        ));
    }
    let retry_policy_spec = spec.retry_policy.clone().unwrap_or_default();
    let retry_policy = RetryPolicy::try_from(retry_policy_spec.clone())
        .map_err(|e| FieldError::new(join(&join(path, "retryPolicy"), e.field), e.reason))?;
    Ok(WebhookTarget {
        url,
        headers: spec.headers.clone(),
        timeout: Duration::from_millis(timeout_ms),
        retry_policy_spec,
        retry_policy,
    })
}
