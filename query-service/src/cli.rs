//! The command line: `serve` (the default) and `healthcheck` (for images without curl, as
//! svix-server does). `--help` lists the environment variables ([`crate::config::ENV_VARS`]).

use clap::{Parser, Subcommand};

use crate::config::env_help;

/// Reads of the Orders read models in Redis: single orders, paged lists, analytics,
/// read-your-writes.
#[derive(Debug, Parser)]
#[command(name = "query-service", version, after_help = env_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve HTTP until SIGTERM or Ctrl-C (the default).
    Serve,
    /// GET /health/live on 127.0.0.1:$PORT; exit 0 when it answers 200, 1 otherwise.
    Healthcheck,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn serve_is_the_default_and_healthcheck_parses() {
        assert_eq!(Cli::parse_from(["query-service"]).command, None);
        assert_eq!(
            Cli::parse_from(["query-service", "healthcheck"]).command,
            Some(Command::Healthcheck)
        );
    }

    #[test]
    fn help_lists_the_environment_variables() {
        let help = Cli::command().render_long_help().to_string();
        for name in [
            "REDIS_URL",
            "PORT",
            "READ_MODEL_NAMESPACE",
            "READ_YOUR_WRITES_MAX_WAIT_MS",
        ] {
            assert!(help.contains(name), "{name} missing from --help");
        }
    }
}
