//! API keys: owners and admins create, list and revoke them; the request layer authenticates
//! them through [`Iam`]'s `crm_core::layer::ApiKeys`.
//!
//! A key acts with its role's permissions narrowed to what its creator holds now: never more
//! than a person it was made by. A creator who is deactivated or deleted leaves keys that act as
//! nothing (and are revoked, audited); a creator who is demoted leaves keys narrowed as much.
//!
//! A presented key is read from the store once (with its role and its creator) and then
//! remembered for [`KEY_CACHE_TTL`], so a busy integration costs no query per call. What would
//! change its rights writes a revocation mark, as for access tokens: for the creator when their
//! roles, status or team change, for the key itself when its custom role changes. A remembered
//! key marked since it was read is read again, in every process that checks the marks (all of
//! them, with Redis), so no change waits for the cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crm_core::{Error, Principal, Result, TenantId, UserId};
use futures::future::BoxFuture;
use uuid::Uuid;

use super::rules::{escalation_check, invalid};
use super::{Caller, Iam};
use crate::domain::Millis;
use crate::domain::api_key::{ApiKey, IssuedKey, hash_key, key_tenant, looks_like_key};
use crate::domain::audit::{AuditEntry, AuditKind, Outcome};
use crate::domain::ports::Changes;
use crate::domain::role::{OWNER, is_built_in};

/// How long a presented key is remembered after it was read.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(30);
/// A key's last use is written at most this often.
const TOUCH_EVERY: Millis = 60_000;

/// A key as the request layer knows it between reads.
pub(crate) struct KnownKey {
    key: ApiKey,
    role: String,
    /// The role's permissions narrowed to its creator's, as read.
    permissions: Vec<String>,
    /// When it was read: a revocation mark after this reads it again.
    read_at: Millis,
    last_touch: AtomicI64,
}

/// The keys read recently, by hash.
pub(crate) type KeyCache = moka::sync::Cache<String, Arc<KnownKey>>;

/// A new key cache.
pub(crate) fn key_cache() -> KeyCache {
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(KEY_CACHE_TTL)
        .build()
}

fn refused() -> Error {
    Error::unauthenticated(
        "this API key is unknown, revoked or expired: ask an owner or admin of your tenant for a new one",
    )
    .with_reason("INVALID_API_KEY")
}

