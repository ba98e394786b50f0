//! [`Config`]: the service's settings, read from environment variables (12-factor), each with a
//! documented default. [`ENV_VARS`] is the one list of them; `--help` prints it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use shared_domain::read_model::{DEFAULT_NAMESPACE, is_valid_namespace};
use shared_domain::service::ShutdownSettings;
use shared_domain::service::config::{ConfigError, Vars};

/// Default `PORT`.
pub const DEFAULT_PORT: u16 = 8083;
/// Default `REDIS_URL`.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Default `REDIS_TIMEOUT_MS`: the longest a read waits for Redis before answering 503.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default `READ_YOUR_WRITES_DEFAULT_WAIT_MS`: how long a `minGlobalPosition` read waits when the
/// client does not say (`waitMs`).
pub const DEFAULT_WAIT: Duration = Duration::from_millis(2000);
/// Default `READ_YOUR_WRITES_MAX_WAIT_MS`: the cap on `waitMs`.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_millis(10_000);
/// Default `CHECKPOINT_RESYNC_MS`: while reads wait, how often the checkpoint key is re-read in
/// case a pub/sub notification was lost.
pub const DEFAULT_CHECKPOINT_RESYNC: Duration = Duration::from_millis(1000);

/// Default `QUERY_CACHE_ENTRIES`: order summaries held in the process (about 0.5 KiB each).
pub const DEFAULT_CACHE_ENTRIES: usize = 100_000;

/// Default `QUERY_PAGE_CACHE_MB`: mebibytes of list pages held as answered (a page of 50 orders
/// is about 25 KiB).
pub const DEFAULT_PAGE_CACHE_MB: usize = 32;

/// Every environment variable the service reads: name, default, meaning (printed by `--help`,
/// mirrored in the README's Configuration table).
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    ("PORT", "8083", "HTTP port"),
    ("HOST", "0.0.0.0", "address to listen on"),
    ("HTTP_WORKERS", "CPU cores", "HTTP worker threads"),
    (
        "REDIS_URL",
        DEFAULT_REDIS_URL,
        "Redis holding the read models",
    ),
    (
        "READ_MODEL_NAMESPACE",
        DEFAULT_NAMESPACE,
        "key namespace of the read models (the projection's)",
    ),
    (
        "REDIS_TIMEOUT_MS",
        "1000",
        "longest wait for one Redis read before answering 503",
    ),
    (
        "READ_YOUR_WRITES_DEFAULT_WAIT_MS",
        "2000",
        "wait for minGlobalPosition when the request gives no waitMs",
    ),
    ("READ_YOUR_WRITES_MAX_WAIT_MS", "10000", "cap on waitMs"),
    (
        "CHECKPOINT_RESYNC_MS",
        "1000",
        "re-read of the checkpoint while reads wait (safety net for pub/sub)",
    ),
    (
        "QUERY_CACHE_ENTRIES",
        "100000",
        "order summaries held in the process, kept current by Redis invalidations (0: no cache)",
    ),
    (
        "QUERY_PAGE_CACHE_MB",
        "32",
        "MiB of list pages held as answered while their index and orders are unchanged (0: none)",
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
    ("LOG_FORMAT", "human", "`json` for JSON lines"),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "(unset: no export)",
        "OpenTelemetry collector (OTLP/HTTP, e.g. http://otel-collector:4318): spans exported when set",
    ),
];

/// Bounds of the read-your-writes wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitSettings {
    /// Used when a request asks for a position but gives no `waitMs`.
    pub default: Duration,
    /// `waitMs` above this is cut down to it, so no request holds a connection for long.
    pub max: Duration,
    /// Period of the safety re-read of the checkpoint while anyone waits.
    pub resync: Duration,
}

impl Default for WaitSettings {
    fn default() -> Self {
        Self {
            default: DEFAULT_WAIT,
            max: DEFAULT_MAX_WAIT,
            resync: DEFAULT_CHECKPOINT_RESYNC,
        }
    }
}

impl WaitSettings {
    /// The wait for a request that asked for `requested_ms` (or nothing): capped at `max`.
    pub fn effective(&self, requested_ms: Option<u64>) -> Duration {
        requested_ms
            .map(Duration::from_millis)
            .unwrap_or(self.default)
            .min(self.max)
    }
}

/// The settings of one query-service process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on.
    pub host: IpAddr,
    /// HTTP port (0: any free port, as tests use).
    pub port: u16,
    /// HTTP worker threads (`None`: actix's default, one per physical core).
    pub http_workers: Option<usize>,
    /// Redis URL (may hold a password: log it only through `redact_url`).
    pub redis_url: String,
    /// Key namespace of the read models, shared with the projection service.
    pub namespace: String,
    /// Bound on every Redis round trip.
    pub redis_timeout: Duration,
    /// Read-your-writes wait bounds.
    pub wait: WaitSettings,
    /// Most order summaries held in the process (0: none, every read goes to Redis).
    pub cache_entries: usize,
    /// Most MiB of list pages held (0: none); only with the summary cache.
    pub page_cache_mb: usize,
    /// Graceful shutdown timing.
    pub shutdown: ShutdownSettings,
}

