//! Key templates: a read-model key with a hole where the generation goes, so that a script can
//! build the key of whatever generation the pointer names, while the layout itself stays
//! defined by `ReadModelKeys` in shared-domain (never re-spelled here).

use redis::ScriptInvocation;
use shared_domain::orders::OrderStatus;
use shared_domain::read_model::{GenerationKeys, ReadModelKeys};

/// Stands in for the generation while a template is derived; no namespace or generation
/// contains control characters.
const MARK: &str = "\u{1}generation\u{1}";

/// `before .. generation .. after .. suffix` is a key of any generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    before: String,
    after: String,
}

impl KeyTemplate {
    /// The template of the key `key` makes in a generation. Panics if the layout stops putting
    /// the generation into its keys (a programming error the unit tests catch).
    fn of(keys: &ReadModelKeys, key: impl Fn(&GenerationKeys) -> String) -> Self {
        let full = key(&keys.generation(MARK));
        let (before, after) = full
            .split_once(MARK)
            .expect("every read-model key contains its generation");
        Self {
            before: before.to_owned(),
            after: after.to_owned(),
        }
    }

    /// The template of one customer's index.
    pub fn customer_orders(keys: &ReadModelKeys, customer_id: &str) -> Self {
        Self::of(keys, |g| g.customer_orders(customer_id))
    }

    /// Appends the two script arguments; `suffix` is appended to `after`.
    pub fn push_args(&self, call: &mut ScriptInvocation<'_>, suffix: &str) {
        if suffix.is_empty() {
            call.arg(&self.before).arg(&self.after);
        } else {
            call.arg(&self.before)
                .arg(format!("{}{suffix}", self.after));
        }
    }

    /// The generation and suffix of `key` if it is this template's key of some generation
    /// (generations hold no `:`, so the first `after` ends the generation).
    pub fn parse<'k>(&self, key: &'k str) -> Option<(&'k str, &'k str)> {
        let rest = key.strip_prefix(self.before.as_str())?;
        let (generation, suffix) = rest.split_once(self.after.as_str())?;
        (!generation.is_empty() && !generation.contains(':')).then_some((generation, suffix))
    }

    /// What follows the generation in this template's keys: the same in every generation.
    pub fn rest(&self) -> &str {
        &self.after
    }

    /// The key in `generation` (what the script builds), for tests.
    #[cfg(test)]
    fn key(&self, generation: &str, suffix: &str) -> String {
        format!("{}{generation}{}{suffix}", self.before, self.after)
    }
}

/// The templates every request needs, derived once.
#[derive(Debug)]
pub struct Templates {
    /// The checkpoint key.
    pub checkpoint: KeyTemplate,
    /// The summary key *without* the order id: scripts append the id.
    pub summary: KeyTemplate,
    /// The index of all orders.
    pub all_orders: KeyTemplate,
    /// The status indexes, in [`OrderStatus::ALL`] order.
    status: Vec<(OrderStatus, KeyTemplate)>,
    /// The analytics hash.
    pub analytics: KeyTemplate,
    /// The index of one customer's orders, without the customer id: what such keys start with.
    customer_orders: KeyTemplate,
}

impl Templates {
    /// Derives the templates of namespace `keys`. Panics if the order-summary key stops ending in
    /// the order id, which the scripts rely on.
    pub fn new(keys: &ReadModelKeys) -> Self {
        const PROBE: &str = "\u{1}order\u{1}";
        let summary = KeyTemplate::of(keys, |g| g.order_summary(PROBE));
        let summary = KeyTemplate {
            after: summary
                .after
                .strip_suffix(PROBE)
                .expect("the order-summary key ends with the order id")
                .to_owned(),
            before: summary.before,
        };
        Self {
            checkpoint: KeyTemplate::of(keys, GenerationKeys::checkpoint),
            summary,
            all_orders: KeyTemplate::of(keys, GenerationKeys::all_orders),
            status: OrderStatus::ALL
                .into_iter()
                .map(|s| (s, KeyTemplate::of(keys, |g| g.orders_by_status(s))))
                .collect(),
            analytics: KeyTemplate::of(keys, GenerationKeys::analytics),
            customer_orders: KeyTemplate::customer_orders(keys, ""),
        }
    }

    /// If `key` is a list index of some generation (all orders, a status, a customer), its
    /// [`rest`](KeyTemplate::rest): what names the index in any generation.
    pub fn index_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        // Every key of a generation is `before .. generation .. rest`, with one `before`.
        let rest = key.strip_prefix(self.all_orders.before.as_str())?;
        let rest = &rest[rest.find(':')?..];
        let is_index = rest == self.all_orders.after
            || self.status.iter().any(|(_, t)| rest == t.after)
            || rest.starts_with(self.customer_orders.after.as_str());
        is_index.then_some(rest)
    }

    /// The index of orders in `status`.
    pub fn status(&self, status: OrderStatus) -> &KeyTemplate {
        self.status
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, t)| t)
            .expect("a template exists for every status")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_rebuild_the_layouts_keys_in_any_generation() {
        let keys = ReadModelKeys::new("shop");
        let t = Templates::new(&keys);
        for generation in ["g0", "g17"] {
            let g = keys.generation(generation);
            assert_eq!(t.checkpoint.key(generation, ""), g.checkpoint());
            assert_eq!(t.summary.key(generation, "o:1"), g.order_summary("o:1"));
            assert_eq!(
                t.summary.parse(&g.order_summary("o:1")),
                Some((generation, "o:1"))
            );
            assert_eq!(t.summary.parse(&g.all_orders()), None);
            assert_eq!(
                t.summary.parse(&g.customer_orders("c:order-summary:x")),
                None
            );
            assert_eq!(t.all_orders.key(generation, ""), g.all_orders());
            assert_eq!(t.analytics.key(generation, ""), g.analytics());
            for status in OrderStatus::ALL {
                assert_eq!(
                    t.status(status).key(generation, ""),
                    g.orders_by_status(status)
                );
            }
            assert_eq!(
                KeyTemplate::customer_orders(&keys, "c-1").key(generation, ""),
                g.customer_orders("c-1")
            );
        }
    }

    #[test]
    fn index_keys_are_named_alike_in_every_generation_and_other_keys_are_not_indexes() {
        let keys = ReadModelKeys::new("shop");
        let t = Templates::new(&keys);
        let customer = KeyTemplate::customer_orders(&keys, "c:1");
        for generation in ["g0", "g17"] {
            let g = keys.generation(generation);
            assert_eq!(t.index_of(&g.all_orders()), Some(t.all_orders.rest()));
            assert_eq!(t.index_of(&g.customer_orders("c:1")), Some(customer.rest()));
            for status in OrderStatus::ALL {
                assert_eq!(
                    t.index_of(&g.orders_by_status(status)),
                    Some(t.status(status).rest())
                );
            }
            for other in [g.checkpoint(), g.analytics(), g.order_summary("o-1")] {
                assert_eq!(t.index_of(&other), None, "{other}");
            }
        }
        assert_eq!(t.index_of(&keys.generation_pointer()), None);
        assert_eq!(
            t.index_of(&ReadModelKeys::new("other").generation("g0").all_orders()),
            None
        );
    }
}
