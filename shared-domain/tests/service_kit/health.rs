//! `/health/live` and `/health/ready` through `common_routes`.

use std::time::Duration;

use actix_web::{App, test};
use serde_json::{Value, json};
use shared_domain::service::health::probe_live;
use shared_domain::service::{Health, Metrics, common_routes};

async fn get(health: &Health, uri: &str) -> (u16, Value) {
    let app = App::new().configure(|cfg| {
        common_routes(
            cfg,
            Metrics::new("t"),
            health.clone(),
            utoipa::openapi::OpenApi::default(),
        )
    });
    let service = test::init_service(app).await;
    let response =
        test::call_service(&service, test::TestRequest::get().uri(uri).to_request()).await;
    let status = response.status().as_u16();
    (status, test::read_body_json(response).await)
}

fn failing_health() -> Health {
    Health::new()
        .check("postgres", || async { Ok::<(), String>(()) })
        .check("redis", || async {
            Err::<(), _>("cannot connect to redis://:hunter2@cache:6379: connection refused")
        })
}

#[actix_web::test]
async fn live_is_always_ok() {
    let (status, body) = get(&failing_health(), "/health/live").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));
}

#[actix_web::test]
async fn ready_when_all_checks_pass() {
    let health = Health::new().check("postgres", || async { Ok::<(), String>(()) });
    let (status, body) = get(&health, "/health/ready").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"postgres": "ok"}})
    );
}

#[actix_web::test]
async fn failing_check_gives_503_per_check_without_secrets() {
    let (status, body) = get(&failing_health(), "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["postgres"], "ok");
    let redis = body["checks"]["redis"].as_str().unwrap();
    assert!(redis.starts_with("error: "), "{redis}");
    assert!(!body.to_string().contains("hunter2"), "{body}");
}

#[actix_web::test]
async fn slow_check_times_out() {
    let health =
        Health::new().check_with_timeout("postgres", Duration::from_millis(50), || async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<(), String>(())
        });
    let started = std::time::Instant::now();
    let (status, body) = get(&health, "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["postgres"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[actix_web::test]
async fn shutting_down_makes_ready_503_at_once() {
    let health = Health::new().check("postgres", || async { Ok::<(), String>(()) });
    let clone = health.clone();
    clone.set_shutting_down();
    let (status, body) = get(&health, "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["reason"], "shutting down");
}

#[actix_web::test]
async fn probe_live_answers_ok_for_a_live_server_and_err_otherwise() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(|| {
        App::new().configure(|cfg| {
            common_routes(
                cfg,
                Metrics::new("t"),
                Health::new(),
                utoipa::openapi::OpenApi::default(),
            )
        })
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .disable_signals()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    assert_eq!(probe_live(port).await, Ok(()));
    handle.stop(false).await;
    assert!(probe_live(port).await.is_err());
}
