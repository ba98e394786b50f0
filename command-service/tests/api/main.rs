//! The command service over HTTP, started in-process on port 0 in front of an event store.

mod bad_requests;
mod concurrency;
mod helpers;
mod idempotency;
mod operations;
mod outage;
mod walkthrough;
