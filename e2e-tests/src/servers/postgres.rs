//! A throwaway PostgreSQL: `initdb` into a directory of its own, `pg_ctl start` on a free port of
//! 127.0.0.1 (as the `postgres` user when we are root: PostgreSQL refuses to run as root), and
//! stop/start on demand so a test can restart it under load. Never the machine's own server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shared_domain::testing::free_port;
use tokio::process::Command;

use crate::stack::HarnessError;

/// How long `pg_ctl` may wait for a start or a stop.
const PG_CTL_WAIT_SECS: &str = "60";

/// How a running server is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgStop {
    /// `-m immediate`: no checkpoint, crash recovery on the next start (as after a power cut
    /// of the database process; the OS keeps what was written).
    Immediate,
    /// `-m fast`: roll back open transactions, checkpoint, exit.
    Fast,
}

/// A PostgreSQL server this process started; stopped and deleted on drop.
#[derive(Debug)]
pub struct Postgres {
    /// Directory holding the data directory, the socket and the server log.
    dir: PathBuf,
    /// Where `pg_ctl` and friends live.
    bin_dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// Creates a cluster under `parent` and starts it.
    pub async fn start(parent: &Path) -> Result<Self, HarnessError> {
        let bin_dir = find_bin_dir()?;
        let dir = parent.join("postgres");
        std::fs::create_dir_all(&dir).map_err(|e| fail(&format!("mkdir {dir:?}"), e))?;
        if running_as_root() {
            let owner = std::process::Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&dir)
                .status()
                .map_err(|e| fail("chown", e))?;
            if !owner.success() {
                return Err(HarnessError(
                    "chown to the postgres user failed: does the user exist?".to_owned(),
                ));
            }
        }
        let server = Self {
            dir,
            bin_dir,
            port: free_port(),
        };
        let data = server.data_dir();
        server
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await?;
        server.start_again().await?;
        Ok(server)
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the (stopped) server again on the same port and data.
    ///
    /// `fsync` is off (a throwaway on a shared test machine), but `synchronous_commit` stays on:
    /// with it off, an immediate stop could drop commits that were already acknowledged, which
    /// is exactly what the soak test must be able to tell apart from a bug.
    pub async fn start_again(&self) -> Result<(), HarnessError> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c max_connections=200 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                &log,
                "-w",
                "-t",
                PG_CTL_WAIT_SECS,
                "-o",
                &options,
                "start",
            ],
        )
        .await
    }

    /// Stops the server.
    pub async fn stop(&self, how: PgStop) -> Result<(), HarnessError> {
        let mode = match how {
            PgStop::Immediate => "immediate",
            PgStop::Fast => "fast",
        };
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-m",
                mode,
                "-w",
                "-t",
                PG_CTL_WAIT_SECS,
                "stop",
            ],
        )
        .await
    }

    fn data_dir(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Runs PostgreSQL program `program` with `args`, as the `postgres` user when root.
    async fn run(&self, program: &str, args: &[&str]) -> Result<(), HarnessError> {
        let path = self.bin_dir.join(program);
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let output = tokio::time::timeout(
            Duration::from_secs(90),
            command.args(args).kill_on_drop(true).output(),
        )
        .await
        .map_err(|_| HarnessError(format!("{program} did not finish in 90 s")))?
        .map_err(|e| fail(program, e))?;
        if output.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        Err(HarnessError(format!(
            "{program} {} failed ({}): {}{}\n{}",
            args.last().copied().unwrap_or(""),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let data = self.data_dir();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if running_as_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .args(args)
                .output()
        } else {
            std::process::Command::new(&pg_ctl).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/*/bin` holding `initdb`, else `pg_config --bindir`, else the
/// directory of `initdb` on PATH.
fn find_bin_dir() -> Result<PathBuf, HarnessError> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let from = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    if let Some(dir) = from("pg_config", &["--bindir"]) {
        return Ok(PathBuf::from(dir));
    }
    from("sh", &["-c", "command -v initdb"])
        .and_then(|path| Path::new(&path).parent().map(Path::to_path_buf))
        .ok_or_else(|| {
            HarnessError(
                "initdb not found: install PostgreSQL (apt-get install postgresql)".to_owned(),
            )
        })
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn fail(what: &str, error: std::io::Error) -> HarnessError {
    HarnessError(format!("{what}: {error}"))
}
