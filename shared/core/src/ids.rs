//! The ids every context uses: tenants and users (UUIDv7, parsed from their canonical form).
//! Apart from the request context so the policy engine can name users without depending on it.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::Error;

/// A tenant's id (UUIDv7). Every repository method takes one.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TenantId(Uuid);

/// A user's id (UUIDv7).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserId(Uuid);

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        impl $name {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Parses the canonical hyphenated form.
            pub fn parse(s: &str) -> Result<Self, Error> {
                Uuid::try_parse(s)
                    .map(Self)
                    .map_err(|_| Error::invalid_field($what, "must be a UUID"))
            }
            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}
uuid_id!(TenantId, "tenant_id");
uuid_id!(UserId, "user_id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_their_canonical_form_and_reject_anything_else() {
        let id = TenantId::new();
        assert_eq!(TenantId::parse(&id.to_string()).unwrap(), id);
        let err = TenantId::parse("kilang").unwrap_err();
        assert_eq!(err.field_violations()[0].0, "tenant_id");
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second);
        assert_eq!(first.as_uuid().get_version_num(), 7);
    }
}
