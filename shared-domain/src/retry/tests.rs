use super::*;
use proptest::prelude::*;

fn spec(json: serde_json::Value) -> RetryPolicySpec {
    serde_json::from_value(json).unwrap()
}

fn no_jitter(strategy: &str) -> RetryPolicy {
    RetryPolicy::try_from(spec(serde_json::json!({
        "maxAttempts": 6, "strategy": strategy, "initialDelayMs": 100,
        "maxDelayMs": 1000, "multiplier": 3, "jitterPercent": 0
    })))
    .unwrap()
}

fn delays(policy: &RetryPolicy) -> Vec<Option<u128>> {
    (1..=6)
        .map(|n| policy.delay_after(n).map(|d| d.as_millis()))
        .collect()
}

#[test]
fn exponential_schedule_multiplies_and_caps() {
    assert_eq!(
        delays(&no_jitter("exponential")),
        vec![
            Some(100),
            Some(300),
            Some(900),
            Some(1000),
            Some(1000),
            None
        ]
    );
}

#[test]
fn linear_schedule_adds_the_initial_delay() {
    assert_eq!(
        delays(&no_jitter("linear")),
        vec![Some(100), Some(200), Some(300), Some(400), Some(500), None]
    );
}

#[test]
fn fixed_schedule_repeats_the_initial_delay() {
    assert_eq!(
        delays(&no_jitter("fixed")),
        vec![Some(100), Some(100), Some(100), Some(100), Some(100), None]
    );
}

#[test]
fn walkthrough_policy_starts_at_backoff_minutes_and_doubles() {
    let policy = RetryPolicy::try_from(spec(
        serde_json::json!({"maxAttempts": 5, "backoffMinutes": 2}),
    ))
    .unwrap();
    let minutes: Vec<_> = (1..=5)
        .map(|n| policy.delay_after(n).map(|d| d.as_secs() / 60))
        .collect();
    assert_eq!(minutes, vec![Some(2), Some(4), Some(8), Some(16), None]);
}

#[test]
fn attempts_never_exceed_max_attempts() {
    let policy = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    assert_eq!(policy.delay_after(1), None);
}

#[test]
fn retry_after_lengthens_but_is_capped() {
    let policy = no_jitter("fixed");
    let asked = Some(Duration::from_millis(700));
    assert_eq!(
        policy.delay_after_with_retry_after(1, asked),
        Some(Duration::from_millis(700))
    );
    let huge = Some(Duration::from_secs(86_400));
    assert_eq!(
        policy.delay_after_with_retry_after(1, huge),
        Some(Duration::from_millis(1000))
    );
}

#[test]
fn bad_specs_name_the_field() {
    for (json, field) in [
        (serde_json::json!({"maxAttempts": 0}), "maxAttempts"),
        (serde_json::json!({"backoffMinutes": -1}), "backoffMinutes"),
        (
            serde_json::json!({"initialDelayMs": 10, "maxDelayMs": 5}),
            "maxDelayMs",
        ),
        (serde_json::json!({"multiplier": 0.5}), "multiplier"),
        (serde_json::json!({"jitterPercent": 150}), "jitterPercent"),
        (
            serde_json::json!({"backoffMinutes": 1, "strategy": "fixed"}),
            "backoffMinutes",
        ),
    ] {
        let err = RetryPolicy::try_from(spec(json)).unwrap_err();
        assert_eq!(err.field, field);
    }
}

#[test]
fn unknown_fields_are_refused() {
    assert!(
        serde_json::from_value::<RetryPolicySpec>(serde_json::json!({"maxAttemps": 3})).is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_loop_waits_the_schedule_in_virtual_time() {
    let policy = no_jitter("exponential");
    let start = tokio::time::Instant::now();
    let mut attempt = 1;
    while let Some(delay) = policy.delay_after(attempt) {
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
    assert_eq!(attempt, 6);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100 + 300 + 900 + 1000 + 1000)
    );
}

proptest! {
    #[test]
    fn jittered_delays_stay_within_bounds(
        attempt in 1u32..20,
        initial in 1u64..10_000,
        extra in 0u64..100_000,
        jitter in 0u32..=100,
        strategy in prop_oneof![Just("exponential"), Just("linear"), Just("fixed")],
    ) {
        let policy = RetryPolicy::try_from(spec(serde_json::json!({
            "maxAttempts": 20, "strategy": strategy, "initialDelayMs": initial,
            "maxDelayMs": initial + extra, "jitterPercent": jitter
        }))).unwrap();
        let nominal = policy.nominal_delay_after(attempt).unwrap();
        let delay = policy.delay_after(attempt).unwrap();
        let j = f64::from(jitter) / 100.0;
        prop_assert!(delay.as_secs_f64() <= nominal.as_secs_f64() * (1.0 + j) + 1e-3);
        prop_assert!(delay.as_secs_f64() >= nominal.as_secs_f64() * (1.0 - j) - 1e-3);
        prop_assert!(nominal <= policy.max_delay);
    }
}
