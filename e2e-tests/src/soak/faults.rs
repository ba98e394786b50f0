//! The fault schedule and its injection. Faults come one after another, a few seconds apart,
//! while the load runs: each round of the schedule holds every kind once, in an order drawn
//! from the seed, and PostgreSQL is restarted exactly once, in the middle of the run.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::Rig;
use super::proxy::ProxyMode;
use crate::servers::PgStop;
use crate::stack::{HarnessError, Service, Stop};

/// Time from the start of the load to the first fault.
const FIRST_FAULT: Duration = Duration::from_secs(5);
/// Time from the start of one fault to the start of the next (at least).
const SPACING: Duration = Duration::from_secs(12);
/// Quiet time before the load ends: the last fault starts before it.
const QUIET_END: Duration = Duration::from_secs(15);
/// How long a killed process stays down.
const DOWN: Duration = Duration::from_secs(3);
/// How long Redis stays frozen.
const FROZEN: Duration = Duration::from_secs(4);
/// How long the webhook path fails.
const WEBHOOK_WINDOW: Duration = Duration::from_secs(8);

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    KillEventStore,
    StopEventStore,
    KillProjection,
    KillRedis,
    FreezeRedis,
    RefuseWebhook,
    LoseWebhookAnswers,
    WrongProjectionToken,
    RestartPostgres,
}

/// Every kind but the PostgreSQL restart, which happens once.
const ROUND: [Fault; 8] = [
    Fault::KillEventStore,
    Fault::KillProjection,
    Fault::KillRedis,
    Fault::RefuseWebhook,
    Fault::StopEventStore,
    Fault::LoseWebhookAnswers,
    Fault::FreezeRedis,
    Fault::WrongProjectionToken,
];

impl Fault {
    /// What it does, for the summary.
    pub fn describe(self) -> String {
        let s = |d: Duration| d.as_secs();
        match self {
            Self::KillEventStore => {
                format!("kill -9 eventstore-service, restart after {} s", s(DOWN))
            }
            Self::StopEventStore => {
                format!("SIGTERM eventstore-service, restart after {} s", s(DOWN))
            }
            Self::KillProjection => {
                format!("kill -9 projection-service, restart after {} s", s(DOWN))
            }
            Self::KillRedis => format!("kill -9 redis-server, restart after {} s", s(DOWN)),
            Self::FreezeRedis => format!("SIGSTOP redis-server for {} s", s(FROZEN)),
            Self::RefuseWebhook => format!("webhook answered 503 for {} s", s(WEBHOOK_WINDOW)),
            Self::LoseWebhookAnswers => format!(
                "webhook applied but its answer lost (502) for {} s",
                s(WEBHOOK_WINDOW)
            ),
            Self::WrongProjectionToken => format!(
                "projection-service restarted with a wrong token for {} s",
                s(WEBHOOK_WINDOW)
            ),
            Self::RestartPostgres => "PostgreSQL stopped (immediate) and started".to_owned(),
        }
    }
}

/// A fault that was injected.
#[derive(Debug)]
pub struct Injected {
    pub fault: Fault,
    /// When it began, from the start of the load.
    pub at: Duration,
    /// From its beginning to everything being back.
    pub took: Duration,
    /// What went wrong while injecting or recovering (a service that did not come back).
    pub error: Option<String>,
}

/// The faults for a run of `duration`: `(offset from the start, fault)`.
pub fn schedule(duration: Duration, seed: u64) -> Vec<(Duration, Fault)> {
    let window = duration.saturating_sub(FIRST_FAULT + QUIET_END);
    let slots = (window.as_secs() / SPACING.as_secs() + 1) as usize;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut kinds = Vec::with_capacity(slots);
    while kinds.len() < slots {
        let mut round = ROUND;
        round.shuffle(&mut rng);
        kinds.extend(round);
    }
    kinds.truncate(slots);
    // Once, in the middle (replacing that slot's fault when the run has only one slot).
    kinds.insert(slots / 2, Fault::RestartPostgres);
    if kinds.len() > slots.max(2) {
        kinds.pop();
    }
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, fault)| (FIRST_FAULT + SPACING * i as u32, fault))
        .collect()
}

