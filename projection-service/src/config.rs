//! [`Config`]: the service's settings, read from environment variables (12-factor), each with a
//! documented default. [`ENV_VARS`] is the one list of them; `--help` prints it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use shared_domain::read_model::{DEFAULT_NAMESPACE, OLD_GENERATION_GRACE, is_valid_namespace};
use shared_domain::service::ShutdownSettings;
use shared_domain::service::config::{ConfigError, Vars};
use shared_domain::service::json::DEFAULT_JSON_LIMIT;

/// Default `PORT`.
pub const DEFAULT_PORT: u16 = 8082;
/// Default `REDIS_URL`.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Default `EVENTSTORE_URL`.
pub const DEFAULT_EVENTSTORE_URL: &str = "http://127.0.0.1:8081";
/// Default `EVENTSTORE_NAME`: the store the projection reads back on rebuild.
pub const DEFAULT_EVENTSTORE_NAME: &str = "orders";
/// Default `REDIS_TIMEOUT_MS`: the longest one Redis round trip may take before the delivery
/// is answered 503 (and retried by the store).
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(2000);
/// Default `EVENTSTORE_TIMEOUT_MS`: one read-all page during rebuild, one lag probe.
pub const DEFAULT_EVENTSTORE_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Default `PROJECTION_REBUILD_PAGE_SIZE`: events per read-all page (the API's maximum).
pub const DEFAULT_REBUILD_PAGE_SIZE: u32 = 1000;

/// Every environment variable the service reads: name, default, meaning (printed by `--help`,
/// mirrored in the README's Configuration table).
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    ("PORT", "8082", "HTTP port"),
    ("HOST", "0.0.0.0", "address to listen on"),
    ("HTTP_WORKERS", "CPU cores", "HTTP worker threads"),
    (
        "PROJECTION_AUTH_TOKEN",
        "(required for serve)",
        "bearer token the event store's webhook must send; several (space or comma separated) are all accepted, to rotate it",
    ),
    (
        "PROJECTION_WEBHOOK_SECRET",
        "(unset: no signature check)",
        "Standard Webhooks secret `whsec_…`, or several (space or comma separated, any verifies: rotation); when set, deliveries must be signed (5 min tolerance)",
    ),
    (
        "PROJECTION_ADMIN_TOKEN",
        "(unset: rebuild over HTTP disabled)",
        "bearer token for POST /api/projections/orders/rebuild; several (space or comma separated) are all accepted",
    ),
    (
        "REDIS_URL",
        DEFAULT_REDIS_URL,
        "Redis holding the read models",
    ),
    (
        "READ_MODEL_NAMESPACE",
        DEFAULT_NAMESPACE,
        "key namespace of the read models (the query service's too)",
    ),
    (
        "REDIS_TIMEOUT_MS",
        "2000",
        "longest wait for one Redis round trip before answering 503",
    ),
    (
        "EVENTSTORE_URL",
        DEFAULT_EVENTSTORE_URL,
        "event store read back by rebuild and asked for lag",
    ),
    (
        "EVENTSTORE_API_KEY",
        "(unset)",
        "API key sent to the event store",
    ),
    (
        "EVENTSTORE_NAME",
        DEFAULT_EVENTSTORE_NAME,
        "event store whose events are projected",
    ),
    (
        "EVENTSTORE_TIMEOUT_MS",
        "10000",
        "longest wait for one event-store request",
    ),
    (
        "PROJECTION_REBUILD_PAGE_SIZE",
        "1000",
        "events per read-all page during rebuild (1..=1000)",
    ),
    (
        "PROJECTION_OLD_GENERATION_GRACE_MS",
        "5000",
        "how long a replaced generation is kept after a rebuild switched",
    ),
    (
        "PROJECTION_MAX_BODY_BYTES",
        "1048576",
        "largest webhook body accepted (413 beyond)",
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

/// A secret setting: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that compares or sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where rebuild reads events from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStoreSettings {
    /// Base URL of the event-store service.
    pub url: String,
    /// Its API key, sent as `X-API-Key`.
    pub api_key: Option<Secret>,
    /// The store (`/api/event-stores/{name}`).
    pub name: String,
    /// Bound on one request.
    pub timeout: Duration,
}

/// The settings of one projection-service process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on.
    pub host: IpAddr,
    /// HTTP port (0: any free port, as tests use).
    pub port: u16,
    /// HTTP worker threads (`None`: actix's default).
    pub http_workers: Option<usize>,
    /// Bearer token deliveries must carry; `serve` refuses to start without one.
    pub auth_token: Option<Secret>,
    /// Standard Webhooks secret; when set, unsigned or badly signed deliveries are refused.
    pub webhook_secret: Option<Secret>,
    /// Bearer token of the admin routes (rebuild); unset = those routes answer 403.
    pub admin_token: Option<Secret>,
    /// Redis URL (may hold a password: log it only through `redact_url`).
    pub redis_url: String,
    /// Key namespace of the read models, shared with the query service.
    pub namespace: String,
    /// Bound on every Redis round trip.
    pub redis_timeout: Duration,
    /// The event store rebuild reads.
    pub eventstore: EventStoreSettings,
    /// Events per read-all page during rebuild.
    pub rebuild_page_size: u32,
    /// How long a replaced generation stays readable after a switch.
    pub old_generation_grace: Duration,
    /// Largest webhook body.
    pub max_body_bytes: usize,
    /// Graceful shutdown timing.
    pub shutdown: ShutdownSettings,
}

