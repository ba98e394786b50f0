//! `JsonBody`, `QueryParams` and the actix extractor error handlers answer bad input with 4xx
//! `ApiError` bodies that say what is wrong and where.

use actix_web::{App, test, web};
use serde::Deserialize;
use serde_json::Value;
use shared_domain::service::{Health, JsonBody, JsonLimit, Metrics, QueryParams, common_routes};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct PlaceOrder {
    customer_id: String,
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Item {
    product_id: String,
    quantity: u32,
}

async fn place(order: JsonBody<PlaceOrder>) -> String {
    order.into_inner().customer_id
}

async fn any_json(value: JsonBody<Value>) -> String {
    value.to_string().len().to_string()
}

#[derive(Debug, Deserialize)]
struct Page {
    limit: u32,
}

async fn page(query: QueryParams<Page>) -> String {
    query.limit.to_string()
}

/// Sends `request` to a test app with the kit's routes (and `JsonLimit(limit)` if given);
/// returns the status and the JSON body (`null` if the body is not JSON).
async fn call(limit: Option<usize>, request: test::TestRequest) -> (u16, Value) {
    let mut app = App::new()
        .route("/orders", web::post().to(place))
        .route("/any", web::post().to(any_json))
        .route("/page", web::get().to(page))
        .route(
            "/path/{n}",
            web::get().to(|n: web::Path<u32>| async move { n.to_string() }),
        )
        .configure(|cfg| {
            common_routes(
                cfg,
                Metrics::new("test"),
                Health::new(),
                utoipa::openapi::OpenApi::default(),
            )
        });
    if let Some(limit) = limit {
        app = app.app_data(JsonLimit(limit));
    }
    let service = test::init_service(app).await;
    let response = test::call_service(&service, request.to_request()).await;
    let status = response.status().as_u16();
    let bytes = test::read_body(response).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn post(uri: &str, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> (u16, Value) {
    let mut request = test::TestRequest::post().uri(uri).set_payload(body.into());
    if let Some(content_type) = content_type {
        request = request.insert_header(("content-type", content_type));
    }
    call(None, request).await
}

const JSON: Option<&str> = Some("application/json");
const GOOD: &str = r#"{"customerId":"c1","items":[{"productId":"p1","quantity":2}]}"#;

#[actix_web::test]
async fn good_body_is_parsed() {
    let (status, _) = post("/orders", Some("application/json; charset=utf-8"), GOOD).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn wrong_content_type_is_415() {
    let (status, body) = post("/orders", Some("text/plain"), GOOD).await;
    assert_eq!(status, 415);
    assert_eq!(body["error"], "UnsupportedMediaType");
}

#[actix_web::test]
async fn missing_content_type_is_415() {
    let (status, _) = post("/orders", None, GOOD).await;
    assert_eq!(status, 415);
}

#[actix_web::test]
async fn body_over_the_limit_is_413() {
    let request = test::TestRequest::post()
        .uri("/orders")
        .insert_header(("content-type", "application/json"))
        .set_payload(GOOD);
    let (status, body) = call(Some(32), request).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "PayloadTooLarge");
    assert_eq!(body["details"]["limitBytes"], 32);
}

#[actix_web::test]
async fn default_limit_is_one_mebibyte() {
    let big = format!("\"{}\"", "x".repeat(1024 * 1024));
    let (status, _) = post("/any", JSON, big).await;
    assert_eq!(status, 413);
}

#[actix_web::test]
async fn wrong_type_names_the_field_path() {
    let body = r#"{"customerId":"c1","items":[{"productId":"p1","quantity":"two"}]}"#;
    let (status, body) = post("/orders", JSON, body).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "ValidationError");
    assert_eq!(body["details"]["field"], "items[0].quantity");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("items[0].quantity"),
        "{body}"
    );
}

#[actix_web::test]
async fn missing_field_is_named() {
    let (status, body) = post("/orders", JSON, r#"{"items":[]}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["details"]["field"], "customerId");
    let (_, body) = post(
        "/orders",
        JSON,
        r#"{"customerId":"c","items":[{"quantity":1}]}"#,
    )
    .await;
    assert_eq!(body["details"]["field"], "items[0].productId");
}

#[actix_web::test]
async fn malformed_json_names_line_and_column() {
    let (status, body) = post("/orders", JSON, "{\n  \"customerId\": \"c1\",,\n}").await;
    assert_eq!(status, 400);
    assert_eq!(body["details"]["line"], 2);
    assert!(
        body["message"].as_str().unwrap().contains("line 2"),
        "{body}"
    );
}

#[actix_web::test]
async fn empty_body_is_400() {
    let (status, body) = post("/orders", JSON, "").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "ValidationError");
}

#[actix_web::test]
async fn trailing_garbage_is_400() {
    let (status, _) = post("/orders", JSON, format!("{GOOD} x")).await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn deep_nesting_is_400_not_a_crash() {
    let deep = "[".repeat(10_000);
    let (status, body) = post("/any", JSON, deep.clone()).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("nested too deeply"),
        "{body}"
    );
    let (status, _) = post(
        "/orders",
        JSON,
        format!(r#"{{"customerId":"c","items":{deep}"#),
    )
    .await;
    assert_eq!(status, 400);
    let ignored = format!(r#"{{"customerId":"c","items":[],"extra":{deep}"#);
    let (status, _) = post("/orders", JSON, ignored).await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn bad_query_parameter_is_named() {
    let (status, body) = call(None, test::TestRequest::get().uri("/page?limit=lots")).await;
    assert_eq!(status, 400);
    assert_eq!(body["details"]["field"], "limit");
}

#[actix_web::test]
async fn actix_path_extractor_errors_are_api_errors() {
    let (status, body) = call(None, test::TestRequest::get().uri("/path/abc")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "ValidationError");
}

#[actix_web::test]
async fn unknown_route_is_json_404() {
    let (status, body) = call(None, test::TestRequest::get().uri("/nope/secret-path")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "NotFound");
    assert!(!body.to_string().contains("secret-path"));
}
