//! `shared_domain::client::EventStoreClient` against the real service.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;
use shared_domain::client::EventStoreClient;
use shared_domain::decider::handle_command_with_decider;
use shared_domain::event::{Event, ExpectedStreamVersion};
use shared_domain::event_store::{AppendOptions, EventStore, StoreError};
use shared_domain::wire::AppendRequest;

use crate::helpers::{STORE, spawn_app, spawn_app_with};

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event::new("test.happened", json!({ "i": i })))
        .collect()
}

fn options(expected: ExpectedStreamVersion) -> AppendOptions {
    AppendOptions {
        expected_stream_version: expected,
        idempotency_key: None,
    }
}

#[tokio::test]
async fn the_client_creates_a_store_once_appends_and_reads() {
    let app = spawn_app().await;
    let client = EventStoreClient::new(&app.address, "client-store").unwrap();

    let created = client
        .create_store_if_missing(Some("by the client"))
        .await
        .unwrap();
    let again = client.create_store_if_missing(None).await.unwrap();
    let appended = client
        .append_to_stream("s", events(2), options(ExpectedStreamVersion::NoStream))
        .await
        .unwrap();
    let read = client.read_stream("s").await.unwrap();
    let all = client.read_all(1, 10, Some("test.*")).await.unwrap();

    assert!(created);
    assert!(!again);
    assert_eq!(appended.current_stream_version, 2);
    assert_eq!(read.events, appended.events);
    assert_eq!(all.events, appended.events);
    assert_eq!(all.next_global_position, 3);
    assert_eq!(client.get_store().await.unwrap().statistics.events, 2);
    client.ping().await.unwrap();
}

#[tokio::test]
async fn a_stale_expected_version_is_a_version_conflict() {
    let app = spawn_app().await;
    let client = EventStoreClient::new(&app.address, STORE).unwrap();
    client
        .append_to_stream("s", events(3), options(ExpectedStreamVersion::Any))
        .await
        .unwrap();

    let error = client
        .append_to_stream("s", events(1), options(ExpectedStreamVersion::Exact(1)))
        .await
        .unwrap_err();

    assert_eq!(
        error,
        StoreError::VersionConflict {
            expected: ExpectedStreamVersion::Exact(1),
            current: 3
        }
    );
}

#[tokio::test]
async fn read_stream_pages_through_long_streams() {
    let app = spawn_app().await;
    let client = EventStoreClient::new(&app.address, STORE).unwrap();
    for _ in 0..3 {
        client
            .append_to_stream("long", events(900), options(ExpectedStreamVersion::Any))
            .await
            .unwrap();
    }

    let read = client.read_stream("long").await.unwrap();

    assert_eq!(read.current_stream_version, 2700);
    let positions: Vec<u64> = read.events.iter().map(|e| e.stream_position).collect();
    assert_eq!(positions, (1..=2700).collect::<Vec<_>>());
}

#[tokio::test]
async fn client_errors_map_to_store_errors() {
    let app = spawn_app_with(|config| config.api_key = Some("key-1".to_owned())).await;
    let unauthenticated = EventStoreClient::new(&app.address, STORE).unwrap();
    let authenticated = unauthenticated
        .clone()
        .with_api_key(Some("key-1".to_owned()));
    let refused = EventStoreClient::new(
        &format!("http://127.0.0.1:{}", shared_domain::testing::free_port()),
        STORE,
    )
    .unwrap();

    let unauthorized = unauthenticated.read_stream("s").await.unwrap_err();
    let missing_store = authenticated
        .for_store("missing")
        .read_stream("s")
        .await
        .unwrap_err();
    let bad_type = authenticated
        .append(
            "s",
            &AppendRequest {
                events: vec![Event::new("bad type", json!({}))],
                ..AppendRequest::default()
            },
        )
        .await
        .unwrap_err();
    let unavailable = refused.read_stream("s").await.unwrap_err();

    assert!(
        matches!(unauthorized, StoreError::Rejected { status: 401, .. }),
        "{unauthorized:?}"
    );
    assert!(
        matches!(missing_store, StoreError::Rejected { status: 404, .. }),
        "{missing_store:?}"
    );
    assert!(
        matches!(bad_type, StoreError::Rejected { status: 400, .. }),
        "{bad_type:?}"
    );
    assert!(
        matches!(unavailable, StoreError::Unavailable(_)),
        "{unavailable:?}"
    );
    authenticated.read_stream("s").await.unwrap();
}

#[tokio::test]
async fn a_slow_store_is_unavailable_after_the_timeout() {
    let (address, _) = fake_server(Duration::from_secs(5)).await;
    let client = EventStoreClient::new(&address, STORE)
        .unwrap()
        .with_timeout(Duration::from_millis(200));

    let error = client.read_stream("s").await.unwrap_err();

    assert!(
        matches!(error, StoreError::Unavailable(ref m) if m.contains("timed out")),
        "{error:?}"
    );
}

#[tokio::test]
async fn per_call_headers_reach_the_store() {
    let (address, seen) = fake_server(Duration::ZERO).await;
    let client = EventStoreClient::new(&address, STORE).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("req-42"));
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );

    client.with_headers(headers).read_stream("s").await.unwrap();
    client.read_stream("s").await.unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].0.as_deref(), Some("req-42"));
    assert_eq!(
        seen[0].1.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
    assert_eq!(
        seen[1],
        (None, None),
        "the original client carries no extra headers"
    );
}

#[tokio::test]
async fn the_decider_loop_runs_on_the_http_client() {
    use shared_domain::orders::{OrderCommand, OrderStatus, OrdersDecider};
    let app = spawn_app().await;
    let client = EventStoreClient::new(&app.address, STORE).unwrap();
    let decider = OrdersDecider::default();
    let place: OrderCommand = serde_json::from_value(json!({"type": "order.place", "data": {
        "orderId": "o-1", "customerId": "c-1",
        "items": [{"productId": "p-1", "quantity": 2, "price": 9.99}],
    }}))
    .unwrap();
    let ship: OrderCommand = serde_json::from_value(json!({"type": "order.ship", "data": {
        "orderId": "o-1", "trackingNumber": "T-1", "carrier": "UPS",
    }}))
    .unwrap();

    handle_command_with_decider(&client, "o-1", &place, &decider)
        .await
        .unwrap();
    let shipped = handle_command_with_decider(&client, "o-1", &ship, &decider)
        .await
        .unwrap();

    assert_eq!(shipped.new_state.status, Some(OrderStatus::Shipped));
    assert_eq!(shipped.next_expected_stream_version, 2);
    let types: Vec<String> = client
        .read_stream("o-1")
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(types, vec!["order.placed", "order.shipped"]);
}

type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// A stand-in store that answers every stream read with an empty stream after `delay`, and
/// records the request id and traceparent it was sent.
async fn fake_server(delay: Duration) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let recorded = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let recorded = recorded.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let recorded = recorded.clone();
            async move {
                let header = |name: &str| {
                    req.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                recorded
                    .lock()
                    .unwrap()
                    .push((header("x-request-id"), header("traceparent")));
                tokio::time::sleep(delay).await;
                HttpResponse::Ok().json(json!({"events": [], "currentStreamVersion": 0}))
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .disable_signals()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), seen)
}
