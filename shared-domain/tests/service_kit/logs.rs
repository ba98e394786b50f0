//! What the request-context middleware logs, captured with the kit's own subscriber writing into
//! a buffer: one line per request with request id, route and status, and no credentials.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, test, web};
use shared_domain::service::auth::require_token;
use shared_domain::service::telemetry::{LogFormat, subscriber};
use shared_domain::service::{ApiError, Metrics, RequestContext};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// A log sink tests can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn protected(req: HttpRequest) -> Result<String, ApiError> {
    tracing::info!("checking the caller");
    require_token(&req, "the-right-token")?;
    Ok("welcome".to_owned())
}

/// Runs one request with `Authorization: Bearer secret-xyz` through the middleware while
/// capturing logs in `format`; returns the captured text.
async fn logs_of_one_request(format: LogFormat) -> String {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber(
        EnvFilter::new("debug"),
        format,
        false,
        captured.clone(),
    ));
    let app = test::init_service(
        App::new()
            .wrap(RequestContext::new(Metrics::new("command-service")))
            .route("/orders/{id}/ship", web::post().to(protected)),
    )
    .await;
    let request = test::TestRequest::post()
        .uri("/orders/o-1/ship?token=in-the-query")
        .insert_header(("x-request-id", "req-log-1"))
        .insert_header(("authorization", "Bearer secret-xyz"))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 401);
    captured.text()
}

#[actix_web::test]
async fn request_is_logged_once_with_request_id_route_and_status() {
    let text = logs_of_one_request(LogFormat::Human).await;
    let completed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("request completed"))
        .collect();
    assert_eq!(completed.len(), 1, "{text}");
    let line = completed[0];
    for expected in [
        "req-log-1",
        "/orders/{id}/ship",
        "status=401",
        "method=POST",
        "latency_ms",
        "command-service",
    ] {
        assert!(line.contains(expected), "{expected:?} missing in {line}");
    }
}

#[actix_web::test]
async fn handler_log_lines_carry_the_request_id() {
    let text = logs_of_one_request(LogFormat::Human).await;
    let line = text
        .lines()
        .find(|l| l.contains("checking the caller"))
        .unwrap();
    assert!(
        line.contains("req-log-1") && line.contains("trace_id="),
        "{line}"
    );
}

#[actix_web::test]
async fn credentials_never_reach_the_logs() {
    for format in [LogFormat::Human, LogFormat::Json] {
        let text = logs_of_one_request(format).await;
        assert!(!text.is_empty());
        assert!(!text.contains("secret-xyz"), "{text}");
        assert!(!text.contains("the-right-token"), "{text}");
        assert!(!text.contains("in-the-query"), "{text}");
    }
}

#[actix_web::test]
async fn json_lines_are_json_with_the_request_fields() {
    let text = logs_of_one_request(LogFormat::Json).await;
    let line = text
        .lines()
        .find(|l| l.contains("request completed"))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(value["status"], 401);
    assert_eq!(value["request_id"], "req-log-1");
    assert_eq!(value["route"], "/orders/{id}/ship");
    assert_eq!(value["span"]["trace_id"].as_str().map(str::len), Some(32));
}

#[actix_web::test]
async fn internal_error_cause_is_logged_without_url_passwords() {
    let captured = Captured::default();
    let sink = subscriber(
        EnvFilter::new("info"),
        LogFormat::Human,
        false,
        captured.clone(),
    );

    tracing::subscriber::with_default(sink, || {
        ApiError::internal("cannot reach postgres://app:hunter2@db:5432/orders: timed out")
    });

    let text = captured.text();
    assert!(text.contains("postgres://app:***@db:5432/orders"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}
