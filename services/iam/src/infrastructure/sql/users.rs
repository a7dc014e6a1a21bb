//! Users and the roles they hold (`users`, `user_roles`).

use std::collections::BTreeMap;

use crm_core::storage::Conn;
use crm_core::{Error, Result, TenantId, UserId};

use super::{corrupt, db, parse_uuid};
use crate::domain::email::Email;
use crate::domain::mfa::Mfa;
use crate::domain::ports::UserFilter;
use crate::domain::session::Session;
use crate::domain::user::{User, UserStatus};
use crate::infrastructure::secrets::SecretBox;

use super::{SqlIamStore, finish, write_changes};
use crate::domain::ports::{Change, Changes, UserStore};
use async_trait::async_trait;

const COLUMNS: &str = "id, tenant_id, email, display_name, password_hash, status, team, created_at, updated_at, \
                       version, last_login_at, mfa_secret, mfa_confirmed_at, locale";

/// A `users` row as stored.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    tenant_id: String,
    email: String,
    display_name: String,
    password_hash: String,
    status: String,
    team: Option<String>,
    created_at: i64,
    updated_at: i64,
    version: i64,
    last_login_at: Option<i64>,
    mfa_secret: Option<String>,
    mfa_confirmed_at: Option<i64>,
    locale: Option<String>,
}

impl UserRow {
    /// The user without roles (they are read apart), its second factor's secret opened.
    fn into_user(self, secrets: &SecretBox) -> Result<User> {
        let row = self;
        let mfa_secret = match row.mfa_secret {
            Some(sealed) => Some(secrets.open(&sealed).ok_or_else(|| {
                corrupt(
                    "users.mfa_secret",
                    "does not open with this secrets key (was secrets.key replaced?)",
                )
            })?),
            None => None,
        };
        Ok(User {
            id: parse_uuid("users.id", &row.id)?.into(),
            tenant_id: parse_uuid("users.tenant_id", &row.tenant_id)?.into(),
            email: Email::from_stored(row.email),
            display_name: row.display_name,
            password_hash: row.password_hash,
            status: UserStatus::from_stored(&row.status),
            roles: Vec::new(),
            team: row.team,
            locale: row.locale,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_login_at: row.last_login_at,
            mfa: mfa_secret.map(|secret| Mfa {
                secret,
                confirmed_at: row.mfa_confirmed_at,
            }),
            version: row.version,
        })
    }
}

/// A user (deleted ones included) by id.
pub(super) async fn by_id(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
    id: UserId,
) -> Result<Option<User>> {
    read(tx, secrets, tenant, id, "").await
}

/// A user by id, its row locked for a change (`FOR UPDATE` on PostgreSQL; SQLite's writer
/// holds the whole store).
async fn get_to_change(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
    id: UserId,
) -> Result<Option<User>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    read(tx, secrets, tenant, id, lock).await
}

async fn read(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
    id: UserId,
    lock: &str,
) -> Result<Option<User>> {
    let sql = format!("select {COLUMNS} from users where tenant_id = $1 and id = $2{lock}");
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading users"))?;
    Ok(with_roles(tx, secrets, tenant, rows).await?.pop())
}

/// A user not deleted, by email.
pub(super) async fn by_email(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
    email: &Email,
) -> Result<Option<User>> {
    let sql = format!(
        "select {COLUMNS} from users where tenant_id = $1 and email = $2 and status <> 'deleted'"
    );
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(email.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading users"))?;
    Ok(with_roles(tx, secrets, tenant, rows).await?.pop())
}

/// Users in id order after `after`, at most `limit`; deleted ones only when the filter asks.
pub(super) async fn list(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
    filter: &UserFilter,
    after: Option<UserId>,
    limit: u32,
) -> Result<Vec<User>> {
    let sql = format!(
        "select {COLUMNS} from users \
         where tenant_id = $1 \
           and (($2 = '' and status <> 'deleted') or status = $2) \
           and ($3 = '' or exists (select 1 from user_roles r where r.user_id = users.id and r.role = $3)) \
           and id > $4 \
         order by id limit $5"
    );
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(filter.status.map(|s| s.as_str()).unwrap_or_default())
        .bind(filter.role.as_deref().unwrap_or_default())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading users"))?;
    with_roles(tx, secrets, tenant, rows).await
}

/// The users of `rows` with their roles, read in one statement over the rows' id range.
async fn with_roles(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
    rows: Vec<UserRow>,
) -> Result<Vec<User>> {
    let mut users = rows
        .into_iter()
        .map(|row| row.into_user(secrets))
        .collect::<Result<Vec<_>>>()?;
    let (Some(first), Some(last)) = (users.first(), users.last()) else {
        return Ok(users);
    };
    let (first, last) = (first.id.to_string(), last.id.to_string());
    let (lo, hi) = if first <= last {
        (first, last)
    } else {
        (last, first)
    };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select user_id, role from user_roles \
         where tenant_id = $1 and user_id >= $2 and user_id <= $3 order by role",
    )
    .bind(tenant.to_string())
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading roles"))?;
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (user, role) in rows {
        roles.entry(user).or_default().push(role);
    }
    for user in &mut users {
        user.roles = roles.remove(&user.id.to_string()).unwrap_or_default();
        user.roles.sort();
    }
    Ok(users)
}

