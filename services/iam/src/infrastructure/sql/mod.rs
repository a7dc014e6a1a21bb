//! The IAM store on SQLite and PostgreSQL, written once: both schemas have the same shape (ids
//! as UUIDv7 text, times as epoch milliseconds, `$n` parameters, which SQLite accepts too), and
//! the statements run on [`crm_core::storage::Database`]'s one pool type. One module per
//! aggregate, each implementing that aggregate's port of [`crate::domain::ports::IamStore`]
//! (`TenantStore` in `tenants.rs`, ...); this one holds what every write shares (the changes
//! that ride along in its transaction, the tenant's lock, the last-owner check).
//!
//! On PostgreSQL every transaction switches to the application role and sets `app.tenant_id`,
//! so row-level security is a second wall behind the `tenant_id` filter each statement carries.

mod api_keys;
mod audit;
mod invitations;
mod mfa;
mod roles;
mod saved_views;
mod sessions;
mod sso;
mod tenants;
mod users;

use crm_core::storage::{Conn, Database, Tx, UniqueConstraint, corrupt, map_db_error, parse_uuid};
use crm_core::{Error, Result, TenantId};
use crm_events::outbox::append_events;

use crate::domain::ports::Changes;
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
    UniqueConstraint {
        name: "saved_views_owner_name_key",
        sqlite_columns: "saved_views.tenant_id, saved_views.owner_id, saved_views.list, saved_views.name",
        field: "saved_view.name",
        message: "you already keep a view of this list with this name",
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
    if let Some(invitation) = &changes.invitation {
        invitations::write(tx, tenant, invitation).await?;
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

/// Writes `changes` and commits.
async fn finish(mut tx: Tx, tenant: TenantId, changes: Changes, doing: &'static str) -> Result<()> {
    write_changes(&mut tx, tenant, changes).await?;
    tx.commit().await.map_err(db(doing))
}