impl Config {
    /// Settings for `redis_url` and `namespace` with every other value at its default (tests).
    pub fn new(redis_url: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            http_workers: None,
            redis_url: redis_url.into(),
            namespace: namespace.into(),
            redis_timeout: DEFAULT_REDIS_TIMEOUT,
            wait: WaitSettings::default(),
            cache_entries: DEFAULT_CACHE_ENTRIES,
            page_cache_mb: DEFAULT_PAGE_CACHE_MB,
            shutdown: ShutdownSettings::default(),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    /// Reads `vars`.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let wait = WaitSettings {
            default: vars.duration_ms("READ_YOUR_WRITES_DEFAULT_WAIT_MS", DEFAULT_WAIT)?,
            max: vars.duration_ms("READ_YOUR_WRITES_MAX_WAIT_MS", DEFAULT_MAX_WAIT)?,
            resync: vars.duration_ms("CHECKPOINT_RESYNC_MS", DEFAULT_CHECKPOINT_RESYNC)?,
        };
        if wait.resync.is_zero() {
            return Err(ConfigError {
                variable: "CHECKPOINT_RESYNC_MS".to_owned(),
                value: "\"0\"".to_owned(),
                expected: "a period of at least 1 ms".to_owned(),
            });
        }
        let redis_timeout = vars.duration_ms("REDIS_TIMEOUT_MS", DEFAULT_REDIS_TIMEOUT)?;
        if redis_timeout.is_zero() {
            return Err(ConfigError {
                variable: "REDIS_TIMEOUT_MS".to_owned(),
                value: "\"0\"".to_owned(),
                expected: "a time-out of at least 1 ms".to_owned(),
            });
        }
        let namespace = vars.or("READ_MODEL_NAMESPACE", DEFAULT_NAMESPACE.to_owned())?;
        if !is_valid_namespace(&namespace) {
            return Err(ConfigError {
                variable: "READ_MODEL_NAMESPACE".to_owned(),
                value: format!("{namespace:?}"),
                expected: "1 to 64 of A-Z a-z 0-9 _ - .".to_owned(),
            });
        }
        Ok(Self {
            host: vars.or("HOST", IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
            port: vars.or("PORT", DEFAULT_PORT)?,
            http_workers: vars.opt("HTTP_WORKERS")?,
            redis_url: vars.or("REDIS_URL", DEFAULT_REDIS_URL.to_owned())?,
            namespace,
            redis_timeout,
            wait,
            cache_entries: vars.or("QUERY_CACHE_ENTRIES", DEFAULT_CACHE_ENTRIES)?,
            page_cache_mb: vars.or("QUERY_PAGE_CACHE_MB", DEFAULT_PAGE_CACHE_MB)?,
            shutdown: ShutdownSettings::from_vars(vars)?,
        })
    }
}

/// The `--help` text listing [`ENV_VARS`].
pub fn env_help() -> String {
    let width = ENV_VARS
        .iter()
        .map(|(name, ..)| name.len())
        .max()
        .unwrap_or(0);
    let mut text = String::from("Environment variables (default in brackets):\n");
    for (name, default, meaning) in ENV_VARS {
        text.push_str(&format!("  {name:<width$}  {meaning} [{default}]\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::from_vars(&Vars::from_pairs::<&str, &str>([])).unwrap();
        assert_eq!(config, Config::new(DEFAULT_REDIS_URL, DEFAULT_NAMESPACE));
        assert_eq!(config.port, 8083);
    }

    #[test]
    fn variables_override_defaults() {
        let vars = Vars::from_pairs([
            ("PORT", "9000"),
            ("REDIS_URL", "redis://cache:6380"),
            ("READ_MODEL_NAMESPACE", "shop"),
            ("READ_YOUR_WRITES_MAX_WAIT_MS", "500"),
            ("QUERY_PAGE_CACHE_MB", "0"),
        ]);
        let config = Config::from_vars(&vars).unwrap();
        assert_eq!(config.page_cache_mb, 0);
        assert_eq!(config.port, 9000);
        assert_eq!(config.redis_url, "redis://cache:6380");
        assert_eq!(config.namespace, "shop");
        assert_eq!(config.wait.max, Duration::from_millis(500));
    }

    #[test]
    fn bad_value_names_the_variable() {
        let vars = Vars::from_pairs([("REDIS_TIMEOUT_MS", "soon")]);
        let error = Config::from_vars(&vars).unwrap_err();
        assert_eq!(error.variable, "REDIS_TIMEOUT_MS");
    }

    #[test]
    fn requested_wait_is_capped() {
        let wait = WaitSettings::default();
        assert_eq!(wait.effective(None), DEFAULT_WAIT);
        assert_eq!(wait.effective(Some(50)), Duration::from_millis(50));
        assert_eq!(wait.effective(Some(60_000)), DEFAULT_MAX_WAIT);
    }

    #[test]
    fn help_lists_every_variable() {
        let help = env_help();
        for (name, ..) in ENV_VARS {
            assert!(help.contains(name), "{name} missing from help");
        }
    }
}
