//! Which customers salespeople whose roles reach only their own may read: a workspace's setting
//! that widens `customers.read:own` to every customer (a small team sharing its customers), or
//! leaves it as it is.

/// The read permission the setting widens.
const READ: &str = "customers.read";

/// Which customers salespeople whose roles reach only their own may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerVisibility {
    /// Every customer of the workspace (they change only their own).
    Everyone,
    /// Only their own.
    Own,
}

impl CustomerVisibility {
    /// New workspaces: a small team shares its customers.
    pub const NEW: CustomerVisibility = CustomerVisibility::Everyone;
    /// Workspaces made before the setting existed: as they were, until an owner chooses.
    pub const BEFORE: CustomerVisibility = CustomerVisibility::Own;

    /// From the contract's number; `None` for 0 (unset: unchanged) and unknown numbers.
    pub fn from_i32(n: i32) -> Option<CustomerVisibility> {
        match n {
            1 => Some(CustomerVisibility::Everyone),
            2 => Some(CustomerVisibility::Own),
            _ => None,
        }
    }

    /// The contract's number.
    pub fn as_i32(self) -> i32 {
        match self {
            CustomerVisibility::Everyone => 1,
            CustomerVisibility::Own => 2,
        }
    }

    /// `held` (sorted, as roles give them) as the setting widens them: with every customer
    /// visible, a narrowed `customers.read` (`:own`, `:team`) reads every customer. Nothing
    /// else changes: writes stay as narrow as the roles say.
    pub fn widen(self, mut held: Vec<String>) -> Vec<String> {
        let narrowed = |p: &String| {
            p.strip_prefix(READ)
                .is_some_and(|rest| rest.starts_with(':'))
        };
        if self == CustomerVisibility::Everyone && held.iter().any(narrowed) {
            held.retain(|p| !narrowed(p));
            held.push(READ.to_owned());
            held.sort();
            held.dedup();
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn everyone_widens_only_a_narrowed_customer_read() {
        let rep = v(&["customers.read:own", "customers.write:own", "leads.write"]);
        assert_eq!(
            CustomerVisibility::Everyone.widen(rep.clone()),
            v(&["customers.read", "customers.write:own", "leads.write"])
        );
        assert_eq!(CustomerVisibility::Own.widen(rep.clone()), rep);
        let viewer = v(&["customers.read", "leads.read"]);
        assert_eq!(CustomerVisibility::Everyone.widen(viewer.clone()), viewer);
        let nothing = v(&["customers.readers", "leads.read:own"]);
        assert_eq!(CustomerVisibility::Everyone.widen(nothing.clone()), nothing);
        assert_eq!(
            CustomerVisibility::Everyone.widen(v(&["customers.read", "customers.read:team"])),
            v(&["customers.read"])
        );
    }

    #[test]
    fn numbers_round_trip_and_unset_is_none() {
        for c in [CustomerVisibility::Everyone, CustomerVisibility::Own] {
            assert_eq!(CustomerVisibility::from_i32(c.as_i32()), Some(c));
        }
        assert_eq!(CustomerVisibility::from_i32(0), None);
        assert_eq!(CustomerVisibility::from_i32(9), None);
    }
}
