use super::*;

const WALKTHROUGH: &str = r#"
[[eventStores]]
name = "orders"
description = "Order management system"

[[eventStores.subscriptions]]
id = "order-summary-projection"
eventFilter = ["order.placed", "order.shipped", "order.delivered", "order.cancelled"]
subscriberType = "webhook"
initialPosition = "earliest"
webhook.url = "${SERVICE_URL}/api/projections/orders/events"
webhook.headers = { Authorization = "Bearer ${PROJECTION_AUTH_TOKEN}" }
webhook.timeoutMs = 10000
webhook.retryPolicy = { maxAttempts = 5, backoffMinutes = 2 }
"#;

fn vars() -> Vars {
    Vars::from_pairs([
        ("SERVICE_URL", "http://projection:8082"),
        ("PROJECTION_AUTH_TOKEN", "dev-token"),
    ])
}

#[test]
fn the_walkthrough_config_parses_in_toml() {
    let deployment = parse(WALKTHROUGH, Format::Toml, &vars(), None).unwrap();
    let store = &deployment.stores[0];
    assert_eq!(store.name, "orders");
    let sub = &store.subscriptions[0];
    assert_eq!(sub.id, "order-summary-projection");
    assert_eq!(
        sub.webhook.url.as_str(),
        "http://projection:8082/api/projections/orders/events"
    );
    assert_eq!(sub.webhook.headers["Authorization"], "Bearer dev-token");
    assert!(sub.filter.matches("order.shipped"));
    assert!(!sub.filter.matches("order.created"));
    assert_eq!(sub.webhook.retry_policy.max_attempts, 5);
}

#[test]
fn the_same_config_parses_in_json() {
    let json = r#"{"eventStores": [{"name": "orders", "subscriptions": [{
        "id": "p", "eventFilter": "*",
        "webhook": {"url": "${SERVICE_URL}/x", "retryPolicy": {"maxAttempts": 3, "strategy": "fixed", "initialDelayMs": 100}}
    }]}]}"#;
    let deployment = parse(json, Format::Json, &vars(), None).unwrap();
    assert!(deployment.stores[0].subscriptions[0].filter.is_all());
}

#[test]
fn unset_variable_is_named_with_the_field() {
    let err = parse(
        WALKTHROUGH,
        Format::Toml,
        &Vars::from_pairs([("SERVICE_URL", "http://x")]),
        None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "<config>: eventStores[0].subscriptions[0].webhook.headers.Authorization: environment variable PROJECTION_AUTH_TOKEN is not set"
    );
}

#[test]
fn bad_url_is_refused_with_its_path() {
    let text = WALKTHROUGH.replace("${SERVICE_URL}/api", "not-a-url/api");
    let err = parse(&text, Format::Toml, &vars(), None).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("eventStores[0].subscriptions[0].webhook.url: not an absolute http(s) URL"),
        "{err}"
    );
}

#[test]
fn type_errors_unknown_and_missing_fields_carry_their_path() {
    let text = WALKTHROUGH.replace("webhook.timeoutMs = 10000", "webhook.timeoutMs = \"soon\"");
    let err = parse(&text, Format::Toml, &vars(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eventStores[0].subscriptions[0].webhook.timeoutMs: invalid type"),
        "{err}"
    );

    let text = WALKTHROUGH.replace("subscriberType = \"webhook\"", "subscriberType = \"kafka\"");
    let err = parse(&text, Format::Toml, &vars(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eventStores[0].subscriptions[0].subscriberType: unknown variant `kafka`"),
        "{err}"
    );

    let text = WALKTHROUGH.replace("initialPosition", "initialPositon");
    let err = parse(&text, Format::Toml, &vars(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `initialPositon`"), "{err}");

    let text = WALKTHROUGH.replace("eventFilter = [", "# eventFilter = [");
    let err = parse(&text, Format::Toml, &vars(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eventStores[0].subscriptions[0].eventFilter: missing field"),
        "{err}"
    );
}

#[test]
fn duplicates_and_bad_store_names_are_refused() {
    let text = format!("{WALKTHROUGH}\n[[eventStores]]\nname = \"orders\"\n");
    let err = parse(&text, Format::Toml, &vars(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eventStores[1].name: store \"orders\" is configured twice"),
        "{err}"
    );

    let text = WALKTHROUGH.replace("name = \"orders\"", "name = \"Orders!\"");
    let err = parse(&text, Format::Toml, &vars(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("eventStores[0].name: must match"), "{err}");

    let json = r#"{"eventStores": [{"name": "orders", "subscriptions": [
        {"id": "a", "eventFilter": "*", "webhook": {"url": "http://x/"}},
        {"id": "a", "eventFilter": "*", "webhook": {"url": "http://y/"}}]}]}"#;
    let err = parse(json, Format::Json, &vars(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eventStores[0].subscriptions[1].id: subscription \"a\" is configured twice"),
        "{err}"
    );
}

#[test]
fn syntax_errors_say_where() {
    let err = parse("[[eventStores]\nname=", Format::Toml, &vars(), None).unwrap_err();
    assert!(matches!(err, ConfigFileError::Syntax { .. }));
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = parse("{\"eventStores\": [}", Format::Json, &vars(), None).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn interpolation_rules() {
    let v = Vars::from_pairs([("A", "1"), ("EMPTY", "")]);
    assert_eq!(interpolate_str("x${A}y${A}", &v).unwrap(), "x1y1");
    assert_eq!(interpolate_str("${B:-dflt}", &v).unwrap(), "dflt");
    assert_eq!(interpolate_str("${EMPTY:-dflt}", &v).unwrap(), "dflt");
    assert_eq!(
        interpolate_str("$${A} costs $5", &v).unwrap(),
        "${A} costs $5"
    );
    assert!(
        interpolate_str("${B}", &v)
            .unwrap_err()
            .contains("B is not set")
    );
    assert!(
        interpolate_str("${A", &v)
            .unwrap_err()
            .contains("unterminated")
    );
    assert!(
        interpolate_str("${1A}", &v)
            .unwrap_err()
            .contains("does not name")
    );
}

#[test]
fn interpolated_values_cannot_inject_structure() {
    let v = Vars::from_pairs([
        ("SERVICE_URL", "http://x\", \"evil\": \"1"),
        ("PROJECTION_AUTH_TOKEN", "t"),
    ]);
    let err = parse(WALKTHROUGH, Format::Toml, &v, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("webhook.url: not an absolute http(s) URL"),
        "{err}"
    );
}

#[test]
fn format_detection() {
    assert_eq!(Format::detect(Path::new("a.json"), ""), Format::Json);
    assert_eq!(Format::detect(Path::new("a.toml"), "{"), Format::Toml);
    assert_eq!(
        Format::detect(Path::new("a.conf"), "  {\"a\":1}"),
        Format::Json
    );
    assert_eq!(
        Format::detect(Path::new("a"), "[[eventStores]]"),
        Format::Toml
    );
}

#[test]
fn the_repositorys_own_config_files_check() {
    // The files docker compose, Kubernetes and the e2e suite start the event store with.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in ["config/deltabase.toml", "deploy/base/deltabase.toml"] {
        let deployment =
            load(&root.join(file), &vars(), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let sub = &deployment.stores[0].subscriptions[0];
        assert_eq!(sub.id, "order-summary-projection", "{file}");
    }
}
