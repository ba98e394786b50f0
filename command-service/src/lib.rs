//! # command-service
//!
//! The write side of the walkthrough (`placeOrderHandler`, `shipOrderHandler`, …) as an HTTP
//! service: `POST /orders`, `POST /orders/{orderId}/ship|deliver|cancel`.
//!
//! A request flows straight through:
//!
//! 1. [`routes`]: the body is parsed at the edge ([`requests`], the kit's `JsonBody`: 415, 413,
//!    400 naming the field) into an `OrderCommand`; headers into [`execute::Preconditions`]
//!    (`Idempotency-Key`, `If-Match`).
//! 2. [`execute`]: the domain's input rules (no I/O), then `handle_command_with_decider_with`
//!    from shared-domain — read the order's stream, fold, decide, append with the expected
//!    version, re-decide on conflict — with trace context and idempotency data stamped on the
//!    event's metadata ([`idempotency`] explains how keys work without a server-side cache).
//! 3. [`answers`]: the new state becomes the answer (`streamVersion`, `globalPosition`, also as
//!    `x-global-position`); [`error`] maps every failure to its status in one place.
//!
//! Everything is generic over [`store::CommandStore`], so the same code runs on the event-store
//! HTTP client in production and on the in-memory store in tests. [`startup`] wires it into
//! actix-web with the shared service kit (request ids, trace context, metrics, health, shutdown).

pub mod answers;
pub mod cli;
pub mod config;
pub mod error;
pub mod execute;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod requests;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::{Application, SERVICE_NAME, run};
