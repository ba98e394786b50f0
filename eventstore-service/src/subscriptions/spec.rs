//! A subscription as written — one entry of the config file's `subscriptions`, or the body of
//! `POST …/subscribe` — and [`SubscriptionDefinition`], the checked form the rest of the code
//! works with. Checking names the path of the bad field (`webhook.url: …`), so the config file
//! and the REST API report problems the same way.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::filter::{EventFilter, FilterSpec};
use super::webhook::check_webhook;
pub use super::webhook::{DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS, WebhookSpec, WebhookTarget};
use crate::delivery::allowlist::Allowlist;
use crate::delivery::signing::WebhookSecret;

/// Default and bounds of `batchSize`.
pub const DEFAULT_BATCH_SIZE: u32 = 100;
pub const MAX_BATCH_SIZE: u32 = 1000;
/// `subscriberType`: only webhooks are delivered by this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberType {
    #[default]
    Webhook,
}

/// `initialPosition`: where a new subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialPosition {
    /// From the store's first event.
    #[default]
    Earliest,
    /// After the store's last event at creation time.
    Latest,
}

/// `onRetriesExhausted`: what happens to a batch whose attempts ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExhaustedMode {
    /// Stop at the batch with status `ERROR` until resumed (nothing is skipped).
    #[default]
    Stop,
    /// Park the batch as a dead letter and go on with the next one.
    DeadLetter,
}

impl ExhaustedMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::DeadLetter => "deadLetter",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stop" => Some(Self::Stop),
            "deadLetter" => Some(Self::DeadLetter),
            _ => None,
        }
    }
}

/// A subscription as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionSpec {
    /// The subscription's id in its store; made from the content when absent.
    #[serde(default, alias = "subscriptionId")]
    pub id: Option<String>,
    pub event_filter: FilterSpec,
    #[serde(default)]
    pub subscriber_type: SubscriberType,
    pub webhook: WebhookSpec,
    #[serde(default)]
    pub initial_position: Option<InitialPosition>,
    #[serde(default)]
    pub batch_size: Option<u32>,
    #[serde(default)]
    pub on_retries_exhausted: Option<ExhaustedMode>,
}

/// A field that does not check: its path and why. `Display` is `path: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FieldError {
    pub path: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// `prefix.field`, or `field` at the top.
pub fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// What to do about the signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChoice {
    /// Unsigned deliveries.
    None,
    /// This secret.
    Given(WebhookSecret),
    /// Make one when the subscription is created (keep the existing one otherwise).
    Generate,
}

/// A checked subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionDefinition {
    pub id: String,
    pub filter: EventFilter,
    pub webhook: WebhookTarget,
    pub initial_position: InitialPosition,
    pub batch_size: u32,
    pub on_exhausted: ExhaustedMode,
    pub secret: SecretChoice,
}

impl SubscriptionDefinition {
    /// Checks a spec; `prefix` is the path of the spec itself (`""` for a REST body,
    /// `eventStores[0].subscriptions[1]` in a config file). With an allowlist, the URL's host
    /// must be allowed by name or IP literal here; a name that only DNS can judge is checked by
    /// [`Allowlist::check_url`] afterwards.
    pub fn check(
        spec: &SubscriptionSpec,
        prefix: &str,
        allowlist: Option<&Allowlist>,
    ) -> Result<Self, FieldError> {
        let filter = EventFilter::parse(&spec.event_filter).map_err(|e| {
            let path = match e.index {
                Some(i) => format!("{}[{i}]", join(prefix, "eventFilter")),
                None => join(prefix, "eventFilter"),
            };
            FieldError::new(path, e.reason)
        })?;
        let webhook_path = join(prefix, "webhook");
        let webhook = check_webhook(&spec.webhook, &webhook_path)?;
        if let (Some(list), Some(host)) = (allowlist, webhook.url.host_str())
            && list.allows_host_statically(host) == Some(false)
        {
            return Err(FieldError::new(
                join(&webhook_path, "url"),
                format!(
                    "the target is not allowed by {}",
                    crate::delivery::allowlist::ALLOWLIST_VAR
                ),
            ));
        }
        let secret = match spec.webhook.secret.as_deref() {
            None => SecretChoice::None,
            Some("generate") => SecretChoice::Generate,
            Some(text) => SecretChoice::Given(
                WebhookSecret::parse(text)
                    .map_err(|reason| FieldError::new(join(&webhook_path, "secret"), reason))?,
            ),
        };
        let batch_size = spec.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(FieldError::new(
                join(prefix, "batchSize"),
                format!("must be between 1 and {MAX_BATCH_SIZE}"),
            ));
        }
        let mut definition = Self {
            id: String::new(),
            filter,
            webhook,
            initial_position: spec.initial_position.unwrap_or_default(),
            batch_size,
            on_exhausted: spec.on_retries_exhausted.unwrap_or_default(),
            secret,
        };
        definition.id = match &spec.id {
            Some(id) => {
                check_id(id).map_err(|reason| FieldError::new(join(prefix, "id"), reason))?;
                id.clone()
            }
            None => definition.derived_id(),
        };
        Ok(definition)
    }

    /// The stored filter, as JSON (the canonical pattern list).
    pub fn filter_json(&self) -> Value {
        serde_json::to_value(self.filter.to_spec()).unwrap_or(Value::Null)
    }

    /// An id made from what the subscription does, so that subscribing twice without an id
    /// finds the same subscription.
    fn derived_id(&self) -> String {
        let canonical = json!({
            "filter": self.filter_json(),
            "webhook": self.webhook.to_json(),
            "batchSize": self.batch_size,
            "onRetriesExhausted": self.on_exhausted.as_str(),
        })
        .to_string();
        format!("sub-{}", fnv1a_hex(canonical.as_bytes()))
    }
}

fn fnv1a_hex(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Subscription ids: 1–128 characters of `[A-Za-z0-9_.-]`, starting with a letter or digit.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter or digit".to_owned())
    }
}

#[cfg(test)]
mod tests;