/// Injects the schedule's faults, each not before its time and after the previous one is
/// over, and none after `until`.
pub async fn run(
    rig: &mut Rig,
    schedule: Vec<(Duration, Fault)>,
    start: Instant,
    until: Instant,
) -> Vec<Injected> {
    let mut done = Vec::new();
    for (offset, fault) in schedule {
        let at = start + offset;
        if at >= until {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let began = Instant::now();
        let error = inject(rig, fault).await.err().map(|e| e.0);
        if let Some(error) = &error {
            eprintln!("soak: fault {fault:?} failed: {error}");
        }
        done.push(Injected {
            fault,
            at: began - start,
            took: began.elapsed(),
            error,
        });
    }
    done
}

/// Undoes whatever a failed fault left behind: the proxy passes, Redis runs and is thawed, each
/// service answers (restarted if not). Returns what could not be recovered.
pub async fn recover(rig: &mut Rig) -> Vec<String> {
    let mut errors = Vec::new();
    rig.proxy.set_mode(ProxyMode::Pass);
    if let Err(e) = rig.redis.ensure_running().await {
        errors.push(format!("recovering Redis: {e}"));
    }
    for service in [Service::EventStore, Service::Projection] {
        if rig.stack.wait_ready(service).await.is_err()
            && let Err(e) = rig.stack.restart(service, &[]).await
        {
            errors.push(format!("recovering {}: {e}", service.name()));
        }
    }
    errors
}

/// Injects one fault and undoes it.
async fn inject(rig: &mut Rig, fault: Fault) -> Result<(), HarnessError> {
    match fault {
        Fault::KillEventStore | Fault::StopEventStore | Fault::KillProjection => {
            let (service, how) = match fault {
                Fault::KillEventStore => (Service::EventStore, Stop::Kill),
                Fault::StopEventStore => (Service::EventStore, Stop::Term),
                _ => (Service::Projection, Stop::Kill),
            };
            rig.stack.stop(service, how).await?;
            tokio::time::sleep(DOWN).await;
            rig.stack.restart(service, &[]).await
        }
        Fault::KillRedis => {
            rig.redis.kill().await?;
            tokio::time::sleep(DOWN).await;
            rig.redis.start_again().await
        }
        Fault::FreezeRedis => {
            rig.redis.freeze(true)?;
            tokio::time::sleep(FROZEN).await;
            rig.redis.freeze(false)
        }
        Fault::RefuseWebhook | Fault::LoseWebhookAnswers => {
            rig.proxy.set_mode(if fault == Fault::RefuseWebhook {
                ProxyMode::Refuse
            } else {
                ProxyMode::LoseAnswer
            });
            tokio::time::sleep(WEBHOOK_WINDOW).await;
            rig.proxy.set_mode(ProxyMode::Pass);
            Ok(())
        }
        Fault::WrongProjectionToken => {
            rig.stack
                .restart(
                    Service::Projection,
                    &[("PROJECTION_AUTH_TOKEN", "soak-wrong-token")],
                )
                .await?;
            tokio::time::sleep(WEBHOOK_WINDOW).await;
            rig.stack.restart(Service::Projection, &[]).await
        }
        Fault::RestartPostgres => {
            rig.postgres.stop(PgStop::Immediate).await?;
            tokio::time::sleep(DOWN).await;
            rig.postgres.start_again().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_minute_run_has_every_kind_once_and_postgres_once() {
        let faults = schedule(Duration::from_secs(120), 7);
        let kinds: Vec<Fault> = faults.iter().map(|(_, f)| *f).collect();
        assert_eq!(kinds.len(), 9, "{kinds:?}");
        for kind in ROUND {
            assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kinds:?}");
        }
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == Fault::RestartPostgres)
                .count(),
            1
        );
        let last = faults.last().map(|(at, _)| *at).unwrap_or_default();
        assert!(last + QUIET_END <= Duration::from_secs(120), "{last:?}");
    }

    #[test]
    fn a_long_run_restarts_postgres_once() {
        let faults = schedule(Duration::from_secs(600), 1);
        assert!(faults.len() > 40);
        let pg = faults
            .iter()
            .filter(|(_, f)| *f == Fault::RestartPostgres)
            .count();
        assert_eq!(pg, 1);
    }
}
