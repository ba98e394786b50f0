//! The config file: refused at start-up naming the bad field, applied idempotently, and the
//! `deploy` subcommand's report.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use eventstore_service::Application;

use crate::helpers::{STORE, config, eventually, fresh_migrated_database, spawn_on};
use crate::receiver::{Behaviour, Receiver};

fn write_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, text).unwrap();
    path
}

fn walkthrough(url: &str) -> String {
    format!(
        r#"
[[eventStores]]
name = "{STORE}"
description = "Order management system"

[[eventStores.subscriptions]]
id = "order-summary-projection"
eventFilter = ["order.placed", "order.shipped", "order.delivered", "order.cancelled"]
subscriberType = "webhook"
webhook.url = "{url}"
webhook.headers = {{ Authorization = "Bearer ${{PATH}}" }}
webhook.timeoutMs = 2000
webhook.retryPolicy = {{ maxAttempts = 5, backoffMinutes = 2 }}
"#
    )
}

async fn count(database_url: &str, table: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_file_refuses_to_start_naming_the_field() {
    let url = fresh_migrated_database().await;
    let cases = [
        (
            walkthrough("not a url"),
            "eventStores[0].subscriptions[0].webhook.url: not an absolute http(s) URL",
        ),
        (
            walkthrough("${EVENTSTORE_TEST_SURELY_UNSET_VARIABLE}/hook"),
            "eventStores[0].subscriptions[0].webhook.url: environment variable EVENTSTORE_TEST_SURELY_UNSET_VARIABLE is not set",
        ),
        (
            walkthrough("http://x/").replace("maxAttempts = 5", "maxAttempts = 0"),
            "eventStores[0].subscriptions[0].webhook.retryPolicy.maxAttempts: must be between 1 and 100",
        ),
        (
            walkthrough("http://x/").replace("eventFilter = [", "eventFilter = [\"a*b\", "),
            "eventStores[0].subscriptions[0].eventFilter[0]",
        ),
    ];
    for (text, expected) in cases {
        // Arrange
        let file = write_file("bad.toml", &text);
        let mut settings = config(&url, "refusing");
        settings.subscriptions.config_file = Some(file.clone());

        // Act
        let error = Application::build(settings).await.err().expect("a refusal");

        // Assert: the message names the field, and nothing was applied.
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert_eq!(count(&url, "event_stores").await, 0, "half-configured");
        std::fs::remove_file(file).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_config_file_is_applied_at_start_up_idempotently_and_delivers() {
    // Arrange
    let url = fresh_migrated_database().await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let file = write_file("good.toml", &walkthrough(&receiver.url));
    let start = |instance: &'static str| {
        let mut settings = config(&url, instance);
        settings.subscriptions.config_file = Some(file.clone());
        spawn_on(settings)
    };

    // Act: start twice on the same database.
    let mut first = start("one").await;
    first.stop().await;
    let app = start("two").await;
    app.append("o-1", &["order.placed", "order.created", "order.shipped"])
        .await;

    // Assert: one store, one subscription; the walkthrough's filter and headers are in force.
    assert_eq!(count(&url, "event_stores").await, 1);
    assert_eq!(count(&url, "subscriptions").await, 1);
    let acked = eventually(Duration::from_secs(15), "two events", || async {
        let acked = receiver.acked_positions();
        (acked.len() >= 2).then_some(acked)
    })
    .await;
    assert_eq!(acked, vec![1, 3]);
    let auth = receiver.received()[0].headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(auth, format!("Bearer {}", std::env::var("PATH").unwrap()));
    std::fs::remove_file(file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_subcommand_reports_created_changed_and_unchanged() {
    let url = fresh_migrated_database().await;
    let deploy = |file: &PathBuf, hook: &str| {
        Command::new(env!("CARGO_BIN_EXE_eventstore-service"))
            .arg("deploy")
            .arg(file)
            .env("DATABASE_URL", &url)
            .env("HOOK_URL", hook)
            .env_remove("EVENTSTORE_CONFIG")
            .output()
            .unwrap()
    };
    let text = walkthrough("${HOOK_URL}").replace(
        "webhook.timeoutMs",
        "webhook.secret = \"generate\"\nwebhook.timeoutMs",
    );
    let file = write_file("deploy.toml", &text);

    // Act & Assert: created, with the generated secret shown once.
    let out = deploy(&file, "http://127.0.0.1:9/a");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("store {STORE}: created")),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "subscription order-summary-projection: created (signing secret, shown once: whsec_"
        ),
        "{stdout}"
    );

    // Unchanged on a second run, no secret shown again.
    let out = deploy(&file, "http://127.0.0.1:9/a");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("store {STORE}: unchanged")),
        "{stdout}"
    );
    assert!(
        stdout.contains("subscription order-summary-projection: unchanged"),
        "{stdout}"
    );
    assert!(!stdout.contains("whsec_"), "{stdout}");

    // Changed when the interpolated URL changes.
    let out = deploy(&file, "http://127.0.0.1:9/b");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("subscription order-summary-projection: changed"),
        "{stdout}"
    );
    assert_eq!(count(&url, "subscriptions").await, 1);

    // An invalid file: exit 2, the field named, nothing applied.
    let bad = write_file(
        "deploy-bad.toml",
        &walkthrough("${HOOK_URL}").replace("orders", "Orders!"),
    );
    let out = deploy(&bad, "http://127.0.0.1:9/a");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("eventStores[0].name: must match"),
        "{stderr}"
    );
    std::fs::remove_file(file).unwrap();
    std::fs::remove_file(bad).unwrap();
}
