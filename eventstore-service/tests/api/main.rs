//! Integration tests: the real service (spawned in-process on port 0) over a real PostgreSQL,
//! one fresh database per test.

// Helpers outside test functions unwrap/expect too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod append;
mod auth;
mod bad_input;
mod cli;
mod client;
mod concurrency;
mod helpers;
mod idempotency;
mod notify;
mod operations;
mod read_all;
mod read_stream;
mod restart;
mod stores;
