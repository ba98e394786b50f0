//! The command line: `serve` (the default), `rebuild` (replay the store into a fresh
//! generation and switch, then exit) and `healthcheck` (for images without curl, as
//! svix-server does). `--help` lists the environment variables ([`crate::config::ENV_VARS`]).

use clap::{Parser, Subcommand};

use crate::config::env_help;

/// Projects the event store's order events into Redis read models (webhook receiver), and
/// rebuilds them from the store.
#[derive(Debug, Parser)]
#[command(name = "projection-service", version, after_help = env_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve HTTP until SIGTERM or Ctrl-C (the default).
    Serve,
    /// Replay every event from the event store into a fresh generation, switch to it, exit.
    /// Live deliveries to running replicas go on meanwhile and are not lost.
    Rebuild,
    /// GET /health/live on 127.0.0.1:$PORT; exit 0 when it answers 200, 1 otherwise.
    Healthcheck,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn serve_is_the_default_and_subcommands_parse() {
        assert_eq!(Cli::parse_from(["projection-service"]).command, None);
        for (word, command) in [
            ("serve", Command::Serve),
            ("rebuild", Command::Rebuild),
            ("healthcheck", Command::Healthcheck),
        ] {
            assert_eq!(
                Cli::parse_from(["projection-service", word]).command,
                Some(command)
            );
        }
    }

    #[test]
    fn help_lists_the_environment_variables() {
        let help = Cli::command().render_long_help().to_string();
        for name in [
            "PROJECTION_AUTH_TOKEN",
            "PROJECTION_WEBHOOK_SECRET",
            "PROJECTION_ADMIN_TOKEN",
            "REDIS_URL",
            "EVENTSTORE_URL",
            "EVENTSTORE_API_KEY",
            "PORT",
            "READ_MODEL_NAMESPACE",
        ] {
            assert!(help.contains(name), "{name} missing from --help");
        }
    }
}
