//! `cargo xtask soak [--duration 120s]`: the fault-injection soak test (`e2e_tests::soak`) on
//! release binaries of the four services, built beside this xtask (`target/release`). Prints the
//! summary; exits 1 when the soak found a problem.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args as ClapArgs;
use e2e_tests::soak::{self, SoakOptions};
use e2e_tests::stack::build_binaries;

/// Options of `cargo xtask soak`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// How long the load runs, faults included: `120s`, `10m`, `600` (seconds).
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    duration: Duration,
    /// Concurrent clients sending commands.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Most commands in all (the run also ends at --duration).
    #[arg(long, default_value_t = 1_000_000)]
    max_commands: u64,
    /// Seed of the commands and of the fault order (default: the time).
    #[arg(long)]
    seed: Option<u64>,
    /// Most time to settle after the load.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    settle_timeout: Duration,
    /// Directory of the four binaries (default: build them in this xtask's profile).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Keep the working directory (service logs) when the soak passes.
    #[arg(long)]
    keep: bool,
}

/// Runs the soak; `Err` when it could not run or found problems.
pub async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => {
            // This binary is <target>/<profile>/xtask: build the services into that profile.
            let exe = std::env::current_exe()?;
            let profile_dir = exe.parent().ok_or("xtask has no directory")?;
            tokio::task::block_in_place(|| build_binaries(profile_dir))?
        }
    };
    let mut options = SoakOptions::new(args.duration, bin_dir);
    options.clients = args.clients.max(1);
    options.max_commands = args.max_commands;
    options.settle_timeout = args.settle_timeout;
    options.keep_work_dir = args.keep;
    if let Some(seed) = args.seed {
        options.seed = seed;
    }
    let summary = soak::run(options).await?;
    println!("{summary}");
    if summary.passed() {
        Ok(())
    } else {
        Err("the soak test found problems (above)".into())
    }
}

/// `90`, `90s`, `2m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected e.g. 120s, 10m or 600"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(parse_duration("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }
}
