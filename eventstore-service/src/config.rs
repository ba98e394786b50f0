//! The service's settings, from environment variables (12-factor), each with a documented
//! default. [`ENV_VARS`] is the one list of them: `--help` prints it and the README copies it.

use std::net::IpAddr;
use std::time::Duration;

use shared_domain::service::ShutdownSettings;
use shared_domain::service::config::{ConfigError, Vars, redact_url};

/// Every variable the service reads: name, default, meaning. Printed by `--help`.
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    (
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
        "PostgreSQL holding the event stores",
    ),
    ("HOST", "0.0.0.0", "address to listen on"),
    ("PORT", "8081", "port to listen on"),
    (
        "EVENTSTORE_API_KEY",
        "(required by serve)",
        "every /api route needs it as X-API-Key or Authorization: Bearer; several (space or comma separated) are all accepted, to rotate it",
    ),
    (
        "EVENTSTORE_ALLOW_ANONYMOUS",
        "false",
        "`true` lets serve run without EVENTSTORE_API_KEY, every /api route open (local experiments only)",
    ),
    (
        "EVENTSTORE_MAX_BODY_BYTES",
        "1048576",
        "largest request body accepted (413 beyond)",
    ),
    (
        "EVENTSTORE_MAX_EVENTS_PER_APPEND",
        "1000",
        "most events one append may carry",
    ),
    (
        "EVENTSTORE_DB_POOL_SIZE",
        "16",
        "PostgreSQL connections this replica keeps at most",
    ),
    (
        "EVENTSTORE_WRITER_POOL_SIZE",
        "4",
        "PostgreSQL connections of the group-commit writers (on top of EVENTSTORE_DB_POOL_SIZE)",
    ),
    (
        "EVENTSTORE_DB_TIMEOUT_MS",
        "5000",
        "wait for a pooled connection at most this long (then 503)",
    ),
    (
        "EVENTSTORE_BATCH_MAX_EVENTS",
        "5000",
        "most events one group-commit transaction writes",
    ),
    (
        "EVENTSTORE_BATCH_WAIT_US",
        "1000",
        "when more appends are due (callers of the last batch coming back), wait this long for them before the next batch",
    ),
    (
        "EVENTSTORE_BATCHES_IN_FLIGHT",
        "1",
        "group-commit batches of one store written at once (never two with a stream in common)",
    ),
    (
        "EVENTSTORE_MIGRATE_ON_START",
        "true",
        "apply pending migrations (under a lock) before serving",
    ),
    (
        "EVENTSTORE_HTTP_WORKERS",
        "(HTTP_WORKERS, else the number of CPUs)",
        "actix-web worker threads",
    ),
    (
        "HTTP_WORKERS",
        "(number of CPUs)",
        "actix-web worker threads, the name every service reads",
    ),
    (
        "SHUTDOWN_GRACE_SECONDS",
        "30",
        "from SIGTERM to exit, at most",
    ),
    (
        "SHUTDOWN_DRAIN_DELAY_MS",
        "0",
        "from readiness 503 to closing the listener",
    ),
    ("RUST_LOG", "info", "log filter"),
    (
        "LOG_FORMAT",
        "(human)",
        "`json` for one JSON object per line",
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "(unset: no export)",
        "OpenTelemetry collector (OTLP/HTTP, e.g. http://otel-collector:4318): spans exported when set",
    ),
];

/// Default `DATABASE_URL`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Default `PORT`.
pub const DEFAULT_PORT: u16 = 8081;
/// Default `EVENTSTORE_MAX_BODY_BYTES`: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default `EVENTSTORE_MAX_EVENTS_PER_APPEND`.
pub const DEFAULT_MAX_EVENTS_PER_APPEND: usize = 1000;

