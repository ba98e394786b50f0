//! [`SummaryCache`]: order summaries kept in the process, rendered as their JSON answer, so that a
//! single-order read that hits needs no Redis round trip and a list page needs only its index
//! walk.
//!
//! Kept current by Redis's server-assisted client-side caching ([`tracking`](super::tracking)):
//! one RESP3 connection turns on `CLIENT TRACKING ON BCAST PREFIX {ns}:`, and Redis pushes the
//! name of every key of the namespace that changes. A changed summary key drops that order's
//! entry; a changed generation pointer (a rebuild's switch) or a flush drops every entry. While
//! that connection is down the cache is off (reads go to Redis), and it is emptied each time it
//! goes down or comes back, since changes made meanwhile were not pushed.
//!
//! What a reader can rely on:
//! * an entry is what one atomic script read, together with that read's checkpoint. A read that
//!   demands a position (`minGlobalPosition`) takes an entry only when the entry's checkpoint has
//!   reached it, so read-your-writes stays exact;
//! * a plain read may answer a value that changed in Redis in the last moment, until the push
//!   about it arrives (well under a millisecond on one host): the contract of Redis's own
//!   client-side caching;
//! * a list page takes an entry only when its generation and `_revision` are those the page's own
//!   atomic index read found, so a page is exactly as consistent as without the cache;
//! * a read that began before an order's entry was invalidated never stores its (possibly older)
//!   answer: each shard counts its invalidations, and a store happens only if the count of the
//!   order's shard has not moved since the read began ([`Ticket`]).
//!
//! Bounded by `QUERY_CACHE_ENTRIES`: a full shard makes room by dropping an arbitrary entry.
//!
//! It also owns the [`PageCache`] (what recent list pages showed), which it empties whenever it
//! empties itself: a cached page is answered from the summaries held here.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use prometheus::IntCounter;
use shared_domain::read_model::OrderSummary;

use super::page::RenderedPage;
use super::page_cache::{PageAt, PageCache, PageTicket, Shown};
use super::{Page, Read, StoreError};

/// Shards of the map (independent locks and invalidation counts).
const SHARDS: usize = 32;

/// One order's summary as answered: its revision (for the `ETag`) and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `_revision`: the stream position of the last event applied.
    pub revision: u64,
    /// The summary rendered as the JSON object the API answers.
    pub json: Bytes,
}

impl Summary {
    /// `summary` rendered.
    pub fn of(summary: &OrderSummary) -> Result<Self, StoreError> {
        let json = serde_json::to_vec(summary)
            .map_err(|e| StoreError::Corrupt(format!("cannot render a summary: {e}")))?;
        Ok(Self {
            revision: summary.revision,
            json: json.into(),
        })
    }
}

/// A cached summary and the read it came from.
#[derive(Debug, Clone)]
struct Entry {
    generation: String,
    checkpoint: u64,
    summary: Summary,
}

