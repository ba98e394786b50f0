//! The whole stack as real processes: [`Stack::start`] builds (or finds) the four binaries, gives
//! the stack a fresh PostgreSQL database and a fresh Redis namespace, starts the services on free
//! ports in dependency order and waits until each answers `/health/ready`. Dropping the stack
//! kills the processes and deletes its Redis keys; when the test failed, it prints their logs.
//!
//! [`Stack::launch`] is the same on servers and settings the caller chose (the soak test's own
//! PostgreSQL and Redis), and a running stack can stop, restart and reconfigure each service
//! ([`Stack::stop`], [`Stack::restart`]) on the port it had, so the webhook URL stays valid.
//!
//! Binaries: `E2E_BIN_DIR` when set (e.g. `target/release`), else `cargo build --bins` of the four
//! packages with the test's own profile, once per test process (a no-op when up to date).

mod binaries;
mod process;
mod requests;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use shared_domain::testing::{free_ports, postgres, redis};
use tokio::process::Child;

pub use binaries::{binaries, build_binaries, workspace_root};

/// The packages whose binaries make up the stack.
pub const SERVICES: [&str; 4] = [
    "eventstore-service",
    "command-service",
    "projection-service",
    "query-service",
];

/// The development secrets the stack runs with (those of docker-compose.yml).
pub const API_KEY: &str = "e2e-api-key";
/// The projection's bearer token, as the subscription's webhook header sends it.
pub const PROJECTION_TOKEN: &str = "e2e-projection-token";
/// The projection's admin token (rebuild over HTTP).
pub const ADMIN_TOKEN: &str = "e2e-admin-token";

/// How long a service may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a SIGTERM'd service may take to exit before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// One of the four services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    EventStore,
    Command,
    Projection,
    Query,
}

impl Service {
    /// The package (and binary) name.
    pub fn name(self) -> &'static str {
        match self {
            Self::EventStore => SERVICES[0],
            Self::Command => SERVICES[1],
            Self::Projection => SERVICES[2],
            Self::Query => SERVICES[3],
        }
    }
}

/// How to stop a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: a crash, nothing flushed, no goodbye.
    Kill,
    /// SIGTERM: graceful shutdown (killed after [`EXIT_TIMEOUT`]).
    Term,
}

/// A harness failure: what could not be done, with the logs that say why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(pub String);

/// Where and how a stack runs.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// Directory holding the four binaries.
    pub bin_dir: PathBuf,
    /// The event store's database (it need not be migrated yet).
    pub database_url: String,
    /// Redis of the read models.
    pub redis_url: String,
    /// Key namespace of the read models.
    pub namespace: String,
    /// The event store's `EVENTSTORE_CONFIG` (stores and subscriptions applied at start-up).
    pub config: PathBuf,
    /// What the config's `${SERVICE_URL}` becomes (where webhooks go); `None`: the projection
    /// service itself. The soak puts a fault-injecting proxy there.
    pub webhook_base: Option<String>,
    /// Where each process logs (`<dir>/<name>.log`, appended across restarts).
    pub log_dir: PathBuf,
    /// `RUST_LOG` of every service.
    pub rust_log: String,
    /// More variables for one service (e.g. the event store's webhook allowlist).
    pub extra_env: Vec<(Service, String, String)>,
}

/// One running stack.
pub struct Stack {
    /// Base URLs, e.g. `http://127.0.0.1:41234`.
    pub command: String,
    pub eventstore: String,
    pub projection: String,
    pub query: String,
    /// The HTTP client the test talks through.
    pub http: reqwest::Client,
    settings: StackSettings,
    /// The port of each service, kept across restarts.
    ports: [(Service, u16); 4],
    /// The running processes; killed on drop.
    children: Vec<(Service, Child)>,
    /// Whether drop deletes the namespace (a test's own) and, after success, the logs.
    owns_namespace: bool,
}

impl Stack {
    /// Starts the four services against a fresh database and namespace, with the project's
    /// `config/deltabase.toml` (the `orders` store and the order-summary webhook subscription).
    pub async fn start() -> Stack {
        Self::start_with(Vec::new()).await
    }

    /// [`Stack::start`] with more variables for some services.
    pub async fn start_with(extra_env: Vec<(Service, String, String)>) -> Stack {
        let database = postgres::fresh_database("e2e_empty", |_| async { Ok(()) }).await;
        let namespace = redis::fresh_namespace();
        let settings = StackSettings {
            bin_dir: binaries(),
            database_url: database.url.clone(),
            redis_url: redis::redis_url(),
            log_dir: std::env::temp_dir().join(format!("deltabase-e2e-{namespace}")),
            namespace,
            config: workspace_root().join("config/deltabase.toml"),
            webhook_base: None,
            rust_log: "info".to_owned(),
            extra_env,
        };
        let mut stack = Stack::launch(settings)
            .await
            .unwrap_or_else(|e| panic!("the stack did not start: {e}"));
        stack.owns_namespace = true;
        stack
    }

