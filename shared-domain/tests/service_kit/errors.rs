//! Every `ApiError` constructor answers with its status and the one body shape.

use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::{Value, json};
use shared_domain::service::ApiError;

/// Calls a one-route app whose handler fails with `error`; returns status, headers and body.
async fn answer(error: ApiError) -> (StatusCode, actix_web::http::header::HeaderMap, Value) {
    let app = test::init_service(App::new().route(
        "/",
        web::get().to(move || {
            let error = error.clone();
            async move { Err::<String, _>(error) }
        }),
    ))
    .await;
    let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    let (status, headers) = (response.status(), response.headers().clone());
    let body: Value = test::read_body_json(response).await;
    (status, headers, body)
}

#[actix_web::test]
async fn validation_is_400_naming_the_field() {
    let (status, _, body) = answer(ApiError::validation("items[0].quantity", "must be > 0")).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "ValidationError", "message": "must be > 0",
               "details": {"field": "items[0].quantity"}})
    );
}

#[actix_web::test]
async fn each_constructor_has_its_status_and_type() {
    let cases = [
        (ApiError::unauthorized("no token"), 401, "Unauthorized"),
        (ApiError::forbidden("not yours"), 403, "Forbidden"),
        (ApiError::not_found("Order not found"), 404, "NotFound"),
        (
            ApiError::conflict(
                "StreamVersionConflict",
                "stale",
                json!({"expectedVersion": 1}),
            ),
            409,
            "StreamVersionConflict",
        ),
        (
            ApiError::unprocessable("IllegalStateError", "cannot ship", Value::Null),
            422,
            "IllegalStateError",
        ),
        (ApiError::payload_too_large(1024), 413, "PayloadTooLarge"),
        (
            ApiError::unsupported_media_type("expected JSON"),
            415,
            "UnsupportedMediaType",
        ),
        (ApiError::too_many_requests(3), 429, "TooManyRequests"),
        (
            ApiError::unavailable("redis is down", 5),
            503,
            "Unavailable",
        ),
    ];
    for (error, status, error_type) in cases {
        let (got_status, _, body) = answer(error).await;
        assert_eq!(got_status, status, "{body}");
        assert_eq!(body["error"], error_type);
        assert!(body["message"].is_string());
        assert!(body["details"].is_object(), "{body}");
    }
}

#[actix_web::test]
async fn conflict_carries_its_details() {
    let details = json!({"expectedVersion": 1, "currentVersion": 2});
    let (_, _, body) = answer(ApiError::conflict(
        "StreamVersionConflict",
        "stale",
        details.clone(),
    ))
    .await;
    assert_eq!(body["details"], details);
}

#[actix_web::test]
async fn unavailable_and_too_many_requests_set_retry_after() {
    let (_, headers, _) = answer(ApiError::unavailable("redis is down", 5)).await;
    assert_eq!(headers.get("retry-after").unwrap(), "5");
    let (_, headers, _) = answer(ApiError::too_many_requests(2)).await;
    assert_eq!(headers.get("retry-after").unwrap(), "2");
}

#[actix_web::test]
async fn unauthorized_sets_www_authenticate() {
    let (_, headers, _) = answer(ApiError::unauthorized("no token")).await;
    assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
}

#[actix_web::test]
async fn internal_error_body_is_opaque() {
    let cause = "connection to postgres://app:hunter2@db failed at src/append.rs:42";
    let (status, _, body) = answer(ApiError::internal(cause)).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "InternalError");
    let text = body.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("append.rs"), "{text}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("internal error")
    );
}

#[actix_web::test]
async fn generic_constructor_builds_any_status() {
    let error = ApiError::new(
        StatusCode::GONE,
        "Gone",
        "deleted",
        json!({"store": "orders"}),
    );
    let (status, _, body) = answer(error).await;
    assert_eq!(status, 410);
    assert_eq!(
        body,
        json!({"error": "Gone", "message": "deleted", "details": {"store": "orders"}})
    );
}