struct Shard {
    /// Bumped (under the lock) by every invalidation that reaches the shard; read without it.
    invalidations: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Taken before a Redis read: the invalidation counts at that moment. A store with it succeeds
/// only if the order's shard saw no invalidation since.
#[derive(Debug, Clone)]
pub struct Ticket {
    shards: [u64; SHARDS],
    /// [`SummaryCache::changes`] at that moment.
    all: u64,
}

/// Taken before a page read: the counts a store of its page and summaries checks.
#[derive(Debug, Clone)]
pub struct PageReadTicket {
    index: PageTicket,
    /// For the summaries the read finds, and the page's stamp.
    pub summaries: Ticket,
}

/// Hit and miss counters (`query_cache_reads_total{result}`).
#[derive(Debug, Clone)]
pub struct CacheCounters {
    pub hits: IntCounter,
    pub misses: IntCounter,
}

/// The cache of one process. Share it behind an `Arc`.
pub struct SummaryCache {
    shards: Box<[Shard]>,
    hasher: RandomState,
    per_shard: usize,
    /// Whether invalidations are being received (otherwise nothing is read or stored).
    live: AtomicBool,
    counters: Option<CacheCounters>,
    /// Bumped (under a shard's lock) by every invalidation and clear: a page whose stamp is this
    /// count is unchanged (see [`page`](Self::page)).
    changes: AtomicU64,
    pages: PageCache,
}

impl std::fmt::Debug for SummaryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SummaryCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

impl SummaryCache {
    /// An empty cache of about `capacity` entries (at least one per shard) and no pages, off
    /// until [`set_live`](Self::set_live).
    pub fn new(capacity: usize, counters: Option<CacheCounters>) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    invalidations: AtomicU64::new(0),
                    entries: Mutex::new(HashMap::new()),
                })
                .collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            live: AtomicBool::new(false),
            counters,
            changes: AtomicU64::new(0),
            pages: PageCache::new(0),
        }
    }

    /// The same cache, also keeping list pages, up to about `bytes` of them.
    pub fn with_pages(mut self, bytes: usize) -> Self {
        self.pages = PageCache::new(bytes);
        self
    }

    /// Whether the cache is on (its invalidations are being received).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Turns the cache on or off; either way it starts empty, and no read begun before stores.
    pub fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
        }
        self.clear();
        if live {
            self.live.store(true, Ordering::Release);
        }
    }

    /// The single-order answer for `order_id` if an entry has reached `min_checkpoint`.
    pub fn order(&self, order_id: &str, min_checkpoint: u64) -> Option<Read<Option<Summary>>> {
        self.lookup(order_id, |e| {
            (e.checkpoint >= min_checkpoint).then(|| Read {
                generation: e.generation.clone(),
                checkpoint: e.checkpoint,
                value: Some(e.summary.clone()),
            })
        })
    }

    /// The summaries of `wanted` (order id, revision), in order, if every entry holds exactly
    /// that revision of `generation`; `None` at the first that does not. Counted as one hit per
    /// summary found and one miss for the one lacking (one update of each counter: list pages
    /// take dozens).
    pub fn summaries<'a>(
        &self,
        generation: &str,
        wanted: impl ExactSizeIterator<Item = (&'a str, u64)>,
    ) -> Option<Vec<Summary>> {
        let mut found = Vec::with_capacity(wanted.len());
        self.held(generation, wanted, |summary| found.push(summary.clone()))
            .then_some(found)
    }

    /// Whether every entry of `wanted` (order id, revision) holds exactly that revision of
    /// `generation`, handing each to `take` until the first that does not. Counted as
    /// [`summaries`](Self::summaries) says.
    fn held<'a>(
        &self,
        generation: &str,
        wanted: impl Iterator<Item = (&'a str, u64)>,
        mut take: impl FnMut(&Summary),
    ) -> bool {
        if !self.is_live() {
            return false;
        }
        let (mut hits, mut missed) = (0, false);
        for (order_id, revision) in wanted {
            let entries = self.lock(order_id);
            let entry = entries
                .get(order_id)
                .filter(|e| e.generation == generation && e.summary.revision == revision);
            match entry {
                Some(entry) => {
                    take(&entry.summary);
                    hits += 1;
                }
                None => {
                    missed = true;
                    break;
                }
            }
        }
        self.count(hits, usize::from(missed));
        !missed
    }

    /// What `take` makes of `order_id`'s entry, counted as a hit or a miss (nothing, and not
    /// counted, while the cache is off).
    fn lookup<T>(&self, order_id: &str, take: impl FnOnce(&Entry) -> Option<T>) -> Option<T> {
        if !self.is_live() {
            return None;
        }
        let hit = self.lock(order_id).get(order_id).and_then(take);
        self.count(usize::from(hit.is_some()), usize::from(hit.is_none()));
        hit
    }

    fn count(&self, hits: usize, misses: usize) {
        if let Some(counters) = &self.counters {
            if hits > 0 {
                counters.hits.inc_by(hits as u64);
            }
            if misses > 0 {
                counters.misses.inc_by(misses as u64);
            }
        }
    }

    /// The invalidation counts now; take it before the Redis read whose answer you will store.
    pub fn ticket(&self) -> Ticket {
        // `all` first: a change counted in a shard but not yet in `all` would otherwise let a
        // page stamped with this ticket miss it.
        let all = self.changes.load(Ordering::Acquire);
        Ticket {
            shards: std::array::from_fn(|i| self.shards[i].invalidations.load(Ordering::Acquire)),
            all,
        }
    }

    /// Stores what a read that began at `ticket` found for `order_id`, unless the order's shard
    /// saw an invalidation since (or the cache is off).
    pub fn store(
        &self,
        ticket: &Ticket,
        order_id: &str,
        generation: &str,
        checkpoint: u64,
        summary: Summary,
    ) {
        if !self.is_live() {
            return;
        }
        let index = self.shard_of(order_id);
        let shard = &self.shards[index];
        let mut entries = lock(&shard.entries);
        if shard.invalidations.load(Ordering::Acquire) != ticket.shards[index] {
            return;
        }
        if entries.len() >= self.per_shard && !entries.contains_key(order_id) {
            let victim = entries.keys().next().cloned();
            if let Some(victim) = victim {
                entries.remove(&victim);
            }
        }
        entries.insert(
            order_id.to_owned(),
            Entry {
                generation: generation.to_owned(),
                checkpoint,
                summary,
            },
        );
    }

    /// `order_id`'s summary changed in Redis: drops its entry, and fails stores of reads begun
    /// before.
    pub fn invalidate(&self, order_id: &str) {
        let shard = &self.shards[self.shard_of(order_id)];
        let mut entries = lock(&shard.entries);
        shard.invalidations.fetch_add(1, Ordering::AcqRel);
        self.changes.fetch_add(1, Ordering::AcqRel);
        entries.remove(order_id);
    }

    /// Drops every entry and page, and fails every store of a read begun before.
    pub fn clear(&self) {
        self.pages.clear();
        for shard in &*self.shards {
            let mut entries = lock(&shard.entries);
            shard.invalidations.fetch_add(1, Ordering::AcqRel);
            self.changes.fetch_add(1, Ordering::AcqRel);
            entries.clear();
        }
    }

    /// The page `at` as a read whose checkpoint reached `min_checkpoint` answered it, if it is
    /// held and unchanged: no summary change has been pushed since the page was stamped, or
    /// (checked, then stamped again) every order on it is held at the generation and revision
    /// that read found.
    pub fn page(&self, at: &PageAt<'_>, min_checkpoint: u64) -> Option<Read<Arc<RenderedPage>>> {
        if !self.is_live() {
            return None;
        }
        let shown = self
            .pages
            .get(at)
            .filter(|s| s.checkpoint >= min_checkpoint)?;
        // Read before the check: a change counted after it shows in the next comparison.
        let changes = self.changes.load(Ordering::Acquire);
        if shown.stamp.load(Ordering::Acquire) == changes {
            self.count(shown.orders.len(), 0);
        } else {
            let wanted = shown.orders.iter().map(|(id, rev)| (id.as_str(), *rev));
            if !self.held(&shown.generation, wanted, |_| {}) {
                return None;
            }
            shown.stamp.store(changes, Ordering::Release);
        }
        Some(Read {
            generation: shown.generation.clone(),
            checkpoint: shown.checkpoint,
            value: shown.page.clone(),
        })
    }

    /// The counts now; take it before the page read whose answer you will store.
    pub fn page_ticket(&self) -> PageReadTicket {
        PageReadTicket {
            index: self.pages.ticket(),
            summaries: self.ticket(),
        }
    }

    /// Keeps `rendered`, what `read` of the page `at` answered, unless an index changed since
    /// `ticket` was taken or the page names an order without a summary.
    pub fn store_page(
        &self,
        ticket: &PageReadTicket,
        at: &PageAt<'_>,
        read: &Read<Page>,
        rendered: &Arc<RenderedPage>,
    ) {
        if !self.is_live() || !self.pages.is_enabled() {
            return;
        }
        let orders: Option<Vec<(String, u64)>> = read
            .value
            .entries
            .iter()
            .map(|e| Some((e.position.order_id.clone(), e.summary.as_ref()?.revision)))
            .collect();
        let Some(orders) = orders else {
            return;
        };
        let shown = Shown {
            generation: read.generation.clone(),
            checkpoint: read.checkpoint,
            orders,
            page: rendered.clone(),
            stamp: AtomicU64::new(ticket.summaries.all),
        };
        self.pages.store(ticket.index, at, shown);
    }

    /// The index `index` (its key without the generation) changed in Redis: drops its pages.
    pub fn invalidate_index(&self, index: &str) {
        self.pages.invalidate(index);
    }

    /// Entries held now (tests look behind the cache with it).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(&s.entries).len()).sum()
    }

    /// Whether no entry is held.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_of(&self, order_id: &str) -> usize {
        (self.hasher.hash_one(order_id) % SHARDS as u64) as usize
    }

    fn lock(&self, order_id: &str) -> MutexGuard<'_, HashMap<String, Entry>> {
        lock(&self.shards[self.shard_of(order_id)].entries)
    }
}

