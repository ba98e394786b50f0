//! One webhook HTTP call: `POST url` with the configured headers, the Standard Webhooks headers
//! when the subscription has a secret, and the trace headers; bounded by the subscription's
//! timeout. A 2xx acknowledges; anything else — another status, a timeout, a refused connection —
//! is a [`FailedAttempt`], with the receiver's `Retry-After` when it sent one.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use shared_domain::service::TraceContext;

use super::allowlist::{Allowlist, AllowlistResolver};
use super::signing::WebhookSecret;

/// How much of a failing receiver's answer is kept in `statusDetails.lastError`.
const ERROR_BODY_PREVIEW: usize = 256;

/// Builds the client all deliveries share: no redirects (a 3xx is a failure, and following one
/// could leave the allowlist), no proxy from the environment, the allowlist applied to DNS.
pub fn client(allowlist: Option<Arc<Allowlist>>) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("eventstore-service/", env!("CARGO_PKG_VERSION")));
    if let Some(list) = allowlist {
        builder = builder.dns_resolver(Arc::new(AllowlistResolver::new(list)));
    }
    builder.build()
}

/// Everything one call needs.
#[derive(Debug)]
pub struct WebhookCall<'a> {
    pub url: &'a reqwest::Url,
    pub headers: &'a [(String, String)],
    pub secret: Option<&'a WebhookSecret>,
    /// `webhook-id`: the same for every attempt of one batch, so receivers can deduplicate.
    pub delivery_id: &'a str,
    pub body: Vec<u8>,
    pub timeout: Duration,
    pub trace: &'a TraceContext,
}

/// A call that did not end in a 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The status, when the receiver answered at all.
    pub status: Option<u16>,
    /// One line for `statusDetails.lastError` and the log.
    pub error: String,
    /// What the receiver asked for in `Retry-After`.
    pub retry_after: Option<Duration>,
}

/// Sends one call. `Ok(status)` for a 2xx.
pub async fn send(client: &reqwest::Client, call: WebhookCall<'_>) -> Result<u16, FailedAttempt> {
    let mut request = client
        .post(call.url.clone())
        .timeout(call.timeout)
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in call.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request = call.trace.apply(request);
    if let Some(secret) = call.secret {
        for (name, value) in secret.headers(call.delivery_id, Utc::now().timestamp(), &call.body) {
            request = request.header(name, value);
        }
    }
    let response = request
        .body(call.body)
        .send()
        .await
        .map_err(|e| FailedAttempt {
            status: None,
            error: describe_transport_error(&e, call.timeout),
            retry_after: None,
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let preview = body_preview(response).await;
    Err(FailedAttempt {
        status: Some(status.as_u16()),
        error: if preview.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {preview}", status.as_u16())
        },
        retry_after,
    })
}

async fn body_preview(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BODY_PREVIEW {
        match tokio::time::timeout(Duration::from_secs(1), response.chunk()).await {
            Ok(Ok(Some(chunk))) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(ERROR_BODY_PREVIEW);
    String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn describe_transport_error(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let kind = if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // The innermost cause says what happened ("Connection refused", "not allowed by …").
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{kind}: {cause}")
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (IMF-fixdate); a date in the past is 0.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(
            parse_retry_after("120", Utc::now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", Utc::now()), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_as_http_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:26:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        for bad in ["", "-5", "soon", "1.5"] {
            assert_eq!(parse_retry_after(bad, Utc::now()), None, "{bad:?}");
        }
    }
}
