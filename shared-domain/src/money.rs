//! Exact money. Amounts are decimals (no binary floats), yet JSON still carries plain numbers as
//! the walkthrough does: `3 × 0.1` totals `0.3`, not `0.30000000000000004`.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Mul};
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An exact decimal amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Wraps a decimal.
    pub fn new(value: Decimal) -> Self {
        Self(value.normalize())
    }

    /// The decimal inside.
    pub fn decimal(self) -> Decimal {
        self.0
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// `self × quantity`, or `None` on overflow.
    pub fn checked_mul_quantity(self, quantity: u32) -> Option<Money> {
        self.0.checked_mul(Decimal::from(quantity)).map(Money::new)
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money::new)
    }
}

impl From<u32> for Money {
    fn from(value: u32) -> Self {
        Money(Decimal::from(value))
    }
}

impl FromStr for Money {
    type Err = rust_decimal::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::from_str(s).map(Money::new)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.normalize().fmt(f)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money::new(self.0 + rhs.0)
    }
}

impl Mul<u32> for Money {
    type Output = Money;
    fn mul(self, rhs: u32) -> Money {
        Money::new(self.0 * Decimal::from(rhs))
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl Serialize for Money {
    /// Integers go out as JSON integers; fractions as the shortest float that reads back as the
    /// same decimal (`0.3`), which is what a JSON reader in any language expects.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0.normalize();
        if value.scale() == 0
            && let Some(i) = value.to_i64()
        {
            return serializer.serialize_i64(i);
        }
        match value.to_f64() {
            Some(f) => serializer.serialize_f64(f),
            None => Err(serde::ser::Error::custom("amount out of range")),
        }
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
                Ok(Money(Decimal::from(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                Ok(Money(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                if !v.is_finite() {
                    return Err(E::custom("amount must be finite"));
                }
                // Rust prints the shortest text that reads back as the same f64, so `0.1` stays
                // `0.1` rather than becoming 0.1000000000000000055511151231257827.
                Decimal::from_str(&v.to_string())
                    .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
                    .map(Money::new)
                    .map_err(|_| E::custom("amount out of range"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_times_a_dime_is_exactly_thirty_cents() {
        let dime: Money = serde_json::from_str("0.1").unwrap();
        let total = dime * 3;
        assert_eq!(total, Money::from_str("0.3").unwrap());
        assert_eq!(serde_json::to_string(&total).unwrap(), "0.3");
    }

    #[test]
    fn integers_stay_integers_in_json() {
        let m: Money = serde_json::from_str("20").unwrap();
        assert_eq!(serde_json::to_string(&(m * 2)).unwrap(), "40");
        assert_eq!(
            serde_json::to_string(&Money::from_str("20.00").unwrap()).unwrap(),
            "20"
        );
    }

    #[test]
    fn strings_are_not_money() {
        assert!(serde_json::from_str::<Money>("\"10\"").is_err());
    }

    #[test]
    fn sums_are_exact() {
        let items: Vec<Money> = ["19.99", "0.01", "5.10"]
            .iter()
            .map(|s| Money::from_str(s).unwrap())
            .collect();
        let total: Money = items.into_iter().sum();
        assert_eq!(serde_json::to_string(&total).unwrap(), "25.1");
    }
}
