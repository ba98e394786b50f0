//! The Orders decider, given/when/then, with no I/O: the walkthrough's two tests, one test per
//! rule, and properties that hold for any sequence of commands.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;
use shared_domain::decider::Decider;
use shared_domain::error::DomainError;
use shared_domain::money::Money;
use shared_domain::orders::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
        .single()
        .expect("a valid date")
}

fn decider() -> OrdersDecider {
    OrdersDecider::at(at())
}

fn item(product: &str, quantity: u32, price: &str) -> OrderItem {
    OrderItem {
        product_id: product.into(),
        quantity,
        price: Money::from_str(price).expect("a decimal price"),
    }
}

fn place(order: &str, items: Vec<OrderItem>) -> OrderCommand {
    OrderCommand::Place(PlaceOrder {
        order_id: order.into(),
        customer_id: "cust-1".into(),
        items,
    })
}

fn ship(order: &str) -> OrderCommand {
    OrderCommand::Ship(ShipOrder {
        order_id: order.into(),
        tracking_number: "TRK123".into(),
        carrier: "UPS".into(),
    })
}

fn deliver(order: &str) -> OrderCommand {
    OrderCommand::Deliver(DeliverOrder {
        order_id: order.into(),
        signed_by: Some("Ada".into()),
    })
}

fn cancel(order: &str) -> OrderCommand {
    OrderCommand::Cancel(CancelOrder {
        order_id: order.into(),
        reason: "changed my mind".into(),
    })
}

/// Given these commands already accepted, when `command`, then this result.
fn given_when(
    given: &[OrderCommand],
    command: &OrderCommand,
) -> Result<Vec<OrderEvent>, DomainError> {
    let d = decider();
    let mut state = d.initial_state();
    for c in given {
        for e in d.decide(c, &state).expect("given command is accepted") {
            state = d.evolve(state, &e);
        }
    }
    d.decide(command, &state)
}

fn rejected_with(given: &[OrderCommand], command: &OrderCommand) -> (String, String, String) {
    match given_when(given, command) {
        Err(DomainError::IllegalState {
            message,
            current_state,
            attempted_action,
            ..
        }) => (message, current_state, attempted_action),
        other => panic!("expected IllegalStateError, got {other:?}"),
    }
}

fn pending() -> Vec<OrderCommand> {
    vec![place("order-1", vec![item("prod-1", 2, "10")])]
}

fn shipped() -> Vec<OrderCommand> {
    let mut g = pending();
    g.push(ship("order-1"));
    g
}

fn delivered() -> Vec<OrderCommand> {
    let mut g = shipped();
    g.push(deliver("order-1"));
    g
}

fn cancelled() -> Vec<OrderCommand> {
    let mut g = pending();
    g.push(cancel("order-1"));
    g
}

// The walkthrough's two tests.

#[test]
fn places_an_order() {
    let events = given_when(&[], &place("order-1", vec![item("prod-1", 2, "10")])).unwrap();
    let OrderEvent::Placed(placed) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(events[0].event_type(), "order.placed");
    assert_eq!(placed.total_amount, Money::from(20));
}

#[test]
fn rejects_shipping_a_non_existent_order() {
    let (message, _, _) = rejected_with(&[], &ship("order-1"));
    assert!(message.contains("Cannot ship order"), "{message}");
}

// One test per rule.

#[test]
fn placing_an_existing_order_is_refused() {
    let (message, current, action) =
        rejected_with(&pending(), &place("order-1", vec![item("p", 1, "1")]));
    assert_eq!(message, "Order order-1 already exists");
    assert_eq!(
        (current.as_str(), action.as_str()),
        ("pending", "place order")
    );
}

#[test]
fn placing_an_order_without_items_is_a_validation_error() {
    let err = given_when(&[], &place("order-1", vec![])).unwrap_err();
    assert_eq!(err.message(), "Order must have at least one item");
    assert!(matches!(err, DomainError::Validation { .. }));
}

#[test]
fn dot_segments_are_not_order_ids() {
    for id in [".", ".."] {
        let err = given_when(&[], &place(id, vec![item("prod-1", 1, "1")])).unwrap_err();
        assert!(
            matches!(err, DomainError::Validation { .. }),
            "{id}: {err:?}"
        );
        assert!(err.message().contains("orderId"), "{}", err.message());
    }
    assert!(given_when(&[], &place("a..b", vec![item("prod-1", 1, "1")])).is_ok());
}

#[test]
fn shipping_requires_pending() {
    for (given, status) in [
        (shipped(), "shipped"),
        (delivered(), "delivered"),
        (cancelled(), "cancelled"),
    ] {
        let (message, current, action) = rejected_with(&given, &ship("order-1"));
        assert_eq!(message, format!("Cannot ship order in status: {status}"));
        assert_eq!((current.as_str(), action.as_str()), (status, "ship order"));
    }
    let (message, current, _) = rejected_with(&[], &ship("order-1"));
    assert_eq!(
        (message.as_str(), current.as_str()),
        ("Cannot ship order in status: null", "null")
    );
}

