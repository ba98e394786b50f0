//! The command line: `serve` (the default), `migrate`, `healthcheck`. `--help` lists the
//! environment variables ([`crate::config::ENV_VARS`]).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared_domain::service::config::{Vars, load_all, redact_url};
use shared_domain::service::health::healthcheck_command;
use shared_domain::service::{Shutdown, telemetry};

use crate::config::Config;
use crate::startup::{Application, SERVICE_NAME};

/// A DeltaBase-style event store on PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = SERVICE_NAME, version, after_help = Config::help_text())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations (unless EVENTSTORE_MIGRATE_ON_START=false) and serve HTTP.
    Serve,
    /// Apply pending migrations to DATABASE_URL and exit.
    Migrate,
    /// GET http://127.0.0.1:$PORT/health/live; exit 0 when it answers 200, else 1
    /// (a container HEALTHCHECK that needs no curl).
    Healthcheck {
        /// Port to probe (default: PORT, else 8081).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Apply a subscriptions config file (TOML/JSON, the schema of deltabase.config.ts) to
    /// DATABASE_URL and print what was created, changed or left unchanged (issue 4).
    Deploy {
        /// The file.
        file: std::path::PathBuf,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve().await,
            Command::Migrate => migrate().await,
            Command::Healthcheck { port } => healthcheck(port).await,
            Command::Deploy { file } => match config_or_exit() {
                Ok(config) => crate::subscriptions::deploy::command(&config, &file).await,
                Err(code) => code,
            },
        }
    })
}

/// The settings, or every bad value on stderr and exit code 2.
fn config_or_exit() -> Result<Config, ExitCode> {
    load_all(&Vars::from_env(), Config::from_vars).map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(2)
    })
}

async fn serve() -> ExitCode {
    telemetry::init(SERVICE_NAME);
    let config = match config_or_exit() {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Err(problem) = config.check_auth() {
        tracing::error!("{problem}");
        eprintln!("eventstore-service: {problem}");
        return ExitCode::from(2);
    }
    if config.api_key.is_none() {
        tracing::warn!("EVENTSTORE_ALLOW_ANONYMOUS=true: every /api route is open to anyone");
    }
    tracing::info!(
        database = %redact_url(&config.database_url),
        port = config.port,
        auth = config.api_key.is_some(),
        "starting"
    );
    let drain = config.shutdown.drain_delay;
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(port = app.port(), "listening");
    match app
        .run_until_stopped(Shutdown::on_signals().with_drain_delay(drain))
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn migrate() -> ExitCode {
    telemetry::init(SERVICE_NAME);
    let config = match config_or_exit() {
        Ok(config) => config,
        Err(code) => return code,
    };
    match crate::db::migrate(&config.database_url).await {
        Ok(()) => {
            tracing::info!("migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "migration failed");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck(port: Option<u16>) -> ExitCode {
    let port = match port {
        Some(port) => port,
        None => match config_or_exit() {
            Ok(config) => config.port,
            Err(code) => return code,
        },
    };
    healthcheck_command(port).await
}
