//! `spawn_app`: the real service on port 0 over a fresh Redis namespace, with the real projector
//! writing into it; and a throwaway `redis-server` for tests that stop Redis.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use projection_service::projector::Projector;
use query_service::{Application, Config};
use redis::aio::ConnectionManager;
use reqwest::header::LINK;
use serde_json::Value;
use shared_domain::event::ReadEvent;
use shared_domain::read_model::ReadModelKeys;
use shared_domain::service::Shutdown;
use shared_domain::testing::free_port;
use shared_domain::testing::redis::{delete_namespace, fresh_namespace, redis_url};
use tokio::task::JoinHandle;

/// A running query service and the projector feeding its namespace.
pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub redis_url: String,
    pub namespace: String,
    pub keys: ReadModelKeys,
    pub projector: Projector,
    shutdown: Shutdown,
    server: JoinHandle<std::io::Result<()>>,
}

/// The settings tests start from: the shared test Redis, a fresh namespace, port 0.
pub fn test_config(redis_url: &str) -> Config {
    let mut config = Config::new(redis_url, fresh_namespace());
    config.host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    config.port = 0;
    config.http_workers = Some(2);
    config.shutdown.grace = Duration::from_secs(2);
    // Generous under a loaded CI machine; the tests about time-outs set their own.
    config.redis_timeout = Duration::from_secs(5);
    config
}

/// The service over the shared test Redis.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config(&redis_url())).await
}

/// The service with `config` (its namespace and Redis are the projector's too).
pub async fn spawn_app_with(config: Config) -> TestApp {
    let (redis_url, namespace) = (config.redis_url.clone(), config.namespace.clone());
    let app = Application::build(config).expect("the service builds");
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let keys = ReadModelKeys::new(&namespace);
    let client = redis::Client::open(redis_url.as_str()).expect("a Redis URL");
    let connection = ConnectionManager::new_lazy_with_config(client, Default::default())
        .expect("a lazy connection");
    TestApp {
        url,
        http: reqwest::Client::new(),
        projector: Projector::new(connection, keys.clone()),
        redis_url,
        namespace,
        keys,
        shutdown,
        server,
    }
}

impl TestApp {
    /// Projects `events` with the real projection code (retrying a batch a few times, as the
    /// event store would: the projector's connection may need to notice a Redis restart first;
    /// applying again is safe, each event has an exactly-once effect).
    pub async fn project(&self, events: &[ReadEvent]) {
        for batch in events.chunks(100) {
            let mut attempt = 1;
            while let Err(error) = self.projector.apply(batch).await {
                assert!(attempt < 5, "the projector failed {attempt} times: {error}");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// `GET {url}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the service answers")
    }

    /// `GET` a list page: the order ids and the path of the next page (from `Link`).
    pub async fn page(&self, path: &str) -> (Vec<Value>, Option<String>) {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        let next = response
            .headers()
            .get(LINK)
            .map(|v| next_path(v.to_str().expect("ASCII Link")));
        let body: Vec<Value> = response.json().await.expect("a JSON array");
        (body, next)
    }

    /// Follows `Link: rel="next"` from `path` to the end; the order ids in the order seen.
    pub async fn walk(&self, path: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(path) = next {
            let (page, link) = self.page(&path).await;
            ids.extend(page.iter().map(order_id));
            next = link;
        }
        ids
    }

    /// Waits until `GET /health/ready` answers 200 (the first pub/sub subscription is up).
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let ready = self
                .http
                .get(format!("{}/health/ready", self.url))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the service did not become ready");
    }

    /// Waits until the checkpoint subscription is up (`/metrics` says so), so that a test can
    /// tell a release by pub/sub from one by the safety re-read.
    pub async fn wait_subscribed(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let metrics = self.get("/metrics").await.text().await.unwrap_or_default();
            if metrics.contains("query_checkpoint_subscription_up 1") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the checkpoint subscription did not come up");
    }

    /// Stops the service and deletes the namespace.
    pub async fn stop(self) {
        self.shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        let _ = delete_namespace(&self.redis_url, &self.namespace).await;
    }
}

/// The `orderId` of a summary.
pub fn order_id(summary: &Value) -> String {
    summary["orderId"].as_str().expect("orderId").to_owned()
}

/// The target of `<target>; rel="next"`.
pub fn next_path(link: &str) -> String {
    let start = link.find('<').expect("<") + 1;
    let end = link.find('>').expect(">");
    assert!(link[end..].contains("rel=\"next\""), "{link}");
    link[start..end].to_owned()
}

/// A `redis-server` of the test's own on a free port, killed on drop. For tests that stop or
/// freeze Redis: never the machine's shared server.
pub struct ThrowawayRedis {
    pub port: u16,
    child: Option<Child>,
}

impl ThrowawayRedis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port; waits until it accepts connections.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--bind", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`STOP` freezes it, `CONT` thaws it) to this server only, by its pid.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen server would ignore nothing, but be sure it can die.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
    }
}
