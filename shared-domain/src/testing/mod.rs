//! Test isolation helpers (feature `testing`), so that tests run in parallel without sharing state.
//!
//! * [`postgres::fresh_database`]: a database of its own per test, cloned with
//!   `CREATE DATABASE … TEMPLATE` from a template that is built (migrated) once per schema;
//! * [`redis::fresh_namespace`]: a key prefix of its own per test, and a way to delete it;
//! * [`free_port`]: a TCP port nobody listens on, for servers a test starts itself.
//!
//! Every name they make carries `TEST_RUN_ID` (set by `scripts/test`, `local` otherwise), so the
//! test command can remove what one run left on a shared server.

pub mod postgres;
pub mod redis;

use std::net::{Ipv4Addr, TcpListener};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
///
/// Prefer binding a listener to port 0 and keeping it where the server accepts a listener;
/// this is for processes that must be told a port number.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"))
}

/// `N` distinct free ports on 127.0.0.1: all are held at once while they are chosen, so no two
/// are the same (separate [`free_port`] calls may hand out one port twice).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| {
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"))
        })
        .collect();
    std::array::from_fn(|i| {
        listeners[i]
            .local_addr()
            .map(|addr| addr.port())
            .unwrap_or_else(|e| panic!("a bound listener has no address: {e}"))
    })
}

/// The current run's id, reduced to what is safe inside a database name or key prefix:
/// lowercase ASCII letters and digits, at most 20 of them. `scripts/test` uses the same rule.
pub(crate) fn run_id() -> String {
    let id: String = std::env::var("TEST_RUN_ID")
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(20)
        .collect();
    if id.is_empty() {
        "local".to_owned()
    } else {
        id
    }
}

/// The first `len` (at most 32) lowercase hex characters of a fresh random UUID.
pub(crate) fn short_uuid(len: usize) -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(len);
    id
}
