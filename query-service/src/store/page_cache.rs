//! [`PageCache`]: recent list pages as answered (their rendered JSON), with what they showed
//! (each order's id and `_revision`), so that a page asked for again needs no Redis round trip.
//!
//! A cached page is answered only while it is still exactly what one atomic read found (the
//! checks are the [`SummaryCache`](super::cache::SummaryCache)'s, which owns this cache):
//! * its index has not changed since: a change to an index key (pushed like every other change
//!   of the namespace) drops that index's pages, and a page read begun before an index change
//!   never stores ([`PageTicket`]);
//! * no order on it has changed since: either no summary change at all has been pushed since
//!   the page's read began or was last checked (its stamp), or every order on it is held in the
//!   summary cache at the generation and `_revision` that read found (the summary cache drops an
//!   order's entry when its summary changes, and a revision never repeats within a generation);
//! * it is emptied whenever the summary cache empties itself (a generation switch, a flush, the
//!   tracking connection lost or back).
//!
//! So a page from here is as consistent as a page read from Redis, and as current as a cached
//! single order: until the push about a change arrives.
//!
//! Bounded by `QUERY_PAGE_CACHE_MB` (counting each page's JSON and order ids); a full cache
//! makes room by dropping arbitrary pages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::page::RenderedPage;
use crate::cursor::Cursor;

/// What one atomic page read found, and the page as answered.
#[derive(Debug)]
pub struct Shown {
    /// The generation the page was read from.
    pub generation: String,
    /// That read's checkpoint.
    pub checkpoint: u64,
    /// Each order's id and the `_revision` its summary had, newest first.
    pub orders: Vec<(String, u64)>,
    /// The answer.
    pub page: Arc<RenderedPage>,
    /// The summary cache's count of summary changes at which every order on the page was last
    /// known unchanged (see [`SummaryCache::page`](super::cache::SummaryCache::page)).
    pub stamp: AtomicU64,
}

impl Shown {
    /// Roughly the memory the page holds.
    fn bytes(&self) -> usize {
        const OVERHEAD: usize = 256;
        OVERHEAD
            + self.page.body.len()
            + self
                .orders
                .iter()
                .map(|(id, _)| id.len() + 32)
                .sum::<usize>()
    }
}

/// Which page: of which index (its key without the generation), after which cursor, how long.
#[derive(Debug, Clone, Copy)]
pub struct PageAt<'a> {
    pub index: &'a str,
    pub after: Option<&'a Cursor>,
    pub limit: usize,
}

/// A page of one index: the cursor it starts after and its length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PageKey {
    after: Option<Cursor>,
    limit: usize,
}

impl PageKey {
    fn of(at: &PageAt<'_>) -> Self {
        Self {
            after: at.after.cloned(),
            limit: at.limit,
        }
    }
}

#[derive(Debug, Default)]
struct Pages {
    /// By index (its key without the generation), then by page.
    by_index: HashMap<String, HashMap<PageKey, Arc<Shown>>>,
    /// Pages held, over every index.
    count: usize,
    /// Their [`Shown::bytes`], summed.
    bytes: usize,
}

/// Taken before a page read: the count of index changes at that moment. A store with it
/// succeeds only if no index changed since.
#[derive(Debug, Clone, Copy)]
pub struct PageTicket(u64);

/// The pages of one process (owned by the summary cache, which keeps both in step).
#[derive(Debug)]
pub struct PageCache {
    /// Most [`Shown::bytes`] held, summed.
    capacity: usize,
    /// Bumped (under the lock) by every index change and every clear; read without it.
    invalidations: AtomicU64,
    pages: Mutex<Pages>,
}

impl PageCache {
    /// An empty cache of at most `capacity` bytes of pages (0: nothing is ever stored).
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

    /// The page `at`, if held.
    pub fn get(&self, at: &PageAt<'_>) -> Option<Arc<Shown>> {
        if !self.is_enabled() {
            return None;
        }
        self.lock()
            .by_index
            .get(at.index)?
            .get(&PageKey::of(at))
            .cloned()
    }

    /// The count of index changes now; take it before the page read whose answer you will
    /// store.
    pub fn ticket(&self) -> PageTicket {
        PageTicket(self.invalidations.load(Ordering::Acquire))
    }

    /// Stores what a page read that began at `ticket` found, unless an index changed since (or
    /// the page alone is larger than the whole cache).
    pub fn store(&self, ticket: PageTicket, at: &PageAt<'_>, shown: Shown) {
        if !self.is_enabled() {
            return;
        }
        let mut pages = self.lock();
        if self.invalidations.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        let size = shown.bytes();
        if size > self.capacity {
            return;
        }
        let index_pages = pages.by_index.entry(at.index.to_owned()).or_default();
        if let Some(replaced) = index_pages.insert(PageKey::of(at), Arc::new(shown)) {
            pages.count -= 1;
            pages.bytes -= replaced.bytes();
        }
        pages.count += 1;
        pages.bytes += size;
        while pages.bytes > self.capacity {
            pages.evict_one();
        }
    }

