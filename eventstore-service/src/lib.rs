//! # eventstore-service
//!
//! A DeltaBase-style event store behind HTTP, on PostgreSQL (DESIGN.md, "Event store service").
//! Read in this order:
//!
//! | module | job |
//! |---|---|
//! | [`startup`] | [`AppState`], [`Application::build`] / [`run`]: pool, migrations, HTTP server, background tasks |
//! | [`config`] | settings from the environment ([`config::ENV_VARS`] lists them) |
//! | [`api`] | the HTTP handlers: stores, append, read a stream, read all; API key; OpenAPI |
//! | [`model`] | checked input: store names, stream ids, event types, a [`model::ValidAppend`] |
//! | [`writer`] | group commit: one writer task per store batches appends into one transaction |
//! | [`storage`] | the SQL of reads and store management |
//! | [`db`] | the connection pool and the migrations (run under an advisory lock) |
//! | [`error`] | [`error::StoreError`] and its one mapping to HTTP answers |
//! | [`subscriptions`], `delivery` | subscriptions and webhook delivery (issue 4) |
//! | [`cli`] | `serve`, `migrate`, `healthcheck` |
//!
//! The guarantees (each has an integration test in `tests/api/`): optimistic concurrency with
//! all four expected-version modes, idempotent appends (key or event ids), gap-free global order
//! for read-all, and durability of every 201.

pub mod api;
pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod error;
pub mod model;
pub mod startup;
pub mod storage;
pub mod subscriptions;
pub mod writer;

pub use config::Config;
pub use startup::{AppState, Application, StartupError, build, run};
