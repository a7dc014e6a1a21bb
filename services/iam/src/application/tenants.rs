//! Tenants, the policy check, and the audit trail.

use crm_core::authz::{Decision, PolicySettings, Resource, Subject, evaluate};
use crm_core::{Error, Result, TenantId, UserId};
use uuid::Uuid;

use super::rules::invalid;
use super::{Caller, Iam, check_etag};
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::email::Email;
use crate::domain::events::{tenant_created, tenant_settings_changed, user_created};
use crate::domain::import_columns::ImportColumns;
use crate::domain::password::Password;
use crate::domain::ports::{AuditFilter, Changes, UserFilter};
use crate::domain::tenant::{
    Tenant, TenantSettings, parse_slug, parse_tenant_name, slug_from_name,
};
use crate::domain::user::{User, parse_display_name};

impl Iam {
    pub(crate) async fn tenant_of(&self, id: TenantId) -> Result<Tenant> {
        self.store
            .find_tenant(&id.to_string())
            .await?
            .ok_or_else(|| Error::not_found("tenant", id))
    }

    /// The caller's tenant; any other id is NOT_FOUND.
    pub async fn get_tenant(&self, caller: &Caller, id: TenantId) -> Result<Tenant> {
        if id != caller.principal.tenant_id {
            return Err(Error::not_found("tenant", id));
        }
        self.tenant_of(id).await
    }

    /// Changes the caller's tenant's name, settings or import columns (owners).
    pub async fn update_tenant(
        &self,
        caller: &Caller,
        id: TenantId,
        etag: &str,
        name: Option<&str>,
        settings: Option<TenantSettings>,
        import_columns: Option<ImportColumns>,
    ) -> Result<Tenant> {
        if id != caller.principal.tenant_id {
            return Err(Error::not_found("tenant", id));
        }
        let p = &self.current(caller).await?;
        p.require("tenant.manage")?;
        // Which customers salespeople read is in their tokens: a change of it cuts the tokens
        // issued before it (before the save, so a mark that cannot be written refuses the
        // change; and after, for tokens refreshed in between).
        let visibility_changes = match settings.as_ref().and_then(|s| s.customer_visibility) {
            Some(next) => self.tenant_of(id).await?.settings.customer_visibility() != next,
            None => false,
        };
        if visibility_changes {
            self.revoke_tenant_tokens(id).await?;
        }
        let (actor, origin, now) = (p.user_id, &caller.origin, self.now());
        let change = move |tenant: &mut Tenant| {
            check_etag(etag, tenant.version, "tenant")?;
            let before = tenant.settings.clone();
            tenant
                .apply(name, settings.clone(), import_columns.clone())
                .map_err(invalid)?;
            let settings_changed = tenant.settings != before;
            tenant.touch(now);
            let audit = AuditEntry::new(
                id,
                AuditKind::TenantChanged,
                Some(actor),
                ("tenant", id.to_string()),
                Outcome::Success,
                origin,
                tenant.updated_at,
            )
            .with("change", "updated");
            let mut changes = Changes::audit(audit);
            if settings_changed {
                changes
                    .events
                    .push(tenant_settings_changed(tenant, actor, origin));
            }
            Ok(Some(changes))
        };
        let tenant = self.store.update_tenant(id, Box::new(change)).await?;
        if visibility_changes {
            self.revoke_tenant_tokens(id).await?;
        }
        Ok(tenant)
    }

    /// Cuts the access tokens of every user of `tenant` issued before now (they refresh into
    /// tokens of what the tenant's settings give now). API keys follow within
    /// [`super::api_keys::KEY_CACHE_TTL`].
    async fn revoke_tenant_tokens(&self, tenant: TenantId) -> Result<()> {
        let mut after = None;
        loop {
            let page = self
                .store
                .list_users(tenant, &UserFilter::default(), after, 500)
                .await?;
            for user in &page {
                self.revoke_tokens(user.id).await?;
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = Some(last.id),
                _ => return Ok(()),
            }
        }
    }

    /// Creates a tenant for an operator (`crm tenant create`), without an owner yet.
    pub async fn create_tenant_as_operator(
        &self,
        name: &str,
        slug: Option<&str>,
    ) -> Result<Tenant> {
        let name = parse_tenant_name(name).map_err(|e| Error::invalid_field("tenant.name", e))?;
        let slug = match slug {
            Some(slug) => {
                let slug = parse_slug(slug).map_err(|e| Error::invalid_field("tenant.slug", e))?;
                if self.store.slug_taken(&slug).await? {
                    return Err(Error::already_exists(
                        "tenant.slug",
                        "a tenant with this slug already exists",
                    ));
                }
                slug
            }
            None => self.free_slug(&slug_from_name(&name)).await?,
        };
        let tenant = Tenant::new(name, slug, self.now());
        let origin = Origin {
            user_agent: Some("crm cli".into()),
            ..Origin::default()
        };
        let audit = AuditEntry::new(
            tenant.id,
            AuditKind::TenantChanged,
            None,
            ("tenant", tenant.id.to_string()),
            Outcome::Success,
            &origin,
            tenant.created_at,
        )
        .with("change", "created by an operator");
        let changes = Changes {
            events: vec![tenant_created(&tenant, None, &origin)],
            audit: vec![audit],
            ..Changes::default()
        };
        self.store.create_tenant(&tenant, None, changes).await?;
        Ok(tenant)
    }

