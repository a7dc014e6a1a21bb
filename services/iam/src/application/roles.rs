//! Roles and the permission catalog.

use crm_core::{Error, Result};
use uuid::Uuid;

use super::rules::{escalation_check, invalid};
use super::{Caller, Iam, check_etag};
use crate::domain::audit::{AuditEntry, AuditKind, Outcome};
use crate::domain::ports::Changes;
use crate::domain::role::{BUILT_IN_ROLES, CustomRole, is_built_in};
use crm_core::storage::pinned;

/// A role as the API shows it: built-in (id = name) or custom.
#[derive(Clone, Debug)]
pub struct RoleView {
    /// The role; built-in roles carry their name as id and version 0.
    pub role: CustomRole,
    /// Whether it is built in.
    pub built_in: bool,
}

impl Iam {
    /// Built-in roles, then the tenant's own, by name.
    pub async fn list_roles(&self, caller: &Caller) -> Result<Vec<RoleView>> {
        caller.principal.require("users.read")?;
        let tenant = caller.principal.tenant_id;
        let mut roles: Vec<RoleView> = BUILT_IN_ROLES
            .iter()
            .map(|(name, description)| RoleView {
                role: CustomRole {
                    id: Uuid::nil(),
                    tenant_id: tenant,
                    name: (*name).to_owned(),
                    description: (*description).to_owned(),
                    permissions: self.catalog.built_in(name).unwrap_or_default(),
                    created_at: 0,
                    updated_at: 0,
                    version: 0,
                },
                built_in: true,
            })
            .collect();
        let custom = self.store.list_custom_roles(tenant).await?;
        roles.extend(custom.into_iter().map(|role| RoleView {
            role,
            built_in: false,
        }));
        Ok(roles)
    }

    /// One role, by custom id or built-in name.
    pub async fn get_role(&self, caller: &Caller, id: &str) -> Result<RoleView> {
        let roles = self.list_roles(caller).await?;
        roles
            .into_iter()
            .find(|r| {
                if r.built_in {
                    r.role.name == id
                } else {
                    r.role.id.to_string() == id
                }
            })
            .ok_or_else(|| Error::not_found("role", id))
    }

    /// Creates a custom role.
    pub async fn create_role(
        &self,
        caller: &Caller,
        name: &str,
        description: &str,
        permissions: &[String],
    ) -> Result<CustomRole> {
        let p = &self.current(caller).await?;
        p.require("roles.manage")?;
        let now = self.now();
        let role = CustomRole::create(
            &self.catalog,
            p.tenant_id,
            name,
            description,
            permissions,
            now,
        )
        .map_err(invalid)?;
        escalation_check(p, &role.permissions, &format!("the role {:?}", role.name))?;
        let audit = role_audit(caller, &role, "created", now);
        self.store.insert_role(&role, Changes::audit(audit)).await?;
        Ok(role)
    }

    /// Changes a custom role's description or permissions.
    pub async fn update_role(
        &self,
        caller: &Caller,
        id: &str,
        etag: &str,
        description: Option<&str>,
        permissions: Option<&[String]>,
    ) -> Result<CustomRole> {
        let p = &self.current(caller).await?;
        p.require("roles.manage")?;
        if is_built_in(id) {
            return Err(Error::new(
                crm_core::ErrorKind::FailedPrecondition,
                "built-in roles cannot be changed; create a custom role",
            ));
        }
        let view = self.get_role(caller, id).await?;
        let mut role = view.role;
        check_etag(etag, role.version, "role")?;
        let expected = role.version;
        if role
            .apply(&self.catalog, description, permissions)
            .map_err(invalid)?
        {
            escalation_check(p, &role.permissions, &format!("the role {:?}", role.name))?;
            // Its holders' tokens carry the old permissions: cut them; keys acting as it are
            // read again at their next call.
            for holder in self.holders(p.tenant_id, &role.name).await? {
                self.revoke_tokens(holder).await?;
            }
            self.mark_keys_of_role(p.tenant_id, &role.id.to_string())
                .await?;
        }
        role.touch(self.now());
        let audit = role_audit(caller, &role, "updated", role.updated_at);
        let role_id = role.id;
        let change = pinned(role, expected, |r| r.version, Changes::audit(audit), "role");
        self.store.update_role(p.tenant_id, role_id, change).await
    }

    /// Deletes a custom role that nobody holds.
    pub async fn delete_role(&self, caller: &Caller, id: &str) -> Result<()> {
        let p = &self.current(caller).await?;
        p.require("roles.manage")?;
        if is_built_in(id) {
            return Err(Error::new(
                crm_core::ErrorKind::FailedPrecondition,
                "built-in roles cannot be deleted",
            ));
        }
        let role = self.get_role(caller, id).await?.role;
        // A fast answer; the store counts again in the deleting transaction, under the
        // tenant's lock, against grants at the same moment.
        let holders = self.store.count_holders(p.tenant_id, &role.name).await?;
        if holders > 0 {
            return Err(crate::domain::role::role_in_use_error(holders));
        }
        // Keys acting as it act as nothing from their next call.
        self.mark_keys_of_role(p.tenant_id, &role.id.to_string())
            .await?;
        let audit = role_audit(caller, &role, "deleted", self.now());
        self.store
            .delete_role(p.tenant_id, role.id, Changes::audit(audit))
            .await
    }

    /// Every user (any status) holding the custom role `name`.
    async fn holders(
        &self,
        tenant: crm_core::TenantId,
        name: &str,
    ) -> Result<Vec<crm_core::UserId>> {
        let filter = crate::domain::ports::UserFilter {
            status: None,
            role: Some(name.to_owned()),
        };
        let mut holders = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list_users(tenant, &filter, after, 500).await?;
            holders.extend(page.iter().map(|u| u.id));
            match page.last() {
                Some(last) if page.len() == 500 => after = Some(last.id),
                _ => return Ok(holders),
            }
        }
    }

    /// Every permission, sorted.
    pub fn list_permissions(&self) -> &[crm_core::authz::Permission] {
        self.catalog.permissions()
    }
}

/// The audit entry of a change to a custom role.
fn role_audit(
    caller: &Caller,
    role: &CustomRole,
    change: &str,
    at: crate::domain::Millis,
) -> AuditEntry {
    let p = &caller.principal;
    AuditEntry::new(
        p.tenant_id,
        AuditKind::RoleChanged,
        Some(p.user_id),
        ("role", role.id.to_string()),
        Outcome::Success,
        &caller.origin,
        at,
    )
    .with("change", change)
    .with("name", role.name.clone())
}
