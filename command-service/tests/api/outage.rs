//! The event store down, hung, or losing an answer: the command service answers 503 with
//! `Retry-After` within its time-out, never hangs, and once the store is back, retried commands
//! succeed without anything written twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{
    TestApp, place_body, ship_body, spawn_app_with, start_eventstore, status_and_json,
};

const TIMEOUT: Duration = Duration::from_millis(500);

async fn wait_until_ready(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get("/health/ready").await.status() != 200 {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn store_stopped_is_503_in_time_and_after_restart_retries_succeed_once() {
    let mut app = spawn_app_with(|config| config.eventstore.timeout = TIMEOUT).await;
    let order_id = app.place_order().await;
    let ship_path = format!("/orders/{order_id}/ship");
    let ship_key = [("Idempotency-Key", "outage-ship")];
    let place_key = [("Idempotency-Key", "outage-place")];

    app.eventstore.stop().await;

    let started = Instant::now();
    let response = app.post_with(&ship_path, &ship_body(), &ship_key).await;
    let elapsed = started.elapsed();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "Unavailable");
    assert!(elapsed < TIMEOUT * 3, "answered after {elapsed:?}");
    let (status, _) =
        status_and_json(app.post_with("/orders", &place_body(), &place_key).await).await;
    assert_eq!(status, 503);
    assert_eq!(app.get("/health/ready").await.status(), 503);

    app.eventstore.restart().await;
    wait_until_ready(&app).await;

    let (status, shipped) =
        status_and_json(app.post_with(&ship_path, &ship_body(), &ship_key).await).await;
    assert_eq!(status, 200, "{shipped}");
    let (status, placed) =
        status_and_json(app.post_with("/orders", &place_body(), &place_key).await).await;
    assert_eq!(status, 201, "{placed}");
    // A client that is unsure whether its retry got through retries again: same answers.
    let (_, shipped_again) =
        status_and_json(app.post_with(&ship_path, &ship_body(), &ship_key).await).await;
    let (_, placed_again) =
        status_and_json(app.post_with("/orders", &place_body(), &place_key).await).await;
    assert_eq!(shipped_again, shipped);
    assert_eq!(placed_again, placed);

    let types: Vec<String> = app
        .events(&order_id)
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(types, ["order.placed", "order.shipped"]);
    let new_order = placed["orderId"].as_str().unwrap();
    assert_eq!(app.events(new_order).await.len(), 1);
    assert_eq!(app.event_count().await, 3, "nothing written twice");
}

/// A server that accepts connections and never answers.
async fn hung_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

#[tokio::test]
async fn a_hung_store_is_503_within_the_timeout() {
    let port = hung_server().await;
    let app = spawn_app_with(|config| {
        config.eventstore.url = format!("http://127.0.0.1:{port}");
        config.eventstore.timeout = Duration::from_millis(300);
    })
    .await;

    for (path, body) in [
        ("/orders".to_owned(), place_body()),
        ("/orders/order-1/ship".to_owned(), ship_body()),
    ] {
        let started = Instant::now();
        let (status, answer) = status_and_json(app.post(&path, &body).await).await;
        let elapsed = started.elapsed();
        assert_eq!(status, 503, "{path}: {answer}");
        assert!(elapsed < Duration::from_millis(1500), "{path}: {elapsed:?}");
    }
    let started = Instant::now();
    let (status, ready) = status_and_json(app.get("/health/ready").await).await;
    assert_eq!(status, 503, "{ready}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn the_whole_command_is_bounded_by_its_budget() {
    let port = hung_server().await;
    let app = spawn_app_with(|config| {
        config.eventstore.url = format!("http://127.0.0.1:{port}");
        config.eventstore.timeout = Duration::from_secs(30);
        config.command_timeout = Duration::from_millis(300);
    })
    .await;

    let started = Instant::now();
    let (status, body) = status_and_json(app.post("/orders", &place_body()).await).await;

    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("did not complete")
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}

/// A TCP proxy to the event store that, while `lose_appends` is set, passes requests on but
/// drops the answers of appends (`POST`s): the append commits, its answer never arrives.
struct LossyProxy {
    port: u16,
    lose_appends: Arc<AtomicBool>,
}

impl LossyProxy {
    async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let lose_appends = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&lose_appends);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, Arc::clone(&flag)));
            }
        });
        Self { port, lose_appends }
    }
}

async fn relay(client: TcpStream, upstream: u16, lose_appends: Arc<AtomicBool>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mute = Arc::new(AtomicBool::new(false));
    let mute_up = Arc::clone(&mute);
    let up = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = client_read.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            if lose_appends.load(Ordering::SeqCst) && buffer.starts_with(b"POST ") {
                mute_up.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = server_read.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            if !mute.load(Ordering::SeqCst) && client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(up, down);
}

#[tokio::test]
async fn an_append_whose_answer_is_lost_is_not_written_twice() {
    let eventstore = start_eventstore().await;
    let proxy = LossyProxy::start(eventstore.port).await;
    let app = TestApp::start(eventstore, |config| {
        config.eventstore.url = format!("http://127.0.0.1:{}", proxy.port);
        config.eventstore.timeout = TIMEOUT;
    })
    .await;
    let order_id = app.place_order().await;
    let ship_path = format!("/orders/{order_id}/ship");
    let key = [("Idempotency-Key", "lost-answer")];

    proxy.lose_appends.store(true, Ordering::SeqCst);
    let (status, body) = status_and_json(app.post_with(&ship_path, &ship_body(), &key).await).await;
    assert_eq!(status, 503, "the append's answer was lost: {body}");
    proxy.lose_appends.store(false, Ordering::SeqCst);
    let committed = app.events(&order_id).await;
    assert_eq!(committed.len(), 2, "yet the append committed");

    let response = app.post_with(&ship_path, &ship_body(), &key).await;
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    let (status, body) = status_and_json(response).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "shipped");
    assert_eq!(
        body["globalPosition"],
        Value::from(committed[1].global_position)
    );
    assert_eq!(app.events(&order_id).await.len(), 2, "not written twice");
}
