//! The events that cause notifications and the variables each gives its templates. A template
//! names one event type; naming a variable its event does not give is refused when the template
//! is saved, with this list in the error.

/// The `UserCreated` event of IAM.
pub const USER_CREATED: &str = "crm.iam.events.v1.UserCreated";
/// The `UserInvited` event of IAM: its email is fixed ([`super::built_in::INVITED`]).
pub const USER_INVITED: &str = "crm.iam.events.v1.UserInvited";
/// The `LeadCreated` event of sales.
pub const LEAD_CREATED: &str = "crm.sales.events.v1.LeadCreated";
/// The `DealWon` event of sales.
pub const DEAL_WON: &str = "crm.sales.events.v1.DealWon";
/// The `DealLost` event of sales.
pub const DEAL_LOST: &str = "crm.sales.events.v1.DealLost";

/// The `ApprovalRequested` event of sales.
pub const APPROVAL_REQUESTED: &str = "crm.sales.events.v1.ApprovalRequested";
/// The `ApprovalDecided` event of sales.
pub const APPROVAL_DECIDED: &str = "crm.sales.events.v1.ApprovalDecided";

/// An event type templates can be written for.
#[derive(Clone, Copy, Debug)]
pub struct EventKind {
    /// The full protobuf name, as events carry it.
    pub event_type: &'static str,
    /// Its variables: (name, what it holds).
    pub variables: &'static [(&'static str, &'static str)],
}

const TENANT: (&str, &str) = ("tenant_name", "the tenant's name");

/// Every event type with its variables (docs/notifications.md's table is this list).
pub const EVENTS: &[EventKind] = &[
    EventKind {
        event_type: USER_CREATED,
        variables: &[
            TENANT,
            ("user_name", "the new user's display name"),
            ("user_email", "the new user's email address"),
            ("roles", "the new user's roles, comma-separated"),
        ],
    },
    EventKind {
        event_type: LEAD_CREATED,
        variables: &[
            TENANT,
            ("lead_name", "the lead's contact name"),
            ("lead_company", "the lead's company"),
            ("lead_email", "the lead's email address"),
            ("lead_phone", "the lead's phone number"),
            ("lead_source", "where the lead came from"),
            ("owner_name", "the owner's display name (empty if none)"),
            ("created_by_name", "who created it"),
        ],
    },
    EventKind {
        event_type: DEAL_WON,
        variables: &[
            TENANT,
            ("customer_name", "the customer's name"),
            ("customer_email", "the customer's primary email address"),
            (
                "customer_mobile",
                "the customer's mobile number (E.164), empty if none",
            ),
            ("deal_name", "the deal's name"),
            (
                "amount",
                "the deal's amount with its currency, e.g. MYR 25,000.00",
            ),
            ("won_by_name", "who won it"),
        ],
    },
    EventKind {
        event_type: DEAL_LOST,
        variables: &[
            TENANT,
            ("customer_name", "the customer's name"),
            ("customer_email", "the customer's primary email address"),
            (
                "customer_mobile",
                "the customer's mobile number (E.164), empty if none",
            ),
            ("opportunity_name", "the opportunity's name"),
            ("amount", "its amount with its currency, e.g. MYR 25,000.00"),
            ("loss_reason", "why it was lost, in words"),
        ],
    },
    EventKind {
        event_type: APPROVAL_REQUESTED,
        variables: &[
            TENANT,
            ("opportunity_name", "the opportunity's name"),
            ("amount", "the amount asked to win at, e.g. MYR 80,000.00"),
            ("requested_by_name", "who asked"),
            ("note", "what they wrote"),
        ],
    },
    EventKind {
        event_type: APPROVAL_DECIDED,
        variables: &[
            TENANT,
            ("opportunity_name", "the opportunity's name"),
            ("amount", "the amount asked to win at"),
            ("decision", "approved or declined"),
            ("decided_by_name", "who decided"),
            ("reason", "why (always when declined)"),
        ],
    },
];

/// The event type named `event_type`, if templates can be written for it.
pub fn event(event_type: &str) -> Option<&'static EventKind> {
    EVENTS.iter().find(|e| e.event_type == event_type)
}

impl EventKind {
    /// Its variable names, comma-separated (for errors).
    pub fn names(&self) -> String {
        self.variables
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether it gives `name`.
    pub fn gives(&self, name: &str) -> bool {
        self.variables.iter().any(|(n, _)| *n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_gives_the_tenant_name() {
        for kind in EVENTS {
            assert!(kind.gives("tenant_name"), "{}", kind.event_type);
        }
        assert!(event(DEAL_WON).unwrap().gives("amount"));
        assert!(event("crm.sales.events.v1.LeadQualified").is_none());
    }
}
