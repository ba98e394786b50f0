//! The service kit through its public API, with `actix_web::test` apps and a real server for
//! shutdown. Run with `cargo test -p shared-domain --features service --test service_kit`.
#![cfg(feature = "service")]
// Test helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod errors;
mod health;
mod json_body;
mod logs;
#[cfg(feature = "otel")]
mod otel;
mod request_context;
mod shutdown;
