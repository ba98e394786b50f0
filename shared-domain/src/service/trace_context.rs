//! [`TraceContext`]: the request id and W3C trace context of one hop, so that one order can be
//! followed through all four services' logs.
//!
//! The [`RequestContext`](super::request_context::RequestContext) middleware makes one per request
//! (from the incoming `x-request-id` and `traceparent`, or fresh ones) and handlers take it as an
//! extractor to pass it on: [`TraceContext::apply`] on a `reqwest` request. Code outside a request
//! (webhook delivery, projection rebuild) rebuilds one from a stored `traceparent` with
//! [`TraceContext::from_traceparent`] or starts one with [`TraceContext::new_root`].

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

/// The request id header, accepted from clients and set on every answer and outbound call.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The W3C Trace Context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Longest request id accepted from a client; longer ones are replaced by a fresh one.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Request id and trace position of this hop.
///
/// `span_id` is this hop's own span: it goes out as the parent id of the next hop's
/// `traceparent`, so the trace id stays the same through every service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    request_id: String,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    flags: u8,
}

impl TraceContext {
    /// A new trace (fresh trace id, span id and request id), sampled. For work that no request
    /// started, such as a rebuild run from the command line.
    pub fn new_root() -> Self {
        Self {
            request_id: new_request_id(),
            trace_id: random_hex::<16>(),
            span_id: random_hex::<8>(),
            parent_span_id: None,
            flags: 0x01,
        }
    }

    /// A child of the span a `traceparent` names: same trace id and flags, the given parent id
    /// as parent, a fresh span id for this hop and a fresh request id (see
    /// [`with_request_id`](Self::with_request_id)). `None` when the value is not a valid
    /// `traceparent` (W3C: then start a new trace).
    pub fn from_traceparent(traceparent: &str) -> Option<Self> {
        let parsed = parse_traceparent(traceparent)?;
        Some(Self {
            request_id: new_request_id(),
            trace_id: parsed.trace_id,
            span_id: random_hex::<8>(),
            parent_span_id: Some(parsed.parent_id),
            flags: parsed.flags,
        })
    }

    /// The context for an incoming request's headers: a child of its `traceparent` when valid
    /// (else a new root), with its `x-request-id` when valid (else a fresh one).
    pub fn from_headers(request_id: Option<&str>, traceparent: Option<&str>) -> Self {
        let context = traceparent
            .and_then(Self::from_traceparent)
            .unwrap_or_else(Self::new_root);
        match request_id {
            Some(id) => context.with_request_id(id),
            None => context,
        }
    }

    /// The context the middleware stored for this request; if the middleware is not installed,
    /// one made from the request's headers.
    pub fn of_request(req: &HttpRequest) -> Self {
        if let Some(context) = req.extensions().get::<Self>() {
            return context.clone();
        }
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        Self::from_headers(header(REQUEST_ID_HEADER), header(TRACEPARENT_HEADER))
    }

    /// Uses `request_id` if it is a valid request id (1–128 characters of `[A-Za-z0-9._-]`);
    /// otherwise keeps the current one.
    #[must_use]
    pub fn with_request_id(mut self, request_id: &str) -> Self {
        if is_valid_request_id(request_id) {
            request_id.clone_into(&mut self.request_id);
        }
        self
    }

    /// The `traceparent` to send downstream: this trace id, this hop's span id as parent.
    pub fn to_traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }

    /// Headers to put on an outbound HTTP call: `x-request-id` and `traceparent`.
    pub fn outbound_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            (REQUEST_ID_HEADER, self.request_id.clone()),
            (TRACEPARENT_HEADER, self.to_traceparent()),
        ]
    }

    /// Adds [`outbound_headers`](Self::outbound_headers) to a `reqwest` request.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        self.outbound_headers()
            .into_iter()
            .fold(request, |request, (name, value)| {
                request.header(name, value)
            })
    }

    /// A `tracing` span carrying this context, for work outside an HTTP request (a delivery, a
    /// rebuild): `async { … }.instrument(context.span())`.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "trace",
            request_id = %self.request_id,
            trace_id = %self.trace_id,
            span_id = %self.span_id,
        )
    }

    /// The request id (`x-request-id`).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The trace id: 32 lowercase hex digits, the same in every service the request reaches.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// This hop's span id: 16 lowercase hex digits.
    pub fn span_id(&self) -> &str {
        &self.span_id
    }

    /// The caller's span id, when the request came with a valid `traceparent`.
    pub fn parent_span_id(&self) -> Option<&str> {
        self.parent_span_id.as_deref()
    }

    /// Whether the caller asked for this trace to be recorded (flag `01`).
    pub fn sampled(&self) -> bool {
        self.flags & 0x01 == 0x01
    }

    /// The W3C trace flags (`01`: sampled).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Takes the trace id, span id and flags of the span an exporter records for this hop (see
    /// `telemetry::link_request_span`), so that what is logged and passed on names that span.
    /// Ids that are not lowercase hex of the right length are ignored.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn adopt_ids(&mut self, trace_id: &str, span_id: &str, flags: u8) {
        let valid = |id: &str, len: usize| id.len() == len && is_lower_hex(id);
        if valid(trace_id, 32) && valid(span_id, 16) {
            trace_id.clone_into(&mut self.trace_id);
            span_id.clone_into(&mut self.span_id);
            self.flags = flags;
        }
    }
}

