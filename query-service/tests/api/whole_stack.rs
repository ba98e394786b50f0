//! Read-your-writes through the whole stack, all four services in-process: place an order via
//! the command service (→ event store on PostgreSQL → webhook → projection → Redis), then read
//! it from this service with the `globalPosition` the command answered. It must be found on the
//! first request, every time.

use std::time::Duration;

use serde_json::{Value, json};
use shared_domain::service::Shutdown;
use shared_domain::testing::postgres::fresh_database;
use shared_domain::testing::redis::{delete_namespace, fresh_namespace, redis_url};
use tokio::task::JoinHandle;

use crate::helpers::{spawn_app_with, test_config};

const STORE: &str = "orders";
const TOKEN: &str = "whole-stack-token";

type Server = (Shutdown, JoinHandle<std::io::Result<()>>);

/// The walkthrough's subscription, delivering to `webhook`.
fn subscription_config(webhook: &str) -> String {
    format!(
        r#"
[[eventStores]]
name = "{STORE}"
description = "Order management system"

[[eventStores.subscriptions]]
id = "order-summary-projection"
eventFilter = ["order.placed", "order.shipped", "order.delivered", "order.cancelled"]
subscriberType = "webhook"
initialPosition = "earliest"
webhook.url = "{webhook}"
webhook.headers = {{ Authorization = "Bearer {TOKEN}" }}
webhook.timeoutMs = 5000
webhook.retryPolicy = {{ maxAttempts = 100, strategy = "fixed", initialDelayMs = 50 }}
"#
    )
}

fn spawn<F>(future: F) -> Server
where
    F: FnOnce(Shutdown) -> JoinHandle<std::io::Result<()>>,
{
    let shutdown = Shutdown::new();
    let handle = future(shutdown.clone());
    (shutdown, handle)
}

async fn stop((shutdown, handle): Server) {
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_through_the_stack_are_found_on_the_first_read_100_of_100() {
    // Arrange: query + projection on one Redis namespace; the event store on a fresh database,
    // subscribed (from its config file) to the projection; the command service on the store.
    let mut query_config = test_config(&redis_url());
    query_config.namespace = fresh_namespace();
    let namespace = query_config.namespace.clone();
    let query = spawn_app_with(query_config).await;

    let mut projection_config =
        projection_service::Config::new(redis_url(), namespace.clone(), TOKEN);
    projection_config.host = std::net::Ipv4Addr::LOCALHOST.into();
    projection_config.port = 0;
    projection_config.http_workers = Some(1);
    let projection_app = projection_service::Application::build(projection_config).unwrap();
    let projection_url = format!("http://127.0.0.1:{}", projection_app.port());
    let projection = spawn(|s| tokio::spawn(projection_app.run_until_stopped(s)));

    let template = format!(
        "eventstore_{}",
        eventstore_service::db::migrations_fingerprint()
    );
    let database = fresh_database(&template, |url| async move {
        eventstore_service::db::migrate(&url)
            .await
            .map_err(Into::into)
    })
    .await;
    let config_file = std::env::temp_dir().join(format!("query-whole-stack-{namespace}.toml"));
    std::fs::write(
        &config_file,
        subscription_config(&format!("{projection_url}/api/projections/orders/events")),
    )
    .unwrap();
    let mut store_config = eventstore_service::Config::for_database(&database.url);
    store_config.host = std::net::Ipv4Addr::LOCALHOST.into();
    store_config.port = 0;
    store_config.http_workers = Some(1);
    store_config.subscriptions.config_file = Some(config_file.clone());
    let store_app = eventstore_service::Application::build(store_config)
        .await
        .unwrap();
    let store_url = format!("http://127.0.0.1:{}", store_app.port());
    let store = spawn(|s| tokio::spawn(store_app.run_until_stopped(s)));

    let mut command_config = command_service::Config::new(store_url.as_str());
    command_config.host = std::net::Ipv4Addr::LOCALHOST.into();
    command_config.port = 0;
    command_config.http_workers = Some(1);
    let command_app = command_service::Application::build(command_config).unwrap();
    let command_url = format!("http://127.0.0.1:{}", command_app.port());
    let command = spawn(|s| tokio::spawn(command_app.run_until_stopped(s)));
    let http = reqwest::Client::new();

    // Act / Assert: 100 × place, then read back at once with the answered position.
    let mut found_first_time = 0;
    for i in 0..100 {
        let placed: Value = http
            .post(format!("{command_url}/orders"))
            .json(&json!({"customerId": format!("cust-{}", i % 5),
                          "items": [{"productId": "p-1", "quantity": 2, "price": 9.99}]}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let (order_id, position) = (
            placed["orderId"].as_str().unwrap(),
            placed["globalPosition"].as_u64().unwrap(),
        );
        let read = query
            .get(&format!("/orders/{order_id}?minGlobalPosition={position}"))
            .await;
        if read.status() == 200 {
            let summary: Value = read.json().await.unwrap();
            assert_eq!(summary["orderId"], order_id);
            assert_eq!(summary["totalAmount"], 19.98);
            found_first_time += 1;
        } else {
            eprintln!("order {i} ({order_id} at {position}): {}", read.status());
        }
    }
    assert_eq!(
        found_first_time, 100,
        "found on the first request, 100 out of 100"
    );

    // A status change reads back the same way, through the header form and a list.
    let (last, _) = query.page("/orders?limit=1").await;
    let order_id = last[0]["orderId"].as_str().unwrap().to_owned();
    let shipped: Value = http
        .post(format!("{command_url}/orders/{order_id}/ship"))
        .json(&json!({"trackingNumber": "TRK-1", "carrier": "UPS"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = http
        .get(format!("{}/orders?status=shipped", query.url))
        .header(
            "x-min-global-position",
            shipped["globalPosition"].to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let list: Vec<Value> = list.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["orderId"], order_id.as_str());

    stop(command).await;
    stop(store).await;
    stop(projection).await;
    query.stop().await;
    let _ = delete_namespace(&redis_url(), &namespace).await;
    let _ = std::fs::remove_file(config_file);
}
