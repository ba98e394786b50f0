//! Event filters: which event types a subscription (or a read-all `type` query) wants.
//!
//! A filter is one pattern or a list of them, as in `deltabase.config.ts`:
//! `"*"` (everything), `"order.*"` (a namespace: every type starting with `order.`),
//! `"*.placed"` (every type ending in `.placed`) and exact types (`"order.placed"`).
//! A type matches the filter when it matches any of its patterns.
//!
//! The filter is evaluated twice, identically: in Rust ([`EventFilter::matches`]) and in SQL, as
//! `type LIKE ANY($patterns)` with [`EventFilter::sql_like_patterns`], so that the store never
//! reads events only to throw them away.

use serde::{Deserialize, Serialize};

/// Most patterns one filter may hold.
pub const MAX_PATTERNS: usize = 100;
/// Longest pattern accepted.
pub const MAX_PATTERN_LEN: usize = 200;

/// A filter as written: one pattern or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FilterSpec {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for FilterSpec {
    /// By hand rather than `untagged`, so that a wrong type says what is expected.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = FilterSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event type pattern or an array of them")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FilterSpec, E> {
                Ok(FilterSpec::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FilterSpec, A::Error> {
                let mut patterns = Vec::new();
                while let Some(pattern) = seq.next_element::<String>()? {
                    patterns.push(pattern);
                }
                Ok(FilterSpec::Many(patterns))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Default for FilterSpec {
    fn default() -> Self {
        Self::One("*".to_owned())
    }
}

/// One checked pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// `*`: every type.
    Any,
    /// `ns.*`: types starting with `ns.` (the stored prefix includes the dot).
    Prefix(String),
    /// `*.name`: types ending with `.name` (the stored suffix includes the dot).
    Suffix(String),
    /// An exact type.
    Exact(String),
}

impl Pattern {
    /// Parses one pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a pattern must not be empty".to_owned());
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "a pattern must be at most {MAX_PATTERN_LEN} characters"
            ));
        }
        if let Some(bad) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("a pattern must not contain {bad:?}"));
        }
        if text == "*" {
            return Ok(Self::Any);
        }
        let stars = text.matches('*').count();
        let pattern = if stars == 0 {
            Self::Exact(text.to_owned())
        } else if stars == 1 && text.ends_with(".*") && text.len() > 2 {
            Self::Prefix(text[..text.len() - 1].to_owned())
        } else if stars == 1 && text.starts_with("*.") && text.len() > 2 {
            Self::Suffix(text[1..].to_owned())
        } else {
            return Err(format!(
                "{text:?} is not a valid pattern: use \"*\", \"ns.*\", \"*.name\" or an exact type"
            ));
        };
        Ok(pattern)
    }

    /// Whether an event type matches.
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Prefix(prefix) => event_type.starts_with(prefix.as_str()),
            Self::Suffix(suffix) => event_type.ends_with(suffix.as_str()),
            Self::Exact(exact) => event_type == exact,
        }
    }

    /// The pattern as written.
    pub fn as_text(&self) -> String {
        match self {
            Self::Any => "*".to_owned(),
            Self::Prefix(prefix) => format!("{prefix}*"),
            Self::Suffix(suffix) => format!("*{suffix}"),
            Self::Exact(exact) => exact.clone(),
        }
    }

    /// The SQL `LIKE` pattern (escape character `\`) that matches what this pattern matches.
    pub fn sql_like(&self) -> String {
        match self {
            Self::Any => "%".to_owned(),
            Self::Prefix(prefix) => format!("{}%", escape_like(prefix)),
            Self::Suffix(suffix) => format!("%{}", escape_like(suffix)),
            Self::Exact(exact) => escape_like(exact),
        }
    }
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A checked filter: a non-empty, sorted, duplicate-free set of patterns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventFilter {
    patterns: Vec<Pattern>,
}

/// Why a filter was refused: the index of the bad pattern (for list filters) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidFilter {
    /// Index of the offending pattern in a list filter; `None` for a single pattern or the list.
    pub index: Option<usize>,
    pub reason: String,
}

impl EventFilter {
    /// The filter that matches every event.
    pub fn all() -> Self {
        Self {
            patterns: vec![Pattern::Any],
        }
    }

    /// Checks a filter as written.
    pub fn parse(spec: &FilterSpec) -> Result<Self, InvalidFilter> {
        let texts: Vec<&str> = match spec {
            FilterSpec::One(text) => vec![text.as_str()],
            FilterSpec::Many(texts) => texts.iter().map(String::as_str).collect(),
        };
        if texts.is_empty() {
            return Err(InvalidFilter {
                index: None,
                reason: "must hold at least one pattern".to_owned(),
            });
        }
        if texts.len() > MAX_PATTERNS {
            return Err(InvalidFilter {
                index: None,
                reason: format!("must hold at most {MAX_PATTERNS} patterns"),
            });
        }
        let list = matches!(spec, FilterSpec::Many(_));
        let mut patterns = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Pattern::parse(text).map_err(|reason| InvalidFilter {
                    index: list.then_some(i),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.contains(&Pattern::Any) {
            return Ok(Self::all());
        }
        patterns.sort();
        patterns.dedup();
        Ok(Self { patterns })
    }

    /// Parses the compact form used in query strings: patterns separated by commas.
    pub fn parse_query(text: &str) -> Result<Self, InvalidFilter> {
        let parts = text.split(',').map(|p| p.trim().to_owned()).collect();
        Self::parse(&FilterSpec::Many(parts))
    }

    /// Whether an event type passes.
    pub fn matches(&self, event_type: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(event_type))
    }

    /// Whether this filter lets every event through (so a query needs no type condition).
    pub fn is_all(&self) -> bool {
        self.patterns == [Pattern::Any]
    }

    /// The patterns.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// `LIKE` patterns (escape `\`) for `type LIKE ANY($1)`; `None` when the filter is `*`.
    pub fn sql_like_patterns(&self) -> Option<Vec<String>> {
        (!self.is_all()).then(|| self.patterns.iter().map(Pattern::sql_like).collect())
    }

    /// The canonical written form: `"*"` or the sorted list of patterns.
    pub fn to_spec(&self) -> FilterSpec {
        if self.is_all() {
            FilterSpec::One("*".to_owned())
        } else {
            FilterSpec::Many(self.patterns.iter().map(Pattern::as_text).collect())
        }
    }
}

#[cfg(test)]
mod tests;
