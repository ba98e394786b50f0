//! End-to-end tests of the whole stack; this library is empty. See `tests/walkthrough/`: each
//! test builds (or finds) the four service binaries, starts them as real processes on free ports
//! against a fresh PostgreSQL database and a fresh Redis namespace, applies
//! `config/deltabase.toml` (the `orders` store and its webhook subscription to the projection
//! service) and drives the walkthrough's flow over HTTP.