impl Iam {
    /// Creates a key acting as `role_id` (a built-in role's name or a custom role's id).
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        name: &str,
        role_id: &str,
        expires_at: Option<Millis>,
    ) -> Result<IssuedKey> {
        let p = &self.current(caller).await?;
        p.require("api_keys.manage")?;
        if p.api_key_id.is_some() {
            return Err(Error::permission_denied(
                "an API key cannot create API keys; sign in as a person",
            ));
        }
        let now = self.now();
        let issued = ApiKey::issue(p.tenant_id, name, role_id, expires_at, p.user_id, now)
            .map_err(invalid)?;
        let (role, permissions) = self.key_role(p.tenant_id, &issued.record.role_id).await?;
        if role == OWNER {
            return Err(Error::invalid_field(
                "role_id",
                "a key cannot act as an owner: create a custom role with what the integration needs",
            ));
        }
        escalation_check(
            p,
            &permissions,
            &format!("the API key {:?}", issued.record.name),
        )?;
        let audit = key_audit(caller, &issued.record, "created", now).with("role", role);
        self.store
            .insert_api_key(&issued.record, Changes::audit(audit))
            .await?;
        Ok(issued)
    }

    /// The tenant's keys newest first, before `before`.
    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ApiKey>> {
        self.current(caller).await?.require("api_keys.manage")?;
        self.store
            .list_api_keys(caller.principal.tenant_id, before, limit)
            .await
    }

    /// One key.
    pub async fn get_api_key(&self, caller: &Caller, id: Uuid) -> Result<ApiKey> {
        self.current(caller).await?.require("api_keys.manage")?;
        self.store
            .get_api_key(caller.principal.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("API key", id))
    }

    /// Revokes a key (again: nothing changes).
    pub async fn revoke_api_key(&self, caller: &Caller, id: Uuid) -> Result<ApiKey> {
        let p = self.current(caller).await?;
        let key = self.get_api_key(caller, id).await?;
        // An owner's keys are part of the owner's account: owners' only to revoke.
        if let Some(creator) = self.store.get_user(p.tenant_id, key.created_by).await? {
            super::rules::owners_only(&p, &creator)?;
        }
        let now = self.now();
        let key = self
            .store
            .update_api_key(
                p.tenant_id,
                key.id,
                Box::new(|key: &mut ApiKey| {
                    Ok(key
                        .revoke(now)
                        .then(|| Changes::audit(key_audit(caller, key, "revoked", now))))
                }),
            )
            .await?;
        self.api_keys.invalidate(&key.key_hash);
        Ok(key)
    }

    /// Who a presented key acts as.
    pub async fn authenticate_api_key(&self, presented: &str) -> Result<Principal> {
        let tenant = key_tenant(presented).ok_or_else(refused)?;
        let hash = hash_key(presented);
        let remembered = match self.api_keys.get(&hash) {
            Some(known) if !self.changed_since_read(&known).await? => Some(known),
            _ => None,
        };
        let known = match remembered {
            Some(known) => known,
            None => {
                let key = self
                    .store
                    .api_key_by_hash(tenant, &hash)
                    .await?
                    .ok_or_else(refused)?;
                let read_at = self.now();
                // A role deleted since: the key acts as nothing.
                let (role, granted) = self
                    .key_role(tenant, &key.role_id)
                    .await
                    .map_err(|_| refused())?;
                // Never more than its creator holds now; nothing once they are gone.
                let creator = self
                    .store
                    .get_user(tenant, key.created_by)
                    .await?
                    .filter(crate::domain::user::User::is_active)
                    .ok_or_else(refused)?;
                let custom = self.custom_roles_of(&creator).await?;
                let held = self.catalog.effective_permissions(&creator.roles, &custom);
                // As the workspace's settings widen what the key's role reaches.
                let settings = self
                    .store
                    .find_tenant(&tenant.to_string())
                    .await?
                    .ok_or_else(refused)?
                    .settings;
                let known = Arc::new(KnownKey {
                    last_touch: AtomicI64::new(key.last_used_at.unwrap_or(0)),
                    permissions: settings.widen(crate::domain::role::narrowed(&granted, &held)),
                    key,
                    role,
                    read_at,
                });
                self.api_keys.insert(hash, known.clone());
                known
            }
        };
        let now = self.now();
        if !known.key.is_usable(now) {
            return Err(refused());
        }
        let last = known.last_touch.load(Ordering::Relaxed);
        if now - last >= TOUCH_EVERY
            && known
                .last_touch
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.store.touch_api_key(tenant, known.key.id, now).await?;
        }
        Ok(Principal {
            tenant_id: tenant,
            user_id: UserId::from(known.key.id),
            roles: vec![known.role.clone()],
            permissions: known.permissions.clone(),
            team: None,
            token_id: known.key.prefix.clone(),
            issued_at: known.key.created_at,
            expires_at: known.key.expires_at,
            api_key_id: Some(known.key.id),
            service: None,
        })
    }

    /// Whether what a remembered key acts with may have changed since it was read: its creator's
    /// rights or its custom role (a revocation mark on either).
    async fn changed_since_read(&self, known: &KnownKey) -> Result<bool> {
        Ok(self
            .revocations
            .is_revoked(known.key.created_by, known.read_at)
            .await?
            || self
                .revocations
                .is_revoked(UserId::from(known.key.id), known.read_at)
                .await?)
    }

    /// Revokes every key `creator` made (they were deactivated or deleted), each audited.
    pub(crate) async fn revoke_keys_of(&self, caller: &Caller, creator: UserId) -> Result<()> {
        let tenant = caller.principal.tenant_id;
        let now = self.now();
        let mut before = None;
        loop {
            let page = self.store.list_api_keys(tenant, before, 500).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            before = Some(last.id);
            for key in page.into_iter().filter(|k| k.created_by == creator) {
                if key.revoked_at.is_some() {
                    continue;
                }
                let key = self
                    .store
                    .update_api_key(
                        tenant,
                        key.id,
                        Box::new(|key: &mut ApiKey| {
                            Ok(key.revoke(now).then(|| {
                                Changes::audit(
                                    key_audit(caller, key, "revoked", now)
                                        .with("reason", "its creator was deactivated or deleted"),
                                )
                            }))
                        }),
                    )
                    .await?;
                self.api_keys.invalidate(&key.key_hash);
            }
        }
    }

    /// Marks every key acting as the custom role `role_id`, so each is read again at its next
    /// call (the role's permissions changed, or it is gone).
    pub(crate) async fn mark_keys_of_role(&self, tenant: TenantId, role_id: &str) -> Result<()> {
        let mut before = None;
        loop {
            let page = self.store.list_api_keys(tenant, before, 500).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            before = Some(last.id);
            for key in page.iter().filter(|k| k.role_id == role_id) {
                self.revoke_tokens(UserId::from(key.id)).await?;
                self.api_keys.invalidate(&key.key_hash);
            }
        }
    }

    /// The name and permissions of the role a key acts as; an unknown one is a field violation.
    async fn key_role(&self, tenant: TenantId, role_id: &str) -> Result<(String, Vec<String>)> {
        if is_built_in(role_id) {
            let permissions = self.catalog.built_in(role_id).unwrap_or_default();
            return Ok((role_id.to_owned(), permissions));
        }
        self.store
            .list_custom_roles(tenant)
            .await?
            .into_iter()
            .find(|r| r.id.to_string() == role_id)
            .map(|r| (r.name, r.permissions))
            .ok_or_else(|| {
                Error::invalid_field(
                    "role_id",
                    format!("{role_id:?} is not a role of this tenant; ListRoles lists them"),
                )
            })
    }
}

fn key_audit(caller: &Caller, key: &ApiKey, what: &str, now: Millis) -> AuditEntry {
    AuditEntry::new(
        key.tenant_id,
        AuditKind::ApiKeyChanged,
        Some(caller.principal.user_id),
        ("api_key", key.id.to_string()),
        Outcome::Success,
        &caller.origin,
        now,
    )
    .with("action", what)
    .with("name", key.name.clone())
    .with("prefix", key.prefix.clone())
}

/// IAM's keys, for the request layer.
impl crm_core::layer::ApiKeys for Iam {
    fn recognizes(&self, credential: &str) -> bool {
        looks_like_key(credential)
    }

    fn authenticate(&self, key: String) -> BoxFuture<'_, Result<Principal>> {
        Box::pin(async move { self.authenticate_api_key(&key).await })
    }
}
