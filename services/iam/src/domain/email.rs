//! Email addresses: trimmed, lowercased, checked for shape. Compared case-insensitively because
//! they are stored lowercased.

use std::fmt;

/// A normalised email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalises (the shared, strict rules of `crm_core::text::email`). The error
    /// says what is wrong, for a field violation.
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        crm_core::text::email(raw).map(Email)
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
    fn follows_the_shared_rules() {
        // The rules themselves are tested in crm_core::text.
        assert!(Email::parse("<script>@x.example").is_err());
    }
}
