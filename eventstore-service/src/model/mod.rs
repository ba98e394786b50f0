//! Checked input: what a request becomes at the edge, before any handler logic runs.

pub mod append;
pub mod names;

pub use append::{Idempotency, NewEvent, ValidAppend};
pub use names::{EventType, IdempotencyKey, StoreName, StreamId};
