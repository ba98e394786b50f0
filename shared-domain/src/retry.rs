//! The one retry-policy module. Callers (webhook delivery, the command handler's conflict retry)
//! ask a [`RetryPolicy`] how long to wait after a failed attempt; only this file knows that the
//! delays come from the `backoff` crate, so it could be swapped without touching them.
//!
//! Two spellings are accepted, as DeltaBase users write them:
//! * the walkthrough's `{ maxAttempts, backoffMinutes }`: exponential, first retry after
//!   `backoffMinutes`, doubling, capped at one hour, no jitter;
//! * `{ maxAttempts, strategy: "exponential"|"linear"|"fixed", initialDelayMs, maxDelayMs,
//!   multiplier, jitterPercent }`.
//!
//! `maxAttempts` counts every attempt, the first included: a policy of 5 makes at most 5 calls.

use std::time::Duration;

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How delays grow from one attempt to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `initial × multiplier^(n-1)`.
    #[default]
    Exponential,
    /// `initial × n`.
    Linear,
    /// `initial` every time.
    Fixed,
}

/// A retry policy as written in a config file or a REST body (both spellings).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_minutes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_percent: Option<f64>,
}

/// A spec that does not make a policy: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidRetryPolicy {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidRetryPolicy {
    InvalidRetryPolicy {
        field,
        reason: reason.into(),
    }
}

/// A checked retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub strategy: Strategy,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub multiplier: f64,
    /// Fraction in `[0, 1]`: each delay is drawn uniformly from `delay × (1 ± jitter)`.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 5 attempts, exponential from 1 s doubling to at most 5 min, ±10 % jitter.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            strategy: Strategy::Exponential,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            multiplier: 2.0,
            jitter: 0.1,
        }
    }
}

impl TryFrom<RetryPolicySpec> for RetryPolicy {
    type Error = InvalidRetryPolicy;

    fn try_from(spec: RetryPolicySpec) -> Result<Self, Self::Error> {
        let defaults = RetryPolicy::default();
        let max_attempts = spec.max_attempts.unwrap_or(defaults.max_attempts);
        if !(1..=100).contains(&max_attempts) {
            return Err(invalid("maxAttempts", "must be between 1 and 100"));
        }
        if let Some(minutes) = spec.backoff_minutes {
            if spec.strategy.is_some() || spec.initial_delay_ms.is_some() {
                return Err(invalid(
                    "backoffMinutes",
                    "cannot be combined with strategy/initialDelayMs",
                ));
            }
            if !(minutes > 0.0 && minutes <= 1440.0) {
                return Err(invalid("backoffMinutes", "must be > 0 and at most 1440"));
            }
            let initial = Duration::from_secs_f64(minutes * 60.0);
            return Ok(Self {
                max_attempts,
                strategy: Strategy::Exponential,
                initial_delay: initial,
                max_delay: initial.max(Duration::from_secs(3600)),
                multiplier: 2.0,
                jitter: 0.0,
            });
        }
        let initial_ms = spec
            .initial_delay_ms
            .unwrap_or(defaults.initial_delay.as_millis() as u64);
        let max_ms = spec
            .max_delay_ms
            .unwrap_or((defaults.max_delay.as_millis() as u64).max(initial_ms));
        if initial_ms > 86_400_000 {
            return Err(invalid(
                "initialDelayMs",
                "must be at most 86400000 (one day)",
            ));
        }
        if max_ms < initial_ms || max_ms > 86_400_000 {
            return Err(invalid(
                "maxDelayMs",
                "must be at least initialDelayMs and at most 86400000",
            ));
        }
        let multiplier = spec.multiplier.unwrap_or(defaults.multiplier);
        if !(1.0..=10.0).contains(&multiplier) {
            return Err(invalid("multiplier", "must be between 1 and 10"));
        }
        let jitter_percent = spec.jitter_percent.unwrap_or(defaults.jitter * 100.0);
        if !(0.0..=100.0).contains(&jitter_percent) {
            return Err(invalid("jitterPercent", "must be between 0 and 100"));
        }
        Ok(Self {
            max_attempts,
            strategy: spec.strategy.unwrap_or_default(),
            initial_delay: Duration::from_millis(initial_ms),
            max_delay: Duration::from_millis(max_ms),
            multiplier,
            jitter: jitter_percent / 100.0,
        })
    }
}

impl RetryPolicy {
    /// The policy the command handler uses on version conflicts: quick, jittered, bounded.
    pub fn conflict_retries() -> Self {
        Self {
            max_attempts: 5,
            strategy: Strategy::Exponential,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(200),
            multiplier: 2.0,
            jitter: 0.5,
        }
    }

    /// How long to wait after failed attempt `attempt` (1-based) before the next one, jitter
    /// included; `None` when `attempt` was the last one allowed.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt == 0 || attempt >= self.max_attempts {
            return None;
        }
        let nominal = self.nominal(attempt);
        let delay = match self.strategy {
            // `backoff` draws the jitter around its own interval.
            Strategy::Exponential | Strategy::Fixed => self.exponential(attempt),
            Strategy::Linear => jittered(nominal, self.jitter),
        };
        Some(delay.min(self.max_delay.mul_f64(1.0 + self.jitter)))
    }

    /// [`Self::delay_after`], but never sooner than a receiver's `Retry-After` (itself capped at
    /// the policy's largest delay, so a hostile receiver cannot stall a subscription for days).
    pub fn delay_after_with_retry_after(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let delay = self.delay_after(attempt)?;
        Some(match retry_after {
            Some(asked) => delay.max(asked.min(self.max_delay)),
            None => delay,
        })
    }

    /// The delay after attempt `attempt` without jitter: what the schedule is meant to be.
    pub fn nominal_delay_after(&self, attempt: u32) -> Option<Duration> {
        (attempt >= 1 && attempt < self.max_attempts).then(|| self.nominal(attempt))
    }

    fn nominal(&self, attempt: u32) -> Duration {
        let n = f64::from(attempt);
        let scaled = match self.strategy {
            Strategy::Exponential => self.multiplier.powf(n - 1.0),
            Strategy::Linear => n,
            Strategy::Fixed => 1.0,
        };
        let secs = (self.initial_delay.as_secs_f64() * scaled).min(self.max_delay.as_secs_f64());
        Duration::from_secs_f64(secs)
    }

    fn exponential(&self, attempt: u32) -> Duration {
        let multiplier = if self.strategy == Strategy::Fixed {
            1.0
        } else {
            self.multiplier
        };
        let mut schedule = ExponentialBackoff {
            current_interval: self.initial_delay,
            initial_interval: self.initial_delay,
            randomization_factor: self.jitter,
            multiplier,
            max_interval: self.max_delay,
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        };
        let mut delay = self.initial_delay;
        for _ in 0..attempt {
            delay = schedule.next_backoff().unwrap_or(self.max_delay);
        }
        delay
    }
}

fn jittered(delay: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 {
        return delay;
    }
    let factor = rand::thread_rng().gen_range((1.0 - jitter)..=(1.0 + jitter));
    delay.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests;
