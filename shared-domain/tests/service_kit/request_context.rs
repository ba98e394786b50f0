//! The `RequestContext` middleware: request ids, trace context, metrics by route pattern.

use actix_web::{App, HttpResponse, test, web};
use serde_json::Value;
use shared_domain::service::trace_context::is_valid_request_id;
use shared_domain::service::{
    ApiError, Health, Metrics, RequestContext, TraceContext, common_routes,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// Answers with the headers this hop would send to the next service.
async fn outbound(trace: TraceContext) -> HttpResponse {
    let headers: Vec<(String, String)> = trace
        .outbound_headers()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    HttpResponse::Ok().json(headers)
}

async fn fail() -> Result<String, ApiError> {
    Err(ApiError::internal("disk on fire"))
}

/// Sends `request` through the middleware to a small app; returns response headers and body.
async fn call(
    metrics: &Metrics,
    request: test::TestRequest,
) -> (u16, actix_web::http::header::HeaderMap, Value) {
    let app = App::new()
        .wrap(RequestContext::new(metrics.clone()))
        .route("/orders/{id}", web::get().to(|| async { "order" }))
        .route("/outbound", web::get().to(outbound))
        .route("/fail", web::get().to(fail))
        .configure(|cfg| {
            common_routes(
                cfg,
                metrics.clone(),
                Health::new(),
                utoipa::openapi::OpenApi::default(),
            )
        });
    let service = test::init_service(app).await;
    let response = test::call_service(&service, request.to_request()).await;
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let bytes = test::read_body(response).await;
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn header(headers: &actix_web::http::header::HeaderMap, name: &str) -> String {
    headers.get(name).unwrap().to_str().unwrap().to_owned()
}

#[actix_web::test]
async fn given_request_id_is_echoed() {
    let request = test::TestRequest::get()
        .uri("/orders/1")
        .insert_header(("x-request-id", "abc-123"));
    let (_, headers, _) = call(&Metrics::new("t"), request).await;
    assert_eq!(header(&headers, "x-request-id"), "abc-123");
}

#[actix_web::test]
async fn invalid_request_id_is_replaced() {
    let request = test::TestRequest::get()
        .uri("/orders/1")
        .insert_header(("x-request-id", "bad id<script>"));
    let (_, headers, _) = call(&Metrics::new("t"), request).await;
    let id = header(&headers, "x-request-id");
    assert_ne!(id, "bad id<script>");
    assert!(is_valid_request_id(&id));
}

#[actix_web::test]
async fn absent_request_id_is_created() {
    let (_, headers, _) = call(
        &Metrics::new("t"),
        test::TestRequest::get().uri("/orders/1"),
    )
    .await;
    assert!(is_valid_request_id(&header(&headers, "x-request-id")));
}

#[actix_web::test]
async fn traceparent_keeps_trace_id_with_a_new_span_id() {
    let incoming = format!("00-{TRACE_ID}-{PARENT}-01");
    let request = test::TestRequest::get()
        .uri("/orders/1")
        .insert_header(("traceparent", incoming));
    let (_, headers, _) = call(&Metrics::new("t"), request).await;
    let answered = TraceContext::from_traceparent(&header(&headers, "traceparent")).unwrap();
    assert_eq!(answered.trace_id(), TRACE_ID);
    assert_ne!(
        answered.parent_span_id(),
        Some(PARENT),
        "this hop needs its own span id"
    );
}

#[actix_web::test]
async fn absent_traceparent_starts_a_trace() {
    let (_, headers, _) = call(
        &Metrics::new("t"),
        test::TestRequest::get().uri("/orders/1"),
    )
    .await;
    assert!(TraceContext::from_traceparent(&header(&headers, "traceparent")).is_some());
}

#[actix_web::test]
async fn outbound_headers_carry_request_id_and_trace_id() {
    let request = test::TestRequest::get()
        .uri("/outbound")
        .insert_header(("x-request-id", "req-7"))
        .insert_header(("traceparent", format!("00-{TRACE_ID}-{PARENT}-01")));
    let (_, headers, body) = call(&Metrics::new("t"), request).await;
    assert_eq!(body[0][0], "x-request-id");
    assert_eq!(body[0][1], "req-7");
    let sent = TraceContext::from_traceparent(body[1][1].as_str().unwrap()).unwrap();
    assert_eq!(sent.trace_id(), TRACE_ID);
    // The next hop's parent is this hop's span, the one the answer's traceparent names too.
    assert_eq!(
        header(&headers, "traceparent"),
        body[1][1].as_str().unwrap()
    );
}

#[actix_web::test]
async fn metrics_use_the_route_pattern_not_the_path() {
    let metrics = Metrics::new("t");
    call(&metrics, test::TestRequest::get().uri("/orders/42")).await;
    call(&metrics, test::TestRequest::get().uri("/no/such/thing")).await;
    let (status, _, _) = call(&metrics, test::TestRequest::get().uri("/metrics")).await;
    assert_eq!(status, 200);
    let text = metrics.render();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/orders/{id}",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        !text.contains("/orders/42") && !text.contains("/no/such"),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[actix_web::test]
async fn metrics_endpoint_serves_prometheus_text() {
    let metrics = Metrics::new("t");
    call(&metrics, test::TestRequest::get().uri("/orders/1")).await;
    let app = test::init_service(App::new().configure(|cfg| {
        common_routes(
            cfg,
            metrics.clone(),
            Health::new(),
            utoipa::openapi::OpenApi::default(),
        )
    }))
    .await;
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert!(header(response.headers(), "content-type").starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
}

#[actix_web::test]
async fn internal_error_names_the_request_id() {
    let request = test::TestRequest::get()
        .uri("/fail")
        .insert_header(("x-request-id", "req-500"));
    let (status, _, body) = call(&Metrics::new("t"), request).await;
    assert_eq!(status, 500);
    assert!(
        body["message"].as_str().unwrap().contains("req-500"),
        "{body}"
    );
    assert!(!body.to_string().contains("disk on fire"), "{body}");
}

#[actix_web::test]
async fn openapi_json_lists_the_kit_routes() {
    let (status, _, body) = call(
        &Metrics::new("t"),
        test::TestRequest::get().uri("/openapi.json"),
    )
    .await;
    assert_eq!(status, 200);
    for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json"] {
        assert!(
            body["paths"][path]["get"].is_object(),
            "{path} missing in {body}"
        );
    }
    assert!(
        body["components"]["schemas"]["ErrorBody"].is_object(),
        "{body}"
    );
}
