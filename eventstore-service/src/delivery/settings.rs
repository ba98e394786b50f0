//! Settings of subscriptions and delivery, from the environment (part of [`crate::Config`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shared_domain::service::config::{ConfigError, Vars};

use super::allowlist::{ALLOWLIST_VAR, Allowlist};

/// The variables read here: name, default, meaning (for `--help` and the README).
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    (
        "EVENTSTORE_CONFIG",
        "(unset)",
        "subscriptions config file (TOML/JSON, deltabase.config.ts schema) applied at start-up; an invalid file stops the start",
    ),
    (
        ALLOWLIST_VAR,
        "(unset: any target)",
        "comma-separated hosts, *.domains, IPs and CIDR blocks webhooks may be sent to",
    ),
    (
        "EVENTSTORE_SUBSCRIPTION_LEASE_MS",
        "30000",
        "a replica's lease on a subscription; another takes over this long after it dies",
    ),
    (
        "EVENTSTORE_SUBSCRIPTION_POLL_MS",
        "5000",
        "safety poll of subscriptions, besides LISTEN/NOTIFY wake-ups",
    ),
    (
        "EVENTSTORE_DELIVERY_ENABLED",
        "true",
        "`false`: this replica serves the API but delivers no webhooks",
    ),
    (
        "EVENTSTORE_INSTANCE_ID",
        "$HOSTNAME-<random>",
        "this replica's name as lease owner",
    ),
];

/// Subscription and delivery settings.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// `EVENTSTORE_CONFIG`: applied before serving.
    pub config_file: Option<PathBuf>,
    /// `EVENTSTORE_WEBHOOK_ALLOWLIST`.
    pub allowlist: Option<Arc<Allowlist>>,
    /// How long a lease lasts without renewal (renewed every third of it).
    pub lease_ttl: Duration,
    /// Safety poll interval, for wake-ups lost while the notification connection was down.
    pub poll_interval: Duration,
    /// Whether this replica delivers at all.
    pub enabled: bool,
    /// Lease owner name; unique per process.
    pub instance_id: String,
}

impl DeliverySettings {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let allowlist = vars
            .raw(ALLOWLIST_VAR)
            .map(|raw| {
                Allowlist::parse(&raw)
                    .map(Arc::new)
                    .map_err(|e| ConfigError {
                        variable: ALLOWLIST_VAR.to_owned(),
                        value: format!("{raw:?}"),
                        expected: format!(
                            "hosts, *.domains, IPs or CIDR blocks, comma-separated ({e})"
                        ),
                    })
            })
            .transpose()?;
        let lease_ttl =
            vars.duration_ms("EVENTSTORE_SUBSCRIPTION_LEASE_MS", Duration::from_secs(30))?;
        let poll_interval =
            vars.duration_ms("EVENTSTORE_SUBSCRIPTION_POLL_MS", Duration::from_secs(5))?;
        let host = vars
            .raw("HOSTNAME")
            .unwrap_or_else(|| "eventstore".to_owned());
        let random = uuid::Uuid::new_v4().simple().to_string();
        Ok(Self {
            config_file: vars.raw("EVENTSTORE_CONFIG").map(PathBuf::from),
            allowlist,
            lease_ttl: lease_ttl.max(Duration::from_millis(50)),
            poll_interval: poll_interval.max(Duration::from_millis(10)),
            enabled: vars.flag("EVENTSTORE_DELIVERY_ENABLED", true)?,
            instance_id: vars
                .raw("EVENTSTORE_INSTANCE_ID")
                .unwrap_or_else(|| format!("{host}-{}", &random[..8])),
        })
    }
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self::from_vars(&Vars::from_pairs::<&str, &str>([]))
            .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = DeliverySettings::default();
        assert_eq!(s.lease_ttl, Duration::from_secs(30));
        assert!(s.enabled && s.allowlist.is_none() && s.config_file.is_none());
        assert_ne!(s.instance_id, DeliverySettings::default().instance_id);
    }

    #[test]
    fn a_bad_allowlist_names_the_variable() {
        let err = DeliverySettings::from_vars(&Vars::from_pairs([(ALLOWLIST_VAR, "10.0.0.0/99")]))
            .unwrap_err();
        assert_eq!(err.variable, ALLOWLIST_VAR);
    }
}
