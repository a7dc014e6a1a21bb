//! The flows: what the notification context does with other contexts' events. The consumer
//! (`infrastructure::consumer`) hands each event here with its transaction, seen through
//! [`FlowStore`].
//!
//! - IAM's events keep its own view of tenants (name, locale) and users (email, name, roles,
//!   active, language), so no event makes it call IAM; each person is written to in their own
//!   language, else the tenant's; `TenantCreated` also gives the tenant the built-in
//!   templates, and `UserCreated` sends the welcome email.
//! - Sales' `LeadCreated` notifies the tenant's sales managers and the lead's owner in-app;
//!   `DealWon` thanks the customer by email; `DealLost` asks the customer why (only once the
//!   tenant turns the survey on). Both wait out a grace period (`customer_message_grace_millis`)
//!   in which `OpportunityReopened`, the undo, cancels them: nothing reaches the customer.
//!
//! Each notification is stored in the consumer's transaction, which also records the event as
//! processed, and is unique per event, channel and recipient: a redelivered event stores
//! nothing twice. The delivery worker sends what was stored, woken when the transaction commits.

mod approvals;
mod invitations;
mod notify;

use notify::notify;

use std::collections::BTreeMap;

use crm_core::{TenantId, UserId};
use crm_events::Envelope;
use crm_proto::crm::iam::events::v1::{
    TenantCreated, TenantSettingsChanged, UserCreated, UserInvited, UserProfileChanged,
    UserRoleChanged, UserStatusChanged,
};
use crm_proto::crm::notification::v1::NoticeRequested;
use crm_proto::crm::sales::events::v1::{
    ApprovalDecided, ApprovalRequested, DealLost, DealWon, LeadCreated, OpportunityReopened,
};
use prost::Name;

use crate::domain::built_in::{BUILT_IN, BuiltIn, SIGNED_UP};
use crate::domain::catalogue::{DEAL_LOST, DEAL_WON, LEAD_CREATED, USER_CREATED};
use crate::domain::notification::{Notification, Recipient};
use crate::domain::ports::{FlowStore, KnownUser};
use crate::domain::template::{self, Channel, Template};

/// The role whose holders hear of every new lead.
pub const SALES_MANAGER: &str = "sales_manager";

fn types() -> [String; 14] {
    [
        ApprovalRequested::full_name(),
        ApprovalDecided::full_name(),
        NoticeRequested::full_name(),
        TenantCreated::full_name(),
        TenantSettingsChanged::full_name(),
        UserCreated::full_name(),
        UserInvited::full_name(),
        UserRoleChanged::full_name(),
        UserStatusChanged::full_name(),
        UserProfileChanged::full_name(),
        LeadCreated::full_name(),
        DealWon::full_name(),
        DealLost::full_name(),
        OpportunityReopened::full_name(),
    ]
}

/// What a customer message caused by closing opportunity `id` is about: reopening it cancels
/// the message while it is held back.
fn about_opportunity(id: &str) -> String {
    format!("opportunity/{id}")
}

/// How a flow's messages are sent: at once, or held back for a grace period, about a record.
#[derive(Clone, Debug, Default)]
struct Sending {
    /// Held back this long, in milliseconds (0: due at once).
    hold_millis: i64,
    /// The record they are about.
    about: String,
    /// Where they lead in a client (`pipeline/<opportunity id>`, `pipeline/leads/<lead id>`), if
    /// anywhere.
    link: String,
}

/// Whether the flows act on events of this type.
pub fn wants(event_type: &str) -> bool {
    types().iter().any(|t| t == event_type)
}

