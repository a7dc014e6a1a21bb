//! Deleting and restoring: a deleted customer is gone from every read but stays restorable for
//! [`RESTORE_WINDOW`], then the purge removes it for good.

pub use crm_core::deletion::{RESTORE_WINDOW, RestoreRefusal};

use super::{Customer, Millis};

impl Customer {
    /// Marks it deleted at `now`.
    pub fn delete(&mut self, now: Millis) {
        self.touch(now);
        self.deleted_at = Some(self.updated_at);
    }

    /// Until when a deleted customer may be restored (when the purge removes it); `None` while
    /// it is live.
    pub fn purge_at(&self) -> Option<Millis> {
        crm_core::deletion::purge_at(self.deleted_at)
    }

    /// Brings a deleted customer back at `now`, within its window.
    pub fn restore(&mut self, now: Millis) -> Result<(), RestoreRefusal> {
        crm_core::deletion::restorable(self.deleted_at, now)?;
        self.deleted_at = None;
        self.touch(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{CustomerInput, CustomerType, Individual};
    use crm_core::{TenantId, UserId};

    const DAY: Millis = 24 * 60 * 60 * 1000;

    fn customer() -> Customer {
        let input = CustomerInput {
            customer_type: Some(CustomerType::Individual),
            individual: Individual {
                given_name: "Siti".into(),
                family_name: "Aminah".into(),
            },
            ..CustomerInput::default()
        };
        Customer::create(TenantId::new(), input, UserId::new(), 1_000).unwrap()
    }

    #[test]
    fn a_deleted_customer_is_restorable_for_thirty_days_then_not() {
        let mut c = customer();
        c.delete(10 * DAY);
        assert_eq!(c.deleted_at, Some(10 * DAY));
        assert_eq!(c.purge_at(), Some(40 * DAY));
        let version = c.version;

        let mut late = c.clone();
        assert_eq!(
            late.restore(40 * DAY + 1),
            Err(RestoreRefusal::WindowPassed(40 * DAY))
        );
        assert_eq!(late, c, "a refused restore changes nothing");

        c.restore(40 * DAY).unwrap();
        assert_eq!(c.deleted_at, None);
        assert_eq!(c.purge_at(), None);
        assert_eq!(c.version, version + 1);
        assert_eq!(c.updated_at, 40 * DAY);
    }

    #[test]
    fn a_live_customer_is_not_restored() {
        let mut c = customer();
        assert_eq!(c.restore(2_000), Err(RestoreRefusal::NotDeleted));
        assert_eq!(c.version, customer().version);
    }
}
