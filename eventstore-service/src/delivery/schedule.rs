//! What follows a failed attempt: when to try again, or that the attempts are spent. The delays
//! come from the subscription's [`RetryPolicy`] (`shared_domain::retry`, built on `backoff`),
//! never sooner than the receiver's `Retry-After`; the time is stored, so the schedule survives
//! a restart.

use std::time::Duration;

use chrono::{DateTime, Utc};
use shared_domain::retry::RetryPolicy;

/// The decision after failed attempt number `attempt` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after `delay`, at `at`.
    RetryAt { delay: Duration, at: DateTime<Utc> },
    /// `attempt` was the last one the policy allows.
    Exhausted,
}

/// Decides what follows failed attempt `attempt`, at `now`.
pub fn after_failure(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
) -> AfterFailure {
    match policy.delay_after_with_retry_after(attempt, retry_after) {
        Some(delay) => AfterFailure::RetryAt {
            delay,
            at: now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
        },
        None => AfterFailure::Exhausted,
    }
}

/// How long to wait until a stored retry time, from `now` (zero when it has passed).
pub fn wait_until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_domain::retry::RetryPolicySpec;

    fn policy(spec: serde_json::Value) -> RetryPolicy {
        RetryPolicy::try_from(serde_json::from_value::<RetryPolicySpec>(spec).unwrap()).unwrap()
    }

    fn delays(policy: &RetryPolicy, retry_after: Option<Duration>) -> Vec<Option<Duration>> {
        let now = Utc::now();
        (1..=policy.max_attempts)
            .map(
                |attempt| match after_failure(policy, attempt, retry_after, now) {
                    AfterFailure::RetryAt { delay, at } => {
                        assert_eq!(wait_until(at, now), delay);
                        Some(delay)
                    }
                    AfterFailure::Exhausted => None,
                },
            )
            .collect()
    }

    #[test]
    fn the_walkthrough_policy_doubles_from_two_minutes_then_stops() {
        let p = policy(serde_json::json!({"maxAttempts": 5, "backoffMinutes": 2}));
        let minutes = |m: u64| Some(Duration::from_secs(m * 60));
        assert_eq!(
            delays(&p, None),
            vec![minutes(2), minutes(4), minutes(8), minutes(16), None]
        );
    }

    #[test]
    fn strategies_without_jitter_follow_their_formula() {
        let ms = |v: u64| Some(Duration::from_millis(v));
        let linear = policy(serde_json::json!({"maxAttempts": 4, "strategy": "linear",
            "initialDelayMs": 100, "maxDelayMs": 250, "jitterPercent": 0}));
        assert_eq!(delays(&linear, None), vec![ms(100), ms(200), ms(250), None]);
        let fixed = policy(serde_json::json!({"maxAttempts": 3, "strategy": "fixed",
            "initialDelayMs": 70, "jitterPercent": 0}));
        assert_eq!(delays(&fixed, None), vec![ms(70), ms(70), None]);
        let exponential = policy(
            serde_json::json!({"maxAttempts": 5, "strategy": "exponential",
            "initialDelayMs": 10, "multiplier": 3, "maxDelayMs": 200, "jitterPercent": 0}),
        );
        assert_eq!(
            delays(&exponential, None),
            vec![ms(10), ms(30), ms(90), ms(200), None]
        );
    }

    #[test]
    fn retry_after_delays_but_is_capped_by_the_policy() {
        let p = policy(serde_json::json!({"maxAttempts": 3, "strategy": "fixed",
            "initialDelayMs": 100, "maxDelayMs": 1000, "jitterPercent": 0}));
        let ms = |v: u64| Some(Duration::from_millis(v));
        assert_eq!(
            delays(&p, Some(Duration::from_millis(400))),
            vec![ms(400), ms(400), None]
        );
        assert_eq!(
            delays(&p, Some(Duration::from_secs(3600))),
            vec![ms(1000), ms(1000), None]
        );
        assert_eq!(
            delays(&p, Some(Duration::ZERO)),
            vec![ms(100), ms(100), None]
        );
    }

    #[test]
    fn jittered_delays_stay_within_their_band() {
        let p = policy(
            serde_json::json!({"maxAttempts": 6, "strategy": "exponential",
            "initialDelayMs": 1000, "multiplier": 2, "maxDelayMs": 60000, "jitterPercent": 20}),
        );
        for _ in 0..50 {
            for (i, delay) in delays(&p, None).into_iter().enumerate().take(5) {
                let nominal = p.nominal_delay_after(i as u32 + 1).unwrap().as_secs_f64();
                let got = delay.unwrap().as_secs_f64();
                assert!(
                    got >= nominal * 0.8 - 1e-9 && got <= nominal * 1.2 + 1e-9,
                    "{got} vs {nominal}"
                );
            }
        }
    }

    /// The schedule end to end in virtual time: a receiver down for the first 3 attempts is
    /// called at 0, 100, 300 and 700 ms (exponential ×2 from 100 ms), and never a 5th time.
    #[tokio::test(start_paused = true)]
    async fn the_schedule_in_paused_time() {
        let p = policy(
            serde_json::json!({"maxAttempts": 5, "strategy": "exponential",
            "initialDelayMs": 100, "multiplier": 2, "maxDelayMs": 10000, "jitterPercent": 0}),
        );
        let start = tokio::time::Instant::now();
        let mut calls = Vec::new();
        let mut attempt = 1;
        loop {
            calls.push(start.elapsed());
            let receiver_up = attempt > 3;
            if receiver_up {
                break;
            }
            match after_failure(&p, attempt, None, Utc::now()) {
                AfterFailure::RetryAt { delay, .. } => tokio::time::sleep(delay).await,
                AfterFailure::Exhausted => break,
            }
            attempt += 1;
        }
        let ms = Duration::from_millis;
        assert_eq!(calls, vec![ms(0), ms(100), ms(300), ms(700)]);
    }
}
