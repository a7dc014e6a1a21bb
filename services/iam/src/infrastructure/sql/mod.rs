//! The IAM store on SQLite and PostgreSQL, written once: both schemas have the same shape (ids
//! as UUIDv7 text, times as epoch milliseconds, `$n` parameters, which SQLite accepts too), and
//! the statements run on [`crm_core::storage::Database`]'s one pool type. One module per
//! aggregate; this one holds what every write shares (the changes that ride along in its
//! transaction) and the [`IamStore`] implementation, which only routes.
//!
//! On PostgreSQL every transaction switches to the application role and sets `app.tenant_id`,
//! so row-level security is a second wall behind the `tenant_id` filter each statement carries.

mod api_keys;
mod audit;
mod mfa;
mod roles;
mod sessions;
mod sso;
mod tenants;
mod users;

use async_trait::async_trait;
use crm_core::storage::{Conn, Database, Tx, UniqueConstraint, corrupt, map_db_error, parse_uuid};
use crm_core::{Error, Result, TenantId, UserId};
use crm_events::outbox::append_events;
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::api_key::ApiKey;
use crate::domain::audit::AuditEntry;
use crate::domain::email::Email;
use crate::domain::mfa::Challenge;
use crate::domain::ports::{AuditFilter, Changes, IamStore, SecondFactor, UserFilter};
use crate::domain::role::CustomRole;
use crate::domain::session::Session;
use crate::domain::sso::{Flow, SsoProvider};
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::infrastructure::secrets::SecretBox;

const UNIQUES: &[UniqueConstraint] = &[
    UniqueConstraint {
        name: "tenants_slug_key",
        sqlite_columns: "tenants.slug",
        field: "tenant.slug",
        message: "a tenant with this slug already exists",
    },
    UniqueConstraint {
        name: "users_tenant_email_key",
        sqlite_columns: "users.tenant_id, users.email",
        field: "user.email",
        message: "a user with this email already exists in this tenant",
    },
    UniqueConstraint {
        name: "roles_tenant_name_key",
        sqlite_columns: "roles.tenant_id, roles.name",
        field: "role.name",
        message: "a role with this name already exists",
    },
];

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// IAM's store on either engine.
pub struct SqlIamStore {
    db: Database,
    secrets: SecretBox,
}

impl SqlIamStore {
    /// A store on `db` (migrated), sealing the secrets it must read back with `secrets`.
    pub fn new(db: Database, secrets: SecretBox) -> Self {
        Self { db, secrets }
    }

    /// A transaction scoped to `tenant` (row-level security on PostgreSQL).
    async fn begin(&self, tenant: TenantId) -> Result<Tx> {
        self.db
            .begin_for(tenant)
            .await
            .map_err(db("starting a transaction scoped to its tenant"))
    }
}

/// Writes what a change brings along (owner check, events, audit, revocations) in its
/// transaction.
async fn write_changes(tx: &mut Conn, tenant: TenantId, changes: Changes) -> Result<()> {
    if changes.keep_an_owner {
        keep_an_owner(tx, tenant).await?;
    }
    append_events(tx, &changes.events).await?;
    for entry in changes.audit {
        audit::insert(tx, entry).await?;
    }
    if let Some((user, at)) = changes.revoke_sessions_of {
        sessions::revoke_user(tx, tenant, user, at).await?;
    }
    if let Some((user, hashes)) = changes.recovery_codes {
        mfa::replace_recovery_codes(tx, tenant, user, &hashes).await?;
    }
    if let Some((issuer, subject, user, at)) = &changes.link_identity {
        sso::link(tx, tenant, (issuer, subject, *user), *at).await?;
    }
    if !changes.custom_roles.is_empty() {
        lock_tenant(tx, tenant).await?;
        for name in &changes.custom_roles {
            if !roles::exists(tx, tenant, name).await? {
                return Err(crate::domain::role::role_deleted_error(name));
            }
        }
    }
    Ok(())
}

/// A write on the tenant's row: serializes the tenant's changes that count or check across
/// rows (owners, a role's holders) behind a row lock in PostgreSQL, the write lock in SQLite,
/// so each sees the other's commit.
async fn lock_tenant(tx: &mut Conn, tenant: TenantId) -> Result<()> {
    sqlx::query("update tenants set version = version where id = $1")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("locking the tenant"))
        .map(drop)
}

