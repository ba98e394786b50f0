//! Integration tests of subscriptions and webhook delivery (issue 4): the real service over a
//! real PostgreSQL (a fresh database per test) delivering to real HTTP receivers started by the
//! tests on port 0.

// Helpers outside test functions unwrap/expect too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod config;
mod delivery;
mod helpers;
mod receiver;
mod replicas;
mod rest;
