//! Bad requests: each a 4xx that says what is wrong (naming the field where one is to blame),
//! and nothing appended.

use serde_json::{Value, json};

use crate::helpers::{place_body, ship_body, spawn_app, spawn_app_with, status_and_json};

/// One bad request and what its answer must say.
struct Case {
    what: &'static str,
    path: String,
    body: Value,
    status: u16,
    /// `details.field` of the answer, when one field is to blame.
    field: Option<&'static str>,
    /// Words the message must contain.
    says: &'static str,
}

fn case(
    what: &'static str,
    path: impl Into<String>,
    body: Value,
    status: u16,
    field: Option<&'static str>,
    says: &'static str,
) -> Case {
    Case {
        what,
        path: path.into(),
        body,
        status,
        field,
        says,
    }
}

/// `body` with the value at JSON pointer `at` replaced (or a new top-level field added).
fn with(mut body: Value, at: &str, value: Value) -> Value {
    match body.pointer_mut(at) {
        Some(slot) => *slot = value,
        None => {
            let name = at.trim_start_matches('/').to_owned();
            body.as_object_mut().expect("an object").insert(name, value);
        }
    }
    body
}

/// `body` without the value at JSON pointer `at` (`/field` or `/items/0/price`).
fn without(mut body: Value, at: &str) -> Value {
    let (parent, name) = at.rsplit_once('/').expect("a pointer");
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent is an object")
        .remove(name);
    body
}

#[tokio::test]
async fn bad_bodies_are_4xx_naming_the_field_and_append_nothing() {
    let app = spawn_app().await;
    let order_id = app.place_order().await;
    let before = app.event_count().await;
    let ship = format!("/orders/{order_id}/ship");
    let cancel = format!("/orders/{order_id}/cancel");
    let deliver = format!("/orders/{order_id}/deliver");
    let many_items: Vec<Value> = (0..101)
        .map(|i| json!({"productId": format!("p{i}"), "quantity": 1, "price": 1}))
        .collect();
    let place = place_body;

    #[rustfmt::skip]
    let cases = [
        case("missing customerId", "/orders", without(place(), "/customerId"), 400, Some("customerId"), "customerId"),
        case("missing items", "/orders", without(place(), "/items"), 400, Some("items"), "items"),
        case("items not a list", "/orders", with(place(), "/items", json!("abc")), 400, Some("items"), "expected a sequence"),
        case("empty items", "/orders", with(place(), "/items", json!([])), 400, Some("items"), "at least one item"),
        case("negative quantity", "/orders", with(place(), "/items/0/quantity", json!(-1)), 400, Some("items[0].quantity"), "-1"),
        case("zero quantity", "/orders", with(place(), "/items/1/quantity", json!(0)), 400, Some("items[1].quantity"), "positive"),
        case("fractional quantity", "/orders", with(place(), "/items/0/quantity", json!(1.5)), 400, Some("items[0].quantity"), "u32"),
        case("quantity as text", "/orders", with(place(), "/items/0/quantity", json!("2")), 400, Some("items[0].quantity"), "string"),
        case("negative price", "/orders", with(place(), "/items/0/price", json!(-5)), 400, Some("items[0].price"), "price"),
        case("price as text", "/orders", with(place(), "/items/0/price", json!("10")), 400, Some("items[0].price"), "number"),
        case("missing price", "/orders", without(place(), "/items/0/price"), 400, Some("items[0].price"), "price"),
        case("customerId a number", "/orders", with(place(), "/customerId", json!(7)), 400, Some("customerId"), "string"),
        case("customerId with a space", "/orders", with(place(), "/customerId", json!("a b")), 400, Some("customerId"), "allowed"),
        case("orderId with a slash", "/orders", with(place(), "/orderId", json!("../x")), 400, Some("orderId"), "allowed"),
        case("orderId too long", "/orders", with(place(), "/orderId", json!("o".repeat(200))), 400, Some("orderId"), "at most"),
        case("unknown field", "/orders", with(place(), "/customerID", json!("c")), 400, None, "unknown field `customerID`"),
        case("too many items", "/orders", with(place(), "/items", json!(many_items)), 400, Some("items"), "at most"),
        case("body not an object", "/orders", json!("order"), 400, None, "expected"),
        case("missing carrier", &ship, without(ship_body(), "/carrier"), 400, Some("carrier"), "carrier"),
        case("blank trackingNumber", &ship, with(ship_body(), "/trackingNumber", json!("  ")), 400, Some("trackingNumber"), "empty"),
        case("control characters", &ship, with(ship_body(), "/carrier", json!("UP\u{7}S")), 400, Some("carrier"), "control"),
        case("missing reason", &cancel, json!({}), 400, Some("reason"), "reason"),
        case("signedBy not text", &deliver, json!({"signedBy": 5}), 400, Some("signedBy"), "string"),
        case("misspelt signedBy", &deliver, json!({"signedby": "Ada"}), 400, None, "signedby"),
        case("space in path order id", "/orders/bad%20id/ship", ship_body(), 400, Some("orderId"), "allowed"),
        case("emoji path order id", "/orders/%F0%9F%92%A5/cancel", json!({"reason": "x"}), 400, Some("orderId"), "allowed"),
        case("quote in path order id", "/orders/a%22b/ship", ship_body(), 400, Some("orderId"), "allowed"),
        case("encoded slash in path order id", "/orders/a%2Fb/ship", ship_body(), 400, Some("orderId"), "allowed"),
        case("long path order id", format!("/orders/{}/ship", "x".repeat(129)), ship_body(), 400, Some("orderId"), "at most"),
        case("unknown order id", "/orders/order-nope/ship", ship_body(), 404, None, "does not exist"),
        case("unknown order id, odd but allowed characters", "/orders/a.b:c@d_e/cancel", json!({"reason": "x"}), 404, None, "does not exist"),
    ];

    for Case {
        what,
        path,
        body,
        status,
        field,
        says,
    } in cases
    {
        let (got, answer) = status_and_json(app.post(&path, &body).await).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert!(answer["error"].is_string(), "{what}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(says),
            "{what}: message {message:?} lacks {says:?}"
        );
        if let Some(field) = field {
            assert_eq!(answer["details"]["field"], field, "{what}: {answer}");
        }
    }
    assert_eq!(app.event_count().await, before, "nothing appended");
}

#[tokio::test]
async fn transport_level_mistakes_are_4xx_and_append_nothing() {
    let app = spawn_app().await;
    let huge = format!(
        "{{\"customerId\":\"c\",\"items\":[],\"pad\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );

    #[rustfmt::skip]
    let cases: [(&str, &str, Vec<u8>, u16, &str); 5] = [
        ("malformed JSON", "application/json", b"{\"customerId\": ".to_vec(), 400, "malformed JSON"),
        ("trailing garbage", "application/json", format!("{} x", place_body()).into_bytes(), 400, "malformed JSON"),
        ("empty body", "application/json", Vec::new(), 400, "empty"),
        ("not JSON", "text/plain", b"customerId=c".to_vec(), 415, "application/json"),
        ("huge payload", "application/json", huge.into_bytes(), 413, "larger than"),
    ];

    for (what, content_type, body, status, says) in cases {
        let (got, answer) =
            status_and_json(app.post_raw("/orders", content_type, body).await).await;
        assert_eq!(got, status, "{what}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{what}: {message}");
    }
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let app = spawn_app_with(|config| config.max_body_bytes = 64).await;

    let (status, body) = status_and_json(app.post("/orders", &place_body()).await).await;

    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "PayloadTooLarge");
}
