//! IAM's events (`crm.iam.events.v1`), each built here from the aggregate as it now stands and
//! nowhere else: the use cases say which happened, this module says what it carries.

use crm_core::UserId;
use crm_core::api::timestamp;
use crm_proto::crm::iam::events::v1 as events;
use crm_proto::crm::iam::v1 as pb;

use super::Millis;
use super::audit::Origin;
use super::invitation::Invitation;
use super::tenant::{Tenant, TenantSettings};
use super::user::{User, UserStatus};
use crm_core::TenantId;

use crm_events::OutboxEvent;

/// A `crm.iam.events.v1` message bound for the outbox, with source `crm.iam`.
pub fn iam_event<M: prost::Message + prost::Name>(
    tenant_id: TenantId,
    aggregate_type: &'static str,
    aggregate_id: String,
    event: &M,
    occurred_at: Millis,
    causation: crm_events::Causation,
) -> OutboxEvent {
    let mut envelope =
        crm_events::Envelope::new("crm.iam", tenant_id, aggregate_id, event, &causation);
    envelope.time = occurred_at;
    OutboxEvent::new(aggregate_type, envelope)
}

/// Settings as the contract's message: what `GetTenant` answers and `TenantSettingsChanged`
/// carries.
pub fn settings_pb(s: &TenantSettings) -> pb::TenantSettings {
    pb::TenantSettings {
        default_currency_code: s.default_currency_code.clone(),
        time_zone: s.time_zone.clone(),
        locale: s.locale.clone(),
        deal_approval_threshold_units: s.deal_approval_threshold_units,
        // Validated to fit (at most 10080 and 2160).
        session_idle_timeout_minutes: s.session_idle_timeout_minutes as i32,
        session_max_lifetime_hours: s.session_max_lifetime_hours as i32,
        mfa_policy: s.mfa_policy.as_i32(),
        customer_visibility: s.customer_visibility().as_i32(),
        import_columns: s.import_columns.clone(),
    }
}

/// `TenantCreated`, with its first owner when it has one (a sign-up, not a provisioning).
pub fn tenant_created(tenant: &Tenant, owner: Option<&User>, origin: &Origin) -> OutboxEvent {
    let event = events::TenantCreated {
        tenant_id: tenant.id.to_string(),
        name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        owner_user_id: owner.map(|o| o.id.to_string()).unwrap_or_default(),
        owner_email: owner.map(|o| o.email.to_string()).unwrap_or_default(),
        create_time: Some(timestamp(tenant.created_at)),
        locale: tenant.settings.locale.clone(),
        default_currency_code: tenant.settings.default_currency_code.clone(),
    };
    tenant_event(tenant, &event, tenant.created_at, origin)
}

/// `TenantSettingsChanged` for `tenant` as it is now.
pub fn tenant_settings_changed(tenant: &Tenant, by: UserId, origin: &Origin) -> OutboxEvent {
    let event = events::TenantSettingsChanged {
        tenant_id: tenant.id.to_string(),
        settings: Some(settings_pb(&tenant.settings)),
        changed_by_user_id: by.to_string(),
        change_time: Some(timestamp(tenant.updated_at)),
    };
    tenant_event(tenant, &event, tenant.updated_at, origin)
}

/// `UserProfileChanged`: `user`'s email, name or language as they are now.
pub fn user_profile_changed(user: &User, by: UserId, origin: &Origin) -> OutboxEvent {
    let event = events::UserProfileChanged {
        user_id: user.id.to_string(),
        email: user.email.to_string(),
        display_name: user.display_name.clone(),
        locale: user.locale.clone().unwrap_or_default(),
        changed_by_user_id: by.to_string(),
        change_time: Some(timestamp(user.updated_at)),
    };
    user_event(user, &event, user.updated_at, origin)
}