    /// The index `index` changed in Redis: drops its pages, and fails stores of page reads
    /// begun before.
    pub fn invalidate(&self, index: &str) {
        let mut pages = self.lock();
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        if let Some(dropped) = pages.by_index.remove(index) {
            pages.count -= dropped.len();
            pages.bytes -= dropped.values().map(|s| s.bytes()).sum::<usize>();
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
        let key = pages.keys().next().cloned();
        if let Some(dropped) = key.and_then(|key| pages.remove(&key)) {
            self.count -= 1;
            self.bytes -= dropped.bytes();
        }
        if pages.is_empty() {
            self.by_index.remove(&index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn at<'a>(index: &'a str, after: Option<&'a Cursor>, limit: usize) -> PageAt<'a> {
        PageAt {
            index,
            after,
            limit,
        }
    }

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
            orders: vec![("o-3".to_owned(), revision), ("o-2".to_owned(), 1)],
            page: Arc::new(RenderedPage {
                body: Bytes::from(format!("[{revision}]")),
                count: 2,
                next: Some(cursor(2)),
            }),
            stamp: AtomicU64::new(0),
        }
    }

    fn body(shown: Option<Arc<Shown>>) -> Option<Bytes> {
        shown.map(|s| s.page.body.clone())
    }

    #[test]
    fn a_page_is_held_by_index_cursor_and_limit() {
        let cache = PageCache::new(10_000);
        cache.store(cache.ticket(), &at(":index:orders", None, 2), shown(1));
        assert_eq!(
            body(cache.get(&at(":index:orders", None, 2))),
            Some(Bytes::from("[1]"))
        );
        assert!(cache.get(&at(":index:orders", None, 3)).is_none());
        assert!(
            cache
                .get(&at(":index:orders", Some(&cursor(5)), 2))
                .is_none()
        );
        assert!(cache.get(&at(":index:status:pending", None, 2)).is_none());
        cache.store(
            cache.ticket(),
            &at(":index:orders", Some(&cursor(5)), 2),
            shown(2),
        );
        assert_eq!(
            body(cache.get(&at(":index:orders", Some(&cursor(5)), 2))),
            Some(Bytes::from("[2]"))
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn an_index_change_drops_its_pages_only() {
        let cache = PageCache::new(10_000);
        cache.store(cache.ticket(), &at(":index:orders", None, 2), shown(1));
        cache.store(
            cache.ticket(),
            &at(":index:orders", Some(&cursor(5)), 2),
            shown(1),
        );
        cache.store(
            cache.ticket(),
            &at(":index:status:pending", None, 2),
            shown(1),
        );
        cache.invalidate(":index:orders");
        assert!(cache.get(&at(":index:orders", None, 2)).is_none());
        assert!(
            cache
                .get(&at(":index:orders", Some(&cursor(5)), 2))
                .is_none()
        );
        assert!(cache.get(&at(":index:status:pending", None, 2)).is_some());
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.lock().bytes, shown(1).bytes());
        cache.clear();
        assert_eq!((cache.len(), cache.lock().bytes), (0, 0));
        assert!(cache.get(&at(":index:status:pending", None, 2)).is_none());
    }

    #[test]
    fn a_read_begun_before_an_index_change_does_not_store() {
        let cache = PageCache::new(10_000);
        let ticket = cache.ticket();
        // Any index: the ticket does not tell indexes apart.
        cache.invalidate(":index:status:shipped");
        cache.store(ticket, &at(":index:orders", None, 2), shown(1));
        assert!(cache.get(&at(":index:orders", None, 2)).is_none());
        let ticket = cache.ticket();
        cache.clear();
        cache.store(ticket, &at(":index:orders", None, 2), shown(1));
        assert_eq!(cache.len(), 0);
        cache.store(cache.ticket(), &at(":index:orders", None, 2), shown(1));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_capacity_bounds_the_bytes_held_and_zero_keeps_none() {
        let one = shown(1).bytes();
        let cache = PageCache::new(3 * one);
        for score in 0..20 {
            let index = format!(":index:customer:c-{}", score % 4);
            cache.store(
                cache.ticket(),
                &at(&index, Some(&cursor(score)), 2),
                shown(1),
            );
            assert!(cache.len() <= 3, "{} pages", cache.len());
            let (pages, bytes) = (cache.len(), cache.lock().bytes);
            assert_eq!(bytes, pages * one);
        }
        assert_eq!(cache.len(), 3);
        // Storing a page again replaces it without evicting another.
        cache.store(
            cache.ticket(),
            &at(":index:customer:c-3", Some(&cursor(19)), 2),
            shown(2),
        );
        assert_eq!(cache.len(), 3);
        let small = PageCache::new(one - 1);
        small.store(small.ticket(), &at(":index:orders", None, 2), shown(1));
        assert_eq!(small.len(), 0, "a page larger than the cache is not kept");
        let off = PageCache::new(0);
        off.store(off.ticket(), &at(":index:orders", None, 2), shown(1));
        assert!(off.get(&at(":index:orders", None, 2)).is_none());
    }
}
