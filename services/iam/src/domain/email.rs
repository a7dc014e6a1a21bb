//! Email addresses: trimmed, lowercased, checked for shape. Compared case-insensitively because
//! they are stored lowercased.

use std::fmt;

/// A normalised email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalises. The error says what is wrong, for a field violation.
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("must not be empty");
        }
        if email.len() > 254 {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("must be an email address like name@example.com");
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err("must be an email address like name@example.com");
        }
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if !domain_ok || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be an email address like name@example.com");
        }
        Ok(Email(email))
    }

    /// Loads a value that was parsed before it was stored.
    pub fn from_stored(value: String) -> Email {
        Email(value)
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(
            Email::parse("  Siti@Kilang.Example ").unwrap().as_str(),
            "siti@kilang.example"
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "",
            "siti",
            "siti@",
            "@kilang.example",
            "siti@kilang",
            "si ti@kilang.example",
            "a@b..c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }
}
