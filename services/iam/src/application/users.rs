//! Users: invite, read, change, deactivate, delete, grant and revoke roles.

use crm_core::{Error, Principal, Result, UserId};

use super::rules::{escalation_check, invalid, owners_only, owners_only_error};
use super::{Caller, Iam, check_etag};
use crate::domain::audit::{AuditEntry, AuditKind, Outcome};
use crate::domain::email::Email;
use crate::domain::events::{
    user_created, user_profile_changed, user_role_changed, user_status_changed,
};
use crate::domain::password::Password;
use crate::domain::ports::{Changes, InvitationWrite, UserFilter};
use crate::domain::role::{DEFAULT_ROLE, OWNER, last_owner_error};
use crate::domain::user::{User, UserPatch, UserStatus, parse_display_name, parse_team};
use crm_core::storage::pinned;

/// A page of users.
pub struct UserPage {
    /// The users.
    pub users: Vec<User>,
    /// The last id, when more may follow.
    pub next_after: Option<UserId>,
}

impl Iam {
    /// Invites a user into the caller's tenant.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn create_user(
        &self,
        caller: &Caller,
        email: &str,
        display_name: &str,
        password: &str,
        roles: Vec<String>,
        team: &str,
    ) -> Result<User> {
        let p = &self.current(caller).await?;
        p.require("users.manage")?;
        let mut problems = Vec::new();
        let password = Password::parse(password)
            .map_err(|e| problems.push(("password", e)))
            .ok();
        let (email, name, team) = newcomer(email, display_name, team, problems)?;
        // A bad password is among the problems `newcomer` refused with.
        let Some(password) = password else {
            return Err(invalid(vec![("password", "is not usable".to_owned())]));
        };
        let roles = self.grantable(p, roles).await?;
        let tenant = self.tenant_of(p.tenant_id).await?;
        let now = self.now();
        let hash = self.hasher.hash(&password).await?;
        let mut user = User::new(p.tenant_id, email, name, hash, roles, now);
        user.team = team;
        let changes = Changes {
            events: vec![user_created(
                &tenant,
                &user,
                Some(&p.user_id),
                &caller.origin,
            )],
            audit: vec![
                AuditEntry::new(
                    p.tenant_id,
                    AuditKind::UserCreated,
                    Some(p.user_id),
                    ("user", user.id.to_string()),
                    Outcome::Success,
                    &caller.origin,
                    now,
                )
                .with("roles", user.roles.join(",")),
            ],
            custom_roles: crate::domain::role::custom_only(&user.roles),
            ..Changes::default()
        };
        self.store.insert_user(&user, changes).await?;
        Ok(user)
    }

    /// Lists users of the caller's tenant.
    pub async fn list_users(
        &self,
        caller: &Caller,
        filter: UserFilter,
        page_size: u32,
        after: Option<UserId>,
    ) -> Result<UserPage> {
        caller.principal.require("users.read")?;
        let mut users = self
            .store
            .list_users(caller.principal.tenant_id, &filter, after, page_size + 1)
            .await?;
        let more = users.len() > page_size as usize;
        users.truncate(page_size as usize);
        let next_after = if more {
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next_after })
    }

    /// Gets a user of the caller's tenant; anyone may read themselves.
    pub async fn get_user(&self, caller: &Caller, id: UserId) -> Result<User> {
        if id != caller.principal.user_id {
            caller.principal.require("users.read")?;
        }
        self.load_user(caller, id).await
    }

    pub(crate) async fn load_user(&self, caller: &Caller, id: UserId) -> Result<User> {
        self.store
            .get_user(caller.principal.tenant_id, id)
            .await?
            .filter(|u| u.status != UserStatus::Deleted)
            .ok_or_else(|| Error::not_found("user", id))
    }

    /// Changes a user. `users.manage` may change anything; a user may change their own
    /// display name and language.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, user_id = %id))]
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: UserId,
        etag: &str,
        changes: UserPatch,
    ) -> Result<User> {
        let p = &self.current(caller).await?;
        let mut user = self.load_user(caller, id).await?;
        if !(id == p.user_id && changes.only_own_profile()) {
            p.require("users.manage")?;
            owners_only(p, &user)?;
        }
        check_etag(etag, user.version, "user")?;
        let before = user.clone();
        let changed = user.apply(&changes).map_err(invalid)?;
        if changed.is_empty() {
            return Ok(user);
        }
        let deactivating = before.is_active() && !user.is_active();
        if deactivating {
            self.keep_an_owner(&before).await?;
        }
        if deactivating || changed.contains(&"team") {
            // The team is in the token (team-scoped grants), and a deactivated user keeps none.
            self.revoke_tokens(id).await?;
        }
        user.touch(self.now());
        let audit = AuditEntry::new(
            p.tenant_id,
            AuditKind::UserUpdated,
            Some(p.user_id),
            ("user", id.to_string()),
            Outcome::Success,
            &caller.origin,
            user.updated_at,
        )
        .with("fields", changed.join(","));
        let mut events = Vec::new();
        if before.status != user.status {
            events.push(user_status_changed(&user, p.user_id, &caller.origin));
        }
        if changed
            .iter()
            .any(|f| ["email", "display_name", "locale"].contains(f))
        {
            events.push(user_profile_changed(&user, p.user_id, &caller.origin));
        }
        let changes = Changes {
            events,
            audit: vec![audit],
            revoke_sessions_of: deactivating.then_some((id, user.updated_at)),
            keep_an_owner: deactivating && before.has_role(OWNER),
            ..Changes::default()
        };
        let change = pinned(user, before.version, |u| u.version, changes, "user");
        let user = self.store.update_user(p.tenant_id, id, change).await?;
        if deactivating {
            // Keys act with no more than their creator: a deactivated one's are revoked.
            self.revoke_keys_of(caller, id).await?;
        }
        Ok(user)
    }

    /// Soft-deletes a user and revokes every session of theirs, and every API key they made.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, user_id = %id))]
    pub async fn delete_user(&self, caller: &Caller, id: UserId, etag: &str) -> Result<()> {
        let p = &self.current(caller).await?;
        p.require("users.manage")?;
        let mut user = self.load_user(caller, id).await?;
        owners_only(p, &user)?;
        check_etag(etag, user.version, "user")?;
        self.keep_an_owner(&user).await?;
        self.revoke_tokens(id).await?;
        let keep_an_owner = user.is_active() && user.has_role(OWNER);
        let invited = user.status == UserStatus::Invited;
        let expected = user.version;
        user.delete();
        user.touch(self.now());
        let mut audit = AuditEntry::new(
            p.tenant_id,
            AuditKind::UserDeleted,
            Some(p.user_id),
            ("user", id.to_string()),
            Outcome::Success,
            &caller.origin,
            user.updated_at,
        );
        if invited {
            audit = audit.with("invitation", "withdrawn");
        }
        let changes = Changes {
            events: if invited {
                Vec::new()
            } else {
                vec![user_status_changed(&user, p.user_id, &caller.origin)]
            },
            audit: vec![audit],
            revoke_sessions_of: Some((id, user.updated_at)),
            keep_an_owner,
            invitation: invited.then_some(InvitationWrite::End(id)),
            ..Changes::default()
        };
        let change = pinned(user, expected, |u| u.version, changes, "user");
        self.store.update_user(p.tenant_id, id, change).await?;
        self.revoke_keys_of(caller, id).await
    }

    /// Grants a role.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, user_id = %id, role))]
    pub async fn assign_role(&self, caller: &Caller, id: UserId, role: &str) -> Result<User> {
        self.change_role(caller, id, role, true).await
    }

    /// Revokes a role. The last active owner keeps the owner role.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, user_id = %id, role))]
    pub async fn revoke_role(&self, caller: &Caller, id: UserId, role: &str) -> Result<User> {
        self.change_role(caller, id, role, false).await
    }

    async fn change_role(
        &self,
        caller: &Caller,
        id: UserId,
        role: &str,
        grant: bool,
    ) -> Result<User> {
        let p = &self.current(caller).await?;
        p.require("users.manage")?;
        if role.trim().is_empty() {
            return Err(Error::invalid_field("role", "must not be empty"));
        }
        if role == OWNER && !p.has_role(OWNER) {
            return Err(owners_only_error(
                "only an owner can grant or revoke the owner role",
            ));
        }
        let mut user = self.load_user(caller, id).await?;
        owners_only(p, &user)?;
        let removes_an_owner = !grant && role == OWNER && user.is_active() && user.has_role(OWNER);
        if grant {
            self.may_grant(p, role).await?;
        } else if removes_an_owner {
            self.keep_an_owner(&user).await?;
        }
        let changed = if grant {
            user.grant(role)
        } else {
            user.revoke(role)
        };
        if !changed {
            return Ok(user);
        }
        self.revoke_tokens(id).await?;
        let expected = user.version;
        user.touch(self.now());
        let kind = if grant {
            AuditKind::RoleGranted
        } else {
            AuditKind::RoleRevoked
        };
        // Other contexts hear of an invited person when they join, with their roles then.
        let events = if user.status == UserStatus::Invited {
            Vec::new()
        } else {
            vec![user_role_changed(
                &user,
                role,
                grant,
                p.user_id,
                &caller.origin,
            )]
        };
        let changes = Changes {
            events,
            audit: vec![
                AuditEntry::new(
                    p.tenant_id,
                    kind,
                    Some(p.user_id),
                    ("user", id.to_string()),
                    Outcome::Success,
                    &caller.origin,
                    user.updated_at,
                )
                .with("role", role),
            ],
            keep_an_owner: removes_an_owner,
            custom_roles: if grant {
                crate::domain::role::custom_only(&[role.to_owned()])
            } else {
                Vec::new()
            },
            ..Changes::default()
        };
        let change = pinned(user, expected, |u| u.version, changes, "user");
        self.store.update_user(p.tenant_id, id, change).await
    }

    /// The roles a newcomer is given (`viewer` when none), each one `p` may hand out.
    pub(crate) async fn grantable(&self, p: &Principal, roles: Vec<String>) -> Result<Vec<String>> {
        let roles = if roles.is_empty() {
            vec![DEFAULT_ROLE.to_owned()]
        } else {
            roles
        };
        for role in &roles {
            self.may_grant(p, role).await?;
        }
        Ok(roles)
    }

    /// Refuses a role the granter may not hand out: the owner role unless an owner, a role the
    /// tenant does not have, or one granting a permission the granter does not hold itself (or
    /// one reserved to owners).
    pub(crate) async fn may_grant(&self, granter: &Principal, role: &str) -> Result<()> {
        if role == OWNER && !granter.has_role(OWNER) {
            return Err(owners_only_error("only an owner can make another owner"));
        }
        let grants = match self.known_role(granter.tenant_id, role).await? {
            Some(custom) => custom.permissions,
            None => self.catalog.built_in(role).unwrap_or_default(),
        };
        escalation_check(granter, &grants, &format!("the role {role:?}"))
    }

    /// Refuses to take the last active owner away (a fast answer; the store checks again inside
    /// the change's transaction, under the tenant's lock, for concurrent changes).
    async fn keep_an_owner(&self, user: &User) -> Result<()> {
        if user.is_active()
            && user.has_role(OWNER)
            && self
                .store
                .count_active_holders(user.tenant_id, OWNER)
                .await?
                <= 1
        {
            return Err(last_owner_error());
        }
        Ok(())
    }
}

/// A newcomer's email, name and team, each checked by its rule; with the `problems` found
/// beside them (a password's), every one named by its field.
pub(crate) fn newcomer(
    email: &str,
    display_name: &str,
    team: &str,
    mut problems: Vec<(&'static str, String)>,
) -> Result<(Email, String, Option<String>)> {
    let email = Email::parse(email)
        .map_err(|e| problems.push(("user.email", e.to_owned())))
        .ok();
    let name = parse_display_name(display_name)
        .map_err(|e| problems.push(("user.display_name", e)))
        .ok();
    let team = parse_team(team)
        .map_err(|e| problems.push(("user.team", e)))
        .ok();
    match (email, name, team) {
        (Some(email), Some(name), Some(team)) if problems.is_empty() => Ok((email, name, team)),
        _ => Err(invalid(problems)),
    }
}
