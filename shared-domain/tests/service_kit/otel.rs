//! OpenTelemetry export (feature `otel`): the request span reaches an OTLP/HTTP collector as a
//! child of the caller's span, in the caller's trace, and the span id passed on downstream is the
//! exported span's own id, so that a collector links the services' spans into one tree.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, test, web};
use shared_domain::service::telemetry::otel;
use shared_domain::service::{Metrics, RequestContext, TraceContext};
use tracing_subscriber::layer::SubscriberExt;

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// One request the collector received: path and body.
type Export = (String, Vec<u8>);

/// A collector that records each request's path and body and answers 200.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Export>>>);

impl Collector {
    /// Listens on a free port; returns the traces URL.
    fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let received = self.0.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                received.lock().unwrap().push((path, body));
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .unwrap();
            }
        });
        url
    }

    fn received(&self) -> Vec<Export> {
        self.0.lock().unwrap().clone()
    }
}

fn bytes_of(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[actix_web::test]
async fn request_span_is_exported_as_child_of_the_callers_span() {
    // Arrange: an exporter to a local collector, and a handler that answers the traceparent it
    // would send downstream.
    let collector = Collector::default();
    let provider = otel::provider("kit-test-service", &collector.start()).unwrap();
    let subscriber =
        tracing_subscriber::registry().with(otel::layer_for(&provider, "kit-test-service"));
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = test::init_service(
        App::new()
            .wrap(RequestContext::new(Metrics::new("kit-test-service")))
            .route(
                "/orders",
                web::post().to(|trace: TraceContext| async move { trace.to_traceparent() }),
            ),
    )
    .await;

    // Act
    let request = test::TestRequest::post()
        .uri("/orders")
        .insert_header(("traceparent", CALLER))
        .to_request();
    let response = test::call_service(&app, request).await;
    let header = response
        .headers()
        .get("traceparent")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let downstream = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    provider.force_flush().unwrap();

    // Assert: same trace, a new span id, and that span is the one the collector got.
    assert_eq!(header, downstream);
    let sent = TraceContext::from_traceparent(&downstream).unwrap();
    assert_eq!(sent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    let span_id = sent.parent_span_id().unwrap().to_owned();
    assert_ne!(span_id, "00f067aa0ba902b7");
    let exports = collector.received();
    assert_eq!(exports.len(), 1, "one batch expected");
    let (path, body) = &exports[0];
    assert_eq!(path, "/v1/traces");
    assert!(contains(
        body,
        &bytes_of("4bf92f3577b34da6a3ce929d0e0e4736")
    ));
    assert!(contains(body, &bytes_of(&span_id)), "exported span id");
    assert!(
        contains(body, &bytes_of("00f067aa0ba902b7")),
        "parent span id"
    );
    assert!(contains(body, b"kit-test-service"), "service.name");
}

#[actix_web::test]
async fn without_an_exporter_the_ids_are_the_kits_own() {
    let app = test::init_service(
        App::new()
            .wrap(RequestContext::new(Metrics::new("kit-test-service")))
            .route(
                "/orders",
                web::post().to(|trace: TraceContext| async move { trace.to_traceparent() }),
            ),
    )
    .await;
    let request = test::TestRequest::post()
        .uri("/orders")
        .insert_header(("traceparent", CALLER))
        .to_request();
    let downstream =
        String::from_utf8(test::call_and_read_body(&app, request).await.to_vec()).expect("utf-8");
    let sent = TraceContext::from_traceparent(&downstream).unwrap();
    assert_eq!(sent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(sent.parent_span_id(), Some("00f067aa0ba902b7"));
}
