//! [`PageCache`]: what recent list pages showed — their orders' index positions and revisions,
//! not the summaries — so that a page asked for again can be answered from the
//! [`SummaryCache`](super::cache::SummaryCache) with no Redis round trip.
//!
//! A cached page is answered only while it is still exactly what one atomic read found:
//! * its index has not changed since: a change to an index key (pushed like every other change
//!   of the namespace) drops that index's pages, and a page read begun before an index change
//!   never stores ([`PageTicket`]);
//! * every order on it is in the summary cache at the generation and `_revision` that read
//!   found (the summary cache drops an order's entry when its summary changes, and a revision
//!   never repeats within a generation);
//! * the summary cache empties it whenever it empties itself (a generation switch, a flush, the
//!   tracking connection lost or back).
//!
//! So a page from here is as consistent as a page read from Redis, and as current as a cached
//! single order: until the push about a change arrives.
//!
//! Bounded by `QUERY_PAGE_CACHE_PAGES` (a full cache makes room by dropping an arbitrary page).
//! A page costs about 60 bytes per order it shows; the summaries themselves are held once, in
//! the summary cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::cursor::Cursor;

/// What one atomic page read found: the page's orders, and the read they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The generation the page was read from.
    pub generation: String,
    /// That read's checkpoint.
    pub checkpoint: u64,
    /// Each order's place in the index and the `_revision` its summary had, newest first.
    pub orders: Vec<(Cursor, u64)>,
    /// Whether more orders followed the last one.
    pub has_more: bool,
}

/// Which page of an index: the cursor it starts after and its length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PageKey {
    after: Option<Cursor>,
    limit: usize,
}

#[derive(Debug, Default)]
struct Pages {
    /// By index (its key without the generation), then by page.
    by_index: HashMap<String, HashMap<PageKey, Arc<Shown>>>,
    /// Pages held, over every index.
    count: usize,
}

/// Taken before a page read: the count of index changes at that moment. A store with it
/// succeeds only if no index changed since.
#[derive(Debug, Clone, Copy)]
pub struct PageTicket(u64);

/// The pages of one process (owned by the summary cache, which keeps both in step).
#[derive(Debug)]
pub struct PageCache {
    capacity: usize,
    /// Bumped (under the lock) by every index change and every clear; read without it.
    invalidations: AtomicU64,
    pages: Mutex<Pages>,
}

