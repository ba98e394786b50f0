//! The Lua decimal addition that keeps revenue exact, checked against `rust_decimal` on a real
//! Redis for arbitrary amounts.

use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;
use shared_domain::testing::redis::redis_url;

fn lua_add(conn: &mut redis::Connection, a: &str, b: &str) -> String {
    let script = redis::Script::new(concat!(
        include_str!("../../src/projector/lua/decimal.lua"),
        "\nreturn dec_add(ARGV[1], ARGV[2])"
    ));
    script.arg(a).arg(b).invoke(conn).unwrap()
}

/// Amounts whose sums `rust_decimal` (28 significant digits) holds exactly; the Lua side has no
/// such limit.
fn amount() -> impl Strategy<Value = Decimal> {
    (-10i64.pow(15)..10i64.pow(15), 0u32..12)
        .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn lua_decimal_addition_is_exact(a in amount(), b in amount()) {
        let mut conn = redis::Client::open(redis_url()).unwrap().get_connection().unwrap();
        let expected = (a + b).normalize().to_string();
        let got = lua_add(&mut conn, &a.normalize().to_string(), &b.normalize().to_string());
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(Decimal::from_str(&got).unwrap(), a + b);
    }
}

#[test]
fn lua_decimal_addition_handles_signs_and_carries() {
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    for (a, b, sum) in [
        ("0.1", "0.2", "0.3"),
        ("999.99", "0.01", "1000"),
        ("5", "-5", "0"),
        ("0.3", "-0.7", "-0.4"),
        ("-1.5", "-2.25", "-3.75"),
        (
            "123456789012345678901234567",
            "1",
            "123456789012345678901234568",
        ),
        ("0", "0", "0"),
    ] {
        assert_eq!(lua_add(&mut conn, a, b), sum, "{a} + {b}");
    }
}
