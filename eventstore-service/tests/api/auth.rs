//! The API key: every `/api` route needs it when set; health and metrics stay open.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{STORE, events_body, spawn_app_with};

#[tokio::test]
async fn with_an_api_key_every_api_route_needs_it() {
    let app = spawn_app_with(|config| config.api_key = Some("s3cret-key".to_owned())).await;
    let paths = [
        ("GET", "/api/event-stores".to_owned()),
        ("POST", "/api/event-stores".to_owned()),
        ("GET", format!("/api/event-stores/{STORE}")),
        ("DELETE", format!("/api/event-stores/{STORE}?confirm=true")),
        ("POST", format!("/api/event-stores/{STORE}/streams/s")),
        ("GET", format!("/api/event-stores/{STORE}/streams/s")),
        ("GET", format!("/api/event-stores/{STORE}/events")),
    ];
    for (method, path) in &paths {
        for credentials in [
            None,
            Some(("x-api-key", "wrong")),
            Some(("authorization", "Bearer wrong")),
        ] {
            let mut request = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .json(&events_body(1, json!("any")));
            if let Some((name, value)) = credentials {
                request = request.header(name, value);
            }

            let response = request.send().await.unwrap();

            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} {credentials:?}"
            );
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("s3cret") && !body.contains("wrong"),
                "{body}"
            );
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["error"],
                "Unauthorized"
            );
        }
    }
}

#[tokio::test]
async fn the_key_is_accepted_as_x_api_key_or_bearer_token() {
    let app = spawn_app_with(|config| config.api_key = Some("s3cret-key".to_owned())).await;
    for (name, value) in [
        ("x-api-key", "s3cret-key"),
        ("authorization", "Bearer s3cret-key"),
    ] {
        let response = app
            .http
            .post(app.stream_url(STORE, "s"))
            .header(name, value)
            .json(&events_body(1, json!("any")))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
    }
}

#[tokio::test]
async fn health_metrics_and_openapi_stay_open_with_an_api_key() {
    let app = spawn_app_with(|config| config.api_key = Some("s3cret-key".to_owned())).await;
    for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();

        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn during_a_rotation_both_listed_keys_are_accepted_and_no_other() {
    let app = spawn_app_with(|config| config.api_key = Some("new-key old-key".to_owned())).await;
    for (key, expected) in [
        ("new-key", StatusCode::CREATED),
        ("old-key", StatusCode::CREATED),
        ("new-key old-key", StatusCode::UNAUTHORIZED),
        ("other-key", StatusCode::UNAUTHORIZED),
    ] {
        let response = app
            .http
            .post(app.stream_url(STORE, "s"))
            .header("x-api-key", key)
            .json(&events_body(1, json!("any")))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), expected, "{key}");
    }
}