fn lock(entries: &Mutex<HashMap<String, Entry>>) -> MutexGuard<'_, HashMap<String, Entry>> {
    // Nothing panics while a shard is locked; its map is consistent either way.
    entries.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Cursor;
    use crate::store::PageEntry;

    fn summary(revision: u64) -> Summary {
        Summary {
            revision,
            json: Bytes::from(format!("{{\"_revision\":{revision}}}")),
        }
    }

    fn live(capacity: usize) -> SummaryCache {
        let cache = SummaryCache::new(capacity, None);
        cache.set_live(true);
        cache
    }

    #[test]
    fn a_stored_read_answers_demands_up_to_its_checkpoint() {
        let cache = live(100);
        let ticket = cache.ticket();
        cache.store(&ticket, "o-1", "g0", 10, summary(2));
        let hit = cache.order("o-1", 0).expect("a plain read hits");
        assert_eq!((hit.generation.as_str(), hit.checkpoint), ("g0", 10));
        assert_eq!(hit.value, Some(summary(2)));
        assert!(cache.order("o-1", 10).is_some());
        assert!(
            cache.order("o-1", 11).is_none(),
            "an entry older than the demanded position must go to Redis"
        );
        assert!(cache.order("o-2", 0).is_none());
    }

    #[test]
    fn pages_take_only_the_exact_generation_and_revision() {
        let cache = live(100);
        cache.store(&cache.ticket(), "o-1", "g0", 10, summary(2));
        let one =
            |generation, revision| cache.summaries(generation, [("o-1", revision)].into_iter());
        assert_eq!(one("g0", 2), Some(vec![summary(2)]));
        assert_eq!(one("g0", 3), None);
        assert_eq!(one("g1", 2), None);
    }

    #[test]
    fn invalidation_drops_the_entry() {
        let cache = live(100);
        cache.store(&cache.ticket(), "o-1", "g0", 10, summary(2));
        cache.store(&cache.ticket(), "o-2", "g0", 10, summary(1));
        cache.invalidate("o-1");
        assert!(cache.order("o-1", 0).is_none());
        assert!(cache.order("o-2", 0).is_some());
        cache.clear();
        assert!(cache.order("o-2", 0).is_none());
    }

    #[test]
    fn a_read_begun_before_an_invalidation_does_not_store() {
        let cache = live(100);
        let ticket = cache.ticket();
        // The order changes in Redis while the read is on its way back.
        cache.invalidate("o-1");
        cache.store(&ticket, "o-1", "g0", 10, summary(2));
        assert!(cache.order("o-1", 0).is_none());
        // Neither after a clear (a generation switch) nor across an off/on of the cache.
        let ticket = cache.ticket();
        cache.clear();
        cache.store(&ticket, "o-1", "g0", 10, summary(2));
        assert!(cache.is_empty());
        let ticket = cache.ticket();
        cache.set_live(false);
        cache.set_live(true);
        cache.store(&ticket, "o-1", "g0", 10, summary(2));
        assert!(cache.is_empty());
        // A fresh ticket stores.
        cache.store(&cache.ticket(), "o-1", "g0", 11, summary(3));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn an_off_cache_neither_answers_nor_stores_and_empties() {
        let cache = live(100);
        cache.store(&cache.ticket(), "o-1", "g0", 10, summary(2));
        cache.set_live(false);
        assert!(cache.order("o-1", 0).is_none());
        cache.store(&cache.ticket(), "o-2", "g0", 10, summary(2));
        assert!(cache.is_empty());
        cache.set_live(true);
        assert!(
            cache.order("o-1", 0).is_none(),
            "entries from before the outage are gone"
        );
    }

    fn page_read(generation: &str, checkpoint: u64, orders: &[(&str, u64)]) -> Read<Page> {
        Read {
            generation: generation.to_owned(),
            checkpoint,
            value: Page {
                entries: orders
                    .iter()
                    .enumerate()
                    .map(|(i, (id, revision))| PageEntry {
                        position: Cursor {
                            score: 100 - i as u64,
                            order_id: (*id).to_owned(),
                        },
                        summary: Some(summary(*revision)),
                    })
                    .collect(),
                has_more: true,
            },
        }
    }

    const ALL: &str = ":index:orders";

    fn at(index: &str, limit: usize) -> PageAt<'_> {
        PageAt {
            index,
            after: None,
            limit,
        }
    }

    /// Stores `read` as the page `at` with a ticket taken now; the rendered page.
    fn keep(cache: &SummaryCache, at: &PageAt<'_>, read: &Read<Page>) -> Arc<RenderedPage> {
        let rendered = Arc::new(read.value.render(&read.generation));
        cache.store_page(&cache.page_ticket(), at, read, &rendered);
        rendered
    }

    #[test]
    fn a_held_page_answers_while_no_order_on_it_changed() {
        let cache = live(100).with_pages(1 << 20);
        cache.set_live(true);
        let read = page_read("g0", 10, &[("o-1", 2), ("o-2", 5)]);
        let rendered = keep(&cache, &at(ALL, 2), &read);
        let hit = cache.page(&at(ALL, 2), 0).expect("held");
        assert_eq!((hit.generation.as_str(), hit.checkpoint), ("g0", 10));
        assert_eq!(hit.value, rendered);
        assert!(cache.page(&at(ALL, 2), 10).is_some());
        assert!(
            cache.page(&at(ALL, 2), 11).is_none(),
            "a page older than the demanded position must go to Redis"
        );
        // Another order changed: the page must be checked, and holds without its summaries.
        cache.invalidate("o-9");
        assert!(cache.page(&at(ALL, 2), 0).is_none());
        cache.store(&cache.ticket(), "o-1", "g0", 10, summary(2));
        cache.store(&cache.ticket(), "o-2", "g0", 10, summary(5));
        assert!(
            cache.page(&at(ALL, 2), 0).is_some(),
            "checked and stamped again"
        );
        cache.invalidate("o-9");
        assert!(cache.page(&at(ALL, 2), 0).is_some(), "checked again");
        // o-2 changed: held again at a later revision, the page no longer answers.
        cache.invalidate("o-2");
        assert!(cache.page(&at(ALL, 2), 0).is_none());
        cache.store(&cache.ticket(), "o-2", "g0", 12, summary(6));
        assert!(cache.page(&at(ALL, 2), 0).is_none());
    }

    #[test]
    fn a_page_read_begun_before_a_change_is_checked_before_it_answers() {
        let cache = live(100).with_pages(1 << 20);
        let read = page_read("g0", 10, &[("o-1", 2)]);
        let ticket = cache.page_ticket();
        // o-1 changes while the read is on its way back: the page is kept, but not trusted.
        cache.invalidate("o-1");
        let rendered = Arc::new(read.value.render("g0"));
        cache.store_page(&ticket, &at(ALL, 1), &read, &rendered);
        assert!(cache.page(&at(ALL, 1), 0).is_none());
        // An index change meanwhile: not even kept.
        let ticket = cache.page_ticket();
        cache.invalidate_index(":index:status:pending");
        cache.store_page(&ticket, &at(ALL, 2), &read, &rendered);
        assert_eq!(cache.pages.len(), 1, "only the first page is held");
    }

    #[test]
    fn pages_of_other_generations_gaps_or_an_off_cache_are_not_answered() {
        let cache = live(100).with_pages(1 << 20);
        cache.store(&cache.ticket(), "o-1", "g0", 10, summary(2));
        let other = page_read("g1", 10, &[("o-1", 2)]);
        keep(&cache, &at(ALL, 1), &other);
        cache.invalidate("o-9");
        assert!(
            cache.page(&at(ALL, 1), 0).is_none(),
            "o-1 is held for g0 only"
        );
        let mut gap = page_read("g0", 10, &[("o-1", 2)]);
        gap.value.entries[0].summary = None;
        keep(&cache, &at(ALL, 3), &gap);
        assert_eq!(cache.pages.len(), 1, "a page with a gap is not kept");
        // Off: nothing answers, and the pages are gone when it is on again.
        keep(
            &cache,
            &at(":index:status:pending", 1),
            &page_read("g0", 10, &[("o-1", 2)]),
        );
        assert!(cache.page(&at(":index:status:pending", 1), 0).is_some());
        cache.set_live(false);
        assert!(cache.page(&at(":index:status:pending", 1), 0).is_none());
        cache.set_live(true);
        cache.store(&cache.ticket(), "o-1", "g0", 10, summary(2));
        assert!(cache.page(&at(":index:status:pending", 1), 0).is_none());
        assert_eq!(cache.pages.len(), 0);
    }

    #[test]
    fn the_capacity_bounds_the_entries() {
        let cache = live(SHARDS * 2);
        for i in 0..1000 {
            cache.store(&cache.ticket(), &format!("o-{i}"), "g0", 1, summary(1));
        }
        assert!(cache.len() <= SHARDS * 2, "{} entries", cache.len());
        assert!(cache.len() >= SHARDS, "every shard holds some");
        // Replacing an entry in a full shard keeps the others.
        let before = cache.len();
        cache.store(&cache.ticket(), "o-999", "g0", 2, summary(2));
        assert_eq!(cache.len(), before);
    }
}
