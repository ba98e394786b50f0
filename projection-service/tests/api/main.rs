//! Integration tests of projection-service against a real Redis (one namespace per test).

mod decimal;
mod events;
mod helpers;
mod projector;
