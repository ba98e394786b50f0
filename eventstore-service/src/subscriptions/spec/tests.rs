use super::*;
use shared_domain::retry::RetryPolicy;
use std::time::Duration;

fn spec(value: Value) -> SubscriptionSpec {
    serde_json::from_value(value).unwrap()
}

fn minimal() -> Value {
    json!({"id": "s1", "eventFilter": "order.*", "webhook": {"url": "http://localhost:8082/hook"}})
}

fn check(value: Value) -> Result<SubscriptionDefinition, FieldError> {
    SubscriptionDefinition::check(&spec(value), "", None)
}

#[test]
fn defaults_are_filled_in() {
    let d = check(minimal()).unwrap();
    assert_eq!(d.id, "s1");
    assert_eq!(d.batch_size, DEFAULT_BATCH_SIZE);
    assert_eq!(d.webhook.timeout, Duration::from_millis(DEFAULT_TIMEOUT_MS));
    assert_eq!(d.webhook.retry_policy, RetryPolicy::default());
    assert_eq!(d.initial_position, InitialPosition::Earliest);
    assert_eq!(d.on_exhausted, ExhaustedMode::Stop);
    assert_eq!(d.secret, SecretChoice::None);
}

#[test]
fn both_retry_policy_spellings_are_accepted() {
    let mut walkthrough = minimal();
    walkthrough["webhook"]["retryPolicy"] = json!({"maxAttempts": 5, "backoffMinutes": 2});
    assert_eq!(
        check(walkthrough)
            .unwrap()
            .webhook
            .retry_policy
            .max_attempts,
        5
    );
    let mut deltabase = minimal();
    deltabase["webhook"]["retryPolicy"] = json!({"maxAttempts": 3, "strategy": "linear",
        "initialDelayMs": 10, "maxDelayMs": 100, "jitterPercent": 0});
    let policy = check(deltabase).unwrap().webhook.retry_policy;
    assert_eq!(policy.max_attempts, 3);
    assert_eq!(policy.initial_delay, Duration::from_millis(10));
}

#[test]
fn bad_fields_are_named_by_path() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"webhook": {"url": "ftp://x/"}}),
            "webhook.url",
            "not an absolute http(s) URL",
        ),
        (
            json!({"webhook": {"url": "/relative"}}),
            "webhook.url",
            "not an absolute",
        ),
        (
            json!({"webhook": {"url": "http://u:p@x/"}}),
            "webhook.url",
            "credentials",
        ),
        (
            json!({"eventFilter": ["a.b", "a*b"]}),
            "eventFilter[1]",
            "not a valid pattern",
        ),
        (json!({"eventFilter": []}), "eventFilter", "at least one"),
        (json!({"batchSize": 0}), "batchSize", "between 1 and"),
        (json!({"id": "has space"}), "id", "1 to 128"),
        (
            json!({"webhook": {"url": "http://x/", "timeoutMs": 0}}),
            "webhook.timeoutMs",
            "between",
        ),
        (
            json!({"webhook": {"url": "http://x/", "headers": {"Bad Name": "v"}}}),
            "webhook.headers.Bad Name",
            "header name",
        ),
        (
            json!({"webhook": {"url": "http://x/", "headers": {"Content-Type": "x"}}}),
            "webhook.headers.Content-Type",
            "set by the service",
        ),
        (
            json!({"webhook": {"url": "http://x/", "headers": {"X": "a\nb"}}}),
            "webhook.headers.X",
            "header value",
        ),
        (
            json!({"webhook": {"url": "http://x/", "secret": "nope"}}),
            "webhook.secret",
            "whsec_",
        ),
        (
            json!({"webhook": {"url": "http://x/", "retryPolicy": {"maxAttempts": 0}}}),
            "webhook.retryPolicy.maxAttempts",
            "between",
        ),
    ];
    for (patch, path, needle) in cases {
        let mut value = minimal();
        for (key, field) in patch.as_object().unwrap() {
            value[key] = field.clone();
        }
        let err = check(value).unwrap_err();
        assert_eq!(err.path, path, "{err}");
        assert!(err.reason.contains(needle), "{err}");
    }
}

#[test]
fn paths_carry_the_prefix() {
    let mut value = minimal();
    value["webhook"]["url"] = json!("nope");
    let err = SubscriptionDefinition::check(&spec(value), "eventStores[0].subscriptions[1]", None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "eventStores[0].subscriptions[1].webhook.url: not an absolute http(s) URL"
    );
}

#[test]
fn secret_generate_and_given() {
    let mut value = minimal();
    value["webhook"]["secret"] = json!("generate");
    assert_eq!(check(value).unwrap().secret, SecretChoice::Generate);
    let secret = WebhookSecret::generate();
    let mut value = minimal();
    value["webhook"]["secret"] = json!(secret.expose());
    assert_eq!(check(value).unwrap().secret, SecretChoice::Given(secret));
}

#[test]
fn derived_ids_are_stable_and_depend_on_content() {
    let mut a = minimal();
    a.as_object_mut().unwrap().remove("id");
    let mut b = a.clone();
    b["eventFilter"] = json!(["order.*"]);
    let mut c = a.clone();
    c["webhook"]["url"] = json!("http://localhost:8082/other");
    let (a, b, c) = (check(a).unwrap(), check(b).unwrap(), check(c).unwrap());
    assert!(a.id.starts_with("sub-"));
    assert_eq!(a.id, b.id, "the same filter written differently");
    assert_ne!(a.id, c.id);
}

#[test]
fn allowlist_refuses_other_targets() {
    let list = Allowlist::parse("localhost").unwrap();
    assert!(SubscriptionDefinition::check(&spec(minimal()), "", Some(&list)).is_ok());
    let mut value = minimal();
    value["webhook"]["url"] = json!("http://169.254.169.254/latest/meta-data");
    let err = SubscriptionDefinition::check(&spec(value), "", Some(&list)).unwrap_err();
    assert_eq!(err.path, "webhook.url");
    assert!(err.reason.contains("EVENTSTORE_WEBHOOK_ALLOWLIST"));
}

#[test]
fn stored_webhook_form_round_trips() {
    let mut value = minimal();
    value["webhook"]["headers"] = json!({"Authorization": "Bearer t"});
    value["webhook"]["retryPolicy"] = json!({"maxAttempts": 2, "backoffMinutes": 1});
    let d = check(value).unwrap();
    assert_eq!(
        WebhookTarget::from_json(&d.webhook.to_json()).unwrap(),
        d.webhook
    );
}
