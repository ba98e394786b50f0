//! The subscription REST API: bad input is a clear 4xx naming the field; subscribe is
//! idempotent; pause, resume, reset and delete do what they say.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{STORE, eventually, spawn_app, webhook_spec};
use crate::receiver::{Behaviour, Receiver};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscribe_bodies_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let good = webhook_spec("s1", "http://127.0.0.1:9/hook", 3);
    let patch = |f: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        f(&mut body);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            patch(&|b| b["webhook"]["url"] = json!("ftp://x/")),
            "webhook.url",
        ),
        (patch(&|b| b["webhook"]["url"] = json!(42)), "webhook.url"),
        (
            patch(&|b| b["eventFilter"] = json!(["ok.*", "bad*type"])),
            "eventFilter[1]",
        ),
        (patch(&|b| b["eventFilter"] = json!([])), "eventFilter"),
        (patch(&|b| b["batchSize"] = json!(5000)), "batchSize"),
        (patch(&|b| b["batchSize"] = json!("ten")), "batchSize"),
        (patch(&|b| b["id"] = json!("no spaces please")), "id"),
        (
            patch(&|b| b["subscriberType"] = json!("kafka")),
            "subscriberType",
        ),
        (
            patch(&|b| b["webhook"]["timeoutMs"] = json!(0)),
            "webhook.timeoutMs",
        ),
        (
            patch(&|b| b["webhook"]["secret"] = json!("hunter2")),
            "webhook.secret",
        ),
        (
            patch(&|b| b["webhook"]["headers"] = json!({"Host": "evil"})),
            "webhook.headers.Host",
        ),
        (
            patch(&|b| {
                b["webhook"]["retryPolicy"] = json!({"maxAttempts": 3, "backoffMinutes": 0})
            }),
            "webhook.retryPolicy.backoffMinutes",
        ),
        (
            patch(&|b| b["webhook"]["retryPolicy"] = json!({"strategy": "random"})),
            "webhook.retryPolicy.strategy",
        ),
        (
            patch(&|b| {
                b.as_object_mut().unwrap().remove("webhook");
            }),
            "webhook",
        ),
        (patch(&|b| b["initialPositon"] = json!("latest")), ""),
    ];
    for (body, field) in cases {
        let (status, answer) = app
            .post(&format!("/api/event-stores/{STORE}/subscribe"), &body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["error"], "ValidationError", "{answer}");
        if !field.is_empty() {
            assert_eq!(answer["details"]["field"], field, "{body} -> {answer}");
            assert!(
                answer["message"].as_str().unwrap().contains(field),
                "{answer}"
            );
        } else {
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap()
                    .contains("initialPositon"),
                "{answer}"
            );
        }
    }
    let (status, answer) = app
        .post("/api/event-stores/no-such-store/subscribe", &good)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = app.post("/api/event-stores/Bad!/subscribe", &good).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = app
        .get(&format!("/api/event-stores/{STORE}/subscriptions"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app
        .get(&format!("/api/event-stores/{STORE}/subscriptions"))
        .await;
    assert_eq!(
        list["subscriptions"],
        json!([]),
        "nothing was created by a bad request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_is_idempotent_and_refuses_a_different_definition_under_the_same_id() {
    let app = spawn_app().await;
    let spec = webhook_spec("s1", "http://127.0.0.1:9/hook", 3);
    let created = app.subscribe(&spec).await;
    assert_eq!(created["subscriptionId"], "s1");
    assert_eq!(created["status"], "ACTIVE");

    let (status, again) = app
        .post(&format!("/api/event-stores/{STORE}/subscribe"), &spec)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["createdAt"], created["createdAt"]);

    let mut other = spec.clone();
    other["webhook"]["url"] = json!("http://127.0.0.1:9/other");
    let (status, answer) = app
        .post(&format!("/api/event-stores/{STORE}/subscribe"), &other)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["details"]["subscriptionId"], "s1");

    // Without an id, the same content finds the same subscription.
    let mut anonymous = spec.clone();
    anonymous.as_object_mut().unwrap().remove("id");
    let first = app.subscribe(&anonymous).await;
    let (status, second) = app
        .post(&format!("/api/event-stores/{STORE}/subscribe"), &anonymous)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["subscriptionId"], second["subscriptionId"]);
    let (_, list) = app
        .get(&format!("/api/event-stores/{STORE}/subscriptions"))
        .await;
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_reset_and_delete() {
    // Arrange
    let app = spawn_app().await;
    let receiver = Receiver::start(Behaviour::default()).await;
    app.subscribe(&webhook_spec("ops", &receiver.url, 3)).await;
    app.append("o-1", &["order.placed"]).await;
    eventually(WAIT, "event 1", || async {
        (receiver.acked_positions() == vec![1]).then_some(())
    })
    .await;

    // Pause: nothing is delivered meanwhile.
    let (status, paused) = app.operate("ops", "pause", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paused["status"], "SUSPENDED");
    app.append("o-1", &["order.shipped"]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.acked_positions(), vec![1]);
    assert_eq!(app.show("ops").await["lag"], 1);

    // Resume: it arrives.
    let (status, resumed) = app.operate("ops", "resume", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resumed["status"], "ACTIVE");
    eventually(WAIT, "event 2", || async {
        (receiver.acked_positions() == vec![1, 2]).then_some(())
    })
    .await;

    // Reset: delivered again from position 1.
    let (status, _) = app
        .operate("ops", "reset", &json!({"fromGlobalPosition": 1}))
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually(WAIT, "events 1 and 2 again", || async {
        (receiver.acked_positions() == vec![1, 2, 1, 2]).then_some(())
    })
    .await;
    for (body, field) in [
        (json!({"fromGlobalPosition": 0}), "fromGlobalPosition"),
        (json!({}), "fromGlobalPosition"),
        (json!({"fromGlobalPosition": -3}), "fromGlobalPosition"),
    ] {
        let (status, answer) = app.operate("ops", "reset", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["details"]["field"], field, "{answer}");
    }

    // Delete: gone, and no more deliveries.
    let response = app
        .http
        .delete(app.url(&format!("/api/event-stores/{STORE}/subscriptions/ops")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = app
        .get(&format!("/api/event-stores/{STORE}/subscriptions/ops"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.operate("ops", "pause", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.append("o-1", &["order.delivered"]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.acked_positions().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_allowlist_refuses_other_targets() {
    // Arrange: only the name `localhost` may be called.
    let url = crate::helpers::fresh_migrated_database().await;
    let mut config = crate::helpers::config(&url, "guarded");
    config.subscriptions.allowlist = Some(std::sync::Arc::new(
        eventstore_service::delivery::allowlist::Allowlist::parse("localhost").unwrap(),
    ));
    let app = crate::helpers::spawn_on(config).await;
    app.create_store(STORE).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let allowed = receiver.url.replace("127.0.0.1", "localhost");

    // Act
    let (refused, answer) = app
        .post(
            &format!("/api/event-stores/{STORE}/subscribe"),
            &webhook_spec("metadata", "http://169.254.169.254/latest/meta-data", 3),
        )
        .await;
    app.subscribe(&webhook_spec("local", &allowed, 3)).await;
    app.append("o-1", &["order.placed"]).await;

    // Assert
    assert_eq!(refused, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["details"]["field"], "webhook.url");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("EVENTSTORE_WEBHOOK_ALLOWLIST")
    );
    eventually(WAIT, "delivery to the allowed name", || async {
        (receiver.acked_positions() == vec![1]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_subscription_routes() {
    let app = spawn_app().await;
    let (status, document) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/event-stores/{store}/subscribe",
        "/api/event-stores/{store}/subscriptions",
        "/api/event-stores/{store}/subscriptions/{id}",
        "/api/event-stores/{store}/subscriptions/{id}/reset",
        "/api/event-stores/{store}/subscriptions/{id}/dead-letters/{deadLetterId}/redeliver",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
}
