//! Shared-secret authentication: reading a bearer token or API key from a request and comparing it
//! in constant time. Error answers never echo what the client sent.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The API key header (`X-API-Key`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Compares two secrets in time independent of where they differ (the length may leak, the
/// content does not).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The API key from `X-API-Key`, else from `Authorization: Bearer`.
pub fn api_key(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .or_else(|| bearer_token(req))
}

/// `Ok` when the request carries `expected` (as `X-API-Key` or bearer token), else 401.
/// An empty `expected` matches nothing: a service with authentication switched off should not
/// call this at all.
pub fn require_token(req: &HttpRequest, expected: &str) -> Result<(), ApiError> {
    match api_key(req) {
        None => Err(ApiError::unauthorized(
            "missing credentials: send Authorization: Bearer <token> or X-API-Key",
        )),
        Some(presented)
            if !expected.is_empty()
                && constant_time_eq(presented.as_bytes(), expected.as_bytes()) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::unauthorized("invalid credentials")),
    }
}

/// The secrets of a setting that may hold several at once, separated by whitespace or commas
/// (`"new-token old-token"`): during a rotation both the new and the old one are accepted.
pub fn secret_list(setting: &str) -> impl Iterator<Item = &str> {
    setting
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
}

/// [`require_token`] against every secret of `expected` ([`secret_list`]): `Ok` when the
/// request carries any of them. Each is compared in constant time, and all of them are compared,
/// so the answer's timing does not tell which one nearly matched.
pub fn require_any_token(req: &HttpRequest, expected: &str) -> Result<(), ApiError> {
    let Some(presented) = api_key(req) else {
        return Err(ApiError::unauthorized(
            "missing credentials: send Authorization: Bearer <token> or X-API-Key",
        ));
    };
    let matched = secret_list(expected).fold(false, |found, secret| {
        found | constant_time_eq(presented.as_bytes(), secret.as_bytes())
    });
    if matched {
        Ok(())
    } else {
        Err(ApiError::unauthorized("invalid credentials"))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn bearer_token_is_read_case_insensitively() {
        let req = TestRequest::default()
            .insert_header(("Authorization", "bearer abc"))
            .to_http_request();
        assert_eq!(bearer_token(&req), Some("abc"));
    }

    #[test]
    fn other_schemes_are_not_bearer_tokens() {
        let req = TestRequest::default()
            .insert_header(("Authorization", "Basic dXNlcjpwYXNz"))
            .to_http_request();
        assert_eq!(bearer_token(&req), None);
    }

    #[test]
    fn api_key_header_wins_over_bearer() {
        let req = TestRequest::default()
            .insert_header(("X-API-Key", "key-1"))
            .insert_header(("Authorization", "Bearer tok"))
            .to_http_request();
        assert_eq!(api_key(&req), Some("key-1"));
    }

    #[test]
    fn require_token_accepts_the_right_token() {
        let req = TestRequest::default()
            .insert_header(("Authorization", "Bearer right"))
            .to_http_request();
        assert!(require_token(&req, "right").is_ok());
    }

    #[test]
    fn wrong_token_is_401_without_echo() {
        let req = TestRequest::default()
            .insert_header(("Authorization", "Bearer secret-xyz"))
            .to_http_request();
        let error = require_token(&req, "right").unwrap_err();
        assert_eq!(error.status(), 401);
        let body = serde_json::to_string(&error.body()).unwrap();
        assert!(!body.contains("secret-xyz"), "{body}");
        assert!(!body.contains("right"), "{body}");
    }

    #[test]
    fn empty_expected_token_matches_nothing() {
        let req = TestRequest::default()
            .insert_header(("X-API-Key", ""))
            .insert_header(("Authorization", "Bearer x"))
            .to_http_request();
        assert!(require_token(&req, "").is_err());
    }

    #[test]
    fn any_token_of_a_list_is_accepted_during_a_rotation() {
        let with = |token: &str| {
            TestRequest::default()
                .insert_header(("Authorization", format!("Bearer {token}")))
                .to_http_request()
        };
        let setting = "new-token, old-token";
        assert!(require_any_token(&with("new-token"), setting).is_ok());
        assert!(require_any_token(&with("old-token"), setting).is_ok());
        assert!(require_any_token(&with("new-token, old-token"), setting).is_err());
        assert!(require_any_token(&with("other"), setting).is_err());
        assert!(require_any_token(&with("x"), "").is_err());
        assert!(require_any_token(&with("x"), " , ").is_err());
        assert_eq!(
            secret_list(" a,b  c ,").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
