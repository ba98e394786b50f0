//! Named event stores: create, list, show with statistics, delete with confirmation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{STORE, events_body, spawn_app};

#[tokio::test]
async fn a_store_is_created_once_and_listed() {
    let app = spawn_app().await;

    let created = app
        .http
        .post(app.url("/api/event-stores"))
        .json(&json!({"name": "orders", "description": "Order management", "settings": {"retention": "forever"}}))
        .send()
        .await
        .unwrap();
    let again = app
        .http
        .post(app.url("/api/event-stores"))
        .json(&json!({"name": "orders"}))
        .send()
        .await
        .unwrap();
    let list: Value = app.get("/api/event-stores").await.json().await.unwrap();

    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["name"], "orders");
    assert_eq!(created["description"], "Order management");
    assert_eq!(created["settings"]["retention"], "forever");
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "EventStoreAlreadyExists"
    );
    let names: Vec<&str> = list["eventStores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["orders", STORE]);
}

#[tokio::test]
async fn invalid_store_names_and_settings_are_refused() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"name": "ab"}), "name"),
        (json!({"name": "Orders"}), "name"),
        (json!({"name": "a/b/c"}), "name"),
        (json!({"name": "okay-name", "settings": [1]}), "settings"),
        (
            json!({"name": "okay-name", "description": "d".repeat(1001)}),
            "description",
        ),
        (json!({"description": "no name"}), "name"),
    ] {
        let response = app
            .http
            .post(app.url("/api/event-stores"))
            .json(&body)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["details"]["field"],
            field,
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_store_shows_its_statistics() {
    let app = spawn_app().await;
    app.append_ok("a", &events_body(3, json!("any"))).await;
    app.append_ok("b", &events_body(2, json!("any"))).await;
    app.append_ok("a", &events_body(1, json!("any"))).await;

    let store: Value = app
        .get(&format!("/api/event-stores/{STORE}"))
        .await
        .json()
        .await
        .unwrap();

    let stats = &store["statistics"];
    assert_eq!(stats["streams"], 2);
    assert_eq!(stats["events"], 6);
    assert!(stats["bytes"].as_u64().unwrap() >= 6 * 7, "{stats}");
    assert!(stats["oldestEventAt"].as_str().is_some());
    assert!(stats["newestEventAt"].as_str() >= stats["oldestEventAt"].as_str());
}

#[tokio::test]
async fn an_unknown_store_is_not_found() {
    let app = spawn_app().await;

    let response = app.get("/api/event-stores/missing").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_a_store_needs_confirmation_and_removes_everything() {
    let app = spawn_app().await;
    app.append_ok("a", &events_body(3, json!("any"))).await;
    let delete = |query: &'static str| {
        let url = app.url(&format!("/api/event-stores/{STORE}{query}"));
        let http = app.http.clone();
        async move { http.delete(url).send().await.unwrap() }
    };

    let unconfirmed = delete("").await;
    let confirmed = delete("?confirm=true").await;
    let again = delete("?confirm=true").await;

    assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        unconfirmed.json::<Value>().await.unwrap()["details"]["field"],
        "confirm"
    );
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    // A store made again under the same name starts empty.
    app.create_store(STORE).await;
    assert!(app.all_events().await.is_empty());
    assert_eq!(app.read_stream("a", "").await.current_stream_version, 0);
    let result = app
        .append_ok("a", &events_body(1, json!("no_stream")))
        .await;
    assert_eq!(result.global_position, 1);
}
