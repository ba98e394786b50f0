//! A `redis-server` of a test's own on a free port, which the test may stop, restart (data
//! kept: `SHUTDOWN SAVE`) or freeze, without touching the shared server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shared_domain::testing::free_port;

/// A redis-server of this test's own, with its data directory.
pub struct OwnRedis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Extra `redis-server` arguments (cluster mode).
    extra: Vec<String>,
}

impl OwnRedis {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A single-node Redis Cluster owning all 16384 slots: keys never move, but the server
    /// enforces the cluster rules (a script or command touching keys of two slots fails).
    pub fn start_cluster() -> Self {
        let redis = Self::start_with(&["--cluster-enabled", "yes"]);
        let mut conn = redis::Client::open(redis.url())
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(0)
            .arg(16383)
            .exec(&mut conn)
            .unwrap();
        for _ in 0..200 {
            let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut conn).unwrap();
            if info.contains("cluster_state:ok") {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the single-node cluster did not become ok");
    }

    fn start_with(extra: &[&str]) -> Self {
        // Another test may grab the same "free" port between our look-up and the server's
        // bind; then our server exits at once and we try another port.
        for _ in 0..10 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("projection-test-redis-{port}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut redis = Self {
                port,
                dir,
                child: None,
                extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            };
            if redis.spawn() {
                return redis;
            }
        }
        panic!("cannot start an own redis-server");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on `port`; `false` if it exited (the port was taken).
    pub fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return false;
            }
            let up = redis::Client::open(self.url())
                .unwrap()
                .get_connection()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if up {
                return true;
            }
        }
        panic!("own redis-server did not come up");
    }

    /// Stops the server after writing its data to disk (`SHUTDOWN SAVE`), as a restart of a
    /// durable Redis would keep it.
    pub fn stop(&mut self) {
        if let Ok(mut conn) = redis::Client::open(self.url()).unwrap().get_connection() {
            let _ = redis::cmd("SHUTDOWN").arg("SAVE").exec(&mut conn);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: it keeps its connections but answers
    /// nothing, as a stalled server does.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
