//! Pages of a newest-first list: [`Page`], and decoding the page script's answer into it.

use std::collections::HashMap;

use bytes::Bytes;

use shared_domain::read_model::{OrderSummary, summary_fields};

use super::cache::{Summary, SummaryCache};
use super::{StoreError, parse_position};
use crate::cursor::Cursor;

/// One order of a list page: its index entry and its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEntry {
    /// Where the order sits in the index (the next page's cursor, if it is the last).
    pub position: Cursor,
    /// The summary as answered, or `None` if the index names an order without one (never
    /// written so by the projection, which moves both in one step; tolerated rather than
    /// failing the page).
    pub summary: Option<Summary>,
}

/// One page of a newest-first list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// At most `limit` orders, newest first.
    pub entries: Vec<PageEntry>,
    /// Whether more orders follow the last entry.
    pub has_more: bool,
}

impl Page {
    /// The cursor of the page after this one, if there is one.
    pub fn next_cursor(&self) -> Option<Cursor> {
        self.has_more
            .then(|| self.entries.last().map(|e| e.position.clone()))
            .flatten()
    }

    /// The page as answered: the JSON array of its summaries (an order without one is left out,
    /// with a warning) and the next page's cursor.
    pub fn render(&self, generation: &str) -> RenderedPage {
        let summaries: Vec<&[u8]> = self
            .entries
            .iter()
            .filter_map(|entry| entry.summary.as_ref().map(|s| &s.json[..]))
            .collect();
        if summaries.len() != self.entries.len() {
            tracing::warn!(
                missing = self.entries.len() - summaries.len(),
                %generation,
                "index names orders without a summary; skipped"
            );
        }
        // The summaries are rendered JSON objects already: the array is their concatenation.
        let size = summaries.iter().map(|s| s.len() + 1).sum::<usize>() + 2;
        let mut body = Vec::with_capacity(size);
        body.push(b'[');
        for (i, summary) in summaries.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(summary);
        }
        body.push(b']');
        RenderedPage {
            body: body.into(),
            count: summaries.len(),
            next: self.next_cursor(),
        }
    }
}

/// A list page as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPage {
    /// The JSON array of the page's order summaries, newest first.
    pub body: Bytes,
    /// How many orders it holds.
    pub count: usize,
    /// The cursor of the page after it, if there is one (the `Link` header).
    pub next: Option<Cursor>,
}

/// Builds the page from the script's index entries (`[id, score, …]`, up to `limit + 1`) and
/// the summaries' values (in [`summary_fields::ALL`] order; `None`: no summary).
pub(super) fn page_from_reply(
    found: &[String],
    summaries: Vec<Option<Vec<Option<String>>>>,
    limit: usize,
) -> Result<Page, StoreError> {
    if !found.len().is_multiple_of(2) {
        return Err(StoreError::Corrupt("odd index reply".to_owned()));
    }
    let ids = found.len() / 2;
    let mut entries = Vec::with_capacity(ids.min(limit));
    for (pair, summary) in found.chunks_exact(2).zip(summaries) {
        entries.push(PageEntry {
            position: Cursor {
                score: parse_position(&pair[1])?,
                order_id: pair[0].clone(),
            },
            summary: match summary {
                Some(values) => OrderSummary::from_hash(&named_values(values)?)?
                    .map(|s| Summary::of(&s))
                    .transpose()?,
                None => None,
            },
        });
    }
    if entries.len() != ids.min(limit) {
        return Err(StoreError::Corrupt(
            "summary count differs from index".to_owned(),
        ));
    }
    Ok(Page {
        entries,
        has_more: ids > limit,
    })
}

/// The page from the revisions-only script's answer (index entries `[id, score, …]` and the
/// first `limit` ids' revisions joined by `,`) if `cache` holds every summary at exactly that
/// `generation` and revision; `None` at the first it lacks.
pub(super) fn page_from_cache(
    cache: &SummaryCache,
    generation: &str,
    found: &[String],
    revisions: &str,
    limit: usize,
) -> Result<Option<Page>, StoreError> {
    if !found.len().is_multiple_of(2) {
        return Err(StoreError::Corrupt("odd index reply".to_owned()));
    }
    let ids = found.len() / 2;
    let count = ids.min(limit);
    let mut revisions = revisions.split(',').filter(|_| count > 0);
    let mut wanted = Vec::with_capacity(count);
    for pair in found.chunks_exact(2).take(count) {
        let revision = revisions
            .next()
            .ok_or_else(|| StoreError::Corrupt("revision count differs from index".to_owned()))?;
        // No revision: a summary without one, or none; the full read tells which.
        let Ok(revision) = revision.parse::<u64>() else {
            return Ok(None);
        };
        wanted.push((pair[0].as_str(), revision));
    }
    if revisions.next().is_some() {
        return Err(StoreError::Corrupt(
            "revision count differs from index".to_owned(),
        ));
    }
    let Some(summaries) = cache.summaries(generation, wanted.into_iter()) else {
        return Ok(None);
    };
    let mut entries = Vec::with_capacity(count);
    for (pair, summary) in found.chunks_exact(2).zip(summaries) {
        entries.push(PageEntry {
            position: Cursor {
                score: parse_position(&pair[1])?,
                order_id: pair[0].clone(),
            },
            summary: Some(summary),
        });
    }
    Ok(Some(Page {
        entries,
        has_more: ids > limit,
    }))
}

