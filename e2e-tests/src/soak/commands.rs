//! What the load generator sends: a random command, valid or not, chosen from the orders the
//! clients know of. Invalid commands are ones no state of the system can accept (a malformed
//! body, an unknown order, a command on an order in a final state), so a 2xx to any of them is
//! a bug; valid ones may still be refused when another client got there first (409).

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::json;

use super::load::KnownOrders;

/// What a command is expected to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// May succeed; if it does, it appended one event of this type and left this status.
    Valid {
        event_type: &'static str,
        status: &'static str,
    },
    /// Must be refused.
    Invalid,
}

/// One command to send.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Path on the command service, e.g. `/orders/abc/ship`.
    pub path: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub intent: Intent,
    /// A few words for reports.
    pub why: &'static str,
}

const JSON: &str = "application/json";

/// A random command for the orders in `known`.
pub fn plan(rng: &mut StdRng, known: &KnownOrders) -> Plan {
    let roll = rng.gen_range(0..100);
    let pick = |rng: &mut StdRng, statuses: &[&str]| -> Option<String> {
        let candidates: Vec<&String> = known
            .orders
            .iter()
            .filter(|order| statuses.contains(&order.status))
            .map(|order| &order.id)
            .collect();
        (!candidates.is_empty()).then(|| candidates[rng.gen_range(0..candidates.len())].clone())
    };
    let planned = match roll {
        0..30 => None,
        30..48 => pick(rng, &["pending"]).map(|id| ship(rng, &id)),
        48..62 => pick(rng, &["shipped"]).map(|id| deliver(&id)),
        62..70 => pick(rng, &["pending", "shipped"]).map(|id| cancel(&id)),
        _ => invalid(rng, &pick),
    };
    planned.unwrap_or_else(|| place(rng))
}

fn place(rng: &mut StdRng) -> Plan {
    let lines = rng.gen_range(1..=3);
    let items: Vec<_> = (0..lines)
        .map(|_| {
            json!({
                "productId": format!("sku-{}", rng.gen_range(1..=40)),
                "quantity": rng.gen_range(1..=5),
                // Cents as an exact decimal number, e.g. 12.35.
                "price": serde_json::Number::from_f64(f64::from(rng.gen_range(1..=20_000)) / 100.0),
            })
        })
        .collect();
    json_plan(
        "/orders".to_owned(),
        json!({"customerId": format!("cust-{}", rng.gen_range(1..=60)), "items": items}),
        Intent::Valid {
            event_type: "order.placed",
            status: "pending",
        },
        "place",
    )
}

fn ship(rng: &mut StdRng, id: &str) -> Plan {
    let carrier = ["UPS", "DHL", "FedEx", "La Poste"][rng.gen_range(0..4)];
    json_plan(
        format!("/orders/{id}/ship"),
        json!({"trackingNumber": format!("TRK{}", rng.gen_range(100_000..999_999)), "carrier": carrier}),
        Intent::Valid {
            event_type: "order.shipped",
            status: "shipped",
        },
        "ship",
    )
}

fn deliver(id: &str) -> Plan {
    json_plan(
        format!("/orders/{id}/deliver"),
        json!({"signedBy": "front desk"}),
        Intent::Valid {
            event_type: "order.delivered",
            status: "delivered",
        },
        "deliver",
    )
}

fn cancel(id: &str) -> Plan {
    json_plan(
        format!("/orders/{id}/cancel"),
        json!({"reason": "changed my mind"}),
        Intent::Valid {
            event_type: "order.cancelled",
            status: "cancelled",
        },
        "cancel",
    )
}

/// One of the commands that must be refused; `None` when it needs an order in a state no
/// known order is in.
fn invalid(
    rng: &mut StdRng,
    pick: &dyn Fn(&mut StdRng, &[&str]) -> Option<String>,
) -> Option<Plan> {
    let bad = |path: String, body: serde_json::Value, why| {
        Some(json_plan(path, body, Intent::Invalid, why))
    };
    let item = json!({"productId": "sku-1", "quantity": 1, "price": 10});
    match rng.gen_range(0..10) {
        0 => bad(
            "/orders".into(),
            json!({"customerId": "c", "items": []}),
            "no items",
        ),
        1 => bad(
            "/orders".into(),
            json!({"customerId": "c", "items": [{"productId": "p", "quantity": -2, "price": 10}]}),
            "negative quantity",
        ),
        2 => bad("/orders".into(), json!({"items": [item]}), "no customerId"),
        3 => Some(Plan {
            path: "/orders".into(),
            body: b"{\"customerId\": \"c\", \"items\": [".to_vec(),
            content_type: JSON,
            intent: Intent::Invalid,
            why: "malformed JSON",
        }),
        4 => Some(Plan {
            path: "/orders".into(),
            body: b"customerId=c".to_vec(),
            content_type: "text/plain",
            intent: Intent::Invalid,
            why: "not JSON",
        }),
        5 => bad(
            format!("/orders/no-such-order-{}/ship", rng.gen_range(0..1_000_000)),
            json!({"trackingNumber": "T", "carrier": "UPS"}),
            "unknown order",
        ),
        6 => pick(rng, &["delivered", "cancelled"]).and_then(|id| {
            bad(
                format!("/orders/{id}/ship"),
                json!({"trackingNumber": "T", "carrier": "UPS"}),
                "ship a finished order",
            )
        }),
        7 => pick(rng, &["delivered"]).and_then(|id| {
            bad(
                format!("/orders/{id}/cancel"),
                json!({"reason": "too late"}),
                "cancel a delivered order",
            )
        }),
        8 => pick(rng, &["cancelled"]).and_then(|id| {
            bad(
                format!("/orders/{id}/deliver"),
                json!({}),
                "deliver a cancelled order",
            )
        }),
        _ => pick(rng, &["pending"]).and_then(|id| {
            bad(
                format!("/orders/{id}/ship"),
                json!({"trackingNumber": "", "carrier": "UPS"}),
                "empty trackingNumber",
            )
        }),
    }
}

fn json_plan(path: String, body: serde_json::Value, intent: Intent, why: &'static str) -> Plan {
    Plan {
        path,
        body: body.to_string().into_bytes(),
        content_type: JSON,
        intent,
        why,
    }
}
