//! [`Cursor`]: where the next page of a newest-first list starts.
//!
//! Lists are sorted sets scored by the global position of each order's `order.placed`, walked
//! from the highest score down. A cursor is the (score, order id) of the last order a page
//! returned; the next page holds the orders strictly *after* it in that order: lower score, or
//! the same score and a lower id (Redis sorts equal scores by member, bytewise). Because new
//! orders get higher scores than any existing one, they never shift a walk in progress, and an
//! order that leaves a status index cannot make the walk skip another one. Scores come from the
//! event store, so a cursor also survives a projection rebuild.
//!
//! On the wire a cursor is opaque: base64url (no padding) of `<score>:<orderId>`. Clients must
//! not build or change one; a malformed one is a 400 naming `cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Longest encoded cursor accepted (an order id is a stream id; those are short).
const MAX_ENCODED_LEN: usize = 1024;

/// An exclusive lower bound of a newest-first walk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Score (global position of `order.placed`) of the last order returned.
    pub score: u64,
    /// Id of the last order returned, to break ties between equal scores.
    pub order_id: String,
}

/// Why a cursor string was rejected (the message goes into the 400 body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is too long")]
    TooLong,
    #[error("cursor is not base64url")]
    NotBase64,
    #[error("cursor is not one this service made")]
    Malformed,
}

impl Cursor {
    /// The wire form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.score, self.order_id))
    }

    /// Parses the wire form.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        if text.len() > MAX_ENCODED_LEN {
            return Err(CursorError::TooLong);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| CursorError::NotBase64)?;
        let plain = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
        let (score, order_id) = plain.split_once(':').ok_or(CursorError::Malformed)?;
        let score_is_canonical = !score.is_empty()
            && score.bytes().all(|b| b.is_ascii_digit())
            && (score == "0" || !score.starts_with('0'));
        if !score_is_canonical || order_id.is_empty() {
            return Err(CursorError::Malformed);
        }
        let score = score.parse().map_err(|_| CursorError::Malformed)?;
        Ok(Self {
            score,
            order_id: order_id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_cursor_is_opaque_url_safe_text() {
        let cursor = Cursor {
            score: 1234,
            order_id: "order-42".to_owned(),
        };
        let text = cursor.encode();
        assert!(!text.contains("order-42"));
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&text).unwrap(), cursor);
    }

    #[test]
    fn order_ids_with_colons_survive() {
        let cursor = Cursor {
            score: 7,
            order_id: "tenant:order:1".to_owned(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn malformed_cursors_are_rejected() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        assert_eq!(Cursor::decode("!!!"), Err(CursorError::NotBase64));
        for plain in [
            "",
            "12",
            ":o-1",
            "12:",
            "-1:o-1",
            "1x:o-1",
            "007:o-1",
            "99999999999999999999:o",
        ] {
            assert_eq!(
                Cursor::decode(&b64(plain)),
                Err(CursorError::Malformed),
                "{plain:?}"
            );
        }
        assert_eq!(
            Cursor::decode(&"A".repeat(MAX_ENCODED_LEN + 1)),
            Err(CursorError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn every_cursor_round_trips(score in any::<u64>(), order_id in ".{1,64}") {
            let cursor = Cursor { score, order_id };
            prop_assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        }
    }
}
