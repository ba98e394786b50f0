//! The `eventstore-service` binary: see `cli` for the subcommands, README.md for the service.

fn main() -> std::process::ExitCode {
    eventstore_service::cli::main()
}
