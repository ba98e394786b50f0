//! PostgreSQL: the connection pool and the schema migrations.
//!
//! Migrations live in `migrations/` (refinery, `V<n>__<name>.sql`, one sequence with no gaps
//! for features: refinery refuses to start on a database whose last applied version is above a
//! migration it has not applied, so the next migration is always the next number) and are
//! applied by `eventstore-service migrate` and, unless
//! `EVENTSTORE_MIGRATE_ON_START=false`, before `serve` listens. Either way they run under a
//! session advisory lock, so two replicas starting together apply them once, one after the other.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::Config;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A pooled connection that is closed instead of going back to the pool when a panic unwinds
/// while it is held. The writer pipelines its own `BEGIN` … `COMMIT` (a `Transaction` guard, which
/// rolls back when dropped, cannot be pipelined with the reads), so a panic between the two
/// would otherwise hand the pool's next user a connection inside an open transaction, whose
/// `COMMIT` would then also commit the abandoned writes. Closing the connection makes the server
/// roll them back.
pub struct DetachOnPanic(Option<Object>);

impl DetachOnPanic {
    pub fn new(client: Object) -> Self {
        Self(Some(client))
    }
}

impl std::ops::Deref for DetachOnPanic {
    type Target = Object;

    fn deref(&self) -> &Object {
        // Some until drop.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl Drop for DetachOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(client) = self.0.take()
        {
            drop(Object::take(client));
        }
    }
}

/// Key of the advisory lock held while migrating ("eventstore" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x6576_656e_7473_746f;

/// Why the database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not a valid PostgreSQL connection string: {0}")]
    BadUrl(String),
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migrate(String),
}

/// How long sent data may stay unacknowledged, and how long an idle connection may stay
/// silent (keepalive probes), before a connection to PostgreSQL counts as dead.
const DEAD_PEER_TIMEOUT: Duration = Duration::from_secs(20);

/// The connection settings of `database_url`, with bounds on every wait the URL leaves open:
/// connecting (`connect_timeout`), and a server that vanished without closing the connection —
/// a network partition or a crashed host — which would otherwise hang a query (or the LISTEN
/// connection) until the kernel's TCP time-out, a quarter of an hour (`tcp_user_timeout`,
/// keepalives). Values set in the URL win.
pub fn connection_config(
    database_url: &str,
    connect_timeout: Duration,
) -> Result<tokio_postgres::Config, DbError> {
    let mut pg: tokio_postgres::Config = database_url
        .parse()
        .map_err(|e: tokio_postgres::Error| DbError::BadUrl(e.to_string()))?;
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(connect_timeout);
    }
    if pg.get_tcp_user_timeout().is_none() {
        pg.tcp_user_timeout(DEAD_PEER_TIMEOUT);
    }
    if pg.get_keepalives_idle() > DEAD_PEER_TIMEOUT {
        pg.keepalives_idle(DEAD_PEER_TIMEOUT / 2)
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(2);
    }
    Ok(pg)
}

/// A pool of at most `config.db_pool_size` connections; a request waits at most
/// `config.db_timeout` for one. Connecting is lazy: this does not touch the server.
pub fn pool(config: &Config) -> Result<Pool, DbError> {
    pool_of(config, config.db_pool_size)
}

/// The group-commit writers' own pool of at most `config.writer_pool_size` connections
/// (see [`crate::writer`]: its connections are made, and driven, on the writers' thread).
pub fn writer_pool(config: &Config) -> Result<Pool, DbError> {
    pool_of(config, config.writer_pool_size)
}

fn pool_of(config: &Config, max_size: usize) -> Result<Pool, DbError> {
    let pg = connection_config(&config.database_url, config.db_timeout)?;
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(config.db_timeout))
        .create_timeout(Some(config.db_timeout))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// Applies pending migrations on `database_url`, holding the migration lock meanwhile.
pub async fn migrate(database_url: &str) -> Result<(), DbError> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .map_err(|e| DbError::Connect(e.to_string()))?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "migration connection ended with an error");
        }
    });
    let result = migrate_locked(&mut client).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn migrate_locked(client: &mut tokio_postgres::Client) -> Result<(), DbError> {
    let db = |e: tokio_postgres::Error| DbError::Migrate(e.to_string());
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(db)?;
    // refinery's defaults abort on a migration applied but unknown here, or known here but older
    // than the last applied one: a schema this binary does not expect is an error, not a warning.
    let report = embedded::migrations::runner().run_async(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(db)?;
    let report = report.map_err(|e| DbError::Migrate(e.to_string()))?;
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "applied migration");
    }
    Ok(())
}

/// A fingerprint of every migration's name and SQL: changes whenever the schema does (tests key
/// their template database by it).
pub fn migrations_fingerprint() -> String {
    let runner = embedded::migrations::runner();
    let parts: Vec<String> = runner
        .get_migrations()
        .iter()
        .map(|m| format!("{}:{}", m, m.sql().unwrap_or_default()))
        .collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wait_on_the_database_is_bounded_unless_the_url_says_otherwise() {
        let pg = connection_config("postgres://u@h/db", Duration::from_secs(3)).unwrap();
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(pg.get_tcp_user_timeout(), Some(&DEAD_PEER_TIMEOUT));
        assert!(pg.get_keepalives_idle() <= DEAD_PEER_TIMEOUT);

        let pg = connection_config(
            "postgres://u@h/db?connect_timeout=9&keepalives_idle=7",
            Duration::from_secs(3),
        )
        .unwrap();
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(9)));
        assert_eq!(pg.get_keepalives_idle(), Duration::from_secs(7));
    }
}
