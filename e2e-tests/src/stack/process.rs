//! Spawning a service's process: its environment, its log file, `serve` or a one-shot
//! subcommand.

use std::fs::OpenOptions;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{ADMIN_TOKEN, API_KEY, HarnessError, PROJECTION_TOKEN, Service, Stack};

impl Stack {
    /// The environment `service` runs with (`overrides` win).
    fn environment(&self, service: Service, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let s = &self.settings;
        let port = self.port_of(service).to_string();
        let config = s.config.display().to_string();
        let webhook_base = s.webhook_base.as_deref().unwrap_or(&self.projection);
        let mut env: Vec<(&str, &str)> = vec![("LOG_FORMAT", "human"), ("RUST_LOG", &s.rust_log)];
        match service {
            Service::EventStore => env.extend([
                ("PORT", port.as_str()),
                ("DATABASE_URL", &s.database_url),
                ("EVENTSTORE_API_KEY", API_KEY),
                ("EVENTSTORE_CONFIG", &config),
                ("EVENTSTORE_MIGRATE_ON_START", "false"),
                ("SERVICE_URL", webhook_base),
                ("PROJECTION_AUTH_TOKEN", PROJECTION_TOKEN),
            ]),
            Service::Command => env.extend([
                ("PORT", port.as_str()),
                ("EVENTSTORE_URL", &self.eventstore),
                ("EVENTSTORE_API_KEY", API_KEY),
            ]),
            Service::Projection => env.extend([
                ("PORT", port.as_str()),
                ("REDIS_URL", &s.redis_url),
                ("READ_MODEL_NAMESPACE", &s.namespace),
                ("PROJECTION_AUTH_TOKEN", PROJECTION_TOKEN),
                ("PROJECTION_ADMIN_TOKEN", ADMIN_TOKEN),
                ("EVENTSTORE_URL", &self.eventstore),
                ("EVENTSTORE_API_KEY", API_KEY),
            ]),
            Service::Query => env.extend([
                ("PORT", port.as_str()),
                ("REDIS_URL", &s.redis_url),
                ("READ_MODEL_NAMESPACE", &s.namespace),
            ]),
        }
        env.extend(
            s.extra_env
                .iter()
                .filter(|(target, ..)| *target == service)
                .map(|(_, name, value)| (name.as_str(), value.as_str())),
        );
        env.retain(|(name, _)| !overrides.iter().any(|(n, _)| n == name));
        env.extend(overrides.iter().copied());
        env.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// A command for `service`'s binary with subcommand `sub`: a clean environment (PATH and
    /// the service's variables), output appended to `<log_dir>/<log_name>.log`.
    fn command_for(
        &self,
        service: Service,
        sub: &str,
        log_name: &str,
        overrides: &[(&str, &str)],
    ) -> Result<Command, HarnessError> {
        let path = self.settings.log_dir.join(format!("{log_name}.log"));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| HarnessError(format!("open {}: {e}", path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(|e| HarnessError(format!("clone a log handle: {e}")))?;
        let mut command = Command::new(self.settings.bin_dir.join(service.name()));
        command
            .arg(sub)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.environment(service, overrides))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true);
        Ok(command)
    }

    /// Starts `service` (`serve`) with `overrides` on top of its usual environment.
    pub(super) fn spawn(
        &mut self,
        service: Service,
        overrides: &[(&str, &str)],
    ) -> Result<(), HarnessError> {
        let child = self
            .command_for(service, "serve", service.name(), overrides)?
            .spawn()
            .map_err(|e| HarnessError(format!("cannot start {}: {e}", service.name())))?;
        self.children.push((service, child));
        Ok(())
    }

    /// Runs `service`'s subcommand `sub` to its end (at most `timeout`); an error unless it
    /// exits 0. Logs to `<sub>.log`.
    pub async fn run_to_end(
        &self,
        service: Service,
        sub: &str,
        overrides: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<(), HarnessError> {
        let what = format!("{} {sub}", service.name());
        let mut child = self
            .command_for(service, sub, sub, overrides)?
            .spawn()
            .map_err(|e| HarnessError(format!("cannot run {what}: {e}")))?;
        let status = tokio::time::timeout(timeout, child.wait())
            .await
            .map_err(|_| HarnessError(format!("{what} did not finish in {timeout:?}")))?
            .map_err(|e| HarnessError(format!("{what}: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(HarnessError(format!(
                "{what} failed ({status}):\n{}",
                self.log(sub)
            )))
        }
    }
}
