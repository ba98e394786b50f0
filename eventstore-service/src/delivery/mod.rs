//! Webhook delivery (issue 4): one replica's engine that pushes each subscription's events, in
//! global order and in batches, to its webhook — at least once, one replica at a time.
//!
//! | module | job |
//! |---|---|
//! | [`engine`] | starts the listener and a supervisor keeping one worker per subscription |
//! | [`worker`] | one subscription's loop: lease, read batch, POST, checkpoint or retry |
//! | [`state`] | lease, checkpoint and retry state in PostgreSQL, guarded by the lease epoch |
//! | [`listener`], [`wakeups`] | `LISTEN` on a dedicated connection → in-process wake-ups |
//! | [`schedule`] | what follows a failed attempt: retry time or exhausted |
//! | [`batch`] | the body of a delivery and the trace it continues |
//! | [`http`] | one POST with timeout; 2xx or a failed attempt with `Retry-After` |
//! | [`signing`] | Standard Webhooks headers and `whsec_` secrets |
//! | [`allowlist`] | `EVENTSTORE_WEBHOOK_ALLOWLIST`: which targets may be called |
//! | [`settings`], [`context`], [`metrics`] | settings, what handlers and tasks share, metrics |
//!
//! The retry schedule is `shared_domain::retry` (the one retry-policy module).

pub mod allowlist;
pub mod batch;
pub mod context;
pub mod engine;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod schedule;
pub mod settings;
pub mod signing;
pub mod state;
pub mod wakeups;
pub mod worker;

pub use context::DeliveryContext;
pub use settings::DeliverySettings;