#[test]
fn shipping_a_pending_order_records_tracking() {
    let events = given_when(&pending(), &ship("order-1")).unwrap();
    let OrderEvent::Shipped(e) = &events[0] else {
        panic!()
    };
    assert_eq!(
        (e.tracking_number.as_str(), e.carrier.as_str(), e.shipped_at),
        ("TRK123", "UPS", at())
    );
}

#[test]
fn delivering_requires_shipped() {
    for (given, status) in [
        (vec![], "null"),
        (pending(), "pending"),
        (delivered(), "delivered"),
        (cancelled(), "cancelled"),
    ] {
        let (message, current, action) = rejected_with(&given, &deliver("order-1"));
        assert_eq!(message, format!("Cannot deliver order in status: {status}"));
        assert_eq!(
            (current.as_str(), action.as_str()),
            (status, "deliver order")
        );
    }
    let events = given_when(&shipped(), &deliver("order-1")).unwrap();
    assert!(
        matches!(&events[0], OrderEvent::Delivered(e) if e.signed_by.as_deref() == Some("Ada"))
    );
}

#[test]
fn cancelling_a_delivered_order_is_refused() {
    let (message, current, action) = rejected_with(&delivered(), &cancel("order-1"));
    assert_eq!(
        (message.as_str(), current.as_str(), action.as_str()),
        (
            "Cannot cancel a delivered order",
            "delivered",
            "cancel order"
        )
    );
}

#[test]
fn cancelling_twice_is_refused() {
    let (message, current, _) = rejected_with(&cancelled(), &cancel("order-1"));
    assert_eq!(
        (message.as_str(), current.as_str()),
        ("Order is already cancelled", "cancelled")
    );
}

#[test]
fn cancelling_a_missing_order_is_refused() {
    let (message, current, _) = rejected_with(&[], &cancel("order-1"));
    assert_eq!(
        (message.as_str(), current.as_str()),
        ("Order does not exist", "null")
    );
}

#[test]
fn pending_and_shipped_orders_can_be_cancelled() {
    for given in [pending(), shipped()] {
        let events = given_when(&given, &cancel("order-1")).unwrap();
        assert!(matches!(&events[0], OrderEvent::Cancelled(e) if e.reason == "changed my mind"));
    }
}

#[test]
fn money_is_exact() {
    let events = given_when(&[], &place("order-1", vec![item("p", 3, "0.1")])).unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["data"]["totalAmount"], json!(0.3));
    assert_eq!(
        serde_json::to_string(&json["data"]["totalAmount"]).unwrap(),
        "0.3"
    );
}

#[test]
fn event_json_is_the_walkthroughs() {
    let events = given_when(&[], &place("order-1", vec![item("prod-1", 2, "10")])).unwrap();
    assert_eq!(
        serde_json::to_value(&events[0]).unwrap(),
        json!({"type": "order.placed", "data": {
            "orderId": "order-1", "customerId": "cust-1",
            "items": [{"productId": "prod-1", "quantity": 2, "price": 10}],
            "totalAmount": 20, "placedAt": "2024-05-01T12:00:00Z"
        }})
    );
    let shipped = given_when(&pending(), &ship("order-1")).unwrap();
    assert_eq!(
        serde_json::to_value(&shipped[0]).unwrap(),
        json!({"type": "order.shipped", "data": {
            "orderId": "order-1", "trackingNumber": "TRK123", "carrier": "UPS",
            "shippedAt": "2024-05-01T12:00:00Z"
        }})
    );
    let round: OrderEvent =
        serde_json::from_value(serde_json::to_value(&shipped[0]).unwrap()).unwrap();
    assert_eq!(round, shipped[0]);
}