impl Config {
    /// Settings for `redis_url` and `namespace` with `auth_token`, every other value at its
    /// default (tests).
    pub fn new(
        redis_url: impl Into<String>,
        namespace: impl Into<String>,
        auth_token: impl Into<String>,
    ) -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            http_workers: None,
            auth_token: Some(Secret::new(auth_token)),
            webhook_secret: None,
            admin_token: None,
            redis_url: redis_url.into(),
            namespace: namespace.into(),
            redis_timeout: DEFAULT_REDIS_TIMEOUT,
            eventstore: EventStoreSettings {
                url: DEFAULT_EVENTSTORE_URL.to_owned(),
                api_key: None,
                name: DEFAULT_EVENTSTORE_NAME.to_owned(),
                timeout: DEFAULT_EVENTSTORE_TIMEOUT,
            },
            rebuild_page_size: DEFAULT_REBUILD_PAGE_SIZE,
            old_generation_grace: OLD_GENERATION_GRACE,
            max_body_bytes: DEFAULT_JSON_LIMIT,
            shutdown: ShutdownSettings::default(),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    /// Reads `vars`.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let redis_timeout = positive(
            "REDIS_TIMEOUT_MS",
            vars.duration_ms("REDIS_TIMEOUT_MS", DEFAULT_REDIS_TIMEOUT)?,
        )?;
        let eventstore_timeout = positive(
            "EVENTSTORE_TIMEOUT_MS",
            vars.duration_ms("EVENTSTORE_TIMEOUT_MS", DEFAULT_EVENTSTORE_TIMEOUT)?,
        )?;
        let namespace = vars.or("READ_MODEL_NAMESPACE", DEFAULT_NAMESPACE.to_owned())?;
        if !is_valid_namespace(&namespace) {
            return Err(invalid(
                "READ_MODEL_NAMESPACE",
                format!("{namespace:?}"),
                "1 to 64 of A-Z a-z 0-9 _ - .",
            ));
        }
        let rebuild_page_size =
            vars.or("PROJECTION_REBUILD_PAGE_SIZE", DEFAULT_REBUILD_PAGE_SIZE)?;
        if !(1..=shared_domain::wire::MAX_PAGE_SIZE).contains(&rebuild_page_size) {
            return Err(invalid(
                "PROJECTION_REBUILD_PAGE_SIZE",
                format!("\"{rebuild_page_size}\""),
                "1 to 1000",
            ));
        }
        let webhook_secret = vars.opt::<String>("PROJECTION_WEBHOOK_SECRET")?;
        if let Some(secret) = &webhook_secret {
            crate::webhook_auth::SignatureCheck::new(secret).map_err(|problem| {
                invalid("PROJECTION_WEBHOOK_SECRET", "<redacted>".into(), &problem)
            })?;
        }
        Ok(Self {
            host: vars.or("HOST", IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
            port: vars.or("PORT", DEFAULT_PORT)?,
            http_workers: vars.opt("HTTP_WORKERS")?,
            auth_token: vars.opt::<String>("PROJECTION_AUTH_TOKEN")?.map(Secret),
            webhook_secret: webhook_secret.map(Secret),
            admin_token: vars.opt::<String>("PROJECTION_ADMIN_TOKEN")?.map(Secret),
            redis_url: vars.or("REDIS_URL", DEFAULT_REDIS_URL.to_owned())?,
            namespace,
            redis_timeout,
            eventstore: EventStoreSettings {
                url: vars.or("EVENTSTORE_URL", DEFAULT_EVENTSTORE_URL.to_owned())?,
                api_key: vars.opt::<String>("EVENTSTORE_API_KEY")?.map(Secret),
                name: vars.or("EVENTSTORE_NAME", DEFAULT_EVENTSTORE_NAME.to_owned())?,
                timeout: eventstore_timeout,
            },
            rebuild_page_size,
            old_generation_grace: vars
                .duration_ms("PROJECTION_OLD_GENERATION_GRACE_MS", OLD_GENERATION_GRACE)?,
            max_body_bytes: vars.or("PROJECTION_MAX_BODY_BYTES", DEFAULT_JSON_LIMIT)?,
            shutdown: ShutdownSettings::from_vars(vars)?,
        })
    }
}

