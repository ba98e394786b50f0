//! The soak's options, its working directory and its copy of the walkthrough config.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::stack::{HarnessError, workspace_root};

/// The retry policy the soak gives the walkthrough subscription. The walkthrough's
/// `{ maxAttempts = 5, backoffMinutes = 2 }` would turn every few-second fault into minutes of
/// waiting (and five faults into `ERROR`); this one retries quickly and long enough (100
/// attempts of at most 2 s) to outlast any fault of the schedule, so a subscription in `ERROR`
/// at the end is a finding, not a policy.
const SOAK_RETRY_POLICY: [(&str, i64); 5] = [
    ("maxAttempts", 100),
    ("initialDelayMs", 200),
    ("maxDelayMs", 2000),
    ("multiplier", 2),
    ("jitterPercent", 10),
];

/// How a soak runs.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// How long the load runs (faults happen inside it).
    pub duration: Duration,
    /// Concurrent clients.
    pub clients: usize,
    /// Most commands sent in all (the run also ends at `duration`).
    pub max_commands: u64,
    /// Seed of the commands and of the order of faults.
    pub seed: u64,
    /// Most time allowed to settle after the load.
    pub settle_timeout: Duration,
    /// Directory holding the four service binaries.
    pub bin_dir: PathBuf,
    /// Keep the working directory (logs) even when the soak passed.
    pub keep_work_dir: bool,
}

impl SoakOptions {
    /// Defaults for a run of `duration` on binaries in `bin_dir`.
    pub fn new(duration: Duration, bin_dir: PathBuf) -> Self {
        Self {
            duration,
            clients: 16,
            max_commands: 1_000_000,
            seed: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_secs()),
            settle_timeout: Duration::from_secs(120),
            bin_dir,
            keep_work_dir: false,
        }
    }
}

/// A fresh directory under the system's temporary directory, readable by the `postgres` user.
pub fn work_dir() -> Result<PathBuf, HarnessError> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = std::env::temp_dir().join(format!("deltabase-soak-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)))
        .map_err(|e| HarnessError(format!("create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Writes the walkthrough config (`config/deltabase.toml`) into `dir` with the soak's retry
/// policy; returns its path. Store, subscription id, filter, URL and headers are unchanged.
pub fn write_config(dir: &Path) -> Result<PathBuf, HarnessError> {
    let source = workspace_root().join("config/deltabase.toml");
    let text = std::fs::read_to_string(&source)
        .map_err(|e| HarnessError(format!("read {}: {e}", source.display())))?;
    let mut config: toml::Table = text
        .parse()
        .map_err(|e| HarnessError(format!("{}: {e}", source.display())))?;
    let subscriptions = config
        .get_mut("eventStores")
        .and_then(|stores| stores.as_array_mut())
        .into_iter()
        .flatten()
        .filter_map(|store| store.get_mut("subscriptions")?.as_array_mut())
        .flatten();
    let mut changed = 0;
    for subscription in subscriptions {
        if let Some(webhook) = subscription
            .get_mut("webhook")
            .and_then(|w| w.as_table_mut())
        {
            let mut policy = toml::Table::new();
            policy.insert("strategy".into(), "exponential".into());
            for (name, value) in SOAK_RETRY_POLICY {
                policy.insert(name.into(), value.into());
            }
            webhook.insert("retryPolicy".into(), policy.into());
            changed += 1;
        }
    }
    if changed == 0 {
        return Err(HarnessError(format!(
            "{} has no webhook subscription",
            source.display()
        )));
    }
    let path = dir.join("deltabase.toml");
    let text = toml::to_string(&config).map_err(|e| HarnessError(format!("config: {e}")))?;
    std::fs::write(&path, text)
        .map_err(|e| HarnessError(format!("write {}: {e}", path.display())))?;
    Ok(path)
}
