//! Benchmarks: one module per section, sharing the load driver ([`drive`]) and the table
//! ([`Table`]). A section measures on the PostgreSQL at `DATABASE_URL` in a database of its own
//! (`xtask_bench_<section>`, dropped and created again on each run).

pub mod command;
pub mod eventstore;
pub mod http;
pub mod projection;
pub mod query;

use std::future::Future;
use std::time::{Duration, Instant};

use clap::Subcommand;
use hdrhistogram::Histogram;

/// A boxed error for the benchmark driver: a failed run prints it and exits 1.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The PostgreSQL server benchmarks use when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which benchmark to run.
#[derive(Debug, Subcommand)]
pub enum Section {
    /// The event store's append endpoint against raw single-row INSERT transactions.
    Eventstore(eventstore::Args),
    /// Commands end to end (place, then ship) against the store's own append, same run.
    Command(command::Args),
    /// Order events into Redis read models: webhook batches and rebuild against raw pipelined
    /// SETs, and append → read-model lag at a steady rate.
    Projection(projection::Args),
    /// Query service reads (single order, list pages of 50) against raw Redis GETs, same run.
    Query(query::Args),
}

/// Runs one section.
pub async fn run(section: Section) -> Result<(), BoxError> {
    match section {
        Section::Eventstore(args) => eventstore::run(args).await,
        Section::Command(args) => command::run(args).await,
        Section::Projection(args) => projection::run(args).await,
        Section::Query(args) => query::run(args).await,
    }?;
    if let Some(memory) = Memory::of_this_process() {
        eprintln!("{}", memory.describe());
    }
    Ok(())
}

/// The memory of the benchmark's process (Linux, `/proc/self/status`): the in-process services
/// and the load generator together, so an upper bound for the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident now, KiB (`VmRSS`).
    resident_kib: u64,
    /// The most ever resident, KiB (`VmHWM`).
    peak_kib: u64,
}

impl Memory {
    pub fn of_this_process() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/self/status").ok()?)
    }

    fn parse(status: &str) -> Option<Self> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        };
        Some(Self {
            resident_kib: field("VmRSS")?,
            peak_kib: field("VmHWM")?,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "memory of the bench process (services and load generator): {:.1} MiB resident at the end, {:.1} MiB at most",
            self.resident_kib as f64 / 1024.0,
            self.peak_kib as f64 / 1024.0
        )
    }
}

/// What one cell of a table measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Events written (operations × events per operation).
    pub events: u64,
    pub elapsed: Duration,
    /// Latency of one operation, in microseconds.
    pub latency: Histogram<u64>,
}

impl Measurement {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p50_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.50) as f64 / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1000.0
    }

    /// Adds `other`, measured separately in the same way (another slice of the same cell).
    pub fn merge(&mut self, other: &Self) {
        self.events += other.events;
        self.elapsed += other.elapsed;
        // Both histograms have the same bounds (`new_histogram`), so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

/// Time all CPUs of the machine spent, in clock ticks, from the first line of `/proc/stat`
/// (Linux): working, idle (waiting for I/O included) and stolen by the hypervisor. A cell's share
/// of busy and stolen time tells whether it was bound by CPU or by waiting (commit flushes,
/// thread wake-ups), and how much of the machine a virtualised host took away meanwhile.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    busy: u64,
    idle: u64,
    steal: u64,
}

impl CpuTimes {
    /// The times so far; `None` where `/proc/stat` cannot be read.
    pub fn now() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    fn parse(stat: &str) -> Option<Self> {
        let mut fields = stat.lines().next()?.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let ticks: Vec<u64> = fields
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let &[user, nice, system, idle, iowait, irq, softirq, steal] = ticks.as_slice() else {
            return None;
        };
        Some(Self {
            busy: user + nice + system + irq + softirq,
            idle: idle + iowait,
            steal,
        })
    }

