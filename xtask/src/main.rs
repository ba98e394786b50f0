//! # xtask
//!
//! Project automation written in Rust (matklad's `cargo xtask` pattern), run as
//! `cargo xtask <command>` (an alias in `.cargo/config.toml` for a release build of this crate).
//!
//! * `cargo xtask bench eventstore [--duration-secs N] [--clients 1,8,32]`: the event store's
//!   append path against the physical baseline of raw single-row INSERTs, on the PostgreSQL at
//!   `DATABASE_URL`. Each benchmark is one module of [`bench`]; later sections (`command`,
//!   `projection`, `query`) go beside [`bench::eventstore`].
//! * `cargo xtask soak [--duration 120s]`: the fault-injection soak test ([`soak`]) on release
//!   binaries and a PostgreSQL and Redis of its own.

mod bench;
mod soak;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "Project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a benchmark and print its table.
    Bench {
        #[command(subcommand)]
        section: bench::Section,
    },
    /// The fault-injection soak test on release binaries: load, faults, then the checks.
    Soak(soak::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Bench { section } => bench::run(section).await,
            Command::Soak(args) => soak::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
