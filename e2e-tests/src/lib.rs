//! End-to-end tests of the whole stack, and the harness they share:
//!
//! * [`stack`]: builds (or finds) the four service binaries and starts them as real processes on
//!   free ports, against PostgreSQL and Redis, with `config/deltabase.toml` (the `orders` store
//!   and its webhook subscription to the projection service); each service can be stopped,
//!   killed and restarted on its port.
//! * [`servers`]: a throwaway PostgreSQL and Redis of a test's own, which it may crash and
//!   restart (the machine's own servers are never touched).
//! * [`soak`]: the fault-injection soak test (`cargo xtask soak`, and `scripts/checks.d/70-soak`).
//!
//! The tests: `tests/walkthrough/` runs the walkthrough's flows on a fresh database and Redis
//! namespace each; `tests/soak.rs` runs the soak's short form (ignored by default; the check
//! runs it).

pub mod servers;
pub mod soak;
pub mod stack;