/// Refuses with `LAST_OWNER` unless an active owner remains. A write on the tenant's row first
/// serializes every owner-removing change of the tenant (a row lock in PostgreSQL, the write
/// lock in SQLite), so the count sees the other one's commit.
async fn keep_an_owner(tx: &mut Conn, tenant: TenantId) -> Result<()> {
    lock_tenant(tx, tenant).await?;
    let owners: i64 = sqlx::query_scalar(
        "select count(*) from user_roles r join users u on u.id = r.user_id \
         where r.tenant_id = $1 and r.role = 'owner' and u.status = 'active'",
    )
    .bind(tenant.to_string())
    .fetch_one(&mut *tx)
    .await
    .map_err(db("counting owners"))?;
    if owners == 0 {
        return Err(crate::domain::role::last_owner_error());
    }
    Ok(())
}

/// Ends a versioned update: no row changed means the expected version was stale (`ABORTED`,
/// etag mismatch); otherwise writes `changes` and commits.
async fn finish_versioned(
    mut tx: Tx,
    affected: u64,
    (what, id): (&str, String),
    tenant: TenantId,
    changes: Changes,
    doing: &'static str,
) -> Result<()> {
    if affected == 0 {
        return Err(Error::etag_mismatch(what).with_metadata("id", id));
    }
    write_changes(&mut tx, tenant, changes).await?;
    tx.commit().await.map_err(db(doing))
}

/// Writes `changes` and commits.
async fn finish(mut tx: Tx, tenant: TenantId, changes: Changes, doing: &'static str) -> Result<()> {
    write_changes(&mut tx, tenant, changes).await?;
    tx.commit().await.map_err(db(doing))
}

#[async_trait]
impl IamStore for SqlIamStore {
    async fn find_tenant(&self, slug_or_id: &str) -> Result<Option<Tenant>> {
        tenants::find(&self.db, slug_or_id).await
    }

    async fn slug_taken(&self, slug: &str) -> Result<bool> {
        tenants::slug_taken(&self.db, slug).await
    }

    async fn create_tenant(
        &self,
        tenant: &Tenant,
        owner: Option<&User>,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(tenant.id).await?;
        tenants::insert(&mut tx, tenant).await?;
        if let Some(owner) = owner {
            users::insert(&mut tx, &self.secrets, owner).await?;
        }
        finish(tx, tenant.id, changes, "creating a tenant").await
    }

    async fn save_tenant(
        &self,
        tenant: &Tenant,
        expected_version: i64,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(tenant.id).await?;
        let affected = tenants::update(&mut tx, tenant, expected_version).await?;
        let what = ("tenant", tenant.id.to_string());
        finish_versioned(tx, affected, what, tenant.id, changes, "saving a tenant").await
    }

