//! Refresh-token sessions (`sessions`).

use crm_core::storage::Conn;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::{db, parse_uuid};
use crate::domain::Millis;
use crate::domain::session::Session;

use super::{SqlIamStore, finish};
use crate::domain::ports::{Changes, SessionStore};
use async_trait::async_trait;

/// A `sessions` row as stored.
#[derive(sqlx::FromRow)]
struct SessionRow {
    token_hash: String,
    family_id: String,
    tenant_id: String,
    user_id: String,
    issued_at: i64,
    started_at: i64,
    expires_at: i64,
    spent_at: Option<i64>,
    revoked_at: Option<i64>,
    method: String,
}

const COLUMNS: &str = "token_hash, family_id, tenant_id, user_id, issued_at, started_at, expires_at, spent_at, revoked_at, method";

impl TryFrom<SessionRow> for Session {
    type Error = crm_core::Error;

    fn try_from(row: SessionRow) -> Result<Session> {
        Ok(Session {
            token_hash: row.token_hash,
            family_id: parse_uuid("sessions.family_id", &row.family_id)?,
            tenant_id: parse_uuid("sessions.tenant_id", &row.tenant_id)?.into(),
            user_id: parse_uuid("sessions.user_id", &row.user_id)?.into(),
            issued_at: row.issued_at,
            started_at: row.started_at,
            expires_at: row.expires_at,
            spent_at: row.spent_at,
            revoked_at: row.revoked_at,
            method: crate::domain::session::SignInMethod::parse(&row.method),
        })
    }
}

/// Stores a refresh token.
pub(super) async fn insert(tx: &mut Conn, s: &Session) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into sessions ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )))
    .bind(&s.token_hash)
    .bind(s.family_id.to_string())
    .bind(s.tenant_id.to_string())
    .bind(s.user_id.to_string())
    .bind(s.issued_at)
    .bind(s.started_at)
    .bind(s.expires_at)
    .bind(s.spent_at)
    .bind(s.revoked_at)
    .bind(s.method.as_str())
    .execute(tx)
    .await
    .map_err(db("storing a session"))
    .map(drop)
}

/// A refresh token by hash.
pub(super) async fn by_hash(
    tx: &mut Conn,
    tenant: TenantId,
    hash: &str,
) -> Result<Option<Session>> {
    let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from sessions where tenant_id = $1 and token_hash = $2"
    )))
    .bind(tenant.to_string())
    .bind(hash)
    .fetch_optional(tx)
    .await
    .map_err(db("reading a session"))?;
    row.map(Session::try_from).transpose()
}

/// The tokens of a user that can still refresh (one per live session), newest first.
pub(super) async fn live(
    tx: &mut Conn,
    tenant: TenantId,
    user: UserId,
    now: Millis,
) -> Result<Vec<Session>> {
    let rows: Vec<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from sessions where tenant_id = $1 and user_id = $2 \
         and spent_at is null and revoked_at is null and expires_at > $3 order by issued_at desc"
    )))
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(now)
    .fetch_all(tx)
    .await
    .map_err(db("reading sessions"))?;
    rows.into_iter().map(Session::try_from).collect()
}

/// Spends a valid token; false when it was spent or revoked already.
pub(super) async fn spend(
    tx: &mut Conn,
    tenant: TenantId,
    hash: &str,
    now: Millis,
) -> Result<bool> {
    let done = sqlx::query(
        "update sessions set spent_at = $3 \
         where tenant_id = $1 and token_hash = $2 and spent_at is null and revoked_at is null",
    )
    .bind(tenant.to_string())
    .bind(hash)
    .bind(now)
    .execute(tx)
    .await
    .map_err(db("rotating a session"))?;
    Ok(done.rows_affected() > 0)
}

/// Revokes every token of a family.
pub(super) async fn revoke_family(
    tx: &mut Conn,
    tenant: TenantId,
    family: Uuid,
    at: Millis,
) -> Result<()> {
    sqlx::query(
        "update sessions set revoked_at = $3 where tenant_id = $1 and family_id = $2 and revoked_at is null",
    )
    .bind(tenant.to_string())
    .bind(family.to_string())
    .bind(at)
    .execute(tx)
    .await
    .map_err(db("revoking a session family"))
    .map(drop)
}

/// Revokes every token of a user.
pub(super) async fn revoke_user(
    tx: &mut Conn,
    tenant: TenantId,
    user: UserId,
    at: Millis,
) -> Result<()> {
    sqlx::query(
        "update sessions set revoked_at = $3 where tenant_id = $1 and user_id = $2 and revoked_at is null",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(at)
    .execute(tx)
    .await
    .map_err(db("revoking sessions"))
    .map(drop)
}

#[async_trait]
impl SessionStore for SqlIamStore {
    async fn insert_session(&self, session: &Session) -> Result<()> {
        self.db
            .in_tenant(session.tenant_id, "storing a session", async |tx| {
                insert(tx, session).await
            })
            .await
    }

    async fn session_by_hash(&self, tenant: TenantId, hash: &str) -> Result<Option<Session>> {
        self.db
            .in_tenant(tenant, "reading a session", async |tx| {
                by_hash(tx, tenant, hash).await
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
        if !spend(&mut tx, tenant, old_hash, now).await? {
            return Ok(false);
        }
        insert(&mut tx, new).await?;
        tx.commit().await.map_err(db("rotating a session"))?;
        Ok(true)
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Millis,
    ) -> Result<Vec<Session>> {
        self.db
            .in_tenant(tenant, "reading sessions", async |tx| {
                live(tx, tenant, user, now).await
            })
            .await
    }

    async fn revoke_family(
        &self,
        tenant: TenantId,
        family: Uuid,
        now: Millis,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(tenant).await?;
        revoke_family(&mut tx, tenant, family, now).await?;
        finish(tx, tenant, changes, "revoking a session family").await
    }
}