impl PageCache {
    /// An empty cache of at most `capacity` pages (0: nothing is ever stored).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            invalidations: AtomicU64::new(0),
            pages: Mutex::new(Pages::default()),
        }
    }

    /// Whether pages are kept at all.
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// What the page of `index` after `after`, `limit` long, showed, if held.
    pub fn get(&self, index: &str, after: Option<&Cursor>, limit: usize) -> Option<Arc<Shown>> {
        if !self.is_enabled() {
            return None;
        }
        let key = PageKey {
            after: after.cloned(),
            limit,
        };
        self.lock().by_index.get(index)?.get(&key).cloned()
    }

    /// The count of index changes now; take it before the page read whose answer you will
    /// store.
    pub fn ticket(&self) -> PageTicket {
        PageTicket(self.invalidations.load(Ordering::Acquire))
    }

    /// Stores what a page read that began at `ticket` found, unless an index changed since.
    pub fn store(
        &self,
        ticket: PageTicket,
        index: &str,
        after: Option<&Cursor>,
        limit: usize,
        shown: Shown,
    ) {
        if !self.is_enabled() {
            return;
        }
        let mut pages = self.lock();
        if self.invalidations.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        let key = PageKey {
            after: after.cloned(),
            limit,
        };
        let held = pages
            .by_index
            .get(index)
            .is_some_and(|p| p.contains_key(&key));
        if !held && pages.count >= self.capacity {
            pages.evict_one();
        }
        let replaced = pages
            .by_index
            .entry(index.to_owned())
            .or_default()
            .insert(key, Arc::new(shown));
        if replaced.is_none() {
            pages.count += 1;
        }
    }

    /// The index `index` changed in Redis: drops its pages, and fails stores of page reads
    /// begun before.
    pub fn invalidate(&self, index: &str) {
        let mut pages = self.lock();
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        if let Some(dropped) = pages.by_index.remove(index) {
            pages.count -= dropped.len();
        }
    }

    /// Drops every page, and fails every store of a page read begun before.
    pub fn clear(&self) {
        let mut pages = self.lock();
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        *pages = Pages::default();
    }

    /// Pages held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().count
    }

    fn lock(&self) -> MutexGuard<'_, Pages> {
        // Nothing panics while the lock is held; the maps are consistent either way.
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Pages {
    fn evict_one(&mut self) {
        let Some(index) = self.by_index.keys().next().cloned() else {
            return;
        };
        let Some(pages) = self.by_index.get_mut(&index) else {
            return;
        };
        if let Some(key) = pages.keys().next().cloned() {
            pages.remove(&key);
            self.count -= 1;
        }
        if pages.is_empty() {
            self.by_index.remove(&index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(score: u64) -> Cursor {
        Cursor {
            score,
            order_id: format!("o-{score}"),
        }
    }

    fn shown(revision: u64) -> Shown {
        Shown {
            generation: "g0".to_owned(),
            checkpoint: 9,
            orders: vec![(cursor(3), revision), (cursor(2), 1)],
            has_more: true,
        }
    }

    #[test]
    fn a_page_is_held_by_index_cursor_and_limit() {
        let cache = PageCache::new(10);
        cache.store(cache.ticket(), ":index:orders", None, 2, shown(1));
        assert_eq!(
            cache.get(":index:orders", None, 2).as_deref(),
            Some(&shown(1))
        );
        assert!(cache.get(":index:orders", None, 3).is_none());
        assert!(cache.get(":index:orders", Some(&cursor(5)), 2).is_none());
        assert!(cache.get(":index:status:pending", None, 2).is_none());
        cache.store(
            cache.ticket(),
            ":index:orders",
            Some(&cursor(5)),
            2,
            shown(2),
        );
        assert_eq!(
            cache.get(":index:orders", Some(&cursor(5)), 2).as_deref(),
            Some(&shown(2))
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn an_index_change_drops_its_pages_only() {
        let cache = PageCache::new(10);
        cache.store(cache.ticket(), ":index:orders", None, 2, shown(1));
        cache.store(
            cache.ticket(),
            ":index:orders",
            Some(&cursor(5)),
            2,
            shown(1),
        );
        cache.store(cache.ticket(), ":index:status:pending", None, 2, shown(1));
        cache.invalidate(":index:orders");
        assert!(cache.get(":index:orders", None, 2).is_none());
        assert!(cache.get(":index:orders", Some(&cursor(5)), 2).is_none());
        assert!(cache.get(":index:status:pending", None, 2).is_some());
        assert_eq!(cache.len(), 1);
        cache.clear();
        assert_eq!(cache.len(), 0);
        assert!(cache.get(":index:status:pending", None, 2).is_none());
    }

    #[test]
    fn a_read_begun_before_an_index_change_does_not_store() {
        let cache = PageCache::new(10);
        let ticket = cache.ticket();
        // Any index: the ticket does not tell indexes apart.
        cache.invalidate(":index:status:shipped");
        cache.store(ticket, ":index:orders", None, 2, shown(1));
        assert!(cache.get(":index:orders", None, 2).is_none());
        let ticket = cache.ticket();
        cache.clear();
        cache.store(ticket, ":index:orders", None, 2, shown(1));
        assert_eq!(cache.len(), 0);
        cache.store(cache.ticket(), ":index:orders", None, 2, shown(1));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_capacity_bounds_the_pages_and_zero_keeps_none() {
        let cache = PageCache::new(3);
        for score in 0..20 {
            let index = format!(":index:customer:c-{}", score % 4);
            cache.store(cache.ticket(), &index, Some(&cursor(score)), 2, shown(1));
            assert!(cache.len() <= 3, "{} pages", cache.len());
        }
        assert_eq!(cache.len(), 3);
        // Storing a page again replaces it without evicting another.
        cache.store(
            cache.ticket(),
            ":index:customer:c-3",
            Some(&cursor(19)),
            2,
            shown(2),
        );
        assert_eq!(cache.len(), 3);
        let off = PageCache::new(0);
        off.store(off.ticket(), ":index:orders", None, 2, shown(1));
        assert!(off.get(":index:orders", None, 2).is_none());
    }
}