fn positive(variable: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        return Err(invalid(
            variable,
            "\"0\"".into(),
            "a time-out of at least 1 ms",
        ));
    }
    Ok(value)
}

fn invalid(variable: &str, value: String, expected: &str) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        value,
        expected: expected.to_owned(),
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
        assert_eq!(config.port, 8082);
        assert_eq!(config.namespace, "orders");
        assert_eq!(config.auth_token, None);
        assert_eq!(config.eventstore.name, "orders");
        assert_eq!(config.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn variables_override_defaults() {
        let vars = Vars::from_pairs([
            ("PORT", "9000"),
            ("PROJECTION_AUTH_TOKEN", "tok"),
            ("READ_MODEL_NAMESPACE", "shop"),
            ("EVENTSTORE_URL", "http://store:8081"),
            (
                "PROJECTION_WEBHOOK_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ]);
        let config = Config::from_vars(&vars).unwrap();
        assert_eq!(config.port, 9000);
        assert_eq!(config.auth_token, Some(Secret::new("tok")));
        assert_eq!(config.namespace, "shop");
        assert_eq!(config.eventstore.url, "http://store:8081");
        assert!(config.webhook_secret.is_some());
    }

    #[test]
    fn a_bad_secret_is_refused_without_showing_it() {
        let vars = Vars::from_pairs([("PROJECTION_WEBHOOK_SECRET", "whsec_not base64!")]);
        let error = Config::from_vars(&vars).unwrap_err();
        assert_eq!(error.variable, "PROJECTION_WEBHOOK_SECRET");
        assert!(!error.to_string().contains("not base64!"), "{error}");
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let config = Config::new("redis://x", "ns", "super-secret-token");
        assert!(!format!("{config:?}").contains("super-secret-token"));
    }

    #[test]
    fn bad_namespace_and_page_size_are_refused() {
        for (name, value) in [
            ("READ_MODEL_NAMESPACE", "a*b"),
            ("PROJECTION_REBUILD_PAGE_SIZE", "5000"),
            ("REDIS_TIMEOUT_MS", "0"),
        ] {
            let error = Config::from_vars(&Vars::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(error.variable, name);
        }
    }

    #[test]
    fn help_lists_every_variable() {
        let help = env_help();
        for (name, ..) in ENV_VARS {
            assert!(help.contains(name), "{name} missing from help");
        }
    }
}
