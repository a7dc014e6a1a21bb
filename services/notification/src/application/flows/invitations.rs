//! The invitation's flow: IAM's `UserInvited` becomes the email with the one-time link.

use super::*;
use crate::domain::built_in::INVITED;
use crate::domain::catalogue::USER_INVITED;

/// The invitation's email, to the invited address (the person has no account to read it in
/// yet), fixed: the link is in every one.
pub(super) async fn invite(
    tx: &mut dyn FlowStore,
    tenant: TenantId,
    event: &Envelope,
    invited: UserInvited,
) -> anyhow::Result<()> {
    let expires = invited
        .expire_time
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let roles: Vec<String> = invited.roles.iter().map(|r| words(r, "")).collect();
    let name = if invited.display_name.is_empty() {
        invited.email.clone()
    } else {
        invited.display_name.clone()
    };
    let vars = vec![
        ("user_name", name),
        ("user_email", invited.email.clone()),
        ("inviter_name", invited.inviter_name),
        ("roles", roles.join(", ")),
        ("link", invited.link),
        ("expires", expires),
    ];
    let to = Recipient {
        channel: Channel::Email,
        user_id: UserId::parse(&invited.user_id).ok(),
        address: invited.email,
    };
    notify(
        tx,
        tenant,
        event,
        USER_INVITED,
        vars,
        vec![to],
        Some(INVITED),
        &Sending::default(),
    )
    .await
}
