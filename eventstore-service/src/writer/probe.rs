
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::LazyLock;
use std::time::Instant;
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
static END: AtomicU64 = AtomicU64::new(0);
static SUM: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];
static CNT: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];
fn now() -> u64 { EPOCH.elapsed().as_nanos() as u64 }
pub fn batch_end() { END.store(now(), Relaxed); }
pub fn arrive(queued: usize) {
    let e = END.load(Relaxed);
    if e == 0 || queued > 8 { return; }
    let d = now().saturating_sub(e);
    SUM[queued].fetch_add(d, Relaxed);
    let n = CNT[queued].fetch_add(1, Relaxed) + 1;
    if queued == 8 && n % 5000 == 0 {
        let v: Vec<u64> = (1..9).map(|i| SUM[i].load(Relaxed) / CNT[i].load(Relaxed).max(1) / 1000).collect();
        eprintln!("ARRIVE us by rank {v:?}");
    }
}

static RT: AtomicU64 = AtomicU64::new(0);
static RTN: AtomicU64 = AtomicU64::new(0);
pub fn rt(d: std::time::Duration) {
    RT.fetch_add(d.as_micros() as u64, Relaxed);
    let n = RTN.fetch_add(1, Relaxed) + 1;
    if n % 5000 == 0 { eprintln!("RT avg us {}", RT.load(Relaxed) / n); }
}
