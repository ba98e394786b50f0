//! `command-service [serve|healthcheck]`; settings from the environment (see `--help`).

use std::process::ExitCode;

use clap::Parser;
use command_service::cli::{Cli, Command};
use command_service::{Config, SERVICE_NAME};
use shared_domain::service::config::{Vars, load_all};
use shared_domain::service::health::healthcheck_command;
use shared_domain::service::{Shutdown, telemetry};

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_all(&Vars::from_env(), Config::from_vars) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    match cli.command() {
        Command::Healthcheck => healthcheck_command(config.port).await,
        Command::Serve => {
            telemetry::init(SERVICE_NAME);
            let shutdown = Shutdown::on_signals().with_drain_delay(config.shutdown.drain_delay);
            let served = command_service::Application::build(config);
            match served {
                Ok(app) => match app.run_until_stopped(shutdown).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        tracing::error!(%error, "server failed");
                        ExitCode::FAILURE
                    }
                },
                Err(error) => {
                    tracing::error!(%error, "cannot start");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
