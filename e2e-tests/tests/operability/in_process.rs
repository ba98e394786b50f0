//! The four services in this test process (their libraries' `Application::build`), configured
//! through their own `Config::from_vars` from environment-style variables, so that what a test
//! sets is what an operator would set. Their log lines all go to one captured buffer
//! ([`logs`](crate::logs::logs)).

use std::path::PathBuf;
use std::time::Duration;

use shared_domain::service::Shutdown;
use shared_domain::service::config::Vars;
use shared_domain::testing::postgres::{TestDatabase, fresh_database};
use shared_domain::testing::redis::{delete_namespace, fresh_namespace};
use tokio::task::JoinHandle;

use crate::logs::logs;

/// The event store holding the orders.
pub const STORE: &str = "orders";

/// The secrets a stack runs with, fresh per stack so that a test can look for them anywhere.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub api_key: String,
    pub projection_token: String,
    pub admin_token: String,
    /// `whsec_<base64>`: the subscription signs with it, the projection checks with it.
    pub webhook_secret: String,
    /// Put into `DATABASE_URL` (PostgreSQL's trust authentication ignores it).
    pub db_password: String,
}

impl Secrets {
    pub fn fresh() -> Self {
        let token = |prefix: &str| format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
        let key: [u8; 24] = rand::random();
        Self {
            api_key: token("es-key"),
            projection_token: token("proj-token"),
            admin_token: token("admin-token"),
            webhook_secret: format!(
                "whsec_{}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key)
            ),
            db_password: token("pg-pass"),
        }
    }

    /// The strings that must never be shown: each secret, and the key inside the `whsec_`.
    pub fn needles(&self) -> Vec<String> {
        vec![
            self.api_key.clone(),
            self.projection_token.clone(),
            self.admin_token.clone(),
            self.webhook_secret.clone(),
            self.webhook_secret.trim_start_matches("whsec_").to_owned(),
            self.db_password.clone(),
        ]
    }
}

/// `url` with `password` in its user info (`postgres://user@host/db` → `postgres://user:pw@…`);
/// a URL that already has one keeps it, and that one is returned.
pub fn with_password(url: &str, password: &str) -> (String, String) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_owned(), password.to_owned());
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((_, existing)) => (url.to_owned(), existing.to_owned()),
                None => (
                    format!(
                        "{}{userinfo}:{password}{}",
                        &url[..scheme_end + 3],
                        &rest[at..]
                    ),
                    password.to_owned(),
                ),
            }
        }
        None => (
            format!("{}:{password}@{rest}", &url[..scheme_end + 3]),
            password.to_owned(),
        ),
    }
}

/// A migrated database of the event store's schema.
pub async fn store_database() -> TestDatabase {
    let template = format!(
        "eventstore_{}",
        eventstore_service::db::migrations_fingerprint()
    );
    fresh_database(&template, |url| async move {
        eventstore_service::db::migrate(&url)
            .await
            .map_err(Into::into)
    })
    .await
}

/// How to start a stack.
pub struct Options {
    pub secrets: Secrets,
    /// The read models' Redis (may carry a password).
    pub redis_url: String,
    /// A second subscription (all order events) delivering to this URL.
    pub probe_url: Option<String>,
}

type Server = (Shutdown, JoinHandle<std::io::Result<()>>);

/// The four services, running.
pub struct InProcessStack {
    pub command: String,
    pub eventstore: String,
    pub projection: String,
    pub query: String,
    servers: Vec<Server>,
    redis_url: String,
    namespace: String,
    config_file: PathBuf,
    _database: TestDatabase,
}

