//! The query service under hostile input.

use e2e_tests::stack::Stack;
use reqwest::Method;

use crate::{assert_alive, assert_client_error, send};

#[tokio::test]
async fn bad_limits_cursors_positions_and_statuses_are_400_naming_the_parameter() {
    let stack = Stack::start().await;
    let cases = [
        ("/orders?limit=0", "limit"),
        ("/orders?limit=-1", "limit"),
        ("/orders?limit=1001", "limit"),
        ("/orders?limit=99999999999999999999", "limit"),
        ("/orders?limit=abc", "limit"),
        ("/orders?cursor=%27%3B%20DROP", "cursor"),
        ("/orders?cursor=-1", "cursor"),
        ("/orders?status=lost", "status"),
        ("/orders?status=%2A", "status"),
        ("/orders/customer/c?limit=0", "limit"),
        ("/orders/o?minGlobalPosition=-1", "minGlobalPosition"),
        (
            "/orders/o?minGlobalPosition=18446744073709551616",
            "minGlobalPosition",
        ),
        ("/analytics/orders?waitMs=-5", "waitMs"),
    ];
    for (path, field) in cases {
        let answer = send(
            &stack,
            Method::GET,
            &format!("{}{path}", stack.query),
            &[],
            None,
        )
        .await;
        assert_eq!(answer.0, 400, "{path}: {}", answer.1);
        let error = assert_client_error(path, &answer);
        assert_eq!(error["details"]["field"], field, "{path}: {error}");
    }
    let header = send(
        &stack,
        Method::GET,
        &format!("{}/orders", stack.query),
        &[("x-min-global-position", "1e30")],
        None,
    )
    .await;
    assert_eq!(header.0, 400, "{}", header.1);
    assert_alive(&stack, &stack.query).await;
}

#[tokio::test]
async fn order_and_customer_ids_with_slashes_dots_nul_quotes_and_globs_are_just_not_found() {
    let stack = Stack::start().await;
    for id in [
        "%2E%2E",
        "..%2F..%2Fgeneration",
        "a%00b",
        "%22%27",
        "x%27%3B%20DROP%20TABLE--",
        "%2A",
        "%7Borders%7D%3Ag0%3Aanalytics",
        &"x".repeat(5000),
    ] {
        for path in [format!("/orders/{id}"), format!("/orders/customer/{id}")] {
            let answer = send(
                &stack,
                Method::GET,
                &format!("{}{path}", stack.query),
                &[],
                None,
            )
            .await;
            match answer.0 {
                404 | 400 if path.starts_with("/orders/customer") => {
                    assert_client_error(&path, &answer);
                }
                // A customer with no orders is an empty list.
                200 if path.starts_with("/orders/customer") => {
                    assert_eq!(answer.1.trim(), "[]", "{path}");
                }
                404 | 400 => {
                    assert_client_error(&path, &answer);
                }
                other => panic!("{path}: {other} {}", answer.1),
            }
        }
    }
    assert_alive(&stack, &stack.query).await;
}
