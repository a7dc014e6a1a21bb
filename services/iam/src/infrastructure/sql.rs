//! The IAM store on SQLite and PostgreSQL. Both schemas have the same shape (ids as UUIDv7 text,
//! times as epoch milliseconds, `$n` parameters, which SQLite accepts too), so the SQL below is
//! written once and instantiated for each pool type by `iam_store!`. On PostgreSQL every
//! transaction switches to the application role and sets `app.tenant_id`, so row-level security
//! is a second wall behind the `tenant_id` filter each statement carries.

use std::collections::BTreeMap;

use async_trait::async_trait;
use crm_core::storage::{UniqueConstraint, map_db_error};
use crm_core::{Error, Result, TenantId, UserId};
use sqlx::{PgPool, Row, SqlitePool};
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::email::Email;
use crate::domain::ports::{AuditFilter, Changes, IamStore, UserFilter};
use crate::domain::role::CustomRole;
use crate::domain::session::Session;
use crate::domain::tenant::{Tenant, TenantSettings, TenantStatus};
use crate::domain::user::{User, UserStatus};

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

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(
        "stored data could not be read",
        anyhow::anyhow!("{what}: {detail}"),
    )
}

fn parse_uuid(what: &str, s: &str) -> Result<Uuid> {
    Uuid::try_parse(s).map_err(|e| corrupt(what, e))
}

/// The SQLite store (embedded mode).
pub struct SqliteIamStore {
    pool: SqlitePool,
}

/// The PostgreSQL store (microservices mode).
pub struct PgIamStore {
    pool: PgPool,
    app_role: Option<String>,
}

impl SqliteIamStore {
    /// A store on `pool` (migrated).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// A transaction (SQLite has no row-level security: every query names its tenant).
    async fn begin(&self, _tenant: TenantId) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin()
            .await
            .map_err(db("starting a transaction"))
    }
}

impl PgIamStore {
    /// A store on `pool` (migrated); transactions switch to `app_role` unless it is empty.
    pub fn new(pool: PgPool, app_role: &str) -> Self {
        Self {
            pool,
            app_role: (!app_role.is_empty()).then(|| app_role.to_owned()),
        }
    }

    /// A transaction scoped to `tenant`: as the application role, with `app.tenant_id` set for
    /// the row-level-security policies.
    async fn begin(&self, tenant: TenantId) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        crm_core::storage::begin_scoped(
            &self.pool,
            self.app_role.as_deref(),
            "app.tenant_id",
            &tenant.to_string(),
        )
        .await
        .map_err(db("starting a transaction scoped to its tenant"))
    }
}

