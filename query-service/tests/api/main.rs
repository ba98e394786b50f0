//! query-service against real Redis, filled by the real projection code
//! (`projection_service::projector::Projector`). Each test has a Redis namespace of its own.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod cache;
mod failures;
mod freshness;
mod helpers;
mod lists;
mod model;
mod operations;
mod orders;
mod whole_stack;
