//! Operability across the four services (issue 9), proven where it can only be seen with all
//! of them running:
//!
//! * [`trace`]: one `traceparent` followed from `POST /orders` to the webhook delivery and the
//!   projection's log;
//! * [`secrets`]: configured secrets in no log line and no answer, failures included;
//! * [`openapi`]: each served `/openapi.json` equals the routes that exist (and is dumped for
//!   the spec validator of `scripts/checks.d/65-openapi`);
//! * [`sigterm`]: SIGTERM to the event store and the projection service during load — real
//!   processes — loses nothing and answers no 5xx because of the shutdown.
//!
//! The first three run the services in-process ([`in_process`]), their logs captured as JSON
//! ([`logs`]); [`probe`] is a webhook receiver that records what deliveries carry.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod in_process;
mod logs;
mod openapi;
mod probe;
mod secrets;
mod sigterm;
mod trace;