/// What an event of another context makes: the views kept, the notifications stored; a
/// customer message caused by a person's action is held back `grace_millis`.
pub async fn handle(
    event: &Envelope,
    tx: &mut dyn FlowStore,
    grace_millis: i64,
) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&event.tenant_id)
        .map_err(|e| anyhow::anyhow!("the event's tenant id: {e}"))?;
    let user =
        |raw: &str| UserId::parse(raw).map_err(|e| anyhow::anyhow!("the event's user id: {e}"));
    if let Some(notice) = event.decode::<NoticeRequested>() {
        return deliver_notice(tx, tenant, event, notice).await;
    }
    if let Some(created) = event.decode::<TenantCreated>() {
        tx.put_tenant(tenant, Some(&created.name), None, event.time)
            .await?;
        for b in BUILT_IN {
            tx.seed_template(&b.template(tenant, event.time)).await?;
        }
        return Ok(());
    }
    if let Some(changed) = event.decode::<TenantSettingsChanged>() {
        let settings = changed.settings.unwrap_or_default();
        let locale = crm_core::text::locale(&settings.locale).ok();
        tx.put_tenant(tenant, None, locale.as_deref(), event.time)
            .await?;
        return Ok(());
    }
    if let Some(changed) = event.decode::<UserRoleChanged>() {
        let known = tx.user(tenant, user(&changed.user_id)?).await?;
        let person = KnownUser {
            id: user(&changed.user_id)?,
            email: changed.email,
            display_name: String::new(),
            roles: changed.roles,
            active: known.is_none_or(|k| k.active),
            locale: None,
        };
        tx.put_user(tenant, &person, event.time).await?;
        return Ok(());
    }
    if let Some(changed) = event.decode::<UserProfileChanged>() {
        let locale = crm_core::text::locale(&changed.locale).ok();
        let (email, name) = (&changed.email, &changed.display_name);
        tx.put_profile(
            tenant,
            user(&changed.user_id)?,
            (email, name),
            locale,
            event.time,
        )
        .await?;
        return Ok(());
    }
    if let Some(changed) = event.decode::<UserStatusChanged>() {
        let active = changed.status == crm_proto::crm::iam::v1::UserStatus::Active as i32;
        tx.put_active(tenant, user(&changed.user_id)?, active)
            .await?;
        return Ok(());
    }
    if let Some(created) = event.decode::<UserCreated>() {
        let person = KnownUser {
            id: user(&created.user_id)?,
            email: created.email.clone(),
            display_name: created.display_name.clone(),
            roles: created.roles.clone(),
            active: true,
            locale: None,
        };
        tx.put_user(tenant, &person, event.time).await?;
        if !created.tenant_name.is_empty() {
            tx.put_tenant(tenant, Some(&created.tenant_name), None, event.time)
                .await?;
        }
        if created.accepted_invitation {
            // The invitation was their welcome, and they have just chosen their password.
            return Ok(());
        }
        let name = if created.display_name.is_empty() {
            created.email.clone()
        } else {
            created.display_name.clone()
        };
        let vars = vec![
            ("user_name", name),
            ("user_email", created.email.clone()),
            ("roles", created.roles.join(", ")),
        ];
        let to = Recipient {
            channel: Channel::Email,
            user_id: Some(person.id),
            address: created.email,
        };
        // Who signed up a workspace has confirmed nothing yet: the fixed welcome, with no
        // word they chose; whoever is invited hears the tenant's own.
        let fixed = created.invited_by_user_id.is_empty().then_some(SIGNED_UP);
        notify(
            tx,
            tenant,
            event,
            USER_CREATED,
            vars,
            vec![to],
            fixed,
            &Sending::default(),
        )
        .await?;
        return Ok(());
    }
    if let Some(asked) = event.decode::<ApprovalRequested>() {
        return approvals::requested(tx, tenant, event, asked).await;
    }
    if let Some(decided) = event.decode::<ApprovalDecided>() {
        return approvals::decided(tx, tenant, event, decided).await;
    }
    if let Some(invited) = event.decode::<UserInvited>() {
        return invitations::invite(tx, tenant, event, invited).await;
    }
    if let Some(created) = event.decode::<LeadCreated>() {
        let lead = created.lead.unwrap_or_default();
        // The notice leads to the lead's own page in a client.
        let sending = Sending {
            link: format!("pipeline/leads/{}", lead.id),
            ..Sending::default()
        };
        let owner_name = name_of(tx, tenant, &lead.owner_id).await?;
        let created_by = name_of(tx, tenant, &created.created_by_user_id).await?;
        let mut people: Vec<UserId> = tx
            .users_with_role(tenant, SALES_MANAGER)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        if let Ok(owner) = UserId::parse(&lead.owner_id)
            && !people.contains(&owner)
        {
            people.push(owner);
        }
        let source = crm_proto::crm::sales::v1::LeadSource::try_from(lead.source)
            .ok()
            .filter(|s| *s as i32 != 0)
            .map(|s| words(s.as_str_name(), "LEAD_SOURCE_"))
            .unwrap_or_default();
        let vars = vec![
            ("lead_name", lead.contact_name),
            ("lead_company", lead.company_name),
            ("lead_email", lead.email),
            (
                "lead_phone",
                lead.phone.map(|p| p.e164_number).unwrap_or_default(),
            ),
            ("lead_source", source),
            ("owner_name", owner_name),
            (
                "created_by_name",
                if created_by.is_empty() {
                    "Someone".into()
                } else {
                    created_by
                },
            ),
        ];
        let to = people
            .into_iter()
            .map(|id| Recipient {
                channel: Channel::InApp,
                user_id: Some(id),
                address: id.to_string(),
            })
            .collect();
        notify(tx, tenant, event, LEAD_CREATED, vars, to, None, &sending).await?;
        return Ok(());
    }
    if let Some(won) = event.decode::<DealWon>() {
        let deal = won.deal.unwrap_or_default();
        let sending = Sending {
            hold_millis: grace_millis,
            about: about_opportunity(&deal.opportunity_id),
            ..Sending::default()
        };
        let won_by = name_of(tx, tenant, &won.won_by_user_id).await?;
        let vars = vec![
            ("customer_name", won.customer_name),
            ("customer_email", won.customer_email.clone()),
            ("customer_mobile", won.customer_mobile.clone()),
            ("deal_name", deal.name),
            ("amount", amount(deal.amount.as_ref())),
            ("won_by_name", won_by),
        ];
        notify(
            tx,
            tenant,
            event,
            DEAL_WON,
            vars,
            customer(&won.customer_email, &won.customer_mobile),
            None,
            &sending,
        )
        .await?;
        return Ok(());
    }
    if let Some(lost) = event.decode::<DealLost>() {
        let reason = crm_proto::crm::sales::v1::LossReason::try_from(lost.loss_reason)
            .ok()
            .filter(|r| *r as i32 != 0)
            .map(|r| words(r.as_str_name(), "LOSS_REASON_"))
            .unwrap_or_default();
        let reason = if lost.loss_detail.is_empty() {
            reason
        } else {
            format!("{reason}: {}", lost.loss_detail)
        };
        let sending = Sending {
            hold_millis: grace_millis,
            about: about_opportunity(&lost.opportunity_id),
            ..Sending::default()
        };
        let vars = vec![
            ("customer_name", lost.customer_name),
            ("customer_email", lost.customer_email.clone()),
            ("customer_mobile", lost.customer_mobile.clone()),
            ("opportunity_name", lost.opportunity_name),
            ("amount", amount(lost.amount.as_ref())),
            ("loss_reason", reason),
        ];
        notify(
            tx,
            tenant,
            event,
            DEAL_LOST,
            vars,
            customer(&lost.customer_email, &lost.customer_mobile),
            None,
            &sending,
        )
        .await?;
        return Ok(());
    }
    if let Some(reopened) = event.decode::<OpportunityReopened>() {
        let about = about_opportunity(&reopened.opportunity_id);
        let now = chrono::Utc::now().timestamp_millis();
        let cancelled = tx.cancel_held(tenant, &about, now).await?;
        tracing::info!(event_id = %event.id, opportunity_id = %reopened.opportunity_id, cancelled, "reopened: the customer messages its closing held back are not sent");
        return Ok(());
    }
    Ok(())
}

