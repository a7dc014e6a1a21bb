//! Invitations: an owner or admin names a person and their roles; the person gets an email
//! naming the workspace and the inviter, with a link good for 72 hours and once, where they
//! choose their own password (or sign in through the workspace's provider). Resending replaces
//! the link; revoking deletes the invited user.

use chrono::{DateTime, Utc};
use crm_core::{Error, ErrorKind, Principal, Result, UserId};

use super::rules::{invalid, owners_only};
use super::signin::Workspace;
use super::users::newcomer;
use super::{Caller, Iam};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::events::{user_invited, user_joined};
use crate::domain::invitation::{self, Invitation, invalid_error};
use crate::domain::opaque;
use crate::domain::password::Password;
use crate::domain::ports::{Changes, InvitationWrite};
use crate::domain::role::custom_only;
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::user::{NO_PASSWORD, User, UserStatus, parse_display_name};
use crm_core::storage::pinned;

/// What an invitation link says before it is accepted.
#[derive(Clone, Debug)]
pub struct InvitationView {
    /// The workspace invited to.
    pub workspace: Workspace,
    /// The invited user.
    pub user: User,
    /// The current link.
    pub invitation: Invitation,
    /// Who sent it, by name.
    pub inviter_name: String,
    /// Whether the workspace signs in through its provider.
    pub sso_enabled: bool,
}

/// `FAILED_PRECONDITION` (`NOT_INVITED`): the user has no invitation pending.
fn not_invited(user: &User) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        format!(
            "{} has no invitation waiting: they accepted it already, or were not invited",
            user.email
        ),
    )
    .with_reason("NOT_INVITED")
}

