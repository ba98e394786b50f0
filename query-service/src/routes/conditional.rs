//! Conditional GET for single orders: a strong `ETag` from the generation and `_revision` (a
//! summary changes only when an event moves its revision, and a rebuild makes a new generation),
//! and `If-None-Match` → 304.

use actix_web::HttpRequest;
use actix_web::http::header::IF_NONE_MATCH;

/// The entity tag of a summary at `revision` in `generation`, quoted as on the wire.
pub fn etag(generation: &str, revision: u64) -> String {
    format!("\"{generation}.{revision}\"")
}

/// Whether the request's `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for
/// `If-None-Match`) or is `*`.
pub fn matches_if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(if_none_match: &str) -> HttpRequest {
        TestRequest::get()
            .insert_header((IF_NONE_MATCH, if_none_match))
            .to_http_request()
    }

    #[test]
    fn etag_names_generation_and_revision() {
        assert_eq!(etag("g2", 7), "\"g2.7\"");
    }

    #[test]
    fn if_none_match_matches_listed_weak_or_star() {
        let tag = etag("g0", 3);
        assert!(matches_if_none_match(&request("\"g0.3\""), &tag));
        assert!(matches_if_none_match(&request("\"x\", W/\"g0.3\""), &tag));
        assert!(matches_if_none_match(&request("*"), &tag));
        assert!(!matches_if_none_match(&request("\"g0.2\""), &tag));
        assert!(!matches_if_none_match(&request("\"g1.3\""), &tag));
        assert!(!matches_if_none_match(
            &TestRequest::get().to_http_request(),
            &tag
        ));
    }
}