    /// Creates a user for an operator (`crm user create`), with any roles.
    pub async fn create_user_as_operator(
        &self,
        tenant: &str,
        email: &str,
        display_name: &str,
        password: &str,
        roles: Vec<String>,
    ) -> Result<User> {
        let tenant = self
            .store
            .find_tenant(tenant)
            .await?
            .ok_or_else(|| Error::not_found("tenant", tenant))?;
        let email = Email::parse(email).map_err(|e| Error::invalid_field("email", e))?;
        let name = parse_display_name(display_name)
            .map_err(|e| Error::invalid_field("display_name", e))?;
        let password =
            Password::parse(password).map_err(|e| Error::invalid_field("password", e))?;
        for role in &roles {
            self.known_role(tenant.id, role).await?;
        }
        let now = self.now();
        let user = User::new(
            tenant.id,
            email,
            name,
            self.hasher.hash(&password).await?,
            roles,
            now,
        );
        let origin = Origin {
            user_agent: Some("crm cli".into()),
            ..Origin::default()
        };
        let changes = Changes {
            events: vec![user_created(&tenant, &user, None, &origin)],
            audit: vec![
                AuditEntry::new(
                    tenant.id,
                    AuditKind::UserCreated,
                    None,
                    ("user", user.id.to_string()),
                    Outcome::Success,
                    &origin,
                    now,
                )
                .with("roles", user.roles.join(","))
                .with("by", "operator"),
            ],
            custom_roles: crate::domain::role::custom_only(&user.roles),
            ..Changes::default()
        };
        self.store.insert_user(&user, changes).await?;
        Ok(user)
    }

    /// The policy engine's decision for the caller, or (with `authorization.check_others`) for
    /// another user of the tenant, whose current roles are read from the store.
    pub async fn check_permission(
        &self,
        caller: &Caller,
        permission: &str,
        resource: &Resource<'_>,
        subject: Option<UserId>,
    ) -> Result<Decision> {
        let p = &caller.principal;
        if permission.trim().is_empty() {
            return Err(Error::invalid_field(
                "permission",
                "must name a permission, e.g. customers.write",
            ));
        }
        let tenant = self.tenant_of(p.tenant_id).await?;
        let settings = PolicySettings {
            deal_approval_threshold_units: tenant.settings.deal_approval_threshold_units,
            deal_approval_currency: &tenant.settings.default_currency_code,
        };
        // An amount sent without its currency is in the tenant's.
        let in_tenants = Resource {
            amount: resource.amount.map(|a| crm_core::authz::Amount {
                currency: if a.currency.is_empty() {
                    &tenant.settings.default_currency_code
                } else {
                    a.currency
                },
                ..a
            }),
            ..resource.clone()
        };
        let resource = &in_tenants;
        match subject.filter(|s| *s != p.user_id) {
            None => Ok(evaluate(&p.subject(), permission, resource, settings)),
            Some(other) => {
                p.require("authorization.check_others")?;
                let user = self
                    .store
                    .get_user(p.tenant_id, other)
                    .await?
                    .filter(|u| u.is_active())
                    .ok_or_else(|| Error::not_found("user", other))?;
                let custom = self.store.list_custom_roles(p.tenant_id).await?;
                let permissions = tenant
                    .settings
                    .widen(self.catalog.effective_permissions(&user.roles, &custom));
                let subject = Subject {
                    user_id: user.id,
                    roles: &user.roles,
                    permissions: &permissions,
                    team: user.team.as_deref(),
                };
                Ok(evaluate(&subject, permission, resource, settings))
            }
        }
    }

    /// The audit trail, newest first.
    pub async fn list_audit(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        page_size: u32,
        before: Option<Uuid>,
    ) -> Result<(Vec<AuditEntry>, Option<Uuid>)> {
        caller.principal.require("audit.read")?;
        let mut entries = self
            .store
            .list_audit(caller.principal.tenant_id, &filter, before, page_size + 1)
            .await?;
        let more = entries.len() > page_size as usize;
        entries.truncate(page_size as usize);
        let next = if more {
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok((entries, next))
    }
}