/// Adds a user and its roles.
pub(super) async fn insert(tx: &mut Conn, secrets: &SecretBox, user: &User) -> Result<()> {
    sqlx::query(
        "insert into users (id, tenant_id, email, display_name, password_hash, status, team, created_at, \
         updated_at, last_login_at, version, mfa_secret, mfa_confirmed_at, locale) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
    .bind(user.mfa.as_ref().map(|m| secrets.seal(&m.secret)))
    .bind(user.mfa.as_ref().and_then(|m| m.confirmed_at))
    .bind(&user.locale)
    .execute(&mut *tx)
    .await
    .map_err(db("creating a user"))?;
    write_roles(tx, user).await
}

/// Saves a changed user (roles included) if it is still at `expected_version`; returns the rows
/// changed (0: stale).
pub(super) async fn update(
    tx: &mut Conn,
    secrets: &SecretBox,
    user: &User,
    expected_version: i64,
) -> Result<u64> {
    let done = sqlx::query(
        "update users set email = $3, display_name = $4, password_hash = $5, status = $6, team = $7, \
         updated_at = $8, version = $9, mfa_secret = $11, mfa_confirmed_at = $12, \
         mfa_last_step = case when $11 is null then 0 else mfa_last_step end, locale = $13 \
         where tenant_id = $1 and id = $2 and version = $10",
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
    .bind(user.mfa.as_ref().map(|m| secrets.seal(&m.secret)))
    .bind(user.mfa.as_ref().and_then(|m| m.confirmed_at))
    .bind(&user.locale)
    .execute(&mut *tx)
    .await
    .map_err(db("saving a user"))?;
    if done.rows_affected() > 0 {
        write_roles(tx, user).await?;
    }
    Ok(done.rows_affected())
}

/// Stamps the user's last login with the session's time.
pub(super) async fn stamp_login(tx: &mut Conn, session: &Session) -> Result<()> {
    sqlx::query("update users set last_login_at = $3 where tenant_id = $1 and id = $2")
        .bind(session.tenant_id.to_string())
        .bind(session.user_id.to_string())
        .bind(session.issued_at)
        .execute(tx)
        .await
        .map_err(db("recording a login"))
        .map(drop)
}

async fn write_roles(tx: &mut Conn, user: &User) -> Result<()> {
    sqlx::query("delete from user_roles where tenant_id = $1 and user_id = $2")
        .bind(user.tenant_id.to_string())
        .bind(user.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("saving roles"))?;
    for role in &user.roles {
        sqlx::query("insert into user_roles (tenant_id, user_id, role) values ($1, $2, $3)")
            .bind(user.tenant_id.to_string())
            .bind(user.id.to_string())
            .bind(role)
            .execute(&mut *tx)
            .await
            .map_err(db("saving roles"))?;
    }
    Ok(())
}

#[async_trait]
impl UserStore for SqlIamStore {
    async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>> {
        self.db
            .in_tenant(tenant, "reading users", async |tx| {
                by_id(tx, &self.secrets, tenant, id).await
            })
            .await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> Result<Option<User>> {
        self.db
            .in_tenant(tenant, "reading users", async |tx| {
                by_email(tx, &self.secrets, tenant, email).await
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
                list(tx, &self.secrets, tenant, filter, after, limit).await
            })
            .await
    }

    async fn count_active_holders(&self, tenant: TenantId, role: &str) -> Result<i64> {
        self.db
            .in_tenant(tenant, "counting role holders", async |tx| {
                super::roles::count_holders(tx, tenant, role, true).await
            })
            .await
    }

    async fn insert_user(&self, user: &User, changes: Changes) -> Result<()> {
        let mut tx = self.begin(user.tenant_id).await?;
        insert(&mut tx, &self.secrets, user).await?;
        finish(tx, user.tenant_id, changes, "creating a user").await
    }

    async fn update_user(
        &self,
        tenant: TenantId,
        id: UserId,
        mut change: Change<'_, User>,
    ) -> Result<User> {
        self.db
            .in_tenant_write(tenant, "saving a user", async |tx| {
                let mut user = get_to_change(tx, &self.secrets, tenant, id)
                    .await?
                    .ok_or_else(|| Error::not_found("user", id))?;
                let expected = user.version;
                let Some(changes) = change(&mut user)? else {
                    return Ok(user);
                };
                // Read under the write lock: no other writer can have moved it on.
                if update(tx, &self.secrets, &user, expected).await? == 0 {
                    return Err(Error::etag_mismatch("user").with_metadata("id", id.to_string()));
                }
                write_changes(tx, tenant, changes).await?;
                Ok(user)
            })
            .await
    }

    async fn record_login(&self, session: &Session, changes: Changes) -> Result<()> {
        let mut tx = self.begin(session.tenant_id).await?;
        stamp_login(&mut tx, session).await?;
        super::sessions::insert(&mut tx, session).await?;
        finish(tx, session.tenant_id, changes, "recording a login").await
    }
}