#[test]
fn invalid_fields_are_named() {
    let cases: Vec<(OrderCommand, &str)> = vec![
        (place("", vec![item("p", 1, "1")]), "orderId"),
        (
            place(&"x".repeat(MAX_ID_LEN + 1), vec![item("p", 1, "1")]),
            "orderId",
        ),
        (place("o/../x", vec![item("p", 1, "1")]), "orderId"),
        (
            OrderCommand::Place(PlaceOrder {
                order_id: "o".into(),
                customer_id: " ".into(),
                items: vec![item("p", 1, "1")],
            }),
            "customerId",
        ),
        (place("o", vec![item("p", 0, "1")]), "items[0].quantity"),
        (
            place("o", vec![item("p", 1, "1"), item("q", 1, "-1")]),
            "items[1].price",
        ),
        (
            place("o", vec![item("p", 1, "1000000000.01")]),
            "items[0].price",
        ),
        (place("o", vec![item("", 1, "1")]), "items[0].productId"),
        (
            place(
                "o",
                (0..=MAX_ITEMS)
                    .map(|i| item(&format!("p{i}"), 1, "1"))
                    .collect(),
            ),
            "items",
        ),
        (
            OrderCommand::Ship(ShipOrder {
                order_id: "o".into(),
                tracking_number: "".into(),
                carrier: "UPS".into(),
            }),
            "trackingNumber",
        ),
        (
            OrderCommand::Ship(ShipOrder {
                order_id: "o".into(),
                tracking_number: "T".into(),
                carrier: "x\u{0}".into(),
            }),
            "carrier",
        ),
        (
            OrderCommand::Cancel(CancelOrder {
                order_id: "o".into(),
                reason: "".into(),
            }),
            "reason",
        ),
        (
            OrderCommand::Deliver(DeliverOrder {
                order_id: "o".into(),
                signed_by: Some("y".repeat(MAX_TEXT_LEN + 1)),
            }),
            "signedBy",
        ),
    ];
    for (command, field) in cases {
        match given_when(&[], &command) {
            Err(DomainError::Validation {
                field: Some(f),
                message,
                ..
            }) => {
                assert_eq!(f, field, "{message}");
                assert!(!message.is_empty());
            }
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
    }
}

// Properties.

fn arb_command() -> impl Strategy<Value = OrderCommand> {
    let id = prop_oneof![
        Just("order-1".to_string()),
        Just("order-2".to_string()),
        "[a-z0-9:/ ]{0,6}"
    ];
    let items = prop::collection::vec(
        ("[a-z0-9]{0,4}", 0u32..5, 0u32..10_000).prop_map(|(p, q, cents)| OrderItem {
            product_id: p,
            quantity: q,
            price: Money::new(rust_decimal::Decimal::new(i64::from(cents) - 100, 2)),
        }),
        0..4,
    );
    prop_oneof![
        (id.clone(), items).prop_map(|(o, i)| place(&o, i)),
        (id.clone(), "[A-Z0-9]{0,5}", "[A-Za-z]{0,4}").prop_map(|(o, t, c)| OrderCommand::Ship(
            ShipOrder {
                order_id: o,
                tracking_number: t,
                carrier: c
            }
        )),
        (id.clone(), proptest::option::of("[a-z]{0,3}")).prop_map(|(o, s)| OrderCommand::Deliver(
            DeliverOrder {
                order_id: o,
                signed_by: s
            }
        )),
        (id, "[a-z ]{0,5}").prop_map(|(o, r)| OrderCommand::Cancel(CancelOrder {
            order_id: o,
            reason: r
        })),
    ]
}

fn allowed(from: Option<OrderStatus>, to: Option<OrderStatus>) -> bool {
    use OrderStatus::*;
    from == to
        || matches!(
            (from, to),
            (None, Some(Pending))
                | (Some(Pending), Some(Shipped | Cancelled))
                | (Some(Shipped), Some(Delivered | Cancelled))
        )
}

proptest! {
    #[test]
    fn any_command_sequence_never_panics_and_replays_to_the_same_state(
        commands in prop::collection::vec(arb_command(), 0..30)
    ) {
        let d = decider();
        let mut state = d.initial_state();
        let mut history: Vec<OrderEvent> = Vec::new();
        for command in &commands {
            let before = state.status;
            if let Ok(events) = d.decide(command, &state) {
                for e in &events {
                    state = d.evolve(state, e);
                }
                history.extend(events);
                // Events folded from the initial state reproduce the state decide saw plus the new events.
                prop_assert_eq!(&d.fold(history.iter()), &state);
                // Through JSON too: what the store hands back folds to the same state.
                let json = serde_json::to_string(&history).unwrap();
                let back: Vec<OrderEvent> = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(&d.fold(back.iter()), &state);
            }
            prop_assert!(allowed(before, state.status), "{:?} -> {:?}", before, state.status);
        }
    }
}

proptest! {
    /// `validate` (what an edge checks before any I/O) agrees with `decide` in every state: a
    /// command it accepts is never a validation error, one it rejects is rejected by `decide`
    /// with the same error (or, for a place on an existing order, as an illegal state).
    #[test]
    fn validate_agrees_with_decide_in_every_state(
        given in prop::collection::vec(arb_command(), 0..6),
        command in arb_command(),
    ) {
        let d = decider();
        let mut state = d.initial_state();
        for c in &given {
            if let Ok(events) = d.decide(c, &state) {
                state = events.iter().fold(state, |s, e| d.evolve(s, e));
            }
        }
        match (validate(&command), d.decide(&command, &state)) {
            (Ok(()), Err(DomainError::Validation { .. })) => {
                prop_assert!(false, "validate accepted what decide calls invalid: {:?}", command)
            }
            (Err(expected), Err(DomainError::Validation { .. })) => {
                prop_assert_eq!(Err(expected), d.decide(&command, &state).map(|_| ()));
            }
            (Err(_), Ok(_)) => prop_assert!(false, "decide accepted what validate rejects: {:?}", command),
            (Err(_), Err(DomainError::IllegalState { .. })) => {
                prop_assert!(matches!(command, OrderCommand::Place(_)), "{:?}", command)
            }
            (Ok(()), _) => {}
        }
    }
}
