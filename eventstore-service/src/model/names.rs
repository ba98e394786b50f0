//! The names a request carries in its path or body, checked once at the edge: [`StoreName`],
//! [`StreamId`], [`EventType`]. Handlers only ever see these.

use std::fmt;

/// Longest stream id, in characters.
pub const MAX_STREAM_ID_CHARS: usize = 200;
/// Longest event type, in characters.
pub const MAX_EVENT_TYPE_CHARS: usize = 200;
/// Longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The checked text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// An event store's name: `^[a-z0-9_-]{3,63}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreName(String);
string_newtype!(StoreName);

impl StoreName {
    /// Checks a store name; the error is a sentence for the client.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_chars = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if (3..=63).contains(&text.len()) && ok_chars {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "an event store name is 3 to 63 of a-z, 0-9, '_' and '-'; got {:?}",
                shorten(text)
            ))
        }
    }
}

/// A stream id: 1 to 200 characters, none of them a control character.
///
/// Any other character is allowed, `/` included: clients percent-encode the id as one path
/// segment (`order%2F1`), and the router decodes it after matching, so such a stream is as
/// reachable as any other. Only `.` and `..` are refused: URL parsers resolve them as dot
/// segments (even percent-encoded), so no ordinary client could address such a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamId(String);
string_newtype!(StreamId);

impl StreamId {
    /// Checks a stream id; the error is a sentence for the client.
    pub fn parse(text: &str) -> Result<Self, String> {
        let chars = text.chars().count();
        if chars == 0 {
            return Err("a stream id must not be empty".to_owned());
        }
        if text == "." || text == ".." {
            // URL clients (browsers, reqwest, the url crate) resolve these as path steps, even
            // percent-encoded: such a stream could be written by a few and read by nobody.
            return Err(format!(
                "{text:?} is not a stream id: URLs treat it as a path step"
            ));
        }
        if chars > MAX_STREAM_ID_CHARS {
            return Err(format!(
                "a stream id is at most {MAX_STREAM_ID_CHARS} characters; got {chars}"
            ));
        }
        if text == "." || text == ".." {
            return Err(format!(
                "a stream id must not be {text:?}: URLs treat it as a path step, not a name"
            ));
        }
        if let Some(bad) = text.chars().find(|c| c.is_control()) {
            return Err(format!(
                "a stream id must not contain control characters; found U+{:04X}",
                u32::from(bad)
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

/// An event type: 1 to 200 of `A-Z a-z 0-9 . _ : -` (`order.placed`, `Billing:InvoiceSent`).
/// The set leaves out `*` and `,`, which event filters use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);
string_newtype!(EventType);

impl EventType {
    /// Checks an event type; the error is a sentence for the client.
    pub fn parse(text: &str) -> Result<Self, String> {
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_EVENT_TYPE_CHARS {
            return Err(format!(
                "an event type is 1 to {MAX_EVENT_TYPE_CHARS} characters; got {chars}"
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(format!(
                "an event type may hold only A-Z, a-z, 0-9, '.', '_', ':' and '-'; found {bad:?}"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The checked text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An idempotency key: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);
string_newtype!(IdempotencyKey);

impl IdempotencyKey {
    /// Checks a key; the error is a sentence for the client.
    pub fn parse(text: &str) -> Result<Self, String> {
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_IDEMPOTENCY_KEY_CHARS {
            return Err(format!(
                "an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters; got {chars}"
            ));
        }
        if text.chars().any(char::is_control) {
            return Err("an idempotency key must not contain control characters".to_owned());
        }
        Ok(Self(text.to_owned()))
    }
}

/// At most 64 characters of `text`, for echoing bad input back without echoing a lot of it.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names_follow_the_documented_pattern() {
        for good in ["orders", "a_b", "abc-123", &"x".repeat(63)] {
            assert!(StoreName::parse(good).is_ok(), "{good}");
        }
        for bad in ["ab", "Orders", "a b", "a.b", "", &"x".repeat(64), "ördér"] {
            assert!(StoreName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_ids_are_1_to_200_chars_without_control_characters() {
        assert!(StreamId::parse("order-1").is_ok());
        assert!(StreamId::parse("tenant/order 1").is_ok());
        assert!(StreamId::parse(&"é".repeat(200)).is_ok());
        assert!(StreamId::parse(&"é".repeat(201)).is_err());
        assert!(StreamId::parse("").is_err());
        assert!(StreamId::parse("a\nb").is_err());
        assert!(StreamId::parse("a\u{0}b").is_err());
        assert!(StreamId::parse(".").is_err());
        assert!(StreamId::parse("..").is_err());
        assert!(StreamId::parse("...").is_ok());
        assert!(StreamId::parse(".hidden").is_ok());
    }

    #[test]
    fn dot_segments_are_not_stream_ids_but_dotted_names_are() {
        assert!(StreamId::parse(".").is_err());
        assert!(StreamId::parse("..").is_err());
        for good in ["...", "a..b", "../x", ".hidden"] {
            assert!(StreamId::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn event_types_allow_dotted_and_colon_names_only() {
        for good in ["order.placed", "Billing:InvoiceSent", "a-b_c.d", "x"] {
            assert!(EventType::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "order placed", "order.*", "a,b", "ü", &"x".repeat(201)] {
            assert!(EventType::parse(bad).is_err(), "{bad}");
        }
    }
}
