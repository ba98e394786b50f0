//! # projection-service
//!
//! The read side's writer: the event store POSTs batches of order events to
//! `POST /api/projections/orders/events` (the walkthrough's route and body `{events}`), and this
//! service projects them into Redis read models that the query service serves.
//!
//! | module | job |
//! |---|---|
//! | [`projector`] | the projections — `OrderSummary`, `CustomerOrders`, `OrderAnalytics`, status indexes — one atomic Lua script per event, exactly-once effect; a library ([`projector::Projector`]) |
//! | [`rebuild`] | replay the store's read-all API into a fresh generation and switch in one step, losing no live delivery |
//! | [`routes`] | the webhook, the status (checkpoint, lag) and the rebuild routes |
//! | [`webhook_auth`] | Standard Webhooks signature check |
//! | [`config`], [`cli`], [`startup`], [`metrics`], [`openapi`] | settings from the environment, subcommands, wiring, Prometheus metrics, `/openapi.json` |
//!
//! The key layout, and what a reader must know about it (generations, the checkpoint channel),
//! is shared with the query service in [`shared_domain::read_model`].

pub mod cli;
pub mod config;
pub mod metrics;
pub mod openapi;
pub mod projector;
pub mod rebuild;
pub mod routes;
pub mod startup;
pub mod webhook_auth;

pub use config::Config;
pub use startup::Application;

/// The service's name in logs and metrics.
pub const SERVICE_NAME: &str = "projection-service";
