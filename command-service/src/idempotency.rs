//! `Idempotency-Key` without a server-side cache that could be lost: the key lives in the event
//! store, on the event the command appended.
//!
//! * The appended event's metadata carries the key and a hash of the request
//!   ([`request_hash`]: the command as parsed, so whitespace or key order do not matter).
//! * A request with a key first reads its order's stream: an event with the same key and hash
//!   means the command already ran, and its answer is rebuilt from the stream up to that event;
//!   the same key with another hash is a 422 `IdempotencyKeyReused`.
//! * The key also goes to the store as the append's idempotency key ([`store_key`]), and two
//!   racing requests with one key are settled by the stream's expected version: the loser
//!   re-reads, finds the winner's event and answers with it.
//! * A `POST /orders` without `orderId` takes its id from the key ([`derived_order_id`]), so a
//!   retried create lands on the same stream: one order, not two.
//!
//! Keys are scoped to the order they address: the same key on two different orders is two
//! different requests. Only successes are replayed; a refused command wrote nothing, so
//! retrying it runs it again (and may now succeed).

use sha2::{Digest, Sha256};
use shared_domain::event::ReadEvent;
use shared_domain::orders::OrderCommand;
use shared_domain::service::ApiError;
use uuid::Uuid;

/// The request header.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Header set on an answer that repeats an earlier one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// Metadata field holding the client's key.
pub const KEY_FIELD: &str = "idempotencyKey";
/// Metadata field holding [`request_hash`].
pub const HASH_FIELD: &str = "requestHash";

/// Namespace of the UUID v5 order ids derived from keys (a fixed, random UUID: ids derived by
/// this service never collide with v5 ids of the same names made elsewhere).
const ORDER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b0e_5d3a_4e8f_9a7b_0c1d_2e3f_4a5b);