macro_rules! iam_store {
    ($store:ident, $db:ty) => {
        impl $store {
            async fn write_changes(tx: &mut sqlx::Transaction<'static, $db>, tenant: TenantId, changes: Changes) -> Result<()> {
                if changes.keep_an_owner {
                    // A write on the tenant's row serializes every owner-removing change of the
                    // tenant (a row lock in PostgreSQL, the write lock in SQLite), so the count
                    // below sees the other one's commit.
                    sqlx::query("update tenants set version = version where id = $1")
                        .bind(tenant.to_string())
                        .execute(&mut **tx)
                        .await
                        .map_err(db("locking the tenant"))?;
                    let owners: i64 = sqlx::query_scalar(
                        "select count(*) from user_roles r join users u on u.id = r.user_id \
                         where r.tenant_id = $1 and r.role = 'owner' and u.status = 'active'",
                    )
                    .bind(tenant.to_string())
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db("counting owners"))?;
                    if owners == 0 {
                        return Err(crate::domain::role::last_owner_error());
                    }
                }
                for e in changes.events {
                    Self::append(&mut **tx, e.aggregate_type, &e.envelope).await.map_err(db("writing an event to the outbox"))?;
                }
                for a in changes.audit {
                    let details = serde_json::to_string(&a.details).expect("a string map serialises");
                    sqlx::query(
                        "insert into audit_events (id, tenant_id, kind, actor_id, target_type, target_id, outcome, \
                         client_address, user_agent, correlation_id, details, created_at) \
                         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(a.id.to_string())
                    .bind(a.tenant_id.to_string())
                    .bind(a.kind as i32)
                    .bind(a.actor_id.map(|u| u.to_string()))
                    .bind(a.target_type)
                    .bind(a.target_id)
                    .bind(a.outcome as i32)
                    .bind(a.origin.client_address)
                    .bind(a.origin.user_agent)
                    .bind(a.origin.correlation_id)
                    .bind(details)
                    .bind(a.created_at)
                    .execute(&mut **tx)
                    .await
                    .map_err(db("writing the audit trail"))?;
                }
                if let Some((user, at)) = changes.revoke_sessions_of {
                    sqlx::query("update sessions set revoked_at = $3 where tenant_id = $1 and user_id = $2 and revoked_at is null")
                        .bind(tenant.to_string())
                        .bind(user.to_string())
                        .bind(at)
                        .execute(&mut **tx)
                        .await
                        .map_err(db("revoking sessions"))?;
                }
                Ok(())
            }

            async fn write_roles(tx: &mut sqlx::Transaction<'static, $db>, user: &User) -> Result<()> {
                sqlx::query("delete from user_roles where tenant_id = $1 and user_id = $2")
                    .bind(user.tenant_id.to_string())
                    .bind(user.id.to_string())
                    .execute(&mut **tx)
                    .await
                    .map_err(db("saving roles"))?;
                for role in &user.roles {
                    sqlx::query("insert into user_roles (tenant_id, user_id, role) values ($1, $2, $3)")
                        .bind(user.tenant_id.to_string())
                        .bind(user.id.to_string())
                        .bind(role)
                        .execute(&mut **tx)
                        .await
                        .map_err(db("saving roles"))?;
                }
                Ok(())
            }

            async fn roles_of(tx: &mut sqlx::Transaction<'static, $db>, tenant: TenantId, first: &str, last: &str) -> Result<BTreeMap<String, Vec<String>>> {
                let rows = sqlx::query(
                    "select user_id, role from user_roles where tenant_id = $1 and user_id >= $2 and user_id <= $3 order by role",
                )
                .bind(tenant.to_string())
                .bind(first)
                .bind(last)
                .fetch_all(&mut **tx)
                .await
                .map_err(db("reading roles"))?;
                let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for row in rows {
                    let user: String = row.get("user_id");
                    roles.entry(user).or_default().push(row.get("role"));
                }
                Ok(roles)
            }

            async fn users_where(&self, tenant: TenantId, sql: &'static str, binds: Vec<String>, limit: i64) -> Result<Vec<User>> {
                let mut tx = self.begin(tenant).await?;
                let mut query = sqlx::query(sql).bind(tenant.to_string());
                for b in binds {
                    query = query.bind(b);
                }
                let rows = query.bind(limit).fetch_all(&mut *tx).await.map_err(db("reading users"))?;
                let mut users = Vec::with_capacity(rows.len());
                for row in &rows {
                    users.push(user_from_row(
                        row.get("id"),
                        row.get("tenant_id"),
                        row.get("email"),
                        row.get("display_name"),
                        row.get("password_hash"),
                        row.get("status"),
                        row.get("team"),
                        [row.get("created_at"), row.get("updated_at"), row.get("version")],
                        row.get("last_login_at"),
                    )?);
                }
                if let (Some(first), Some(last)) = (users.first(), users.last()) {
                    let (first, last) = (first.id.to_string(), last.id.to_string());
                    let (lo, hi) = if first <= last { (first, last) } else { (last, first) };
                    let mut roles = Self::roles_of(&mut tx, tenant, &lo, &hi).await?;
                    for user in &mut users {
                        user.roles = roles.remove(&user.id.to_string()).unwrap_or_default();
                        user.roles.sort();
                    }
                }
                tx.commit().await.map_err(db("reading users"))?;
                Ok(users)
            }

            async fn tenant_where(&self, sql: &'static str, bind: &str) -> Result<Option<Tenant>> {
                let row = sqlx::query(sql).bind(bind).fetch_optional(&self.pool).await.map_err(db("reading a tenant"))?;
                row.map(|row| {
                    tenant_from_row(
                        row.get("id"),
                        row.get("name"),
                        row.get("slug"),
                        row.get("status"),
                        row.get("settings"),
                        [row.get("created_at"), row.get("updated_at"), row.get("version")],
                    )
                })
                .transpose()
            }

            /// Runs `sql` (binding tenant, id, time) and writes `changes`, in one transaction.
            async fn stamp(&self, tenant: TenantId, sql: &'static str, id: String, at: Millis, changes: Changes, doing: &'static str) -> Result<()> {
                let mut tx = self.begin(tenant).await?;
                sqlx::query(sql).bind(tenant.to_string()).bind(id).bind(at).execute(&mut *tx).await.map_err(db(doing))?;
                Self::write_changes(&mut tx, tenant, changes).await?;
                tx.commit().await.map_err(db(doing))
            }

            async fn versioned_update(tx: sqlx::Transaction<'static, $db>, affected: u64, what: &str, id: String, tenant: TenantId, changes: Changes, doing: &'static str) -> Result<()> {
                let mut tx = tx;
                if affected == 0 {
                    return Err(Error::etag_mismatch(what).with_metadata("id", id));
                }
                Self::write_changes(&mut tx, tenant, changes).await?;
                tx.commit().await.map_err(db(doing))
            }
        }

        #[async_trait]
        impl IamStore for $store {
            async fn find_tenant(&self, slug_or_id: &str) -> Result<Option<Tenant>> {
                self.tenant_where(
                    "select id, name, slug, status, settings, created_at, updated_at, version from tenants where slug = $1 or id = $1",
                    slug_or_id,
                )
                .await
            }

            async fn slug_taken(&self, slug: &str) -> Result<bool> {
                let n: i64 = sqlx::query_scalar("select count(*) from tenants where slug = $1")
                    .bind(slug)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db("checking a slug"))?;
                Ok(n > 0)
            }

            async fn create_tenant(&self, tenant: &Tenant, owner: Option<&User>, changes: Changes) -> Result<()> {
                let mut tx = self.begin(tenant.id).await?;
                sqlx::query(
                    "insert into tenants (id, name, slug, status, settings, created_at, updated_at, version) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(tenant.id.to_string())
                .bind(&tenant.name)
                .bind(&tenant.slug)
                .bind(tenant.status.as_str())
                .bind(serde_json::to_string(&tenant.settings).expect("settings serialise"))
                .bind(tenant.created_at)
                .bind(tenant.updated_at)
                .bind(tenant.version)
                .execute(&mut *tx)
                .await
                .map_err(db("creating a tenant"))?;
                if let Some(owner) = owner {
                    Self::insert_user_in(&mut tx, owner).await?;
                }
                Self::write_changes(&mut tx, tenant.id, changes).await?;
                tx.commit().await.map_err(db("creating a tenant"))
            }

            async fn save_tenant(&self, tenant: &Tenant, expected_version: i64, changes: Changes) -> Result<()> {
                let mut tx = self.begin(tenant.id).await?;
                let done = sqlx::query(
                    "update tenants set name = $2, slug = $3, status = $4, settings = $5, updated_at = $6, version = $7 \
                     where id = $1 and version = $8",
                )
                .bind(tenant.id.to_string())
                .bind(&tenant.name)
                .bind(&tenant.slug)
                .bind(tenant.status.as_str())
                .bind(serde_json::to_string(&tenant.settings).expect("settings serialise"))
                .bind(tenant.updated_at)
                .bind(tenant.version)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db("saving a tenant"))?;
                Self::versioned_update(tx, done.rows_affected(), "tenant", tenant.id.to_string(), tenant.id, changes, "saving a tenant").await
            }

            async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>> {
                let sql = "select id, tenant_id, email, display_name, password_hash, status, team, created_at, updated_at, \
                           version, last_login_at from users where tenant_id = $1 and id = $2 limit $3";
                Ok(self.users_where(tenant, sql, vec![id.to_string()], 1).await?.pop())
            }

            async fn user_by_email(&self, tenant: TenantId, email: &Email) -> Result<Option<User>> {
                let sql = "select id, tenant_id, email, display_name, password_hash, status, team, created_at, updated_at, \
                           version, last_login_at from users where tenant_id = $1 and email = $2 and status <> 'deleted' limit $3";
                Ok(self.users_where(tenant, sql, vec![email.as_str().to_owned()], 1).await?.pop())
            }

            async fn list_users(&self, tenant: TenantId, filter: &UserFilter, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
                let sql = "select id, tenant_id, email, display_name, password_hash, status, team, created_at, updated_at, \
                           version, last_login_at from users \
                           where tenant_id = $1 \
                             and (($2 = '' and status <> 'deleted') or status = $2) \
                             and ($3 = '' or exists (select 1 from user_roles r where r.user_id = users.id and r.role = $3)) \
                             and id > $4 \
                           order by id limit $5";
                let binds = vec![
                    filter.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    filter.role.clone().unwrap_or_default(),
                    after.map(|a| a.to_string()).unwrap_or_default(),
                ];
                self.users_where(tenant, sql, binds, i64::from(limit)).await
            }

            async fn count_active_holders(&self, tenant: TenantId, role: &str) -> Result<i64> {
                let mut tx = self.begin(tenant).await?;
                let n: i64 = sqlx::query_scalar(
                    "select count(*) from user_roles r join users u on u.id = r.user_id \
                     where r.tenant_id = $1 and r.role = $2 and u.status = 'active'",
                )
                .bind(tenant.to_string())
                .bind(role)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("counting role holders"))?;
                tx.commit().await.map_err(db("counting role holders"))?;
                Ok(n)
            }

            async fn insert_user(&self, user: &User, changes: Changes) -> Result<()> {
                let mut tx = self.begin(user.tenant_id).await?;
                Self::insert_user_in(&mut tx, user).await?;
                Self::write_changes(&mut tx, user.tenant_id, changes).await?;
                tx.commit().await.map_err(db("creating a user"))
            }

            async fn save_user(&self, user: &User, expected_version: i64, changes: Changes) -> Result<()> {
                let mut tx = self.begin(user.tenant_id).await?;
                let done = sqlx::query(
                    "update users set email = $3, display_name = $4, password_hash = $5, status = $6, team = $7, \
                     updated_at = $8, version = $9 where tenant_id = $1 and id = $2 and version = $10",
                )
                .bind(user.tenant_id.to_string())
                .bind(user.id.to_string())
                .bind(user.email.as_str())
                .bind(&user.display_name)
                .bind(&user.password_hash)
                .bind(user.status.as_str())
                .bind(&user.team)
                .bind(user.updated_at)
                .bind(user.version)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db("saving a user"))?;
                if done.rows_affected() > 0 {
                    Self::write_roles(&mut tx, user).await?;
                }
                Self::versioned_update(tx, done.rows_affected(), "user", user.id.to_string(), user.tenant_id, changes, "saving a user").await
            }

            async fn record_login(&self, session: &Session, changes: Changes) -> Result<()> {
                let mut tx = self.begin(session.tenant_id).await?;
                sqlx::query("update users set last_login_at = $3 where tenant_id = $1 and id = $2")
                    .bind(session.tenant_id.to_string())
                    .bind(session.user_id.to_string())
                    .bind(session.issued_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording a login"))?;
                Self::insert_session_in(&mut tx, session).await?;
                Self::write_changes(&mut tx, session.tenant_id, changes).await?;
                tx.commit().await.map_err(db("recording a login"))
            }

            async fn list_custom_roles(&self, tenant: TenantId) -> Result<Vec<CustomRole>> {
                let mut tx = self.begin(tenant).await?;
                let rows = sqlx::query(
                    "select id, tenant_id, name, description, permissions, created_at, updated_at, version \
                     from roles where tenant_id = $1 order by name",
                )
                .bind(tenant.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err(db("reading roles"))?;
                tx.commit().await.map_err(db("reading roles"))?;
                rows.iter()
                    .map(|row| {
                        role_from_row(
                            row.get("id"),
                            row.get("tenant_id"),
                            row.get("name"),
                            row.get("description"),
                            row.get("permissions"),
                            [row.get("created_at"), row.get("updated_at"), row.get("version")],
                        )
                    })
                    .collect()
            }

            async fn insert_role(&self, role: &CustomRole, changes: Changes) -> Result<()> {
                let mut tx = self.begin(role.tenant_id).await?;
                sqlx::query(
                    "insert into roles (id, tenant_id, name, description, permissions, created_at, updated_at, version) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(role.id.to_string())
                .bind(role.tenant_id.to_string())
                .bind(&role.name)
                .bind(&role.description)
                .bind(serde_json::to_string(&role.permissions).expect("a list serialises"))
                .bind(role.created_at)
                .bind(role.updated_at)
                .bind(role.version)
                .execute(&mut *tx)
                .await
                .map_err(db("creating a role"))?;
                Self::write_changes(&mut tx, role.tenant_id, changes).await?;
                tx.commit().await.map_err(db("creating a role"))
            }

            async fn save_role(&self, role: &CustomRole, expected_version: i64, changes: Changes) -> Result<()> {
                let mut tx = self.begin(role.tenant_id).await?;
                let done = sqlx::query(
                    "update roles set description = $3, permissions = $4, updated_at = $5, version = $6 \
                     where tenant_id = $1 and id = $2 and version = $7",
                )
                .bind(role.tenant_id.to_string())
                .bind(role.id.to_string())
                .bind(&role.description)
                .bind(serde_json::to_string(&role.permissions).expect("a list serialises"))
                .bind(role.updated_at)
                .bind(role.version)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db("saving a role"))?;
                Self::versioned_update(tx, done.rows_affected(), "role", role.id.to_string(), role.tenant_id, changes, "saving a role").await
            }

            async fn delete_role(&self, tenant: TenantId, id: Uuid, changes: Changes) -> Result<()> {
                let mut tx = self.begin(tenant).await?;
                let done = sqlx::query("delete from roles where tenant_id = $1 and id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("deleting a role"))?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("role", id));
                }
                Self::write_changes(&mut tx, tenant, changes).await?;
                tx.commit().await.map_err(db("deleting a role"))
            }

            async fn count_holders(&self, tenant: TenantId, role: &str) -> Result<i64> {
                let mut tx = self.begin(tenant).await?;
                let n: i64 = sqlx::query_scalar("select count(*) from user_roles where tenant_id = $1 and role = $2")
                    .bind(tenant.to_string())
                    .bind(role)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("counting role holders"))?;
                tx.commit().await.map_err(db("counting role holders"))?;
                Ok(n)
            }

            async fn insert_session(&self, s: &Session) -> Result<()> {
                let mut tx = self.begin(s.tenant_id).await?;
                Self::insert_session_in(&mut tx, s).await?;
                tx.commit().await.map_err(db("storing a session"))
            }

            async fn session_by_hash(&self, tenant: TenantId, hash: &str) -> Result<Option<Session>> {
                let mut tx = self.begin(tenant).await?;
                let row = sqlx::query(
                    "select token_hash, family_id, tenant_id, user_id, issued_at, expires_at, spent_at, revoked_at \
                     from sessions where tenant_id = $1 and token_hash = $2",
                )
                .bind(tenant.to_string())
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a session"))?;
                tx.commit().await.map_err(db("reading a session"))?;
                let Some(row) = row else { return Ok(None) };
                let family: String = row.get("family_id");
                let tenant_id: String = row.get("tenant_id");
                let user_id: String = row.get("user_id");
                Ok(Some(Session {
                    token_hash: row.get("token_hash"),
                    family_id: parse_uuid("sessions.family_id", &family)?,
                    tenant_id: parse_uuid("sessions.tenant_id", &tenant_id)?.into(),
                    user_id: parse_uuid("sessions.user_id", &user_id)?.into(),
                    issued_at: row.get("issued_at"),
                    expires_at: row.get("expires_at"),
                    spent_at: row.get("spent_at"),
                    revoked_at: row.get("revoked_at"),
                }))
            }

            async fn rotate_session(&self, tenant: TenantId, old_hash: &str, new: &Session, now: Millis) -> Result<bool> {
                let mut tx = self.begin(tenant).await?;
                let done = sqlx::query(
                    "update sessions set spent_at = $3 \
                     where tenant_id = $1 and token_hash = $2 and spent_at is null and revoked_at is null",
                )
                .bind(tenant.to_string())
                .bind(old_hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("rotating a session"))?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::insert_session_in(&mut tx, new).await?;
                tx.commit().await.map_err(db("rotating a session"))?;
                Ok(true)
            }

            async fn revoke_family(&self, tenant: TenantId, family: Uuid, now: Millis, changes: Changes) -> Result<()> {
                let sql = "update sessions set revoked_at = $3 where tenant_id = $1 and family_id = $2 and revoked_at is null";
                self.stamp(tenant, sql, family.to_string(), now, changes, "revoking a session family").await
            }

            async fn append_audit(&self, tenant: TenantId, changes: Changes) -> Result<()> {
                let mut tx = self.begin(tenant).await?;
                Self::write_changes(&mut tx, tenant, changes).await?;
                tx.commit().await.map_err(db("writing the audit trail"))
            }

            async fn list_audit(&self, tenant: TenantId, filter: &AuditFilter, before: Option<Uuid>, limit: u32) -> Result<Vec<AuditEntry>> {
                let kinds_mask: i64 = filter.kinds.iter().fold(0, |mask, k| mask | (1_i64 << (*k as i32)));
                let mut tx = self.begin(tenant).await?;
                let rows = sqlx::query(
                    "select id, tenant_id, kind, actor_id, target_type, target_id, outcome, client_address, user_agent, \
                     correlation_id, details, created_at from audit_events \
                     where tenant_id = $1 \
                       and ($2 = 0 or (($2 >> kind) & 1) = 1) \
                       and ($3 = 0 or created_at >= $3) \
                       and ($4 = 0 or created_at < $4) \
                       and ($5 = '' or actor_id = $5) \
                       and ($6 = '' or id < $6) \
                     order by id desc limit $7",
                )
                .bind(tenant.to_string())
                .bind(kinds_mask)
                .bind(filter.since.unwrap_or(0))
                .bind(filter.until.unwrap_or(0))
                .bind(filter.actor_id.map(|a| a.to_string()).unwrap_or_default())
                .bind(before.map(|b| b.to_string()).unwrap_or_default())
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(db("reading the audit trail"))?;
                tx.commit().await.map_err(db("reading the audit trail"))?;
                rows.iter()
                    .map(|row| {
                        audit_from_row(
                            [row.get("id"), row.get("tenant_id"), row.get("target_type"), row.get("target_id"), row.get("details")],
                            [row.get("actor_id"), row.get("client_address"), row.get("user_agent"), row.get("correlation_id")],
                            row.get("kind"),
                            row.get("outcome"),
                            row.get("created_at"),
                        )
                    })
                    .collect()
            }
        }

        impl $store {
            async fn insert_user_in(tx: &mut sqlx::Transaction<'static, $db>, user: &User) -> Result<()> {
                sqlx::query(
                    "insert into users (id, tenant_id, email, display_name, password_hash, status, team, created_at, \
                     updated_at, last_login_at, version) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(user.id.to_string())
                .bind(user.tenant_id.to_string())
                .bind(user.email.as_str())
                .bind(&user.display_name)
                .bind(&user.password_hash)
                .bind(user.status.as_str())
                .bind(&user.team)
                .bind(user.created_at)
                .bind(user.updated_at)
                .bind(user.last_login_at)
                .bind(user.version)
                .execute(&mut **tx)
                .await
                .map_err(db("creating a user"))?;
                Self::write_roles(tx, user).await
            }

            async fn insert_session_in(tx: &mut sqlx::Transaction<'static, $db>, s: &Session) -> Result<()> {
                sqlx::query(
                    "insert into sessions (token_hash, family_id, tenant_id, user_id, issued_at, expires_at, spent_at, revoked_at) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&s.token_hash)
                .bind(s.family_id.to_string())
                .bind(s.tenant_id.to_string())
                .bind(s.user_id.to_string())
                .bind(s.issued_at)
                .bind(s.expires_at)
                .bind(s.spent_at)
                .bind(s.revoked_at)
                .execute(&mut **tx)
                .await
                .map_err(db("storing a session"))
                .map(drop)
            }
        }
    };
}