/// A day and time people read: `2026-12-09 21:17 UTC`.
fn when(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

impl Iam {
    /// Invites a person into the caller's tenant: an INVITED user and its first link.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn invite_user(
        &self,
        caller: &Caller,
        email: &str,
        display_name: &str,
        roles: Vec<String>,
        team: &str,
    ) -> Result<User> {
        let p = &self.current(caller).await?;
        p.require("users.manage")?;
        let (email, name, team) = newcomer(email, display_name, team, Vec::new())?;
        let roles = self.grantable(p, roles).await?;
        if let Some(there) = self.store.user_by_email(p.tenant_id, &email).await? {
            let what = if there.status == UserStatus::Invited {
                "is invited already: send the invitation again instead"
            } else {
                "already has an account in this workspace"
            };
            return Err(Error::already_exists(
                "user.email",
                format!("{email} {what}"),
            ));
        }
        self.count_invitation(p.tenant_id).await?;
        let tenant = self.tenant_of(p.tenant_id).await?;
        let inviter = self.inviter_name(p).await?;
        let now = self.now();
        let mut user = User::new(p.tenant_id, email, name, NO_PASSWORD.to_owned(), roles, now);
        user.status = UserStatus::Invited;
        user.team = team;
        let (invitation, token) = Invitation::mint(p.tenant_id, user.id, p.user_id, now, 1)?;
        let link = invitation::link(&self.settings.console_url, &token);
        let audit = AuditEntry::new(
            p.tenant_id,
            AuditKind::UserCreated,
            Some(p.user_id),
            ("user", user.id.to_string()),
            Outcome::Success,
            &caller.origin,
            now,
        )
        .with("roles", user.roles.join(","))
        .with("invitation", "sent");
        let changes = Changes {
            custom_roles: custom_only(&user.roles),
            ..sent(
                &tenant,
                &user,
                invitation,
                (&inviter, &link),
                audit,
                &caller.origin,
            )
        };
        self.store.insert_user(&user, changes).await?;
        Ok(user)
    }

    /// Sends an invited user a new link; the one before stops working.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, user_id = %id))]
    pub async fn resend_invitation(&self, caller: &Caller, id: UserId) -> Result<User> {
        let p = &self.current(caller).await?;
        p.require("users.manage")?;
        let mut user = self.load_user(caller, id).await?;
        owners_only(p, &user)?;
        if user.status != UserStatus::Invited {
            return Err(not_invited(&user));
        }
        let links = self
            .store
            .invitations_of(p.tenant_id, &[id])
            .await?
            .pop()
            .map_or(0, |i| i.send_count);
        self.count_invitation(p.tenant_id).await?;
        let tenant = self.tenant_of(p.tenant_id).await?;
        let inviter = self.inviter_name(p).await?;
        let now = self.now();
        let (invitation, token) = Invitation::mint(p.tenant_id, id, p.user_id, now, links + 1)?;
        let link = invitation::link(&self.settings.console_url, &token);
        let expected = user.version;
        user.touch(now);
        let audit = AuditEntry::new(
            p.tenant_id,
            AuditKind::UserUpdated,
            Some(p.user_id),
            ("user", id.to_string()),
            Outcome::Success,
            &caller.origin,
            now,
        )
        .with("invitation", "sent again");
        let changes = sent(
            &tenant,
            &user,
            invitation,
            (&inviter, &link),
            audit,
            &caller.origin,
        );
        let change = pinned(user, expected, |u| u.version, changes, "user");
        self.store.update_user(p.tenant_id, id, change).await
    }

    /// Withdraws an invitation: the invited user is deleted (as DeleteUser deletes one, which
    /// ends the invitation), the link stops working.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, user_id = %id))]
    pub async fn revoke_invitation(&self, caller: &Caller, id: UserId) -> Result<()> {
        let p = &self.current(caller).await?;
        p.require("users.manage")?;
        let user = self.load_user(caller, id).await?;
        owners_only(p, &user)?;
        if user.status != UserStatus::Invited {
            return Err(not_invited(&user));
        }
        // Pinned to the version read here: an acceptance in between makes it ABORTED.
        self.delete_user(caller, id, &user.etag()).await
    }

    /// The pending invitations of `users` (of the caller's tenant), for showing them.
    pub async fn invitations_of(&self, caller: &Caller, users: &[User]) -> Result<Vec<Invitation>> {
        let invited: Vec<UserId> = users
            .iter()
            .filter(|u| u.status == UserStatus::Invited)
            .map(|u| u.id)
            .collect();
        self.store
            .invitations_of(caller.principal.tenant_id, &invited)
            .await
    }

    /// What a link says: the workspace, the person, the inviter and until when it works.
    pub async fn invitation(&self, token: &str) -> Result<InvitationView> {
        let (tenant, user, invitation) = self.open_invitation(token).await?;
        let inviter_name = self
            .store
            .get_user(tenant.id, invitation.invited_by)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_default();
        let sso_enabled = self
            .store
            .sso_provider(tenant.id)
            .await?
            .is_some_and(|p| p.settings.enabled);
        Ok(InvitationView {
            workspace: Workspace::from(&tenant),
            user,
            invitation,
            inviter_name,
            sso_enabled,
        })
    }

    /// Accepts a link: the person's password (and name), the account active, the link spent.
    #[tracing::instrument(skip_all)]
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        display_name: &str,
        origin: &Origin,
    ) -> Result<(Workspace, User)> {
        let mut problems = Vec::new();
        let password = Password::parse(password)
            .map_err(|e| problems.push(("password", e)))
            .ok();
        let name = if display_name.trim().is_empty() {
            None
        } else {
            parse_display_name(display_name)
                .map_err(|e| problems.push(("display_name", e)))
                .ok()
        };
        let (tenant, mut user, invitation) = self.open_invitation(token).await?;
        let Some(password) = password else {
            return Err(invalid(problems));
        };
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let hash = self.hasher.hash(&password).await?;
        let expected = user.version;
        user.password_hash = hash;
        if let Some(name) = name {
            user.display_name = name;
        }
        let changes = self.joined(&tenant, &mut user, &invitation, origin);
        let change = pinned(user, expected, |u| u.version, changes, "user");
        let user = self
            .store
            .update_user(tenant.id, invitation.user_id, change)
            .await
            .map_err(spent)?;
        Ok((Workspace::from(&tenant), user))
    }

    /// What makes an invited `user` a member (they accepted `invitation` by a password or
    /// through the provider): active, the link spent, `UserCreated` for the other contexts.
    pub(crate) fn joined(
        &self,
        tenant: &Tenant,
        user: &mut User,
        invitation: &Invitation,
        origin: &Origin,
    ) -> Changes {
        user.status = UserStatus::Active;
        user.touch(self.now());
        let audit = AuditEntry::new(
            tenant.id,
            AuditKind::UserUpdated,
            Some(user.id),
            ("user", user.id.to_string()),
            Outcome::Success,
            origin,
            user.updated_at,
        )
        .with("invitation", "accepted");
        Changes {
            events: vec![user_joined(tenant, user, &invitation.invited_by, origin)],
            audit: vec![audit],
            invitation: Some(InvitationWrite::Spend(
                user.id,
                invitation.token_hash.clone(),
            )),
            ..Changes::default()
        }
    }

    /// An invited person's first sign-in through the workspace's provider, with the invited
    /// email verified by it: the invitation is accepted (if its link still works) and the
    /// provider's account linked.
    pub(crate) async fn accept_through_provider(
        &self,
        tenant: &Tenant,
        mut user: User,
        link: Option<(String, String, UserId, Millis)>,
        origin: &Origin,
    ) -> Result<User> {
        let now = self.now();
        let invitation = self
            .store
            .invitations_of(tenant.id, &[user.id])
            .await?
            .pop()
            .filter(|i| i.is_open(now))
            .ok_or_else(|| {
                Error::permission_denied(format!(
                    "your invitation to {} has expired; ask whoever invited you to send it again",
                    tenant.name
                ))
                .with_reason("INVITATION_EXPIRED")
            })?;
        let expected = user.version;
        let mut changes = self.joined(tenant, &mut user, &invitation, origin);
        changes.link_identity = link;
        changes.audit = changes
            .audit
            .into_iter()
            .map(|a| a.with("via", "sso"))
            .collect();
        let change = pinned(user, expected, |u| u.version, changes, "user");
        self.store
            .update_user(tenant.id, invitation.user_id, change)
            .await
            .map_err(spent)
    }

    /// The tenant, invited user and current link a token names, if it still works.
    async fn open_invitation(&self, token: &str) -> Result<(Tenant, User, Invitation)> {
        let token = token.trim();
        if token.is_empty() {
            return Err(invalid(vec![("token", "must not be empty".to_owned())]));
        }
        let tenant_id = opaque::tenant_of(invitation::PREFIX, token).ok_or_else(invalid_error)?;
        let tenant = self
            .store
            .find_tenant(&tenant_id.to_string())
            .await?
            .filter(|t| t.id == tenant_id && t.status == TenantStatus::Active)
            .ok_or_else(invalid_error)?;
        let invitation = self
            .store
            .invitation_by_token(tenant.id, &opaque::sha256_hex(token))
            .await?
            .ok_or_else(invalid_error)?;
        let user = self
            .store
            .get_user(tenant.id, invitation.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Invited)
            .ok_or_else(invalid_error)?;
        if !invitation.is_open(self.now()) {
            let inviter = self
                .store
                .get_user(tenant.id, invitation.invited_by)
                .await?
                .map_or_else(|| "whoever invited you".to_owned(), |u| u.display_name);
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "this invitation to {} expired on {}; ask {inviter} to send it again",
                    tenant.name,
                    when(invitation.expires_at)
                ),
            )
            .with_reason("INVITATION_EXPIRED"));
        }
        Ok((tenant, user, invitation))
    }

    /// Counts one invitation email of `tenant` toward its daily limit, refusing it
    /// (`RESOURCE_EXHAUSTED`, `INVITATIONS_THROTTLED`, with when to try again) once the limit
    /// is reached. Counted before anything is written: a refused send writes nothing.
    async fn count_invitation(&self, tenant: crm_core::TenantId) -> Result<()> {
        let limit = self.settings.invitation_daily_limit;
        if limit == 0 {
            return Ok(());
        }
        let key = format!("invitations:tenant:{tenant}");
        let day = std::time::Duration::from_secs(24 * 3600);
        if let Some(left) = self.throttle.locked_for(&key).await? {
            let hours = left.as_secs().div_ceil(3600).max(1);
            return Err(Error::resource_exhausted(
                format!(
                    "this workspace has sent {limit} invitations in a day, the most it may; \
                     try again in {hours} h"
                ),
                left,
            )
            .with_reason("INVITATIONS_THROTTLED"));
        }
        // The send that reaches the limit goes out; the next waits out the day.
        self.throttle.record_failure(&key, limit, day, day).await?;
        Ok(())
    }

    /// The caller's name as an invitation shows it.
    async fn inviter_name(&self, p: &Principal) -> Result<String> {
        Ok(self
            .store
            .get_user(p.tenant_id, p.user_id)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_default())
    }
}

/// What sending `invitation` to `user` writes: its link in place of any earlier one, the
/// `UserInvited` the email is made from, and `audit`.
fn sent(
    tenant: &Tenant,
    user: &User,
    invitation: Invitation,
    (inviter, link): (&str, &str),
    audit: AuditEntry,
    origin: &Origin,
) -> Changes {
    Changes {
        events: vec![user_invited(
            tenant,
            user,
            &invitation,
            (inviter, link),
            origin,
        )],
        audit: vec![audit],
        invitation: Some(InvitationWrite::Put(invitation)),
        ..Changes::default()
    }
}

/// Another change came first (the link accepted, resent or withdrawn at the same moment): the
/// link no longer works.
fn spent(e: Error) -> Error {
    if e.kind() == ErrorKind::Aborted {
        invalid_error()
    } else {
        e
    }
}