/// Everything the service is configured with. `Debug` shows neither the API key nor the
/// database password.
#[derive(Clone)]
pub struct Config {
    /// PostgreSQL connection string (may carry a password: log it with `redact_url`).
    pub database_url: String,
    /// Address to bind.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one (tests).
    pub port: u16,
    /// The API key every `/api` route needs; `None` switches authentication off, which `serve`
    /// refuses unless `allow_anonymous` (see [`Config::check_auth`]).
    pub api_key: Option<String>,
    /// `EVENTSTORE_ALLOW_ANONYMOUS`: the operator's explicit consent to an open API.
    pub allow_anonymous: bool,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most events in one append.
    pub max_events_per_append: usize,
    /// Most pooled PostgreSQL connections (reads, stores, subscriptions).
    pub db_pool_size: usize,
    /// Most PostgreSQL connections of the group-commit writers (their own pool).
    pub writer_pool_size: usize,
    /// How long a request waits for a pooled connection before answering 503.
    pub db_timeout: Duration,
    /// Most events one group-commit transaction writes (a single larger append still goes alone).
    pub batch_max_events: usize,
    /// Batches of one store written at once (each on its own connection).
    pub batches_in_flight: usize,
    /// How long the next batch waits for appends that are due (0: never waits).
    pub batch_wait: Duration,
    /// Whether `serve` applies pending migrations before it listens.
    pub migrate_on_start: bool,
    /// actix-web worker threads; `None`: one per CPU.
    pub http_workers: Option<usize>,
    /// Shutdown timing.
    pub shutdown: ShutdownSettings,
    /// Subscriptions and webhook delivery (issue 4).
    pub subscriptions: crate::delivery::DeliverySettings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("allow_anonymous", &self.allow_anonymous)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("db_pool_size", &self.db_pool_size)
            .field("writer_pool_size", &self.writer_pool_size)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    /// Reads a set of variables (tests pass fixed ones).
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: vars.or("DATABASE_URL", DEFAULT_DATABASE_URL.to_owned())?,
            host: vars.or("HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: vars.or("PORT", DEFAULT_PORT)?,
            api_key: vars
                .opt::<String>("EVENTSTORE_API_KEY")?
                .filter(|key| !key.trim().is_empty()),
            allow_anonymous: vars.flag("EVENTSTORE_ALLOW_ANONYMOUS", false)?,
            max_body_bytes: vars.or("EVENTSTORE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            max_events_per_append: vars.or(
                "EVENTSTORE_MAX_EVENTS_PER_APPEND",
                DEFAULT_MAX_EVENTS_PER_APPEND,
            )?,
            db_pool_size: vars.or("EVENTSTORE_DB_POOL_SIZE", 16)?,
            writer_pool_size: vars.or("EVENTSTORE_WRITER_POOL_SIZE", 4)?,
            db_timeout: vars.duration_ms("EVENTSTORE_DB_TIMEOUT_MS", Duration::from_secs(5))?,
            batch_max_events: vars.or("EVENTSTORE_BATCH_MAX_EVENTS", 5000)?,
            batches_in_flight: vars.or("EVENTSTORE_BATCHES_IN_FLIGHT", 1)?,
            batch_wait: Duration::from_micros(vars.or("EVENTSTORE_BATCH_WAIT_US", 1000)?),
            migrate_on_start: vars.flag("EVENTSTORE_MIGRATE_ON_START", true)?,
            // The service's own name first; HTTP_WORKERS is the name all services share.
            http_workers: match vars.opt("EVENTSTORE_HTTP_WORKERS")? {
                Some(workers) => Some(workers),
                None => vars.opt("HTTP_WORKERS")?,
            },
            shutdown: ShutdownSettings::from_vars(vars)?,
            subscriptions: crate::delivery::DeliverySettings::from_vars(vars)?,
        })
    }

    /// Whether `serve` may run with these credentials: an API key, or the explicit
    /// `EVENTSTORE_ALLOW_ANONYMOUS=true`. A store that forgot its key would otherwise take
    /// appends, deletions and subscriptions (which make it call URLs) from anyone who can reach it.
    pub fn check_auth(&self) -> Result<(), String> {
        if self.api_key.is_some() || self.allow_anonymous {
            Ok(())
        } else {
            Err(
                "EVENTSTORE_API_KEY is not set: every /api route would be open. Set it (clients \
                 send it as X-API-Key), or set EVENTSTORE_ALLOW_ANONYMOUS=true to run without \
                 authentication on purpose."
                    .to_owned(),
            )
        }
    }

    /// Settings for a test or an embedded instance: this database, port 0 on 127.0.0.1, the
    /// defaults otherwise.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut config = Self::from_vars(&Vars::from_pairs::<&str, &str>([]))
            .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
        config.database_url = database_url.into();
        config.host = IpAddr::from([127, 0, 0, 1]);
        config.port = 0;
        config
    }

    /// The variables and their defaults as the text `--help` shows.
    pub fn help_text() -> String {
        let width = ENV_VARS
            .iter()
            .chain(crate::delivery::settings::ENV_VARS)
            .map(|(n, _, _)| n.len())
            .max()
            .unwrap_or(0);
        let mut text = String::from("Environment variables (default in brackets):\n");
        for (name, default, what) in ENV_VARS.iter().chain(crate::delivery::settings::ENV_VARS) {
            text.push_str(&format!("  {name:width$}  {what} [{default}]\n"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let config = Config::from_vars(&Vars::from_pairs::<&str, &str>([])).unwrap();
        assert_eq!(config.port, 8081);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.api_key, None);
        assert!(config.migrate_on_start);
    }

    #[test]
    fn the_shared_worker_count_applies_unless_the_services_own_is_set() {
        let shared = Vars::from_pairs([("HTTP_WORKERS", "3")]);
        assert_eq!(Config::from_vars(&shared).unwrap().http_workers, Some(3));
        let both = Vars::from_pairs([("HTTP_WORKERS", "3"), ("EVENTSTORE_HTTP_WORKERS", "5")]);
        assert_eq!(Config::from_vars(&both).unwrap().http_workers, Some(5));
    }

    #[test]
    fn debug_shows_neither_the_key_nor_the_database_password() {
        let config = Config::from_vars(&Vars::from_pairs([
            ("EVENTSTORE_API_KEY", "key-that-must-not-leak"),
            ("DATABASE_URL", "postgres://u:pg-password@db/x"),
        ]))
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("key-that-must-not-leak"), "{shown}");
        assert!(!shown.contains("pg-password"), "{shown}");
    }

    #[test]
    fn serving_without_a_key_needs_explicit_consent() {
        let config =
            |pairs: &[(&str, &str)]| Config::from_vars(&Vars::from_pairs(pairs.to_vec())).unwrap();
        assert!(config(&[]).check_auth().is_err());
        assert!(
            config(&[("EVENTSTORE_API_KEY", "  ")])
                .check_auth()
                .is_err()
        );
        assert!(config(&[("EVENTSTORE_API_KEY", "k")]).check_auth().is_ok());
        assert!(
            config(&[("EVENTSTORE_ALLOW_ANONYMOUS", "true")])
                .check_auth()
                .is_ok()
        );
        let error = config(&[]).check_auth().unwrap_err();
        assert!(error.contains("EVENTSTORE_ALLOW_ANONYMOUS"), "{error}");
    }

    #[test]
    fn every_variable_read_is_listed_in_help() {
        let help = Config::help_text();
        for name in [
            "DATABASE_URL",
            "PORT",
            "EVENTSTORE_API_KEY",
            "EVENTSTORE_MAX_BODY_BYTES",
            "EVENTSTORE_DB_POOL_SIZE",
        ] {
            assert!(help.contains(name), "{name} missing from {help}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = Config::from_vars(&Vars::from_pairs([("EVENTSTORE_MAX_BODY_BYTES", "lots")]))
            .unwrap_err();
        assert_eq!(error.variable, "EVENTSTORE_MAX_BODY_BYTES");
    }
}