/// `UserCreated` in `tenant`, with who invited them (none for a sign-up or a provider's
/// first sign-in).
pub fn user_created(
    tenant: &Tenant,
    user: &User,
    invited_by: Option<&UserId>,
    origin: &Origin,
) -> OutboxEvent {
    let event = events::UserCreated {
        user_id: user.id.to_string(),
        email: user.email.to_string(),
        display_name: user.display_name.clone(),
        roles: user.roles.clone(),
        invited_by_user_id: invited_by.map(|u| u.to_string()).unwrap_or_default(),
        tenant_name: tenant.name.clone(),
        create_time: Some(timestamp(user.created_at)),
        accepted_invitation: false,
    };
    user_event(user, &event, user.created_at, origin)
}

/// `UserCreated` for an invited person who has just accepted (`accepted_invitation`: their
/// invitation was the welcome).
pub fn user_joined(
    tenant: &Tenant,
    user: &User,
    invited_by: &UserId,
    origin: &Origin,
) -> OutboxEvent {
    let event = events::UserCreated {
        user_id: user.id.to_string(),
        email: user.email.to_string(),
        display_name: user.display_name.clone(),
        roles: user.roles.clone(),
        invited_by_user_id: invited_by.to_string(),
        tenant_name: tenant.name.clone(),
        create_time: Some(timestamp(user.updated_at)),
        accepted_invitation: true,
    };
    user_event(user, &event, user.updated_at, origin)
}

/// `UserInvited`: a link sent to an invited `user`.
pub fn user_invited(
    tenant: &Tenant,
    user: &User,
    invitation: &Invitation,
    (inviter_name, link): (&str, &str),
    origin: &Origin,
) -> OutboxEvent {
    let event = events::UserInvited {
        user_id: user.id.to_string(),
        email: user.email.to_string(),
        display_name: user.display_name.clone(),
        roles: user.roles.clone(),
        invited_by_user_id: invitation.invited_by.to_string(),
        inviter_name: inviter_name.to_owned(),
        tenant_name: tenant.name.clone(),
        link: link.to_owned(),
        expire_time: Some(timestamp(invitation.expires_at)),
        send_count: invitation.send_count,
    };
    user_event(user, &event, invitation.sent_at, origin)
}

/// `UserStatusChanged` for `user` as it is now.
pub fn user_status_changed(user: &User, by: UserId, origin: &Origin) -> OutboxEvent {
    let status = match user.status {
        UserStatus::Active => pb::UserStatus::Active,
        UserStatus::Deactivated => pb::UserStatus::Deactivated,
        UserStatus::Deleted => pb::UserStatus::Deleted,
        UserStatus::Invited => pb::UserStatus::Invited,
    };
    let event = events::UserStatusChanged {
        user_id: user.id.to_string(),
        email: user.email.to_string(),
        status: status as i32,
        changed_by_user_id: by.to_string(),
        change_time: Some(timestamp(user.updated_at)),
    };
    user_event(user, &event, user.updated_at, origin)
}

/// `UserRoleChanged` for `user` as it is now, `role` granted or revoked.
pub fn user_role_changed(
    user: &User,
    role: &str,
    granted: bool,
    by: UserId,
    origin: &Origin,
) -> OutboxEvent {
    let (added, removed) = if granted {
        (vec![role.to_owned()], vec![])
    } else {
        (vec![], vec![role.to_owned()])
    };
    let event = events::UserRoleChanged {
        user_id: user.id.to_string(),
        email: user.email.to_string(),
        roles_added: added,
        roles_removed: removed,
        roles: user.roles.clone(),
        changed_by_user_id: by.to_string(),
        change_time: Some(timestamp(user.updated_at)),
    };
    user_event(user, &event, user.updated_at, origin)
}

fn tenant_event<M: prost::Message + prost::Name>(
    tenant: &Tenant,
    event: &M,
    at: Millis,
    origin: &Origin,
) -> OutboxEvent {
    iam_event(
        tenant.id,
        "tenant",
        tenant.id.to_string(),
        event,
        at,
        origin.causation(),
    )
}

fn user_event<M: prost::Message + prost::Name>(
    user: &User,
    event: &M,
    at: Millis,
    origin: &Origin,
) -> OutboxEvent {
    iam_event(
        user.tenant_id,
        "user",
        user.id.to_string(),
        event,
        at,
        origin.causation(),
    )
}
