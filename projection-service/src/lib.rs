//! # projection-service
//!
//! The read side's writer: the event store POSTs batches of order events to
//! `POST /api/projections/orders/events` (the walkthrough's route and body), and this service
//! projects them into Redis read models that the query service serves.
//!
//! * [`projector`]: the projections themselves (`OrderSummary`, `CustomerOrders`,
//!   `OrderAnalytics`, status indexes), one atomic Lua script per event, exactly-once effect.
//!   Usable as a library ([`projector::Projector`]).
//!
//! The key layout is shared with the query service through
//! [`shared_domain::read_model`].

pub mod projector;
