//! Sales' events on the timelines: a lead and its conversion (the lead and its opportunity then
//! show on the customer's timeline, their history included), an opportunity's moves, a deal won
//! or lost (the cause of the message the customer is then sent), reopened (an undo), and the
//! requests to win above the large-deal threshold with their answers.

use crm_events::Envelope;
use crm_proto::crm::sales::events::v1 as sales;

use super::{entry, money, owner, record};
use crate::domain::records::{RecordRef, RecordType};
use crate::domain::timeline::{Effect, EntryKind};

/// An enum value's name in words: `LOSS_REASON_NO_BUDGET` as `no budget`.
fn words(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix)
        .replace('_', " ")
        .to_lowercase()
}

/// A lead as the timelines name it: the person, and the company if any.
fn lead_name(l: &crm_proto::crm::sales::v1::Lead) -> String {
    [l.contact_name.as_str(), l.company_name.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An opportunity as a record of the timelines (its owner and name) linked to its customer:
/// the effects, and the customer's record.
fn opportunity_on_customer(
    opportunity: RecordRef,
    owner_id: &str,
    name: &str,
    customer_id: &str,
) -> (Vec<Effect>, Option<RecordRef>) {
    let mut out = vec![Effect::Record {
        record: opportunity,
        owner: owner(owner_id),
        name: Some(name.to_owned()),
    }];
    let customer = record(RecordType::Customer, customer_id);
    if let Some(customer) = customer {
        out.push(Effect::Link {
            from: opportunity,
            to: customer,
        });
    }
    (out, customer)
}

/// What sales' events do: leads created, qualified, assigned, converted; opportunities opened,
/// moved, won, lost, reopened.
pub(super) fn effects(event: &Envelope) -> Option<Vec<Effect>> {
    if let Some(e) = event.decode::<sales::LeadAssigned>() {
        let r = record(RecordType::Lead, &e.lead_id)?;
        return Some(vec![
            Effect::Record {
                record: r,
                owner: owner(&e.owner_id),
                name: None,
            },
            Effect::Add(entry(
                event,
                EntryKind::Lead,
                r,
                &e.assigned_by_user_id,
                "Assigned to a new owner".into(),
                &[
                    ("owner_id", e.owner_id.clone()),
                    ("previous_owner_id", e.previous_owner_id.clone()),
                ],
            )),
        ]);
    }
    if let Some(e) = event.decode::<sales::OpportunityCreated>() {
        let o = e.opportunity.unwrap_or_default();
        let opportunity = record(RecordType::Opportunity, &o.id)?;
        let (mut out, _) =
            opportunity_on_customer(opportunity, &o.owner_id, &o.name, &o.customer_id);
        let amount = money(o.amount.as_ref());
        out.push(Effect::Add(entry(
            event,
            EntryKind::Opportunity,
            opportunity,
            &e.created_by_user_id,
            format!("Opportunity opened: {} ({amount})", o.name),
            &[
                ("amount", amount.clone()),
                ("pipeline_id", o.pipeline_id.clone()),
            ],
        )));
        return Some(out);
    }
    // Created, or back from a delete: the lead (again) a record of the timelines.
    let appeared = event
        .decode::<sales::LeadCreated>()
        .map(|e| (e.lead, e.created_by_user_id, "created"))
        .or_else(|| {
            event
                .decode::<sales::LeadRestored>()
                .map(|e| (e.lead, e.restored_by_user_id, "restored"))
        });
    if let Some((l, by, what)) = appeared {
        let l = l.unwrap_or_default();
        let r = record(RecordType::Lead, &l.id)?;
        let name = lead_name(&l);
        return Some(vec![
            Effect::Record {
                record: r,
                owner: owner(&l.owner_id),
                name: Some(name.clone()),
            },
            Effect::Add(entry(
                event,
                EntryKind::Lead,
                r,
                &by,
                format!("Lead {what}: {name}"),
                &[("owner_id", l.owner_id.clone())],
            )),
        ]);
    }
    if let Some(e) = event.decode::<sales::LeadDeleted>() {
        let r = record(RecordType::Lead, &e.lead_id)?;
        return Some(vec![
            Effect::Add(entry(
                event,
                EntryKind::Lead,
                r,
                &e.deleted_by_user_id,
                format!("Lead deleted: {}", e.display_name),
                &[("display_name", e.display_name.clone())],
            )),
            Effect::Forget { record: r },
        ]);
    }
    if let Some(e) = event.decode::<sales::LeadPurged>() {
        let r = record(RecordType::Lead, &e.lead_id)?;
        return Some(vec![Effect::Erase { record: r }]);
    }
    if let Some(e) = event.decode::<sales::LeadQualified>() {
        let r = record(RecordType::Lead, &e.lead_id)?;
        let summary = if e.qualified {
            format!("Qualified (score {})", e.score)
        } else if e.reason.is_empty() {
            "Not a fit".to_owned()
        } else {
            format!("Not a fit: {}", e.reason)
        };
        return Some(vec![
            Effect::Record {
                record: r,
                owner: owner(&e.owner_id),
                name: None,
            },
            Effect::Add(entry(
                event,
                EntryKind::Lead,
                r,
                &e.qualified_by_user_id,
                summary,
                &[
                    ("qualified", e.qualified.to_string()),
                    ("score", e.score.to_string()),
                    ("reason", e.reason.clone()),
                ],
            )),
        ]);
    }
    if let Some(e) = event.decode::<sales::LeadConverted>() {
        let lead = record(RecordType::Lead, &e.lead_id)?;
        let customer = record(RecordType::Customer, &e.customer_id)?;
        let mut out = vec![
            Effect::Record {
                record: lead,
                owner: owner(&e.owner_id),
                name: None,
            },
            Effect::Link {
                from: lead,
                to: customer,
            },
        ];
        if let Some(opportunity) = record(RecordType::Opportunity, &e.opportunity_id) {
            out.push(Effect::Record {
                record: opportunity,
                owner: owner(&e.owner_id),
                name: None,
            });
            out.push(Effect::Link {
                from: opportunity,
                to: customer,
            });
            out.push(Effect::Add(entry(
                event,
                EntryKind::Opportunity,
                opportunity,
                &e.converted_by_user_id,
                format!(
                    "Opportunity opened from a lead: {}",
                    money(e.amount.as_ref())
                ),
                &[("amount", money(e.amount.as_ref()))],
            )));
        }
        out.push(Effect::Add(entry(
            event,
            EntryKind::Lead,
            lead,
            &e.converted_by_user_id,
            if e.customer_created {
                "Converted: a new customer".to_owned()
            } else {
                "Converted: an existing customer".to_owned()
            },
            &[
                ("customer_id", e.customer_id.clone()),
                ("opportunity_id", e.opportunity_id.clone()),
            ],
        )));
        return Some(out);
    }
    if let Some(e) = event.decode::<sales::OpportunityStageChanged>() {
        let r = record(RecordType::Opportunity, &e.opportunity_id)?;
        return Some(vec![
            Effect::Record {
                record: r,
                owner: owner(&e.owner_id),
                name: Some(e.opportunity_name.clone()),
            },
            Effect::Add(entry(
                event,
                EntryKind::Opportunity,
                r,
                &e.changed_by_user_id,
                format!("Moved from {} to {}", e.from_stage_name, e.to_stage_name),
                &[
                    ("from_stage_name", e.from_stage_name.clone()),
                    ("to_stage_name", e.to_stage_name.clone()),
                    ("amount", money(e.amount.as_ref())),
                ],
            )),
        ]);
    }
    if let Some(e) = event.decode::<sales::DealWon>() {
        let d = e.deal.unwrap_or_default();
        let opportunity = record(RecordType::Opportunity, &d.opportunity_id)?;
        let (mut out, customer) =
            opportunity_on_customer(opportunity, &d.owner_id, &d.name, &d.customer_id);
        let about: Vec<_> = [Some(opportunity), customer]
            .into_iter()
            .flatten()
            .collect();
        let amount = money(d.amount.as_ref());
        out.push(Effect::Add(entry(
            event,
            EntryKind::Opportunity,
            opportunity,
            &e.won_by_user_id,
            format!("Won: {} ({amount})", d.name),
            &[("amount", amount.clone()), ("deal_id", d.id.clone())],
        )));
        out.push(Effect::Cause {
            event_id: event.id,
            records: about,
        });
        return Some(out);
    }
    if let Some(e) = event.decode::<sales::DealLost>() {
        let opportunity = record(RecordType::Opportunity, &e.opportunity_id)?;
        let (mut out, customer) = opportunity_on_customer(
            opportunity,
            &e.owner_id,
            &e.opportunity_name,
            &e.customer_id,
        );
        let about: Vec<_> = [Some(opportunity), customer]
            .into_iter()
            .flatten()
            .collect();
        let reason = crm_proto::crm::sales::v1::LossReason::try_from(e.loss_reason)
            .map(|r| words(r.as_str_name(), "LOSS_REASON_"))
            .unwrap_or_default();
        out.push(Effect::Add(entry(
            event,
            EntryKind::Opportunity,
            opportunity,
            &e.lost_by_user_id,
            format!("Lost: {} ({reason})", e.opportunity_name),
            &[
                ("amount", money(e.amount.as_ref())),
                ("loss_reason", reason.clone()),
                ("loss_detail", e.loss_detail.clone()),
            ],
        )));
        out.push(Effect::Cause {
            event_id: event.id,
            records: about,
        });
        return Some(out);
    }
    if let Some(e) = event.decode::<sales::OpportunityReopened>() {
        let opportunity = record(RecordType::Opportunity, &e.opportunity_id)?;
        let (mut out, _) = opportunity_on_customer(
            opportunity,
            &e.owner_id,
            &e.opportunity_name,
            &e.customer_id,
        );
        let was = crm_proto::crm::sales::v1::OpportunityStatus::try_from(e.previous_status)
            .map(|s| words(s.as_str_name(), "OPPORTUNITY_STATUS_"))
            .unwrap_or_default();
        out.push(Effect::Add(entry(
            event,
            EntryKind::Opportunity,
            opportunity,
            &e.reopened_by_user_id,
            format!("Reopened: {} (was {was})", e.opportunity_name),
            &[
                ("previous_status", was.clone()),
                ("deal_id", e.deal_id.clone()),
                ("amount", money(e.amount.as_ref())),
            ],
        )));
        return Some(out);
    }
    if let Some(e) = event.decode::<sales::ApprovalRequested>() {
        let approval = e.approval.unwrap_or_default();
        return approval_entry(
            event,
            (
                &e.opportunity_id,
                &e.opportunity_name,
                &e.owner_id,
                &e.customer_id,
            ),
            &approval.requested_by_user_id,
            format!(
                "Approval asked to win {} at {}",
                e.opportunity_name,
                money(approval.amount.as_ref())
            ),
            &[
                ("amount", money(approval.amount.as_ref())),
                ("note", approval.note.clone()),
            ],
        );
    }
    if let Some(e) = event.decode::<sales::ApprovalDecided>() {
        let approval = e.approval.unwrap_or_default();
        let approved = approval.state == crm_proto::crm::sales::v1::ApprovalState::Approved as i32;
        let decision = if approved { "approved" } else { "declined" };
        return approval_entry(
            event,
            (
                &e.opportunity_id,
                &e.opportunity_name,
                &e.owner_id,
                &e.customer_id,
            ),
            &approval.decided_by_user_id,
            format!(
                "Winning {} at {} {decision}",
                e.opportunity_name,
                money(approval.amount.as_ref())
            ),
            &[
                ("decision", decision.to_owned()),
                ("amount", money(approval.amount.as_ref())),
                ("reason", approval.reason.clone()),
            ],
        );
    }
    None
}

/// A request to win above the threshold, or its answer, on the opportunity's timeline: the
/// trail of who asked, who decided and why.
fn approval_entry(
    event: &Envelope,
    (id, name, owner_id, customer_id): (&str, &str, &str, &str),
    by: &str,
    summary: String,
    details: &[(&str, String)],
) -> Option<Vec<Effect>> {
    let opportunity = record(RecordType::Opportunity, id)?;
    let (mut out, _) = opportunity_on_customer(opportunity, owner_id, name, customer_id);
    out.push(Effect::Add(entry(
        event,
        EntryKind::Opportunity,
        opportunity,
        by,
        summary,
        details,
    )));
    Some(out)
}
