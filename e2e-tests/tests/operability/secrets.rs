//! Secrets set in the configuration — the event store's API key, the projection's bearer and
//! admin tokens, the webhook signing secret, passwords in `DATABASE_URL` and `REDIS_URL` — appear
//! in no log line, no answer body and no start-up error, across a run that also has failures:
//! wrong and missing credentials, bad settings, a dependency down.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use shared_domain::service::config::{Vars, load_all};
use shared_domain::testing::free_port;
use tokio::process::{Child, Command};

use crate::in_process::{InProcessStack, Options, Secrets};
use crate::logs::logs;

/// A Redis of this test's own that needs a password (the shared one has none).
struct PasswordRedis {
    port: u16,
    child: Child,
}

impl PasswordRedis {
    async fn start(password: &str) -> PasswordRedis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--requirepass",
                password,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return PasswordRedis { port, child };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the password-protected Redis did not start");
    }

    fn url(&self, password: &str) -> String {
        format!("redis://:{password}@127.0.0.1:{}", self.port)
    }

    async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Everything the run showed anyone: answer bodies and start-up error messages.
#[derive(Default)]
struct Shown(Vec<(String, String)>);

impl Shown {
    /// Sends `request`, keeps its body, returns its status.
    async fn send(&mut self, what: &str, request: reqwest::RequestBuilder) -> u16 {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                self.0.push((format!("{what} → {status}"), body));
                status
            }
            Err(error) => {
                self.0
                    .push((format!("{what} → transport error"), error.to_string()));
                0
            }
        }
    }

    fn note(&mut self, what: &str, text: String) {
        self.0.push((what.to_owned(), text));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_log_line_and_no_answer() {
    // Arrange: every secret set, Redis behind a password.
    let secrets = Secrets::fresh();
    let redis_password = format!("redis-pass-{}", uuid::Uuid::new_v4().simple());
    let wrong_key = format!("wrong-key-{}", uuid::Uuid::new_v4().simple());
    let mut redis = PasswordRedis::start(&redis_password).await;
    let stack = InProcessStack::start(Options {
        secrets: secrets.clone(),
        redis_url: redis.url(&redis_password),
        probe_url: None,
    })
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut shown = Shown::default();
    let key = secrets.api_key.as_str();

    // Act 1: the happy path, read back through the projection.
    let placed = http
        .post(format!("{}/orders", stack.command))
        .json(&json!({"customerId": "c-secret",
                      "items": [{"productId": "p", "quantity": 1, "price": 3}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let placed: serde_json::Value = placed.json().await.unwrap();
    let (order, position) = (
        placed["orderId"].as_str().unwrap().to_owned(),
        placed["globalPosition"].as_u64().unwrap(),
    );
    let read = shown
        .send(
            "read own write",
            http.get(format!(
                "{}/orders/{order}?minGlobalPosition={position}&waitMs=10000",
                stack.query
            )),
        )
        .await;
    assert_eq!(read, 200, "the signed, authorised delivery was applied");
    let base = &stack.eventstore;
    for (what, request) in [
        (
            "subscription shown",
            http.get(format!(
                "{base}/api/event-stores/orders/subscriptions/order-summary-projection"
            ))
            .header("x-api-key", key),
        ),
        (
            "projection status",
            http.get(format!(
                "{}/api/projections/orders/status",
                stack.projection
            )),
        ),
        (
            "rebuild with the admin token",
            http.post(format!(
                "{}/api/projections/orders/rebuild",
                stack.projection
            ))
            .bearer_auth(&secrets.admin_token),
        ),
    ] {
        let status = shown.send(what, request).await;
        assert!(status < 300, "{what}: {status}");
    }

    // Act 2: wrong and missing credentials.
    let delivery = json!({"events": []});
    let hook = format!("{}/api/projections/orders/events", stack.projection);
    for (what, request, expected) in [
        (
            "store, wrong key",
            http.get(format!("{base}/api/event-stores"))
                .header("x-api-key", &wrong_key),
            401,
        ),
        (
            "store, no key",
            http.get(format!("{base}/api/event-stores")),
            401,
        ),
        (
            "webhook, wrong token",
            http.post(&hook).bearer_auth(&wrong_key).json(&delivery),
            401,
        ),
        (
            "webhook, right token, no signature",
            http.post(&hook)
                .bearer_auth(&secrets.projection_token)
                .json(&delivery),
            401,
        ),
        (
            "rebuild, wrong admin token",
            http.post(format!(
                "{}/api/projections/orders/rebuild",
                stack.projection
            ))
            .bearer_auth(&wrong_key),
            401,
        ),
    ] {
        assert_eq!(shown.send(what, request).await, expected, "{what}");
    }
    // A command service holding a wrong key, and one whose store is down.
    for (what, store_url, api_key) in [
        (
            "command, wrong store key",
            stack.eventstore.clone(),
            wrong_key.clone(),
        ),
        (
            "command, store down",
            format!("http://127.0.0.1:{}", free_port()),
            secrets.api_key.clone(),
        ),
    ] {
        let config = command_service::Config::from_vars(&Vars::from_pairs([
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("EVENTSTORE_URL", store_url.as_str()),
            ("EVENTSTORE_API_KEY", api_key.as_str()),
            ("EVENTSTORE_TIMEOUT_MS", "1000"),
        ]))
        .unwrap();
        let app = command_service::Application::build(config).unwrap();
        let url = format!("http://127.0.0.1:{}", app.port());
        let shutdown = shared_domain::service::Shutdown::new();
        let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        crate::in_process::wait_live(&url).await;
        let status = shown
            .send(
                what,
                http.post(format!("{url}/orders")).json(
                    &json!({"customerId": "c", "items": [{"productId": "p", "quantity": 1, "price": 1}]}),
                ),
            )
            .await;
        assert!(status >= 500, "{what}: {status}");
        shown
            .send(what, http.get(format!("{url}/health/ready")))
            .await;
        shutdown.trigger();
        let _ = server.await;
    }

    // Act 3: bad settings, each carrying a secret, as `main` would report them.
    let db_url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/nowhere",
        secrets.db_password,
        free_port()
    );
    let bad_port = format!(
        "postgres://postgres:{}@127.0.0.1:port/x",
        secrets.db_password
    );
    let keyword_form = format!(
        "host=127.0.0.1 port={} user=postgres password={} dbname=x",
        free_port(),
        secrets.db_password
    );
    for url in [&db_url, &bad_port, &keyword_form] {
        let vars = Vars::from_pairs([("DATABASE_URL", url.as_str()), ("PORT", "0")]);
        let config = load_all(&vars, eventstore_service::Config::from_vars).unwrap();
        match eventstore_service::Application::build(config).await {
            Ok(_) => panic!("started on {url}"),
            Err(error) => shown.note("event store start-up", error.to_string()),
        }
    }
    let bad_redis = format!("redis://:{redis_password}@127.0.0.1:port");
    let bad_store = format!("http://user:{}@store:port", secrets.api_key);
    let errors = load_all(
        &Vars::from_pairs([
            ("PORT", "eighty"),
            ("PROJECTION_AUTH_TOKEN", secrets.projection_token.as_str()),
            ("PROJECTION_WEBHOOK_SECRET", "whsec_!!not-base64!!"),
            ("PROJECTION_ADMIN_TOKEN", secrets.admin_token.as_str()),
            ("REDIS_TIMEOUT_MS", "0"),
        ]),
        projection_service::Config::from_vars,
    )
    .unwrap_err();
    assert!(errors.0.len() >= 3, "{errors}");
    shown.note("projection settings", errors.to_string());
    for (what, vars) in [
        (
            "projection start-up, bad REDIS_URL",
            vec![("REDIS_URL", bad_redis.as_str())],
        ),
        (
            "projection start-up, bad EVENTSTORE_URL",
            vec![("EVENTSTORE_URL", bad_store.as_str())],
        ),
    ] {
        let mut vars = vars;
        vars.extend([
            ("PORT", "0"),
            ("PROJECTION_AUTH_TOKEN", secrets.projection_token.as_str()),
        ]);
        let config = projection_service::Config::from_vars(&Vars::from_pairs(vars)).unwrap();
        let error = projection_service::Application::build(config).unwrap_err();
        shown.note(what, error.to_string());
    }
    let config = query_service::Config::from_vars(&Vars::from_pairs([
        ("PORT", "0"),
        ("REDIS_URL", bad_redis.as_str()),
    ]))
    .unwrap();
    let error = query_service::Application::build(config).unwrap_err();
    shown.note("query start-up, bad REDIS_URL", error.to_string());
    let error = command_service::Config::from_vars(&Vars::from_pairs([(
        "EVENTSTORE_URL",
        bad_store.as_str(),
    )]))
    .unwrap_err();
    shown.note("command settings", error.to_string());

    // Act 4: Redis goes down under the projection and the query service.
    redis.kill().await;
    let placed = shown
        .send(
            "command while Redis is down",
            http.post(format!("{}/orders", stack.command)).json(
                &json!({"customerId": "c", "items": [{"productId": "p", "quantity": 1, "price": 1}]}),
            ),
        )
        .await;
    assert_eq!(placed, 201, "the write side does not need Redis");
    // The query service's summary cache holds the order until it notices that its tracking
    // connection is gone (at once for a killed server); from then on reads are 503.
    let noticed = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = http
            .get(format!("{}/metrics", stack.query))
            .send()
            .await
            .expect("query metrics");
        if metrics
            .text()
            .await
            .unwrap_or_default()
            .contains("query_cache_up 0")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < noticed,
            "the query cache did not notice that Redis is gone"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (what, url) in [
        (
            "query while Redis is down",
            format!("{}/orders/{order}", stack.query),
        ),
        (
            "query ready while Redis is down",
            format!("{}/health/ready", stack.query),
        ),
        (
            "projection ready while Redis is down",
            format!("{}/health/ready", stack.projection),
        ),
        (
            "projection status while Redis is down",
            format!("{}/api/projections/orders/status", stack.projection),
        ),
    ] {
        assert_eq!(shown.send(what, http.get(url)).await, 503, "{what}");
    }
    // Let the store retry the delivery a few times (each failure is logged).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stack.stop().await;

    // Assert: no secret anywhere.
    let mut needles = secrets.needles();
    needles.extend([redis_password.clone(), wrong_key.clone()]);
    let log = logs().text();
    assert!(
        log.contains("redis://:***@127.0.0.1"),
        "the Redis URL was never logged (redacted): the run did not exercise what it should"
    );
    for needle in &needles {
        if let Some(line) = log.lines().find(|line| line.contains(needle.as_str())) {
            panic!("a secret in a log line: {line}");
        }
        for (what, text) in &shown.0 {
            assert!(
                !text.contains(needle.as_str()),
                "a secret shown in {what}: {text}"
            );
        }
    }
}