impl FromRequest for TraceContext {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of_request(req)))
    }
}

/// A fresh request id (a UUID v4).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether a client-supplied request id may be used as is: 1–128 characters of `[A-Za-z0-9._-]`
/// (so it cannot forge log lines or carry markup).
pub fn is_valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The parts of a valid `traceparent`.
#[derive(Debug, PartialEq, Eq)]
struct ParsedTraceparent {
    trace_id: String,
    parent_id: String,
    flags: u8,
}

/// Parses `version-traceid-parentid-flags` per W3C Trace Context level 1: lowercase hex, trace
/// and parent ids not all zero, version `ff` invalid, version `00` exactly 55 characters, and a
/// higher version possibly followed by `-…` that we ignore.
fn parse_traceparent(value: &str) -> Option<ParsedTraceparent> {
    let value = value.trim();
    if value.len() < 55 || !value.is_ascii() {
        return None;
    }
    let (head, rest) = value.split_at(55);
    let version = &head[0..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    if (version == "00" && !rest.is_empty()) || (!rest.is_empty() && !rest.starts_with('-')) {
        return None;
    }
    let bytes = head.as_bytes();
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let (trace_id, parent_id, flags) = (&head[3..35], &head[36..52], &head[53..55]);
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    if !is_lower_hex(trace_id) || !nonzero(trace_id) {
        return None;
    }
    if !is_lower_hex(parent_id) || !nonzero(parent_id) || !is_lower_hex(flags) {
        return None;
    }
    Some(ParsedTraceparent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags: u8::from_str_radix(flags, 16).ok()?,
    })
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `N` random bytes as lowercase hex, never all zero (W3C forbids all-zero ids).
fn random_hex<const N: usize>() -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; N];
    // All zeros is not a valid id; the thread-local generator makes no system call.
    while bytes.iter().all(|&b| b == 0) {
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    }
    let mut hex = String::with_capacity(2 * N);
    for b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_traceparent_gives_child_with_same_trace_id_and_new_span() {
        let context = TraceContext::from_traceparent(VALID).unwrap();
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.parent_span_id(), Some("00f067aa0ba902b7"));
        assert_ne!(context.span_id(), "00f067aa0ba902b7");
        assert_eq!(context.span_id().len(), 16);
        assert!(context.sampled());
    }

    #[test]
    fn to_traceparent_round_trips_through_from_traceparent() {
        let root = TraceContext::new_root();
        let child = TraceContext::from_traceparent(&root.to_traceparent()).unwrap();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_eq!(child.parent_span_id(), Some(root.span_id()));
    }

    #[test]
    fn random_ids_are_lowercase_hex_of_their_length_and_differ() {
        let ids: Vec<String> = (0..64).map(|_| random_hex::<8>()).collect();
        for id in &ids {
            assert_eq!(id.len(), 16);
            assert!(is_lower_hex(id), "{id}");
            assert_ne!(id, "0000000000000000");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(random_hex::<16>().len(), 32);
    }

    #[test]
    fn malformed_traceparents_are_rejected() {
        for bad in [
            "",
            "garbage",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "accepted {bad:?}");
        }
    }

    #[test]
    fn future_version_with_extra_fields_is_accepted() {
        let value = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert!(parse_traceparent(value).is_some());
    }

    #[test]
    fn request_id_rules() {
        assert!(is_valid_request_id("abc-123_X.y"));
        assert!(is_valid_request_id(&"a".repeat(128)));
        assert!(!is_valid_request_id(&"a".repeat(129)));
        assert!(!is_valid_request_id(""));
        assert!(!is_valid_request_id("has space"));
        assert!(!is_valid_request_id("line\nbreak"));
    }

    #[test]
    fn invalid_request_id_keeps_the_generated_one() {
        let context = TraceContext::new_root();
        let generated = context.request_id().to_owned();
        assert_eq!(context.with_request_id("<script>").request_id(), generated);
    }

    #[test]
    fn outbound_headers_carry_request_id_and_same_trace_id() {
        let context = TraceContext::from_headers(Some("req-1"), Some(VALID));
        let headers = context.outbound_headers();
        assert_eq!(headers[0], ("x-request-id", "req-1".to_owned()));
        let sent = TraceContext::from_traceparent(&headers[1].1).unwrap();
        assert_eq!(sent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(sent.parent_span_id(), Some(context.span_id()));
    }
}
