//! [`Config`]: the service's settings, from environment variables (12-factor), each with a
//! documented default. [`ENV_VARS`] is the one list of them: `--help` prints it and the README's
//! Configuration table copies it.

use std::net::IpAddr;
use std::time::Duration;

use shared_domain::retry::RetryPolicy;
use shared_domain::service::ShutdownSettings;
use shared_domain::service::config::{ConfigError, Vars};

/// Every variable the service reads: name, default, meaning.
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    ("HOST", "0.0.0.0", "address to listen on"),
    ("PORT", "8080", "port to listen on"),
    (
        "EVENTSTORE_URL",
        DEFAULT_EVENTSTORE_URL,
        "base URL of the event store service",
    ),
    (
        "EVENTSTORE_API_KEY",
        "(unset)",
        "API key sent to the event store (X-API-Key)",
    ),
    (
        "EVENTSTORE_NAME",
        DEFAULT_EVENTSTORE_NAME,
        "event store holding the order streams",
    ),
    (
        "EVENTSTORE_TIMEOUT_MS",
        "2000",
        "time-out of each call to the event store (then 503)",
    ),
    (
        "COMMAND_TIMEOUT_MS",
        "10000",
        "time-out of a whole command, conflict retries included (then 503)",
    ),
    (
        "COMMAND_CONFLICT_ATTEMPTS",
        "5",
        "read-decide-append rounds on version conflicts before answering 409",
    ),
    (
        "COMMAND_MAX_BODY_BYTES",
        "1048576",
        "largest request body accepted (413 beyond)",
    ),
    (
        "COMMAND_HTTP_WORKERS",
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

/// Default `PORT`.
pub const DEFAULT_PORT: u16 = 8080;
/// Default `EVENTSTORE_URL`.
pub const DEFAULT_EVENTSTORE_URL: &str = "http://127.0.0.1:8081";
/// Default `EVENTSTORE_NAME`.
pub const DEFAULT_EVENTSTORE_NAME: &str = "orders";
/// Default `EVENTSTORE_TIMEOUT_MS`: one read or append normally takes milliseconds.
pub const DEFAULT_EVENTSTORE_TIMEOUT: Duration = Duration::from_millis(2000);
/// Default `COMMAND_TIMEOUT_MS`.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Default `COMMAND_CONFLICT_ATTEMPTS`.
pub const DEFAULT_CONFLICT_ATTEMPTS: u32 = 5;
/// Default `COMMAND_MAX_BODY_BYTES`: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How to reach the event store.
#[derive(Clone, PartialEq, Eq)]
pub struct EventStoreSettings {
    /// Base URL, e.g. `http://eventstore-service:8081`.
    pub url: String,
    /// Sent as `X-API-Key` when set. Never logged.
    pub api_key: Option<String>,
    /// The named store the order streams live in.
    pub name: String,
    /// Bound on each HTTP call to the store (connect included).
    pub timeout: Duration,
}

impl std::fmt::Debug for EventStoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStoreSettings")
            .field(
                "url",
                &shared_domain::service::config::redact_url(&self.url),
            )
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The settings of one command-service process.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to listen on.
    pub host: IpAddr,
    /// Port to listen on (`main` binds it; tests bind port 0 themselves).
    pub port: u16,
    /// The event store.
    pub eventstore: EventStoreSettings,
    /// Bound on a whole command, so no request hangs however the store behaves.
    pub command_timeout: Duration,
    /// Conflict retry schedule (its `max_attempts` from `COMMAND_CONFLICT_ATTEMPTS`).
    pub conflict_retries: RetryPolicy,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// actix-web workers (`None`: one per CPU).
    pub http_workers: Option<usize>,
    /// Graceful shutdown timing.
    pub shutdown: ShutdownSettings,
}

