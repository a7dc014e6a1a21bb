//! The second factor's rows: the step last accepted (on `users`), recovery codes
//! (`mfa_recovery_codes`) and sign-in challenges (`mfa_challenges`).

use crm_core::storage::Conn;
use crm_core::{Result, TenantId, UserId};

use super::{db, parse_uuid};
use crate::domain::Millis;
use crate::domain::mfa::Challenge;
use crate::domain::ports::SecondFactor;

use super::SqlIamStore;
use crate::domain::ports::SecondFactorStore;
use async_trait::async_trait;

/// Spends a code: a TOTP step later than the last accepted, or an unused recovery code. False
/// (nothing changed) when it was spent already.
pub(super) async fn spend(
    tx: &mut Conn,
    tenant: TenantId,
    user: UserId,
    factor: &SecondFactor,
    now: Millis,
) -> Result<bool> {
    let done = match factor {
        SecondFactor::Step(step) => sqlx::query(
            "update users set mfa_last_step = $3 \
             where tenant_id = $1 and id = $2 and mfa_secret is not null and mfa_last_step < $3",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(*step)
        .execute(tx)
        .await
        .map_err(db("accepting a code"))?,
        SecondFactor::RecoveryCode(hash) => sqlx::query(
            "update mfa_recovery_codes set used_at = $4 \
             where tenant_id = $1 and user_id = $2 and code_hash = $3 and used_at is null",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(hash)
        .bind(now)
        .execute(tx)
        .await
        .map_err(db("accepting a recovery code"))?,
    };
    Ok(done.rows_affected() == 1)
}

/// Replaces the user's recovery codes with `hashes` (none: removes them).
pub(super) async fn replace_recovery_codes(
    tx: &mut Conn,
    tenant: TenantId,
    user: UserId,
    hashes: &[String],
) -> Result<()> {
    sqlx::query("delete from mfa_recovery_codes where tenant_id = $1 and user_id = $2")
        .bind(tenant.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("replacing recovery codes"))?;
    for hash in hashes {
        sqlx::query(
            "insert into mfa_recovery_codes (tenant_id, user_id, code_hash) values ($1, $2, $3)",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(hash)
        .execute(&mut *tx)
        .await
        .map_err(db("storing recovery codes"))?;
    }
    Ok(())
}

/// Stores a challenge, dropping the tenant's expired ones.
pub(super) async fn insert_challenge(tx: &mut Conn, c: &Challenge) -> Result<()> {
    sqlx::query("delete from mfa_challenges where tenant_id = $1 and expires_at < $2")
        .bind(c.tenant_id.to_string())
        .bind(c.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db("dropping expired challenges"))?;
    sqlx::query(
        "insert into mfa_challenges (token_hash, tenant_id, user_id, created_at, expires_at, \
         enrollment_required, spent_at) values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&c.token_hash)
    .bind(c.tenant_id.to_string())
    .bind(c.user_id.to_string())
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(i64::from(c.enrollment_required))
    .bind(c.spent_at)
    .execute(tx)
    .await
    .map_err(db("storing a sign-in challenge"))
    .map(drop)
}

/// A challenge by its token's hash.
pub(super) async fn challenge(
    tx: &mut Conn,
    tenant: TenantId,
    hash: &str,
) -> Result<Option<Challenge>> {
    let row: Option<(String, i64, i64, i64, Option<i64>)> = sqlx::query_as(
        "select user_id, created_at, expires_at, enrollment_required, spent_at \
         from mfa_challenges where tenant_id = $1 and token_hash = $2",
    )
    .bind(tenant.to_string())
    .bind(hash)
    .fetch_optional(tx)
    .await
    .map_err(db("reading a sign-in challenge"))?;
    let Some((user, created_at, expires_at, enrollment_required, spent_at)) = row else {
        return Ok(None);
    };
    Ok(Some(Challenge {
        token_hash: hash.to_owned(),
        tenant_id: tenant,
        user_id: parse_uuid("mfa_challenges.user_id", &user)?.into(),
        created_at,
        expires_at,
        enrollment_required: enrollment_required != 0,
        spent_at,
    }))
}

/// Spends an open challenge; false when it was spent or expired already.
pub(super) async fn spend_challenge(
    tx: &mut Conn,
    tenant: TenantId,
    hash: &str,
    now: Millis,
) -> Result<bool> {
    let done = sqlx::query(
        "update mfa_challenges set spent_at = $3 \
         where tenant_id = $1 and token_hash = $2 and spent_at is null and expires_at > $3",
    )
    .bind(tenant.to_string())
    .bind(hash)
    .bind(now)
    .execute(tx)
    .await
    .map_err(db("spending a sign-in challenge"))?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl SecondFactorStore for SqlIamStore {
    async fn spend_second_factor(
        &self,
        tenant: TenantId,
        user: UserId,
        factor: &SecondFactor,
        now: Millis,
    ) -> Result<bool> {
        self.db
            .in_tenant(tenant, "accepting a code", async |tx| {
                spend(tx, tenant, user, factor, now).await
            })
            .await
    }

    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()> {
        self.db
            .in_tenant(
                challenge.tenant_id,
                "storing a sign-in challenge",
                async |tx| insert_challenge(tx, challenge).await,
            )
            .await
    }

    async fn challenge(&self, tenant: TenantId, hash: &str) -> Result<Option<Challenge>> {
        self.db
            .in_tenant(tenant, "reading a sign-in challenge", async |tx| {
                challenge(tx, tenant, hash).await
            })
            .await
    }

    async fn spend_challenge(&self, tenant: TenantId, hash: &str, now: Millis) -> Result<bool> {
        self.db
            .in_tenant(tenant, "spending a sign-in challenge", async |tx| {
                spend_challenge(tx, tenant, hash, now).await
            })
            .await
    }
}
