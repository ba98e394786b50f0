//! `run_until_shutdown` with a real server on port 0: readiness turns 503 at the signal,
//! in-flight requests finish, and the grace period bounds the wait.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, web};
use shared_domain::service::{Health, Metrics, Shutdown, common_routes, run_until_shutdown};

/// Starts a server with a `/slow` route taking `slow`; returns its base URL and the task running
/// `run_until_shutdown`.
fn start(
    slow: Duration,
    shutdown: &Shutdown,
    grace: Duration,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let health = Health::new();
    let server = HttpServer::new({
        let health = health.clone();
        move || {
            App::new()
                .route(
                    "/slow",
                    web::get().to(move || async move {
                        tokio::time::sleep(slow).await;
                        "done"
                    }),
                )
                .configure(|cfg| {
                    common_routes(
                        cfg,
                        Metrics::new("t"),
                        health.clone(),
                        utoipa::openapi::OpenApi::default(),
                    )
                })
        }
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .disable_signals()
    .shutdown_timeout(grace.as_secs().max(1))
    .run();
    let task = tokio::spawn(run_until_shutdown(server, shutdown.clone(), health, grace));
    (url, task)
}

#[actix_web::test]
async fn in_flight_request_finishes_after_the_signal() {
    let shutdown = Shutdown::new();
    let (url, server) = start(
        Duration::from_millis(500),
        &shutdown,
        Duration::from_secs(5),
    );
    let client = reqwest::Client::new();
    let in_flight = tokio::spawn(client.get(format!("{url}/slow")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;

    shutdown.trigger();

    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    server.await.unwrap().unwrap();
}

#[actix_web::test]
async fn readiness_is_503_while_draining() {
    let shutdown = Shutdown::new().with_drain_delay(Duration::from_millis(500));
    let (url, server) = start(Duration::ZERO, &shutdown, Duration::from_secs(5));
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let ready = client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    server.await.unwrap().unwrap();
}

#[actix_web::test]
async fn grace_period_bounds_the_wait() {
    let shutdown = Shutdown::new();
    let (url, server) = start(
        Duration::from_secs(30),
        &shutdown,
        Duration::from_millis(500),
    );
    let _stuck = tokio::spawn(reqwest::Client::new().get(format!("{url}/slow")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();

    shutdown.trigger();
    server.await.unwrap().unwrap();

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn token_is_cancelled_on_trigger() {
    let shutdown = Shutdown::new();
    let token = shutdown.token();
    assert!(!token.is_cancelled());
    shutdown.trigger();
    assert!(token.is_cancelled() && shutdown.is_triggered());
}