iam_store!(SqliteIamStore, sqlx::Sqlite);
iam_store!(PgIamStore, sqlx::Postgres);

impl SqliteIamStore {
    async fn append(
        conn: &mut sqlx::SqliteConnection,
        aggregate_type: &str,
        e: &crm_events::Envelope,
    ) -> Result<(), sqlx::Error> {
        crm_events::outbox::append_sqlite(conn, aggregate_type, e).await
    }
}

impl PgIamStore {
    async fn append(
        conn: &mut sqlx::PgConnection,
        aggregate_type: &str,
        e: &crm_events::Envelope,
    ) -> Result<(), sqlx::Error> {
        crm_events::outbox::append_postgres(conn, aggregate_type, e).await
    }
}

#[allow(clippy::too_many_arguments)]
fn user_from_row(
    id: String,
    tenant_id: String,
    email: String,
    display_name: String,
    password_hash: String,
    status: String,
    team: Option<String>,
    [created_at, updated_at, version]: [i64; 3],
    last_login_at: Option<i64>,
) -> Result<User> {
    Ok(User {
        id: parse_uuid("users.id", &id)?.into(),
        tenant_id: parse_uuid("users.tenant_id", &tenant_id)?.into(),
        email: Email::from_stored(email),
        display_name,
        password_hash,
        status: UserStatus::from_stored(&status),
        roles: Vec::new(),
        team,
        created_at,
        updated_at,
        last_login_at,
        version,
    })
}

