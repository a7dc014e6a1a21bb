//! Deleting and restoring a lead: a deleted lead is gone from every read but stays restorable
//! for [`RESTORE_WINDOW`], then the purge removes it for good. A converted lead is history (its
//! customer and opportunity name it) and is not deleted.

pub use crm_core::deletion::{RESTORE_WINDOW, RestoreRefusal};

use super::{Lead, LeadChangeError, LeadStatus, Millis};

impl Lead {
    /// Marks it deleted at `now`; a converted lead is refused.
    pub fn delete(&mut self, now: Millis) -> Result<(), LeadChangeError> {
        if self.status == LeadStatus::Converted {
            return Err(LeadChangeError::Converted);
        }
        self.updated_at = now;
        self.version += 1;
        self.deleted_at = Some(now);
        Ok(())
    }

    /// Until when a deleted lead may be restored (when the purge removes it); `None` while it
    /// is live.
    pub fn purge_at(&self) -> Option<Millis> {
        crm_core::deletion::purge_at(self.deleted_at)
    }

    /// Brings a deleted lead back at `now`, within its window, as it was.
    pub fn restore(&mut self, now: Millis) -> Result<(), RestoreRefusal> {
        crm_core::deletion::restorable(self.deleted_at, now)?;
        self.deleted_at = None;
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead::LeadInput;
    use crm_core::{TenantId, UserId};

    const DAY: Millis = 24 * 60 * 60 * 1000;

    fn lead() -> Lead {
        let input = LeadInput {
            contact_name: "Aminah binti Yusof".into(),
            email: "aminah@hotel.example".into(),
            ..LeadInput::default()
        };
        Lead::new(TenantId::new(), &input, Some(UserId::new()), 1_000).unwrap()
    }

    #[test]
    fn a_deleted_lead_is_restorable_for_thirty_days_then_not() {
        let mut l = lead();
        l.delete(10 * DAY).unwrap();
        assert_eq!(l.deleted_at, Some(10 * DAY));
        assert_eq!(l.purge_at(), Some(40 * DAY));
        let version = l.version;

        let mut late = l.clone();
        assert_eq!(
            late.restore(40 * DAY + 1),
            Err(RestoreRefusal::WindowPassed(40 * DAY))
        );
        assert_eq!(late, l, "a refused restore changes nothing");

        l.restore(40 * DAY).unwrap();
        assert_eq!(l.deleted_at, None);
        assert_eq!(l.version, version + 1);
        assert_eq!(l.restore(41 * DAY), Err(RestoreRefusal::NotDeleted));
    }

    #[test]
    fn a_converted_lead_is_not_deleted() {
        let mut l = lead();
        l.status = LeadStatus::Converted;
        let before = l.clone();
        assert_eq!(l.delete(DAY), Err(LeadChangeError::Converted));
        assert_eq!(l, before);
    }
}
