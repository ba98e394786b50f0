//! Who may deliver: the bearer token (always) and, when a secret is configured, a valid
//! Standard Webhooks signature over the exact body within a 5-minute tolerance — verified with
//! the `standardwebhooks` crate, the specification's reference implementation.
//!
//! The setting may hold several secrets (`"whsec_new whsec_old"`, whitespace or commas): a
//! signature made with any of them is accepted, so a secret is rotated without downtime (see
//! SECURITY.md).

use actix_web::HttpRequest;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use shared_domain::service::ApiError;
use shared_domain::service::auth::secret_list;
use standardwebhooks::{
    HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP, Webhook, WebhookError,
};

/// The prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// Verifies signatures with one or more secrets.
pub struct SignatureCheck {
    /// One verifier per accepted secret (never empty).
    webhooks: Vec<Webhook>,
}

impl std::fmt::Debug for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureCheck(whsec_…)")
    }
}

impl SignatureCheck {
    /// A check with `secrets`: one `whsec_<base64>`, or several separated by whitespace or
    /// commas. The error says what is wrong without repeating a value.
    pub fn new(secrets: &str) -> Result<Self, String> {
        let webhooks = secret_list(secrets)
            .map(verifier)
            .collect::<Result<Vec<_>, _>>()?;
        if webhooks.is_empty() {
            return Err(format!("a secret starting with {SECRET_PREFIX:?}"));
        }
        Ok(Self { webhooks })
    }

    /// `Ok` when `body` carries a valid signature in `req`'s `webhook-*` headers, signed within
    /// the last (or next) 5 minutes; else 401 saying which part is wrong.
    pub fn verify(&self, req: &HttpRequest, body: &[u8]) -> Result<(), ApiError> {
        // actix speaks `http` 0.2, the verifier `http` 1 (the one reqwest re-exports): copy the
        // three headers it reads.
        let mut headers = HeaderMap::new();
        for name in [
            HEADER_WEBHOOK_ID,
            HEADER_WEBHOOK_TIMESTAMP,
            HEADER_WEBHOOK_SIGNATURE,
        ] {
            if let Some(value) = req.headers().get(name)
                && let Ok(value) = HeaderValue::from_bytes(value.as_bytes())
            {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        let mut first_error = None;
        for webhook in &self.webhooks {
            match webhook.verify(body, &headers) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(ApiError::unauthorized(first_error.map_or_else(
            || "invalid webhook signature".to_owned(),
            |e| describe(&e),
        )))
    }
}

/// A verifier for one `whsec_<base64>` secret.
fn verifier(secret: &str) -> Result<Webhook, String> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| format!("a secret starting with {SECRET_PREFIX:?}"))?;
    if encoded.is_empty() {
        return Err(format!("{SECRET_PREFIX} followed by a base64 key"));
    }
    Webhook::new(secret).map_err(|_| format!("{SECRET_PREFIX} followed by base64"))
}

/// A 401 message for a failed verification: what to fix, never the expected signature.
fn describe(error: &WebhookError) -> String {
    match error {
        WebhookError::MissingHeader(name) => {
            format!("missing Standard Webhooks header webhook-{name}")
        }
        WebhookError::InvalidHeader(name) => format!("unreadable header webhook-{name}"),
        WebhookError::InvalidTimestamp => "webhook-timestamp is not a Unix time".to_owned(),
        WebhookError::TimestampTooOldError => {
            "webhook-timestamp is more than 5 minutes old".to_owned()
        }
        WebhookError::FutureTimestampError => {
            "webhook-timestamp is more than 5 minutes in the future".to_owned()
        }
        _ => "invalid webhook signature".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    const OLD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn signed(body: &str, timestamp: i64) -> HttpRequest {
        signed_with(SECRET, body, timestamp)
    }

    fn signed_with(secret: &str, body: &str, timestamp: i64) -> HttpRequest {
        let signature = Webhook::new(secret)
            .unwrap()
            .sign("msg_1", timestamp, body.as_bytes())
            .unwrap();
        TestRequest::default()
            .insert_header(("webhook-id", "msg_1"))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", signature))
            .to_http_request()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_fresh_signature_over_the_body_is_accepted() {
        let check = SignatureCheck::new(SECRET).unwrap();
        assert!(check.verify(&signed("{}", now()), b"{}").is_ok());
    }

    #[test]
    fn a_changed_body_is_refused() {
        let check = SignatureCheck::new(SECRET).unwrap();
        let error = check
            .verify(&signed("{}", now()), b"{\"events\":[]}")
            .unwrap_err();
        assert_eq!(error.status(), 401);
    }

    #[test]
    fn a_stale_timestamp_is_refused_with_a_reason() {
        let check = SignatureCheck::new(SECRET).unwrap();
        let error = check.verify(&signed("{}", now() - 301), b"{}").unwrap_err();
        assert_eq!(error.status(), 401);
        assert!(
            error.message().contains("5 minutes old"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn unsigned_requests_are_refused() {
        let check = SignatureCheck::new(SECRET).unwrap();
        let error = check
            .verify(&TestRequest::default().to_http_request(), b"{}")
            .unwrap_err();
        assert!(
            error.message().contains("webhook-id"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn during_a_rotation_both_secrets_verify_and_others_do_not() {
        let check = SignatureCheck::new(&format!("{SECRET} {OLD_SECRET}")).unwrap();
        assert!(
            check
                .verify(&signed_with(SECRET, "{}", now()), b"{}")
                .is_ok()
        );
        assert!(
            check
                .verify(&signed_with(OLD_SECRET, "{}", now()), b"{}")
                .is_ok()
        );
        let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx";
        let error = check
            .verify(&signed_with(other, "{}", now()), b"{}")
            .unwrap_err();
        assert_eq!(error.status(), 401);
        assert!(SignatureCheck::new(&format!("{SECRET},{OLD_SECRET}")).is_ok());
        assert!(SignatureCheck::new(&format!("{SECRET} not-a-secret")).is_err());
        assert!(SignatureCheck::new(" , ").is_err());
    }

    #[test]
    fn secrets_must_be_whsec_base64() {
        assert!(SignatureCheck::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SignatureCheck::new("whsec_").is_err());
        assert!(SignatureCheck::new("whsec_!!!").is_err());
    }
}