fn tenant_from_row(
    id: String,
    name: String,
    slug: String,
    status: String,
    settings: String,
    [created_at, updated_at, version]: [i64; 3],
) -> Result<Tenant> {
    Ok(Tenant {
        id: parse_uuid("tenants.id", &id)?.into(),
        name,
        slug,
        status: TenantStatus::from_stored(&status),
        settings: serde_json::from_str::<TenantSettings>(&settings)
            .map_err(|e| corrupt("tenants.settings", e))?,
        created_at,
        updated_at,
        version,
    })
}

fn role_from_row(
    id: String,
    tenant_id: String,
    name: String,
    description: String,
    permissions: String,
    [created_at, updated_at, version]: [i64; 3],
) -> Result<CustomRole> {
    Ok(CustomRole {
        id: parse_uuid("roles.id", &id)?,
        tenant_id: parse_uuid("roles.tenant_id", &tenant_id)?.into(),
        name,
        description,
        permissions: serde_json::from_str(&permissions)
            .map_err(|e| corrupt("roles.permissions", e))?,
        created_at,
        updated_at,
        version,
    })
}

fn audit_from_row(
    [id, tenant_id, target_type, target_id, details]: [String; 5],
    [actor_id, client_address, user_agent, correlation_id]: [Option<String>; 4],
    kind: i32,
    outcome: i32,
    created_at: i64,
) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: parse_uuid("audit_events.id", &id)?,
        tenant_id: parse_uuid("audit_events.tenant_id", &tenant_id)?.into(),
        kind: AuditKind::from_i32(kind).ok_or_else(|| corrupt("audit_events.kind", kind))?,
        actor_id: actor_id
            .map(|a| parse_uuid("audit_events.actor_id", &a))
            .transpose()?
            .map(UserId::from),
        target_type,
        target_id,
        outcome: match outcome {
            1 => Outcome::Success,
            2 => Outcome::Failure,
            _ => Outcome::Denied,
        },
        origin: Origin {
            client_address,
            user_agent,
            correlation_id,
            traceparent: None,
        },
        details: serde_json::from_str(&details).map_err(|e| corrupt("audit_events.details", e))?,
        created_at,
    })
}
