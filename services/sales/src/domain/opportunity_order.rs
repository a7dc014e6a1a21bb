//! The orders ListOpportunities offers, and where a page in one of them starts.

use uuid::Uuid;

use super::opportunity::Opportunity;

/// The orders ListOpportunities offers (`order_by`); ties go by id, in the same direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpportunityOrder {
    /// Oldest first (the id is time-ordered).
    #[default]
    Created,
    /// Newest first.
    CreatedDesc,
    /// Least recently changed first.
    Updated,
    /// Most recently changed first.
    UpdatedDesc,
    /// Smallest amount first (the amount's number, whatever its currency).
    Amount,
    /// Largest amount first.
    AmountDesc,
    /// Soonest expected close first; those without a date last.
    Close,
    /// Latest expected close first; those without a date first.
    CloseDesc,
}

impl OpportunityOrder {
    /// Whether the list runs from the largest key down.
    pub fn descending(self) -> bool {
        matches!(
            self,
            Self::CreatedDesc | Self::UpdatedDesc | Self::AmountDesc | Self::CloseDesc
        )
    }

    /// The keys `o` is ordered by before its id (`(0, 0)` in creation order, the id alone).
    pub fn keys(self, o: &Opportunity) -> (i64, i64) {
        match self {
            Self::Created | Self::CreatedDesc => (0, 0),
            Self::Updated | Self::UpdatedDesc => (o.updated_at, 0),
            Self::Amount | Self::AmountDesc => (o.amount.units, i64::from(o.amount.nanos)),
            Self::Close | Self::CloseDesc => (o.expected_close_at.unwrap_or(i64::MAX), 0),
        }
    }

    /// Where the page after `last` starts.
    pub fn cursor(self, last: &Opportunity) -> OpportunityCursor {
        OpportunityCursor {
            keys: self.keys(last),
            id: last.id,
        }
    }
}

/// Where a page of opportunities starts: after the one with these keys and id, in the list's
/// order ([`OpportunityOrder::keys`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpportunityCursor {
    /// The keys before the id.
    pub keys: (i64, i64),
    /// The id.
    pub id: Uuid,
}