    /// What was spent between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            busy: self.busy.saturating_sub(earlier.busy),
            idle: self.idle.saturating_sub(earlier.idle),
            steal: self.steal.saturating_sub(earlier.steal),
        }
    }

    pub fn add(&mut self, other: Self) {
        self.busy += other.busy;
        self.idle += other.idle;
        self.steal += other.steal;
    }

    /// `CPU 62 % busy, 3 % stolen` (shares of all CPUs' time).
    pub fn describe(&self) -> String {
        let total = (self.busy + self.idle + self.steal).max(1) as f64;
        format!(
            "CPU {:.0} % busy, {:.0} % stolen",
            100.0 * self.busy as f64 / total,
            100.0 * self.steal as f64 / total
        )
    }
}

/// Runs `clients` concurrent loops of `operation(client, i)` for `duration` (after `warmup`,
/// which is not measured); each operation writes `events_per_op` events.
pub async fn drive<F, Fut>(
    clients: usize,
    warmup: Duration,
    duration: Duration,
    events_per_op: u64,
    operation: F,
) -> Result<Measurement, BoxError>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    let started = Instant::now();
    let measure_from = started + warmup;
    let measure_until = measure_from + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let operation = operation.clone();
            tokio::spawn(async move {
                let mut latency = new_histogram()?;
                let mut operations = 0u64;
                let mut i = 0u64;
                loop {
                    let begun = Instant::now();
                    if begun >= measure_until {
                        break;
                    }
                    operation(client, i).await?;
                    i += 1;
                    if begun >= measure_from {
                        let micros = begun.elapsed().as_micros() as u64;
                        latency.saturating_record(micros.max(1));
                        operations += 1;
                    }
                }
                Ok::<_, BoxError>((operations, latency))
            })
        })
        .collect();
    let mut latency = new_histogram()?;
    let mut operations = 0;
    for task in tasks {
        let (ops, histogram) = task.await??;
        operations += ops;
        latency.add(&histogram)?;
    }
    Ok(Measurement {
        events: operations * events_per_op,
        elapsed: duration,
        latency,
    })
}

fn new_histogram() -> Result<Histogram<u64>, BoxError> {
    // 1 µs to 60 s, 3 significant digits.
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

/// A printed table of measurements: one row per (scenario, clients).
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<[String; 6]>,
}

impl Table {
    /// Adds a row; `baseline` is the events/s this row is compared with (`None`: it is one).
    pub fn add(&mut self, scenario: &str, clients: usize, m: &Measurement, baseline: Option<f64>) {
        let ratio = baseline.map_or("—".to_owned(), |b| {
            format!("{:.2}×", m.events_per_second() / b)
        });
        self.rows.push([
            scenario.to_owned(),
            clients.to_string(),
            format!("{:.0}", m.events_per_second()),
            format!("{:.2}", m.p50_ms()),
            format!("{:.2}", m.p99_ms()),
            ratio,
        ]);
    }

    /// The table as Markdown (readable in a terminal and pasteable into the README).
    pub fn markdown(&self) -> String {
        let header = [
            "scenario",
            "clients",
            "events/s",
            "p50 ms",
            "p99 ms",
            "service/raw",
        ];
        let mut out = format!("| {} |\n", header.join(" | "));
        out.push_str("|---|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{CpuTimes, Memory};

    #[test]
    fn memory_is_read_from_proc_self_status() {
        let status =
            "Name:\txtask\nVmPeak:\t 900000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   40960 kB\n";
        let memory = Memory::parse(status).unwrap();
        assert_eq!(
            memory.describe(),
            "memory of the bench process (services and load generator): 40.0 MiB resident at the end, 80.0 MiB at most"
        );
        assert_eq!(Memory::parse("Name:\txtask\nVmRSS:\t 1 kB\n"), None);
        assert!(Memory::of_this_process().is_some());
    }

    #[test]
    fn cpu_times_are_read_from_the_first_line_of_proc_stat() {
        let before = CpuTimes::parse("cpu  100 0 50 800 20 0 10 20 0 0\ncpu0 1 2 3\n").unwrap();
        let after = CpuTimes::parse("cpu  160 0 70 820 20 0 20 30 0 0\n").unwrap();
        let spent = after.since(before);
        // busy 90 (60 user, 20 system, 10 softirq), idle 20, stolen 10.
        assert_eq!(spent.describe(), "CPU 75 % busy, 8 % stolen");
        assert_eq!(CpuTimes::parse("intr 1 2 3\n"), None);
        assert_eq!(CpuTimes::parse("cpu 1 2 3\n"), None);
    }
}