/// The values of an `HMGET` of [`summary_fields::ALL`] as the map `from_hash` reads (absent
/// fields left out), moving the strings.
fn named_values(values: Vec<Option<String>>) -> Result<HashMap<String, String>, StoreError> {
    if values.len() != summary_fields::ALL.len() {
        return Err(StoreError::Corrupt("summary value count".to_owned()));
    }
    Ok(summary_fields::ALL
        .iter()
        .zip(values)
        .filter_map(|(name, value)| value.map(|v| ((*name).to_owned(), v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_list_names_every_field_the_projection_writes() {
        use chrono::Utc;
        use shared_domain::money::Money;
        use shared_domain::orders::OrderStatus;
        let now = Utc::now();
        let full = OrderSummary {
            order_id: "o-1".to_owned(),
            customer_id: "c-1".to_owned(),
            total_amount: Money::from(3),
            item_count: 1,
            status: OrderStatus::Cancelled,
            tracking_number: Some("T".to_owned()),
            carrier: Some("UPS".to_owned()),
            placed_at: now,
            shipped_at: Some(now),
            delivered_at: Some(now),
            cancelled_at: Some(now),
            revision: 4,
        };
        let mut written: Vec<&str> = full.to_hash().into_iter().map(|(name, _)| name).collect();
        let mut listed = summary_fields::ALL.to_vec();
        written.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, written);
        assert_eq!(
            summary_fields::ALL[0],
            summary_fields::ORDER_ID,
            "the script tests it first"
        );
        let values: Vec<Option<String>> = summary_fields::ALL
            .iter()
            .map(|name| {
                full.to_hash()
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v)
            })
            .collect();
        let back = OrderSummary::from_hash(&named_values(values).unwrap()).unwrap();
        assert_eq!(back, Some(full));
    }

    #[test]
    fn a_page_comes_from_the_cache_only_when_it_holds_every_revision() {
        let cache = SummaryCache::new(100, None);
        cache.set_live(true);
        let summary = |revision| Summary {
            revision,
            json: format!("{{\"r\":{revision}}}").into(),
        };
        cache.store(&cache.ticket(), "o-3", "g0", 9, summary(1));
        cache.store(&cache.ticket(), "o-2", "g0", 9, summary(4));
        let found: Vec<String> = ["o-3", "3", "o-2", "2", "o-1", "1"]
            .map(String::from)
            .to_vec();
        let page = page_from_cache(&cache, "g0", &found, "1,4", 2)
            .unwrap()
            .expect("both held");
        assert!(page.has_more);
        let held: Vec<_> = page.entries.iter().map(|e| e.summary.clone()).collect();
        assert_eq!(held, vec![Some(summary(1)), Some(summary(4))]);
        assert_eq!(
            page_from_cache(&cache, "g0", &found, "1,5", 2).unwrap(),
            None
        );
        assert_eq!(
            page_from_cache(&cache, "g1", &found, "1,4", 2).unwrap(),
            None
        );
        assert_eq!(
            page_from_cache(&cache, "g0", &found, "1,", 2).unwrap(),
            None
        );
        assert!(page_from_cache(&cache, "g0", &found, "1", 2).is_err());
        assert!(page_from_cache(&cache, "g0", &found, "1,4,1", 2).is_err());
        let empty = page_from_cache(&cache, "g0", &[], "", 2).unwrap().unwrap();
        assert!(empty.entries.is_empty() && !empty.has_more);
    }

    #[test]
    fn an_extra_index_entry_means_a_next_page() {
        let found: Vec<String> = ["o-3", "3", "o-2", "2", "o-1", "1"]
            .map(String::from)
            .to_vec();
        let page = page_from_reply(&found, vec![None, None], 2).unwrap();
        assert_eq!(page.entries.len(), 2);
        assert!(page.has_more);
        assert_eq!(
            page.next_cursor(),
            Some(Cursor {
                score: 2,
                order_id: "o-2".to_owned()
            })
        );
        let last = page_from_reply(&found[..4], vec![None, None], 2).unwrap();
        assert_eq!(last.next_cursor(), None);
    }

    #[test]
    fn a_page_renders_as_the_array_of_its_summaries() {
        let entry = |id: &str, json: Option<&str>| PageEntry {
            position: Cursor {
                score: 1,
                order_id: id.to_owned(),
            },
            summary: json.map(|j| Summary {
                revision: 1,
                json: Bytes::copy_from_slice(j.as_bytes()),
            }),
        };
        let page = Page {
            entries: vec![
                entry("o-3", Some(r#"{"a":1}"#)),
                entry("o-2", None),
                entry("o-1", Some(r#"{"b":"x"}"#)),
            ],
            has_more: true,
        };
        let rendered = page.render("g0");
        assert_eq!(rendered.body, Bytes::from(r#"[{"a":1},{"b":"x"}]"#));
        assert_eq!(rendered.count, 2);
        assert_eq!(rendered.next.unwrap().order_id, "o-1");
        let empty = Page {
            entries: vec![],
            has_more: false,
        }
        .render("g0");
        assert_eq!(
            (empty.body, empty.count, empty.next),
            (Bytes::from("[]"), 0, None)
        );
    }
}