impl Config {
    /// Defaults everywhere, the event store at `eventstore_url` (tests).
    pub fn new(eventstore_url: impl Into<String>) -> Self {
        Self {
            host: IpAddr::from([0, 0, 0, 0]),
            port: DEFAULT_PORT,
            eventstore: EventStoreSettings {
                url: eventstore_url.into(),
                api_key: None,
                name: DEFAULT_EVENTSTORE_NAME.to_owned(),
                timeout: DEFAULT_EVENTSTORE_TIMEOUT,
            },
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            conflict_retries: RetryPolicy::conflict_retries(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            http_workers: None,
            shutdown: ShutdownSettings::default(),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    /// Reads `vars`.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let url: String = vars.or("EVENTSTORE_URL", DEFAULT_EVENTSTORE_URL.to_owned())?;
        if reqwest::Url::parse(&url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
            return Err(invalid(
                "EVENTSTORE_URL",
                &url,
                "an http:// or https:// URL",
            ));
        }
        let timeout = positive(vars, "EVENTSTORE_TIMEOUT_MS", DEFAULT_EVENTSTORE_TIMEOUT)?;
        let command_timeout = positive(vars, "COMMAND_TIMEOUT_MS", DEFAULT_COMMAND_TIMEOUT)?;
        let attempts: u32 = vars.or("COMMAND_CONFLICT_ATTEMPTS", DEFAULT_CONFLICT_ATTEMPTS)?;
        if !(1..=100).contains(&attempts) {
            return Err(invalid(
                "COMMAND_CONFLICT_ATTEMPTS",
                &attempts.to_string(),
                "a number of attempts from 1 to 100",
            ));
        }
        let max_body_bytes: usize = vars.or("COMMAND_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        if max_body_bytes == 0 {
            return Err(invalid("COMMAND_MAX_BODY_BYTES", "0", "at least 1 byte"));
        }
        Ok(Self {
            host: vars.or("HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: vars.or("PORT", DEFAULT_PORT)?,
            eventstore: EventStoreSettings {
                url,
                api_key: vars.opt("EVENTSTORE_API_KEY")?,
                name: vars.or("EVENTSTORE_NAME", DEFAULT_EVENTSTORE_NAME.to_owned())?,
                timeout,
            },
            command_timeout,
            conflict_retries: RetryPolicy {
                max_attempts: attempts,
                ..RetryPolicy::conflict_retries()
            },
            max_body_bytes,
            // The service's own name first; HTTP_WORKERS is the name all services share.
            http_workers: match vars.opt("COMMAND_HTTP_WORKERS")? {
                Some(workers) => Some(workers),
                None => vars.opt("HTTP_WORKERS")?,
            },
            shutdown: ShutdownSettings::from_vars(vars)?,
        })
    }
}

fn positive(vars: &Vars, name: &str, default: Duration) -> Result<Duration, ConfigError> {
    let value = vars.duration_ms(name, default)?;
    if value.is_zero() {
        return Err(invalid(name, "0", "a time-out of at least 1 ms"));
    }
    Ok(value)
}

fn invalid(variable: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        // A URL may carry a password: never print it.
        value: format!(
            "{:?}",
            shared_domain::service::config::redact_urls_in(value)
        ),
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
        assert_eq!(config, Config::new(DEFAULT_EVENTSTORE_URL));
        assert_eq!(config.port, 8080);
        assert_eq!(config.eventstore.name, "orders");
    }

    #[test]
    fn variables_override_defaults() {
        let vars = Vars::from_pairs([
            ("PORT", "9000"),
            ("EVENTSTORE_URL", "http://store:8081"),
            ("EVENTSTORE_API_KEY", "k-1"),
            ("EVENTSTORE_NAME", "shop"),
            ("EVENTSTORE_TIMEOUT_MS", "250"),
            ("COMMAND_CONFLICT_ATTEMPTS", "3"),
            ("COMMAND_MAX_BODY_BYTES", "4096"),
        ]);
        let config = Config::from_vars(&vars).unwrap();
        assert_eq!(config.port, 9000);
        assert_eq!(config.eventstore.url, "http://store:8081");
        assert_eq!(config.eventstore.api_key.as_deref(), Some("k-1"));
        assert_eq!(config.eventstore.name, "shop");
        assert_eq!(config.eventstore.timeout, Duration::from_millis(250));
        assert_eq!(config.conflict_retries.max_attempts, 3);
        assert_eq!(config.max_body_bytes, 4096);
    }

    #[test]
    fn the_shared_worker_count_applies_unless_the_services_own_is_set() {
        let shared = Vars::from_pairs([("HTTP_WORKERS", "3")]);
        assert_eq!(Config::from_vars(&shared).unwrap().http_workers, Some(3));
        let both = Vars::from_pairs([("HTTP_WORKERS", "3"), ("COMMAND_HTTP_WORKERS", "5")]);
        assert_eq!(Config::from_vars(&both).unwrap().http_workers, Some(5));
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        for (name, value) in [
            ("EVENTSTORE_URL", "store:8081"),
            ("EVENTSTORE_TIMEOUT_MS", "0"),
            ("EVENTSTORE_TIMEOUT_MS", "soon"),
            ("COMMAND_CONFLICT_ATTEMPTS", "0"),
            ("COMMAND_MAX_BODY_BYTES", "0"),
            ("PORT", "eighty"),
        ] {
            let error = Config::from_vars(&Vars::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(error.variable, name, "{value}");
        }
    }

    #[test]
    fn a_bad_url_is_shown_without_its_password() {
        let vars = Vars::from_pairs([("EVENTSTORE_URL", "http://u:pa55word@store:port")]);
        let message = Config::from_vars(&vars).unwrap_err().to_string();
        assert!(message.contains("EVENTSTORE_URL"), "{message}");
        assert!(!message.contains("pa55word"), "{message}");
    }

    #[test]
    fn debug_output_hides_the_api_key() {
        let vars = Vars::from_pairs([("EVENTSTORE_API_KEY", "very-secret")]);
        let config = Config::from_vars(&vars).unwrap();
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn help_lists_every_variable() {
        let help = env_help();
        for (name, ..) in ENV_VARS {
            assert!(help.contains(name), "{name}");
        }
    }
}