    /// Starts the four services with `settings`: migrate, then projection and query, the event
    /// store, the command service, each waited for until ready.
    pub async fn launch(settings: StackSettings) -> Result<Stack, HarnessError> {
        std::fs::create_dir_all(&settings.log_dir)
            .map_err(|e| HarnessError(format!("create {}: {e}", settings.log_dir.display())))?;
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        // Chosen together, so that no two services are given one port (a service that cannot
        // bind exits, and another answering on its port would pass for it).
        let [eventstore, command, projection, query] = free_ports::<4>();
        let ports = [
            (Service::EventStore, eventstore),
            (Service::Command, command),
            (Service::Projection, projection),
            (Service::Query, query),
        ];
        let mut stack = Stack {
            eventstore: url(ports[0].1),
            command: url(ports[1].1),
            projection: url(ports[2].1),
            query: url(ports[3].1),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| HarnessError(format!("an HTTP client: {e}")))?,
            settings,
            ports,
            children: Vec::new(),
            owns_namespace: false,
        };
        stack
            .run_to_end(Service::EventStore, "migrate", &[], READY_TIMEOUT)
            .await?;
        // The projection first, so that the first delivery finds it listening.
        stack.spawn(Service::Projection, &[])?;
        stack.spawn(Service::Query, &[])?;
        stack.wait_ready(Service::Projection).await?;
        stack.spawn(Service::EventStore, &[])?;
        stack.wait_ready(Service::EventStore).await?;
        stack.spawn(Service::Command, &[])?;
        stack.wait_ready(Service::Command).await?;
        stack.wait_ready(Service::Query).await?;
        Ok(stack)
    }

    /// The settings the stack runs with.
    pub fn settings(&self) -> &StackSettings {
        &self.settings
    }

    /// The base URL of `service`.
    pub fn url_of(&self, service: Service) -> &str {
        match service {
            Service::Command => &self.command,
            Service::EventStore => &self.eventstore,
            Service::Projection => &self.projection,
            Service::Query => &self.query,
        }
    }

    fn port_of(&self, service: Service) -> u16 {
        self.ports
            .iter()
            .find(|(s, _)| *s == service)
            .map_or(0, |(_, port)| *port)
    }

    /// Stops `service` (a no-op when it is not running).
    pub async fn stop(&mut self, service: Service, how: Stop) -> Result<(), HarnessError> {
        let Some(index) = self.children.iter().position(|(s, _)| *s == service) else {
            return Ok(());
        };
        let (_, mut child) = self.children.remove(index);
        if how == Stop::Term
            && let Some(pid) = child.id()
        {
            // No signal API without unsafe code here: kill(1) sends it.
            let sent = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            if sent.is_ok_and(|s| s.success())
                && tokio::time::timeout(EXIT_TIMEOUT, child.wait())
                    .await
                    .is_ok()
            {
                return Ok(());
            }
        }
        child
            .kill()
            .await
            .map_err(|e| HarnessError(format!("cannot kill {}: {e}", service.name())))
    }

    /// Starts `service` again on its port with `overrides` (e.g. a wrong token) and waits
    /// until it is ready; stops it first if it runs.
    pub async fn restart(
        &mut self,
        service: Service,
        overrides: &[(&str, &str)],
    ) -> Result<(), HarnessError> {
        self.stop(service, Stop::Term).await?;
        self.spawn(service, overrides)?;
        self.wait_ready(service).await
    }

    /// Polls `/health/ready` of `service` until it answers 200; an error, with the service's
    /// log, when the process exits or [`READY_TIMEOUT`] passes.
    pub async fn wait_ready(&mut self, service: Service) -> Result<(), HarnessError> {
        let name = service.name();
        if !self.children.iter().any(|(s, _)| *s == service) {
            return Err(HarnessError(format!("{name} is not running")));
        }
        let url = format!("{}/health/ready", self.url_of(service));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let answer = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            let ready = answer.is_ok_and(|response| response.status().is_success());
            // Whether our process is still there, also when something answered: a process that
            // could not bind its port exits, and the answer came from another.
            let exited = self
                .children
                .iter_mut()
                .find(|(s, _)| *s == service)
                .and_then(|(_, child)| child.try_wait().ok().flatten());
            if ready && exited.is_none() {
                return Ok(());
            }
            if let Some(status) = exited {
                return Err(HarnessError(format!(
                    "{name} exited ({status}) before it was ready:\n{}",
                    self.log(name)
                )));
            }
            if Instant::now() >= deadline {
                return Err(HarnessError(format!(
                    "{name} not ready after {READY_TIMEOUT:?}:\n{}",
                    self.log(name)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of a process's log.
    pub fn log(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.settings.log_dir.join(format!("{name}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for name in SERVICES {
                eprintln!(
                    "----- {name} (last lines of {}) -----\n{}",
                    self.settings.log_dir.display(),
                    self.log(name)
                );
            }
        }
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        if !self.owns_namespace {
            return;
        }
        // Best effort: the keys of this stack's namespace. The database stays until the test
        // command drops the run's databases.
        let (url, ns) = (
            self.settings.redis_url.clone(),
            self.settings.namespace.clone(),
        );
        let cleanup = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(redis::delete_namespace(&url, &ns)))
        });
        let _ = cleanup.join();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.settings.log_dir);
        }
    }
}
