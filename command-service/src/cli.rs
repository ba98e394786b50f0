//! The command line: `serve` (the default) and `healthcheck`; `--help` lists the environment
//! variables, which is where the settings come from.

use clap::{Parser, Subcommand};

use crate::config::env_help;

/// HTTP commands on orders → the Orders decider → the event store.
#[derive(Debug, Parser)]
#[command(name = "command-service", version, after_help = env_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve HTTP on HOST:PORT (the default).
    Serve,
    /// Exit 0 if the service on PORT answers GET /health/live, else 1 (for container
    /// healthchecks).
    Healthcheck,
}

impl Cli {
    /// The subcommand, `serve` when none was given.
    pub fn command(&self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["command-service"]).unwrap();
        assert_eq!(cli.command(), Command::Serve);
        let cli = Cli::try_parse_from(["command-service", "healthcheck"]).unwrap();
        assert_eq!(cli.command(), Command::Healthcheck);
    }

    #[test]
    fn help_lists_the_environment_variables() {
        let help = <Cli as CommandFactory>::command()
            .render_long_help()
            .to_string();
        for name in [
            "EVENTSTORE_URL",
            "EVENTSTORE_API_KEY",
            "EVENTSTORE_NAME",
            "PORT",
        ] {
            assert!(help.contains(name), "{name} missing from --help");
        }
    }
}
