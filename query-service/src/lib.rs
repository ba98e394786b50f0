//! # query-service
//!
//! The read side of the Orders CQRS stack: the walkthrough's `createOrdersQueryRoute` as a
//! service over the Redis read models that `projection-service` writes (layout:
//! `shared_domain::read_model`).
//!
//! | route | answer |
//! |---|---|
//! | `GET /orders/{orderId}` | the `OrderSummary`, `ETag` (generation + `_revision`), 304 on `If-None-Match`; 404 `{"error": "Order not found", …}` |
//! | `GET /orders?status=&limit=&cursor=` | JSON array, newest first, next page in `Link: <…>; rel="next"` |
//! | `GET /orders/customer/{customerId}` | likewise, from the customer's index |
//! | `GET /analytics/orders` | counts and revenue per status, totals |
//!
//! Every read also takes `?minGlobalPosition=` (or `x-min-global-position`) and `?waitMs=`:
//! read-your-writes, see [`freshness`].
//!
//! Where to look:
//!
//! * [`store`]: the only code that talks to Redis — one Lua script per read, resolving the
//!   generation and reading its data and checkpoint in one atomic round trip, under a time-out;
//! * [`freshness`]: the per-process checkpoint watch (pub/sub + `tokio::sync::watch`);
//! * [`params`], [`cursor`]: parsing requests (400s name the parameter);
//! * [`routes`]: the handlers; [`errors`]: failures → statuses;
//! * [`startup`]: [`Application::build`] and the server; [`config`]: environment variables;
//! * [`cli`]: `serve` and `healthcheck` subcommands.

pub mod cli;
pub mod config;
pub mod cursor;
pub mod errors;
pub mod freshness;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::{Application, StartupError};

/// The name in metrics, logs and the OpenAPI document.
pub const SERVICE_NAME: &str = "query-service";