    async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>> {
        self.db
            .in_tenant(tenant, "reading users", async |tx| {
                users::by_id(tx, &self.secrets, tenant, id).await
            })
            .await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> Result<Option<User>> {
        self.db
            .in_tenant(tenant, "reading users", async |tx| {
                users::by_email(tx, &self.secrets, tenant, email).await
            })
            .await
    }

    async fn list_users(
        &self,
        tenant: TenantId,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>> {
        self.db
            .in_tenant(tenant, "reading users", async |tx| {
                users::list(tx, &self.secrets, tenant, filter, after, limit).await
            })
            .await
    }

    async fn count_active_holders(&self, tenant: TenantId, role: &str) -> Result<i64> {
        self.db
            .in_tenant(tenant, "counting role holders", async |tx| {
                roles::count_holders(tx, tenant, role, true).await
            })
            .await
    }

    async fn insert_user(&self, user: &User, changes: Changes) -> Result<()> {
        let mut tx = self.begin(user.tenant_id).await?;
        users::insert(&mut tx, &self.secrets, user).await?;
        finish(tx, user.tenant_id, changes, "creating a user").await
    }

    async fn save_user(&self, user: &User, expected_version: i64, changes: Changes) -> Result<()> {
        let mut tx = self.begin(user.tenant_id).await?;
        let affected = users::update(&mut tx, &self.secrets, user, expected_version).await?;
        let what = ("user", user.id.to_string());
        finish_versioned(tx, affected, what, user.tenant_id, changes, "saving a user").await
    }

    async fn record_login(&self, session: &Session, changes: Changes) -> Result<()> {
        let mut tx = self.begin(session.tenant_id).await?;
        users::stamp_login(&mut tx, session).await?;
        sessions::insert(&mut tx, session).await?;
        finish(tx, session.tenant_id, changes, "recording a login").await
    }

    async fn list_custom_roles(&self, tenant: TenantId) -> Result<Vec<CustomRole>> {
        self.db
            .in_tenant(tenant, "reading roles", async |tx| {
                roles::list(tx, tenant).await
            })
            .await
    }

    async fn insert_role(&self, role: &CustomRole, changes: Changes) -> Result<()> {
        let mut tx = self.begin(role.tenant_id).await?;
        roles::insert(&mut tx, role).await?;
        finish(tx, role.tenant_id, changes, "creating a role").await
    }

    async fn save_role(
        &self,
        role: &CustomRole,
        expected_version: i64,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(role.tenant_id).await?;
        let affected = roles::update(&mut tx, role, expected_version).await?;
        let what = ("role", role.id.to_string());
        finish_versioned(tx, affected, what, role.tenant_id, changes, "saving a role").await
    }

    async fn delete_role(&self, tenant: TenantId, id: Uuid, changes: Changes) -> Result<()> {
        let mut tx = self.begin(tenant).await?;
        // Under the tenant's lock, as grants check the role (`Changes::custom_roles`): a grant
        // that got there first is counted, a later one finds the role gone.
        lock_tenant(&mut tx, tenant).await?;
        let Some(name) = roles::name_of(&mut tx, tenant, id).await? else {
            return Err(Error::not_found("role", id));
        };
        let holders = roles::count_holders(&mut tx, tenant, &name, false).await?;
        if holders > 0 {
            return Err(crate::domain::role::role_in_use_error(holders));
        }
        if !roles::delete(&mut tx, tenant, id).await? {
            return Err(Error::not_found("role", id));
        }
        finish(tx, tenant, changes, "deleting a role").await
    }

    async fn count_holders(&self, tenant: TenantId, role: &str) -> Result<i64> {
        self.db
            .in_tenant(tenant, "counting role holders", async |tx| {
                roles::count_holders(tx, tenant, role, false).await
            })
            .await
    }

    async fn insert_session(&self, session: &Session) -> Result<()> {
        self.db
            .in_tenant(session.tenant_id, "storing a session", async |tx| {
                sessions::insert(tx, session).await
            })
            .await
    }

    async fn session_by_hash(&self, tenant: TenantId, hash: &str) -> Result<Option<Session>> {
        self.db
            .in_tenant(tenant, "reading a session", async |tx| {
                sessions::by_hash(tx, tenant, hash).await
            })
            .await
    }

    async fn rotate_session(
        &self,
        tenant: TenantId,
        old_hash: &str,
        new: &Session,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.begin(tenant).await?;
        if !sessions::spend(&mut tx, tenant, old_hash, now).await? {
            return Ok(false);
        }
        sessions::insert(&mut tx, new).await?;
        tx.commit().await.map_err(db("rotating a session"))?;
        Ok(true)
    }

    async fn revoke_family(
        &self,
        tenant: TenantId,
        family: Uuid,
        now: Millis,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(tenant).await?;
        sessions::revoke_family(&mut tx, tenant, family, now).await?;
        finish(tx, tenant, changes, "revoking a session family").await
    }

    async fn insert_api_key(&self, key: &ApiKey, changes: Changes) -> Result<()> {
        let mut tx = self.begin(key.tenant_id).await?;
        api_keys::insert(&mut tx, key).await?;
        finish(tx, key.tenant_id, changes, "creating an API key").await
    }

    async fn get_api_key(&self, tenant: TenantId, id: Uuid) -> Result<Option<ApiKey>> {
        self.db
            .in_tenant(tenant, "reading an API key", async |tx| {
                api_keys::find(tx, tenant, false, &id.to_string()).await
            })
            .await
    }

    async fn api_key_by_hash(&self, tenant: TenantId, hash: &str) -> Result<Option<ApiKey>> {
        self.db
            .in_tenant(tenant, "reading an API key", async |tx| {
                api_keys::find(tx, tenant, true, hash).await
            })
            .await
    }

    async fn list_api_keys(
        &self,
        tenant: TenantId,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ApiKey>> {
        self.db
            .in_tenant(tenant, "listing API keys", async |tx| {
                api_keys::list(tx, tenant, before, limit).await
            })
            .await
    }

    async fn save_api_key(
        &self,
        key: &ApiKey,
        expected_version: i64,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(key.tenant_id).await?;
        let affected = api_keys::update(&mut tx, key, expected_version).await?;
        let what = ("API key", key.id.to_string());
        finish_versioned(
            tx,
            affected,
            what,
            key.tenant_id,
            changes,
            "saving an API key",
        )
        .await
    }

    async fn touch_api_key(&self, tenant: TenantId, id: Uuid, at: Millis) -> Result<()> {
        self.db
            .in_tenant(tenant, "recording an API key's use", async |tx| {
                api_keys::touch(tx, tenant, id, at).await
            })
            .await
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Millis,
    ) -> Result<Vec<Session>> {
        self.db
            .in_tenant(tenant, "reading sessions", async |tx| {
                sessions::live(tx, tenant, user, now).await
            })
            .await
    }

    async fn spend_second_factor(
        &self,
        tenant: TenantId,
        user: UserId,
        factor: &SecondFactor,
        now: Millis,
    ) -> Result<bool> {
        self.db
            .in_tenant(tenant, "accepting a code", async |tx| {
                mfa::spend(tx, tenant, user, factor, now).await
            })
            .await
    }

    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()> {
        self.db
            .in_tenant(
                challenge.tenant_id,
                "storing a sign-in challenge",
                async |tx| mfa::insert_challenge(tx, challenge).await,
            )
            .await
    }

    async fn challenge(&self, tenant: TenantId, hash: &str) -> Result<Option<Challenge>> {
        self.db
            .in_tenant(tenant, "reading a sign-in challenge", async |tx| {
                mfa::challenge(tx, tenant, hash).await
            })
            .await
    }

    async fn spend_challenge(&self, tenant: TenantId, hash: &str, now: Millis) -> Result<bool> {
        self.db
            .in_tenant(tenant, "spending a sign-in challenge", async |tx| {
                mfa::spend_challenge(tx, tenant, hash, now).await
            })
            .await
    }

    async fn sso_provider(&self, tenant: TenantId) -> Result<Option<SsoProvider>> {
        self.db
            .in_tenant(tenant, "reading the single sign-on settings", async |tx| {
                sso::provider(tx, &self.secrets, tenant).await
            })
            .await
    }

    async fn save_sso_provider(
        &self,
        provider: &SsoProvider,
        expected_version: i64,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(provider.tenant_id).await?;
        let affected = sso::save(&mut tx, &self.secrets, provider, expected_version).await?;
        let what = ("single sign-on settings", provider.tenant_id.to_string());
        let doing = "saving the single sign-on settings";
        finish_versioned(tx, affected, what, provider.tenant_id, changes, doing).await
    }

    async fn insert_sso_flow(&self, flow: &Flow) -> Result<()> {
        self.db
            .in_tenant(flow.tenant_id, "storing a sign-in", async |tx| {
                sso::insert_flow(tx, flow).await
            })
            .await
    }

    async fn take_sso_flow(
        &self,
        tenant: TenantId,
        state_hash: &str,
        now: Millis,
    ) -> Result<Option<Flow>> {
        self.db
            .in_tenant(tenant, "spending a sign-in", async |tx| {
                sso::take_flow(tx, tenant, state_hash, now).await
            })
            .await
    }

    async fn identity_user(
        &self,
        tenant: TenantId,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>> {
        self.db
            .in_tenant(tenant, "reading linked accounts", async |tx| {
                sso::identity_user(tx, tenant, issuer, subject).await
            })
            .await
    }

    async fn append_audit(&self, tenant: TenantId, changes: Changes) -> Result<()> {
        let tx = self.begin(tenant).await?;
        finish(tx, tenant, changes, "writing the audit trail").await
    }

    async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.db
            .in_tenant(tenant, "reading the audit trail", async |tx| {
                audit::list(tx, tenant, filter, before, limit).await
            })
            .await
    }
}
