//! A throwaway Redis: `redis-server` in the foreground on a free port of 127.0.0.1, its files in
//! a directory of its own, no RDB snapshots (`--save ''`). Killed, restarted and frozen on demand.
//!
//! The append-only file is on with `appendfsync always`: Redis writes each change to it before
//! answering, so a SIGKILL loses nothing that was acknowledged — the read models survive a crash
//! of Redis the way a production Redis with AOF does. (Without it, a restart is a data loss, and
//! recovering from that is a rebuild, not something the stack can be expected to do by itself.)

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use shared_domain::testing::free_port;
use tokio::process::{Child, Command};

use crate::stack::HarnessError;

/// How long a started server may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A Redis server this process runs; killed and deleted on drop.
#[derive(Debug)]
pub struct Redis {
    /// Working directory: the AOF and the log.
    dir: PathBuf,
    port: u16,
    /// The server while it runs.
    child: Option<Child>,
}

impl Redis {
    /// Starts a server under `parent`.
    pub async fn start(parent: &Path) -> Result<Self, HarnessError> {
        let dir = parent.join("redis");
        std::fs::create_dir_all(&dir)
            .map_err(|e| HarnessError(format!("mkdir {}: {e}", dir.display())))?;
        let mut redis = Self {
            dir,
            port: free_port(),
            child: None,
        };
        redis.start_again().await?;
        Ok(redis)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the (stopped) server again on the same port and files; waits for PING.
    pub async fn start_again(&mut self) -> Result<(), HarnessError> {
        let log = self.dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                HarnessError(format!(
                    "cannot start redis-server (apt-get install redis-server): {e}"
                ))
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.ping().await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Err(HarnessError(format!(
            "redis-server did not answer in {START_TIMEOUT:?}:\n{text}"
        )))
    }

    /// Starts the server unless it runs (after a fault that could not be undone), and thaws it.
    pub async fn ensure_running(&mut self) -> Result<(), HarnessError> {
        let exited = match &mut self.child {
            Some(child) => child.try_wait().ok().flatten().is_some(),
            None => true,
        };
        if exited {
            self.child = None;
            return self.start_again().await;
        }
        self.freeze(false)
    }

    /// SIGKILL: the server dies at once.
    pub async fn kill(&mut self) -> Result<(), HarnessError> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .await
                .map_err(|e| HarnessError(format!("cannot kill redis-server: {e}")))?;
        }
        Ok(())
    }

    /// SIGSTOP (`freeze = true`) or SIGCONT: a server that accepts connections and never
    /// answers, as under a long fork or swap storm.
    pub fn freeze(&self, freeze: bool) -> Result<(), HarnessError> {
        let Some(pid) = self.child.as_ref().and_then(Child::id) else {
            return Ok(());
        };
        let signal = if freeze { "-STOP" } else { "-CONT" };
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .map_err(|e| HarnessError(format!("kill {signal}: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(HarnessError(format!("kill {signal} {pid} failed")))
        }
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let attempt = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(1), attempt).await,
            Ok(Ok(_))
        )
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // A frozen server ignores SIGTERM but not SIGKILL (kill_on_drop).
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
