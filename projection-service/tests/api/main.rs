//! Integration tests of projection-service against a real Redis (one namespace per test).

// Test helpers are not `#[test]` functions, so `allow-unwrap-in-tests` does not reach them; a
// failed unwrap in a test helper is a failed test, which is what we want.
#![allow(clippy::unwrap_used)]

mod app;
mod cli;
mod cluster;
mod end_to_end;
mod events;
mod helpers;
mod own_redis;
mod projector;
mod rebuild;
mod redis_outage;
mod store_stub;
mod webhook;
