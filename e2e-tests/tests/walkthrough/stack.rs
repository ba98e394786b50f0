//! The whole stack as real processes: [`Stack::start`] builds (or finds) the four binaries, gives
//! the stack a fresh PostgreSQL database and a fresh Redis namespace, starts the services on free
//! ports in dependency order and waits until each answers `/health/ready`. Dropping the stack
//! kills the processes and deletes its Redis keys; when the test failed, it prints their logs.
//!
//! Binaries: `E2E_BIN_DIR` when set (e.g. `target/release`), else `cargo build --bins` of the four
//! packages with the test's own profile, once per test process (a no-op when up to date).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use shared_domain::testing::{free_port, postgres, redis};
use tokio::process::{Child, Command};

/// The packages whose binaries make up the stack.
pub const SERVICES: [&str; 4] = [
    "eventstore-service",
    "command-service",
    "projection-service",
    "query-service",
];

/// The development secrets the stack runs with (those of docker-compose.yml).
pub const API_KEY: &str = "e2e-api-key";
const PROJECTION_TOKEN: &str = "e2e-projection-token";
const ADMIN_TOKEN: &str = "e2e-admin-token";

/// How long a service may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One running stack.
pub struct Stack {
    /// Base URLs, e.g. `http://127.0.0.1:41234`.
    pub command: String,
    pub eventstore: String,
    pub projection: String,
    pub query: String,
    /// The HTTP client the test talks through.
    pub http: reqwest::Client,
    /// The processes, named; killed on drop.
    children: Vec<(String, Child)>,
    /// Where each process logs (`<dir>/<name>.log`).
    log_dir: PathBuf,
    /// Redis server and key namespace of this stack's read models (deleted on drop).
    redis_url: String,
    namespace: String,
}

