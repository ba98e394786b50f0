//! Servers a test runs itself, so that it may crash and restart them: a throwaway PostgreSQL
//! ([`Postgres`]) and Redis ([`Redis`]), each on a free port of 127.0.0.1 with its files under a
//! directory of the caller's. The machine's own servers (5432, 6379) are never touched.

pub mod postgres;
pub mod redis;

pub use postgres::{PgStop, Postgres};
pub use redis::Redis;
