//! The soak's summary: what it did, what it found, and whether it passed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::faults::Injected;
use super::humantime;
use super::load::LoadReport;
use super::monitor::Observations;
use super::settings::SoakOptions;
use super::store::StoreCheck;

/// Longest problem line printed (summaries of orders are long).
const MAX_LINE: usize = 300;

/// Everything a soak run did and found.
#[derive(Debug, Default)]
pub struct Summary {
    pub duration: Duration,
    pub clients: usize,
    pub seed: u64,
    pub work_dir: PathBuf,
    pub faults: Vec<Injected>,
    pub load: LoadReport,
    pub load_time: Duration,
    /// From the end of the load until both checkpoints reached the head; `None`: never.
    pub settled_in: Option<Duration>,
    pub observations: Observations,
    pub final_subscription: Value,
    pub dead_letters: Value,
    /// Deliveries forwarded, refused, answered-then-lost, unreachable.
    pub proxy: [u64; 4],
    pub store: StoreCheck,
    pub orders: usize,
    pub customers: usize,
    pub revenue: String,
    pub undecodable: Vec<String>,
    pub projection_checkpoint: u64,
    pub live_vs_events: Vec<String>,
    pub live_vs_rebuild: Vec<String>,
    /// Steps that could not be done (a service that did not come back, a failed rebuild).
    pub setup_errors: Vec<String>,
    pub elapsed: Duration,
}

impl Summary {
    pub(super) fn new(options: &SoakOptions, work_dir: PathBuf) -> Self {
        Self {
            duration: options.duration,
            clients: options.clients,
            seed: options.seed,
            work_dir,
            ..Self::default()
        }
    }

    /// Every problem found, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for fault in &self.faults {
            if let Some(error) = &fault.error {
                problems.push(format!("fault {:?}: {error}", fault.fault));
            }
        }
        problems.extend(self.setup_errors.iter().cloned());
        if self.load.accepted.is_empty() {
            problems.push("no command was accepted".to_owned());
        }
        for what in &self.load.wrongly_accepted {
            problems.push(format!("invalid command accepted: {what}"));
        }
        for what in &self.load.malformed_answers {
            problems.push(format!("2xx without the promised fields: {what}"));
        }
        if self.store.problem_count > 0 {
            problems.push(format!(
                "{} event-store problems:",
                self.store.problem_count
            ));
            problems.extend(self.store.problems.iter().map(|p| format!("  {p}")));
        }
        for what in &self.undecodable {
            problems.push(format!("event that is no order event: {what}"));
        }
        if self.settled_in.is_none() {
            problems.push(format!(
                "did not settle: subscription {} / projection {} behind head {} (subscription {})",
                self.final_subscription["lastProcessedEventGlobalPosition"],
                self.projection_checkpoint,
                self.store.head,
                self.final_subscription["status"]
            ));
        }
        let status = self.final_subscription["status"].as_str().unwrap_or("?");
        if status != "ACTIVE" {
            problems.push(format!(
                "subscription ends {status}: {}",
                self.final_subscription["statusDetails"]
            ));
        }
        if let Some(error) = &self.observations.first_error {
            problems.push(format!(
                "subscription went to ERROR during the run: {error}"
            ));
        }
        let parked = self.dead_letters["deadLetters"]
            .as_array()
            .or(self.dead_letters.as_array())
            .map_or(0, Vec::len);
        if parked > 0 {
            problems.push(format!("{parked} dead letters"));
        }
        for (which, before, after) in &self.observations.regressions {
            problems.push(format!(
                "{which} checkpoint went back from {before} to {after}"
            ));
        }
        if self.projection_checkpoint != self.store.head {
            problems.push(format!(
                "projection checkpoint {} ≠ store head {}",
                self.projection_checkpoint, self.store.head
            ));
        }
        problems.extend(
            self.live_vs_events
                .iter()
                .map(|p| format!("read model ≠ events: {p}")),
        );
        problems.extend(
            self.live_vs_rebuild
                .iter()
                .map(|p| format!("live ≠ rebuild: {p}")),
        );
        problems
    }

    /// Whether the soak passed: no problem at all.
    pub fn passed(&self) -> bool {
        self.problems().is_empty()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        writeln!(
            f,
            "soak summary: {} of load, {} clients, seed {} ({} in all)",
            humantime(self.duration),
            self.clients,
            self.seed,
            secs(self.elapsed)
        )?;
        writeln!(f, "faults injected: {}", self.faults.len())?;
        for fault in &self.faults {
            writeln!(
                f,
                "  +{:>6}  {} (back in {}){}",
                secs(fault.at),
                fault.fault.describe(),
                secs(fault.took),
                if fault.error.is_some() {
                    "  FAILED"
                } else {
                    ""
                }
            )?;
        }
        let load = &self.load;
        let rejected: u64 = load.rejected.values().sum();
        writeln!(
            f,
            "commands: {} sent ({} HTTP requests), {} accepted (2xx), {} rejected (4xx: {}), {} unanswered",
            load.commands,
            load.requests,
            load.accepted.len(),
            rejected,
            counts(&load.rejected),
            load.unanswered
        )?;
        writeln!(
            f,
            "  retried after: {} transport errors, 5xx {}; {:.0} commands/s",
            load.transport_errors,
            counts(&load.server_errors),
            load.commands as f64 / self.load_time.as_secs_f64().max(1.0)
        )?;
        writeln!(
            f,
            "events: {} in {} streams, head {}, {} without a 2xx answer, {} position gaps",
            self.store.events,
            self.store.streams,
            self.store.head,
            self.store.unacknowledged,
            self.store.position_gaps
        )?;
        writeln!(
            f,
            "webhook proxy: {} forwarded, {} refused, {} applied with the answer lost, {} unreachable",
            self.proxy[0], self.proxy[1], self.proxy[2], self.proxy[3]
        )?;
        writeln!(
            f,
            "subscription: {} at {}; status samples {:?}",
            self.final_subscription["status"],
            self.final_subscription["lastProcessedEventGlobalPosition"],
            self.observations.statuses
        )?;
        writeln!(
            f,
            "read models: {} orders, {} customers, revenue {}; projection checkpoint {}",
            self.orders, self.customers, self.revenue, self.projection_checkpoint
        )?;
        match self.settled_in {
            Some(d) => writeln!(f, "time to settle: {}", secs(d))?,
            None => writeln!(f, "time to settle: did not settle")?,
        }
        let problems = self.problems();
        if problems.is_empty() {
            writeln!(
                f,
                "PASSED: every 2xx command is in the store exactly once; read models equal the \
                 events and a fresh rebuild; the subscription is ACTIVE at the head"
            )
        } else {
            writeln!(f, "FAILED: {} problems", problems.len())?;
            for problem in problems {
                writeln!(f, "  - {}", shorten(&problem))?;
            }
            writeln!(f, "logs: {}", self.work_dir.join("logs").display())
        }
    }
}

/// At most [`MAX_LINE`] characters of `text`.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_LINE) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn counts(map: &std::collections::BTreeMap<u16, u64>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(status, n)| format!("{status}×{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}