/// A subscriptions config file: the walkthrough's projection (signed, bearer token, quick
/// retries) and optionally a probe.
fn subscriptions_toml(projection: &str, secrets: &Secrets, probe: Option<&str>) -> String {
    let mut text = format!(
        r#"
[[eventStores]]
name = "{STORE}"
description = "Order management system"

[[eventStores.subscriptions]]
id = "order-summary-projection"
eventFilter = ["order.placed", "order.shipped", "order.delivered", "order.cancelled"]
subscriberType = "webhook"
initialPosition = "earliest"
webhook.url = "{projection}/api/projections/orders/events"
webhook.headers = {{ Authorization = "Bearer {token}" }}
webhook.secret = "{secret}"
webhook.timeoutMs = 5000
webhook.retryPolicy = {{ maxAttempts = 100, strategy = "fixed", initialDelayMs = 100 }}
"#,
        token = secrets.projection_token,
        secret = secrets.webhook_secret,
    );
    if let Some(probe) = probe {
        text.push_str(&format!(
            r#"
[[eventStores.subscriptions]]
id = "trace-probe"
eventFilter = "order.*"
subscriberType = "webhook"
initialPosition = "earliest"
webhook.url = "{probe}"
webhook.timeoutMs = 5000
webhook.retryPolicy = {{ maxAttempts = 100, strategy = "fixed", initialDelayMs = 100 }}
"#
        ));
    }
    text
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn spawn_server<F>(start: F) -> Server
where
    F: FnOnce(Shutdown) -> JoinHandle<std::io::Result<()>>,
{
    let shutdown = Shutdown::new();
    let handle = start(shutdown.clone());
    (shutdown, handle)
}

impl InProcessStack {
    pub async fn start(options: Options) -> InProcessStack {
        logs();
        let Options {
            secrets,
            redis_url,
            probe_url,
        } = options;
        let namespace = fresh_namespace();
        let common = [
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("SHUTDOWN_GRACE_SECONDS", "5"),
        ];

        let query_vars = Vars::from_pairs(pairs(&common).into_iter().chain(pairs(&[
            ("HTTP_WORKERS", "1"),
            ("REDIS_URL", &redis_url),
            ("READ_MODEL_NAMESPACE", &namespace),
        ])));
        let query_app = query_service::Application::build(
            query_service::Config::from_vars(&query_vars).unwrap(),
        )
        .unwrap();
        let query = format!("http://127.0.0.1:{}", query_app.port());
        let query_server = spawn_server(|s| tokio::spawn(query_app.run_until_stopped(s)));

        // The projection needs the store's URL for rebuilds, and the store the projection's
        // for its subscription: bind the store's port first.
        let store_port = shared_domain::testing::free_port();
        let eventstore = format!("http://127.0.0.1:{store_port}");
        let projection_vars = Vars::from_pairs(pairs(&common).into_iter().chain(pairs(&[
            ("HTTP_WORKERS", "1"),
            ("REDIS_URL", &redis_url),
            ("READ_MODEL_NAMESPACE", &namespace),
            ("PROJECTION_AUTH_TOKEN", &secrets.projection_token),
            ("PROJECTION_WEBHOOK_SECRET", &secrets.webhook_secret),
            ("PROJECTION_ADMIN_TOKEN", &secrets.admin_token),
            ("EVENTSTORE_URL", &eventstore),
            ("EVENTSTORE_API_KEY", &secrets.api_key),
        ])));
        let projection_app = projection_service::Application::build(
            projection_service::Config::from_vars(&projection_vars).unwrap(),
        )
        .unwrap();
        let projection = format!("http://127.0.0.1:{}", projection_app.port());
        let projection_server = spawn_server(|s| tokio::spawn(projection_app.run_until_stopped(s)));

        let database = store_database().await;
        let (database_url, _) = with_password(&database.url, &secrets.db_password);
        let config_file = std::env::temp_dir().join(format!("operability-{namespace}.toml"));
        std::fs::write(
            &config_file,
            subscriptions_toml(&projection, &secrets, probe_url.as_deref()),
        )
        .unwrap();
        let store_port_text = store_port.to_string();
        let config_path = config_file.display().to_string();
        let mut store_vars = pairs(&common);
        store_vars.retain(|(k, _)| k != "PORT");
        store_vars.extend(pairs(&[
            ("PORT", &store_port_text),
            ("EVENTSTORE_HTTP_WORKERS", "1"),
            ("DATABASE_URL", &database_url),
            ("EVENTSTORE_API_KEY", &secrets.api_key),
            ("EVENTSTORE_MIGRATE_ON_START", "false"),
            ("EVENTSTORE_CONFIG", &config_path),
        ]));
        let store_config =
            eventstore_service::Config::from_vars(&Vars::from_pairs(store_vars)).unwrap();
        let store_app = eventstore_service::Application::build(store_config)
            .await
            .unwrap();
        let store_server = spawn_server(|s| tokio::spawn(store_app.run_until_stopped(s)));

        let command_vars = Vars::from_pairs(pairs(&common).into_iter().chain(pairs(&[
            ("COMMAND_HTTP_WORKERS", "1"),
            ("EVENTSTORE_URL", &eventstore),
            ("EVENTSTORE_API_KEY", &secrets.api_key),
        ])));
        let command_app = command_service::Application::build(
            command_service::Config::from_vars(&command_vars).unwrap(),
        )
        .unwrap();
        let command = format!("http://127.0.0.1:{}", command_app.port());
        let command_server = spawn_server(|s| tokio::spawn(command_app.run_until_stopped(s)));

        let stack = InProcessStack {
            command,
            eventstore,
            projection,
            query,
            servers: vec![
                command_server,
                store_server,
                projection_server,
                query_server,
            ],
            redis_url,
            namespace,
            config_file,
            _database: database,
        };
        for url in [
            &stack.eventstore,
            &stack.command,
            &stack.projection,
            &stack.query,
        ] {
            wait_ready(url).await;
        }
        stack
    }

    /// Stops the services (in reverse dependency order) and deletes the namespace.
    pub async fn stop(self) {
        for (shutdown, handle) in self.servers {
            shutdown.trigger();
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        let _ = delete_namespace(&self.redis_url, &self.namespace).await;
        let _ = std::fs::remove_file(&self.config_file);
    }
}

/// Polls `GET url/health/ready` until 200 (at most 30 s).
pub async fn wait_ready(url: &str) {
    wait_for(url, "/health/ready").await;
}

/// Polls `GET url/health/live` until 200 (at most 30 s): listening, whatever its dependencies.
pub async fn wait_live(url: &str) {
    wait_for(url, "/health/live").await;
}

async fn wait_for(url: &str, path: &str) {
    let http = reqwest::Client::new();
    for _ in 0..600 {
        let ready = http
            .get(format!("{url}{path}"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url}{path} not 200 after 30 s");
}

/// Polls `check` every 50 ms until it returns `Some`, at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
