//! Money: an ISO 4217 currency and an amount in minor-unit-exact integers (`google.type.Money`'s
//! units and nanos), never floats.

/// An amount of a currency: `units` whole units and `nanos` billionths, with the same sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Money {
    /// ISO 4217, upper case.
    pub currency: [u8; 3],
    /// Whole units.
    pub units: i64,
    /// Billionths of a unit, -999,999,999 to 999,999,999, with the sign of `units`.
    pub nanos: i32,
}

impl Money {
    /// Checks a `google.type.Money`: a known currency, nanos in range and of the units' sign,
    /// and not negative (amounts in sales are never owed back).
    pub fn parse(currency: &str, units: i64, nanos: i32) -> Result<Money, String> {
        let code = crm_core::text::currency_code(&currency.trim().to_uppercase())
            .map_err(str::to_owned)?;
        if !(-999_999_999..=999_999_999).contains(&nanos) {
            return Err("nanos must be between -999,999,999 and 999,999,999".into());
        }
        if units < 0 || nanos < 0 {
            return Err("must not be negative".into());
        }
        if units > 1_000_000_000_000 {
            return Err("must be at most 1,000,000,000,000 units".into());
        }
        let bytes = code.as_bytes();
        Ok(Money {
            currency: [bytes[0], bytes[1], bytes[2]],
            units,
            nanos,
        })
    }

    /// The currency code.
    pub fn currency_code(&self) -> &str {
        std::str::from_utf8(&self.currency).unwrap_or("XXX")
    }

    /// The amount in billionths, for sums that must be exact.
    pub fn total_nanos(&self) -> i128 {
        i128::from(self.units) * 1_000_000_000 + i128::from(self.nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_known_currencies_and_never_negative() {
        let m = Money::parse("myr", 12_345, 670_000_000).unwrap();
        assert_eq!(m.currency_code(), "MYR");
        assert_eq!(m.total_nanos(), 12_345_670_000_000);
        assert!(Money::parse("XYZ", 1, 0).is_err());
        assert!(Money::parse("MYR", -1, 0).is_err());
        assert!(Money::parse("MYR", 0, -5).is_err());
        assert!(Money::parse("MYR", 1, 1_000_000_000).is_err());
        assert!(Money::parse("MYR", 2_000_000_000_000, 0).is_err());
    }
}