/// A notice another context asked for: in-app to the user, and by email when asked and the
/// user's address is known. Nothing for a user not known, or deactivated.
async fn deliver_notice(
    tx: &mut dyn FlowStore,
    tenant: TenantId,
    event: &Envelope,
    notice: NoticeRequested,
) -> anyhow::Result<()> {
    let Ok(id) = UserId::parse(&notice.recipient_user_id) else {
        tracing::warn!(event_id = %event.id, "a notice names no user; nothing sent");
        return Ok(());
    };
    let known = tx.user(tenant, id).await?;
    if known.as_ref().is_some_and(|u| !u.active) {
        tracing::debug!(event_id = %event.id, "the user is deactivated; no notice");
        return Ok(());
    }
    let mut to = vec![Recipient {
        channel: Channel::InApp,
        user_id: Some(id),
        address: id.to_string(),
    }];
    if notice.email
        && let Some(user) = known.filter(|u| !u.email.is_empty())
    {
        to.push(Recipient {
            channel: Channel::Email,
            user_id: Some(id),
            address: user.email,
        });
    }
    let now = chrono::Utc::now().timestamp_millis();
    for recipient in to {
        let mut n = Notification::new(
            tenant,
            recipient,
            None,
            notice.subject.clone(),
            notice.body.clone(),
            event.id,
            &event.event_type,
            now,
        );
        n.link = notice.link.clone();
        if !tx.insert_notification(&n).await? {
            tracing::debug!(event_id = %event.id, "already notified");
        }
    }
    Ok(())
}

/// The display name of the user `raw` names, empty if it names none known.
async fn name_of(tx: &mut dyn FlowStore, tenant: TenantId, raw: &str) -> anyhow::Result<String> {
    Ok(match UserId::parse(raw) {
        Ok(id) => tx
            .user(tenant, id)
            .await?
            .map(|u| display(&u))
            .unwrap_or_default(),
        Err(_) => String::new(),
    })
}

fn display(u: &KnownUser) -> String {
    if u.display_name.is_empty() {
        u.email.clone()
    } else {
        u.display_name.clone()
    }
}

/// `LOSS_REASON_NO_BUDGET` as `no budget`.
fn words(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix)
        .replace('_', " ")
        .to_lowercase()
}

fn amount(m: Option<&crm_proto::google::r#type::Money>) -> String {
    m.map(|m| crm_core::text::money(&m.currency_code, m.units, m.nanos))
        .unwrap_or_default()
}

/// The customer's email and mobile, those the event carries. An SMS goes only where the
/// tenant wrote an SMS template for the event (there is no built-in one: SMS cost money).
fn customer(email: &str, mobile: &str) -> Vec<Recipient> {
    [(Channel::Email, email), (Channel::Sms, mobile)]
        .into_iter()
        .filter(|(_, address)| !address.is_empty())
        .map(|(channel, address)| Recipient {
            channel,
            user_id: None,
            address: address.to_owned(),
        })
        .collect()
}
