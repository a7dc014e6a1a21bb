//! Large deals: a request to win above the threshold reaches the sales managers and owners
//! (those who may approve, but not who asked) in-app; the answer reaches who asked. Each leads
//! to the opportunity (`pipeline/<id>`).

use super::*;
use crate::domain::catalogue::{APPROVAL_DECIDED, APPROVAL_REQUESTED};
use crm_proto::crm::sales::v1::{Approval, ApprovalState};

/// The role that holds every right, owners approving where no sales manager does.
const OWNER: &str = "owner";

fn in_app(id: UserId) -> Recipient {
    Recipient {
        channel: Channel::InApp,
        user_id: Some(id),
        address: id.to_string(),
    }
}

fn leading_to(opportunity: &str) -> Sending {
    Sending {
        link: format!("pipeline/{opportunity}"),
        ..Sending::default()
    }
}

/// `ApprovalRequested`: a notice to each sales manager and owner but the requester.
pub(super) async fn requested(
    tx: &mut dyn FlowStore,
    tenant: TenantId,
    event: &Envelope,
    asked: ApprovalRequested,
) -> anyhow::Result<()> {
    let approval: Approval = asked.approval.unwrap_or_default();
    let requester = UserId::parse(&approval.requested_by_user_id).ok();
    let mut people: Vec<UserId> = Vec::new();
    for role in [SALES_MANAGER, OWNER] {
        for u in tx.users_with_role(tenant, role).await? {
            if Some(u.id) != requester && !people.contains(&u.id) {
                people.push(u.id);
            }
        }
    }
    let vars = vec![
        ("opportunity_name", asked.opportunity_name),
        ("amount", amount(approval.amount.as_ref())),
        (
            "requested_by_name",
            name_of(tx, tenant, &approval.requested_by_user_id).await?,
        ),
        ("note", approval.note),
    ];
    let to = people.into_iter().map(in_app).collect();
    let sending = leading_to(&asked.opportunity_id);
    notify(
        tx,
        tenant,
        event,
        APPROVAL_REQUESTED,
        vars,
        to,
        None,
        &sending,
    )
    .await
}

/// `ApprovalDecided`: a notice to who asked.
pub(super) async fn decided(
    tx: &mut dyn FlowStore,
    tenant: TenantId,
    event: &Envelope,
    decided: ApprovalDecided,
) -> anyhow::Result<()> {
    let approval: Approval = decided.approval.unwrap_or_default();
    let Ok(requester) = UserId::parse(&approval.requested_by_user_id) else {
        return Ok(());
    };
    let decision = if approval.state == ApprovalState::Approved as i32 {
        "approved"
    } else {
        "declined"
    };
    let vars = vec![
        ("opportunity_name", decided.opportunity_name),
        ("amount", amount(approval.amount.as_ref())),
        ("decision", decision.to_owned()),
        (
            "decided_by_name",
            name_of(tx, tenant, &approval.decided_by_user_id).await?,
        ),
        ("reason", approval.reason),
    ];
    let sending = leading_to(&decided.opportunity_id);
    notify(
        tx,
        tenant,
        event,
        APPROVAL_DECIDED,
        vars,
        vec![in_app(requester)],
        None,
        &sending,
    )
    .await
}