/// A client's idempotency key: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key in a header value, or a 400 saying what is wrong with it.
    pub fn parse(raw: &[u8]) -> Result<Self, ApiError> {
        let invalid = |why: &str| {
            ApiError::validation(
                "Idempotency-Key",
                format!("header Idempotency-Key {why}; use e.g. a UUID"),
            )
        };
        let text = std::str::from_utf8(raw).map_err(|_| invalid("is not ASCII text"))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("is empty"));
        }
        if text.len() > MAX_KEY_LEN {
            return Err(invalid(&format!("is longer than {MAX_KEY_LEN} characters")));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(invalid("may hold only visible ASCII characters"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The key as the client sent it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `sha256:<hex>` of the command as parsed: the same request always hashes the same, whatever
/// its JSON spacing, key order or number spelling (`10` and `10.0` are one price).
pub fn request_hash(command: &OrderCommand) -> String {
    // Serialising a parsed command cannot fail: it is strings, numbers and lists.
    let canonical = serde_json::to_vec(command).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The order id a `POST /orders` without `orderId` gets from its key: `order-<UUID v5>`.
pub fn derived_order_id(key: &IdempotencyKey) -> String {
    format!(
        "order-{}",
        Uuid::new_v5(&ORDER_ID_NAMESPACE, key.as_str().as_bytes())
    )
}

/// The order id of a `POST /orders` without `orderId` or key: `order-<UUID v7>` (time-ordered,
/// so ids sort roughly by creation).
pub fn new_order_id() -> String {
    format!("order-{}", Uuid::now_v7())
}

/// The idempotency key handed to the event store with the append: the client's key scoped to
/// the order's stream (keys are per order here, and a store may keep them per store), hashed so
/// that it satisfies any key-format rule the store has.
pub fn store_key(stream_id: &str, key: &IdempotencyKey) -> String {
    let digest = Sha256::digest(format!("{stream_id}\n{}", key.as_str()));
    let mut out = String::from("cmd-");
    for byte in &digest[..16] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// What a stream says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// No event carries the key: the command has not run.
    None,
    /// The event at this index carries the key and the same request hash: answer again.
    Same(usize),
    /// An event carries the key with another request hash.
    Different,
}

/// Looks for `key` in the metadata of `events` (a stream, in order).
pub fn find_prior(events: &[ReadEvent], key: &IdempotencyKey, hash: &str) -> Prior {
    let carries_key = |event: &ReadEvent| {
        event
            .metadata
            .as_ref()
            .and_then(|m| m.get(KEY_FIELD))
            .and_then(|k| k.as_str())
            == Some(key.as_str())
    };
    match events.iter().position(carries_key) {
        None => Prior::None,
        Some(index) => {
            let stored_hash = events[index]
                .metadata
                .as_ref()
                .and_then(|m| m.get(HASH_FIELD))
                .and_then(|h| h.as_str());
            if stored_hash == Some(hash) {
                Prior::Same(index)
            } else {
                Prior::Different
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use shared_domain::orders::{CancelOrder, ShipOrder};

    use super::*;

    fn ship(tracking: &str) -> OrderCommand {
        OrderCommand::Ship(ShipOrder {
            order_id: "order-1".into(),
            tracking_number: tracking.into(),
            carrier: "UPS".into(),
        })
    }

    fn event(metadata: serde_json::Value) -> ReadEvent {
        ReadEvent {
            stream_id: "order-1".into(),
            stream_position: 1,
            global_position: 1,
            event_id: Uuid::new_v4(),
            event_type: "order.shipped".into(),
            data: json!({}),
            metadata: Some(metadata),
            schema_version: 1,
            transaction_id: "t".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn keys_must_be_visible_ascii_and_bounded() {
        assert!(IdempotencyKey::parse(b"0190f3c4-8c1e-7d2a").is_ok());
        assert!(IdempotencyKey::parse(b"  ").is_err());
        assert!(IdempotencyKey::parse(b"a\tb").is_err());
        assert!(IdempotencyKey::parse("clé".as_bytes()).is_err());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_err());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
    }

    #[test]
    fn bad_key_error_names_the_header() {
        let error = IdempotencyKey::parse(b"").unwrap_err();
        assert_eq!(error.status(), 400);
        assert_eq!(error.details()["field"], "Idempotency-Key");
    }

    #[test]
    fn hash_depends_on_the_command_only() {
        assert_eq!(request_hash(&ship("T1")), request_hash(&ship("T1")));
        assert_ne!(request_hash(&ship("T1")), request_hash(&ship("T2")));
        let cancel = OrderCommand::Cancel(CancelOrder {
            order_id: "order-1".into(),
            reason: "T1".into(),
        });
        assert_ne!(request_hash(&ship("T1")), request_hash(&cancel));
        assert!(request_hash(&ship("T1")).starts_with("sha256:"));
    }

    #[test]
    fn derived_order_ids_are_stable_per_key_and_valid_ids() {
        let key = IdempotencyKey::parse(b"k-1").unwrap();
        let other = IdempotencyKey::parse(b"k-2").unwrap();
        assert_eq!(derived_order_id(&key), derived_order_id(&key));
        assert_ne!(derived_order_id(&key), derived_order_id(&other));
        assert!(shared_domain::orders::validate_id("orderId", &derived_order_id(&key)).is_ok());
        assert!(shared_domain::orders::validate_id("orderId", &new_order_id()).is_ok());
    }

    #[test]
    fn store_keys_are_scoped_to_the_stream() {
        let key = IdempotencyKey::parse(b"k-1").unwrap();
        assert_ne!(store_key("order-1", &key), store_key("order-2", &key));
        assert_eq!(store_key("order-1", &key).len(), 4 + 32);
    }

    #[test]
    fn prior_is_found_by_key_and_compared_by_hash() {
        let key = IdempotencyKey::parse(b"k-1").unwrap();
        let events = vec![
            event(json!({"requestId": "r0"})),
            event(json!({KEY_FIELD: "k-1", HASH_FIELD: "sha256:aa"})),
        ];
        assert_eq!(find_prior(&events, &key, "sha256:aa"), Prior::Same(1));
        assert_eq!(find_prior(&events, &key, "sha256:bb"), Prior::Different);
        let other = IdempotencyKey::parse(b"k-2").unwrap();
        assert_eq!(find_prior(&events, &other, "sha256:aa"), Prior::None);
    }
}