impl Stack {
    /// Starts the four services against a fresh database and namespace, with the project's
    /// `config/deltabase.toml` (the `orders` store and the order-summary webhook subscription).
    pub async fn start() -> Stack {
        let bin_dir = binaries();
        let database = postgres::fresh_database("e2e_empty", |_| async { Ok(()) }).await;
        let redis_url = redis::redis_url();
        let namespace = redis::fresh_namespace();
        let log_dir = std::env::temp_dir().join(format!("deltabase-e2e-{namespace}"));
        std::fs::create_dir_all(&log_dir).expect("create the log directory");

        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let (p_command, p_eventstore, p_projection, p_query) =
            (free_port(), free_port(), free_port(), free_port());
        let mut stack = Stack {
            command: url(p_command),
            eventstore: url(p_eventstore),
            projection: url(p_projection),
            query: url(p_query),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            children: Vec::new(),
            log_dir,
            redis_url: redis_url.clone(),
            namespace: namespace.clone(),
        };
        let config = workspace_root().join("config/deltabase.toml");
        let common = [("LOG_FORMAT", "human"), ("RUST_LOG", "info")];

        let migrate = stack
            .command_for(&bin_dir, "eventstore-service", "migrate", &common)
            .env("DATABASE_URL", &database.url)
            .status()
            .await
            .expect("run eventstore-service migrate");
        assert!(
            migrate.success(),
            "eventstore-service migrate failed: {}",
            stack.log("migrate")
        );

        // The projection first, so that the first delivery finds it listening.
        let mut projection = stack.command_for(&bin_dir, "projection-service", "serve", &common);
        projection
            .env("PORT", p_projection.to_string())
            .env("REDIS_URL", &redis_url)
            .env("READ_MODEL_NAMESPACE", &namespace)
            .env("PROJECTION_AUTH_TOKEN", PROJECTION_TOKEN)
            .env("PROJECTION_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("EVENTSTORE_URL", &stack.eventstore)
            .env("EVENTSTORE_API_KEY", API_KEY);
        stack.spawn("projection-service", projection);
        let mut query = stack.command_for(&bin_dir, "query-service", "serve", &common);
        query
            .env("PORT", p_query.to_string())
            .env("REDIS_URL", &redis_url)
            .env("READ_MODEL_NAMESPACE", &namespace);
        stack.spawn("query-service", query);
        stack.wait_ready("projection-service").await;

        let mut eventstore = stack.command_for(&bin_dir, "eventstore-service", "serve", &common);
        eventstore
            .env("PORT", p_eventstore.to_string())
            .env("DATABASE_URL", &database.url)
            .env("EVENTSTORE_API_KEY", API_KEY)
            .env("EVENTSTORE_CONFIG", &config)
            .env("EVENTSTORE_MIGRATE_ON_START", "false")
            .env("SERVICE_URL", &stack.projection)
            .env("PROJECTION_AUTH_TOKEN", PROJECTION_TOKEN);
        stack.spawn("eventstore-service", eventstore);
        stack.wait_ready("eventstore-service").await;

        let mut command = stack.command_for(&bin_dir, "command-service", "serve", &common);
        command
            .env("PORT", p_command.to_string())
            .env("EVENTSTORE_URL", &stack.eventstore)
            .env("EVENTSTORE_API_KEY", API_KEY);
        stack.spawn("command-service", command);
        stack.wait_ready("command-service").await;
        stack.wait_ready("query-service").await;
        stack
    }

    /// A command for binary `name` with subcommand `sub`, a clean environment plus `common`,
    /// logging to `<log_dir>/<name>.log` (`migrate.log` for `migrate`).
    fn command_for(
        &self,
        bin_dir: &Path,
        name: &str,
        sub: &str,
        common: &[(&str, &str)],
    ) -> Command {
        let log_name = if sub == "serve" { name } else { sub };
        let log =
            File::create(self.log_dir.join(format!("{log_name}.log"))).expect("create a log file");
        let mut command = Command::new(bin_dir.join(name));
        command
            .arg(sub)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(common.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone a log handle"))
            .stderr(log)
            .kill_on_drop(true);
        command
    }

    fn spawn(&mut self, name: &str, mut command: Command) {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.children.push((name.to_owned(), child));
    }

    fn url_of(&self, name: &str) -> &str {
        match name {
            "command-service" => &self.command,
            "eventstore-service" => &self.eventstore,
            "projection-service" => &self.projection,
            _ => &self.query,
        }
    }

    /// Polls `/health/ready` of `name` until it answers 200; fails the test, with the service's
    /// log, when the process exits or [`READY_TIMEOUT`] passes.
    async fn wait_ready(&mut self, name: &str) {
        let url = format!("{}/health/ready", self.url_of(name));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let answer = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            let exited = self
                .children
                .iter_mut()
                .find(|(n, _)| n == name)
                .and_then(|(_, child)| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "{name} exited ({status}) before it was ready:\n{}",
                    self.log(name)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{name} not ready after {READY_TIMEOUT:?}:\n{}",
                self.log(name)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of a process's log.
    pub fn log(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(self.log_dir.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// `GET url` with the event store's API key; the JSON answer and its status.
    pub async fn get_store(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.eventstore))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .expect("the event store answers");
        json_of(response).await
    }

    /// `POST` a JSON body to the command service; the JSON answer and its status.
    pub async fn post_command(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.command))
            .json(&body)
            .send()
            .await
            .expect("the command service answers");
        json_of(response).await
    }

    /// `GET` from the query service; the JSON answer and its status.
    pub async fn query(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.query))
            .send()
            .await
            .expect("the query service answers");
        json_of(response).await
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for name in SERVICES {
                eprintln!(
                    "----- {name} (last lines of {}) -----\n{}",
                    self.log_dir.display(),
                    self.log(name)
                );
            }
        }
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        // Best effort: the keys of this stack's namespace. The database stays until the test
        // command drops the run's databases.
        let (url, ns) = (self.redis_url.clone(), self.namespace.clone());
        let cleanup = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(redis::delete_namespace(&url, &ns)))
        });
        let _ = cleanup.join();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
    }
}

async fn json_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a readable body");
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

/// The directory holding the four binaries, built once per process.
fn binaries() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("E2E_BIN_DIR") {
            return PathBuf::from(dir);
        }
        // This test runs from <target>/<profile>/deps/<test>-<hash>: build into that profile.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir
            .parent()
            .expect("a target directory")
            .to_path_buf();
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a profile directory name");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .current_dir(workspace_root())
            .args(["build", "--bins", "--target-dir"])
            .arg(&target_dir)
            .args([
                "--profile",
                if profile == "debug" { "dev" } else { profile },
            ]);
        for service in SERVICES {
            build.args(["-p", service]);
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build of the four services failed");
        profile_dir
    })
    .clone()
}
