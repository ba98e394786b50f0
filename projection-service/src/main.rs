//! `projection-service [serve|rebuild|healthcheck]`: see the crate documentation and `--help`.

use std::process::ExitCode;

use clap::Parser;
use projection_service::cli::{Cli, Command};
use projection_service::startup::{Application, rebuilder};
use projection_service::{Config, SERVICE_NAME};
use shared_domain::service::config::{Vars, load_all};
use shared_domain::service::health::healthcheck_command;
use shared_domain::service::{Shutdown, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_all(&Vars::from_env(), Config::from_vars) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Healthcheck => healthcheck_command(config.port).await,
        Command::Serve => serve(config).await,
        Command::Rebuild => rebuild(config).await,
    }
}

async fn serve(config: Config) -> ExitCode {
    telemetry::init(SERVICE_NAME);
    let drain_delay = config.shutdown.drain_delay;
    let app = match Application::build(config) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = Shutdown::on_signals().with_drain_delay(drain_delay);
    match app.run_until_stopped(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn rebuild(config: Config) -> ExitCode {
    telemetry::init(SERVICE_NAME);
    let rebuilder = match rebuilder(&config, None) {
        Ok(rebuilder) => rebuilder,
        Err(error) => {
            tracing::error!(%error, "cannot start the rebuild");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = Shutdown::on_signals();
    let outcome = match rebuilder.start().await {
        Ok(run) => run.run(shutdown.token()).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(report) => {
            tracing::info!(
                generation = %report.generation,
                events = report.events_read,
                checkpoint = report.checkpoint,
                duration_ms = report.duration_ms,
                "rebuild completed"
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "rebuild failed");
            ExitCode::FAILURE
        }
    }
}
