//! Applying a config file: at start-up (`EVENTSTORE_CONFIG`, refusing to start on an invalid
//! file) and by `eventstore-service deploy <file>`, which prints what it created, changed or
//! left. Stores are created (or their description and settings updated); subscriptions are
//! created or updated in place (their checkpoint kept). Nothing absent from the file is removed.

use std::fmt::Write as _;
use std::path::Path;

use deadpool_postgres::Pool;
use serde_json::{Value, json};
use shared_domain::service::config::Vars;

use super::apply::{self, Applied, ApplyError, Mode};
use super::config_file::{self, ConfigFileError, Deployment};
use crate::delivery::allowlist::Allowlist;
use crate::error::StoreError;
use crate::model::StoreName;
use crate::storage::stores;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub store: String,
    /// `None`: the line is about the store itself.
    pub subscription: Option<String>,
    pub applied: Applied,
    /// A secret generated now (`webhook.secret = "generate"` on a new subscription).
    pub generated_secret: Option<String>,
}

/// What a deployment did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub lines: Vec<ReportLine>,
}

impl Report {
    /// The text `deploy` prints; with `show_secrets`, generated secrets (shown this once).
    pub fn render(&self, show_secrets: bool) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match &line.subscription {
                None => {
                    let _ = writeln!(out, "store {}: {}", line.store, line.applied.as_str());
                }
                Some(id) => {
                    let _ = write!(out, "  subscription {id}: {}", line.applied.as_str());
                    if let (true, Some(secret)) = (show_secrets, &line.generated_secret) {
                        let _ = write!(out, " (signing secret, shown once: {secret})");
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error("{0}")]
    Target(String),
    #[error("event store {store:?}: {error}")]
    Store { store: String, error: StoreError },
    #[error("subscription {id:?} of {store:?}: {error}")]
    Subscription {
        store: String,
        id: String,
        error: ApplyError,
    },
    #[error("database: {0}")]
    Db(String),
}

/// Reads and checks a file (including the allowlist's DNS checks), applying nothing.
pub async fn load(path: &Path, allowlist: Option<&Allowlist>) -> Result<Deployment, DeployError> {
    let deployment = config_file::load(path, &Vars::from_env(), allowlist)?;
    if let Some(list) = allowlist {
        for (i, store) in deployment.stores.iter().enumerate() {
            for (j, sub) in store.subscriptions.iter().enumerate() {
                list.check_url(&sub.webhook.url).await.map_err(|reason| {
                    DeployError::Target(format!(
                        "{}: eventStores[{i}].subscriptions[{j}].webhook.url: {reason}",
                        path.display()
                    ))
                })?;
            }
        }
    }
    Ok(deployment)
}

/// Applies a checked deployment.
pub async fn apply(pool: &Pool, deployment: &Deployment) -> Result<Report, DeployError> {
    let mut report = Report::default();
    for store in &deployment.stores {
        let applied = apply_store(pool, store).await?;
        report.lines.push(ReportLine {
            store: store.name.clone(),
            subscription: None,
            applied,
            generated_secret: None,
        });
        for def in &store.subscriptions {
            let outcome = apply::apply(pool, &store.name, def, Mode::Upsert)
                .await
                .map_err(|error| DeployError::Subscription {
                    store: store.name.clone(),
                    id: def.id.clone(),
                    error,
                })?;
            report.lines.push(ReportLine {
                store: store.name.clone(),
                subscription: Some(def.id.clone()),
                applied: outcome.applied,
                generated_secret: outcome.generated_secret.map(|s| s.expose().to_owned()),
            });
        }
    }
    Ok(report)
}

async fn apply_store(
    pool: &Pool,
    store: &config_file::StoreDeployment,
) -> Result<Applied, DeployError> {
    let store_error = |error| DeployError::Store {
        store: store.name.clone(),
        error,
    };
    let name = StoreName::parse(&store.name)
        .map_err(|m| DeployError::Target(format!("eventStores: {m}")))?;
    let settings = store.settings.clone().unwrap_or_else(|| json!({}));
    match stores::create(pool, &name, store.description.as_deref(), &settings).await {
        Ok(_) => Ok(Applied::Created),
        Err(StoreError::StoreExists(_)) => {
            let changed = update_store(pool, &store.name, store.description.as_deref(), &settings)
                .await
                .map_err(|e| DeployError::Db(e.to_string()))?;
            Ok(if changed {
                Applied::Changed
            } else {
                Applied::Unchanged
            })
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Brings a store's description and settings in line with the file; `true` when they differed.
async fn update_store(
    pool: &Pool,
    name: &str,
    description: Option<&str>,
    settings: &Value,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let client = pool.get().await?;
    let updated = client
        .execute(
            "UPDATE event_stores SET description = $2, settings = $3 WHERE name = $1 \
             AND (description IS DISTINCT FROM $2 OR settings IS DISTINCT FROM $3)",
            &[&name, &description, settings],
        )
        .await?;
    Ok(updated == 1)
}

/// `EVENTSTORE_CONFIG` at start-up: load, check and apply, or say why the service must not start.
pub async fn apply_startup_config(
    pool: &Pool,
    path: &Path,
    allowlist: Option<&Allowlist>,
) -> Result<(), DeployError> {
    let deployment = load(path, allowlist).await?;
    let report = apply(pool, &deployment).await?;
    for line in &report.lines {
        tracing::info!(
            store = %line.store,
            subscription = line.subscription.as_deref().unwrap_or("-"),
            outcome = line.applied.as_str(),
            "applied {}", path.display()
        );
        if line.generated_secret.is_some() {
            tracing::warn!(
                store = %line.store,
                subscription = line.subscription.as_deref().unwrap_or("-"),
                "generated a signing secret; read it once with GET …/subscriptions/{{id}}/secret"
            );
        }
    }
    Ok(())
}

/// `eventstore-service deploy <file>`: migrate (unless switched off), apply, print the report
/// (with secrets generated now, shown this once). Exit 2 on an invalid file, 1 on other errors.
pub async fn command(config: &crate::Config, file: &Path) -> std::process::ExitCode {
    use std::process::ExitCode;
    let allowlist = config.subscriptions.allowlist.as_deref();
    let deployment = match load(file, allowlist).await {
        Ok(deployment) => deployment,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if config.migrate_on_start
        && let Err(e) = crate::db::migrate(&config.database_url).await
    {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let pool = match crate::db::pool(config) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match apply(&pool, &deployment).await {
        Ok(report) => {
            print!("{}", report.render(true));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
