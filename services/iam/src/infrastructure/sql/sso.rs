//! Single sign-on's rows: each tenant's provider (`sso_settings`), sign-ins in flight
//! (`sso_flows`) and linked provider accounts (`user_identities`).

use crm_core::storage::Conn;
use crm_core::{Error, Result, TenantId, UserId};

use super::{corrupt, db, parse_uuid};
use crate::domain::Millis;
use crate::domain::sso::{Flow, SsoProvider, SsoSettings};
use crate::infrastructure::secrets::SecretBox;

use super::{SqlIamStore, write_changes};
use crate::domain::ports::{Change, SsoStore};
use async_trait::async_trait;

/// The tenant's provider.
pub(super) async fn provider(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
) -> Result<Option<SsoProvider>> {
    read(tx, secrets, tenant, "").await
}

async fn read(
    tx: &mut Conn,
    secrets: &SecretBox,
    tenant: TenantId,
    lock: &str,
) -> Result<Option<SsoProvider>> {
    let row: Option<(String, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select settings, client_secret, updated_at, version from sso_settings where tenant_id = $1{lock}"
    )))
    .bind(tenant.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading the single sign-on settings"))?;
    let Some((settings, client_secret, updated_at, version)) = row else {
        return Ok(None);
    };
    Ok(Some(SsoProvider {
        tenant_id: tenant,
        settings: serde_json::from_str::<SsoSettings>(&settings)
            .map_err(|e| corrupt("sso_settings.settings", e))?,
        client_secret: secrets.open(&client_secret).ok_or_else(|| {
            corrupt(
                "sso_settings.client_secret",
                "does not open with this secrets key (was secrets.key replaced?)",
            )
        })?,
        updated_at,
        version,
    }))
}

/// Inserts (`expected_version` 0) or updates the provider; returns the rows changed.
pub(super) async fn save(
    tx: &mut Conn,
    secrets: &SecretBox,
    p: &SsoProvider,
    expected_version: i64,
) -> Result<u64> {
    let sealed = secrets.seal(&p.client_secret);
    let settings = serde_json::to_string(&p.settings).expect("settings serialise");
    let done = if expected_version == 0 {
        sqlx::query(
            "insert into sso_settings (tenant_id, settings, client_secret, updated_at, version) \
             values ($1, $2, $3, $4, $5) on conflict (tenant_id) do nothing",
        )
        .bind(p.tenant_id.to_string())
        .bind(settings)
        .bind(&sealed)
        .bind(p.updated_at)
        .bind(p.version)
        .execute(tx)
        .await
    } else {
        sqlx::query(
            "update sso_settings set settings = $2, client_secret = $3, updated_at = $4, version = $5 \
             where tenant_id = $1 and version = $6",
        )
        .bind(p.tenant_id.to_string())
        .bind(settings)
        .bind(&sealed)
        .bind(p.updated_at)
        .bind(p.version)
        .bind(expected_version)
        .execute(tx)
        .await
    }
    .map_err(db("saving the single sign-on settings"))?;
    Ok(done.rows_affected())
}

/// Stores a flow, dropping the tenant's expired ones.
pub(super) async fn insert_flow(tx: &mut Conn, f: &Flow) -> Result<()> {
    sqlx::query("delete from sso_flows where tenant_id = $1 and expires_at < $2")
        .bind(f.tenant_id.to_string())
        .bind(f.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db("dropping expired sign-ins"))?;
    sqlx::query(
        "insert into sso_flows (state_hash, tenant_id, nonce, pkce_verifier, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&f.state_hash)
    .bind(f.tenant_id.to_string())
    .bind(&f.nonce)
    .bind(&f.pkce_verifier)
    .bind(f.created_at)
    .bind(f.expires_at)
    .execute(tx)
    .await
    .map_err(db("storing a sign-in"))
    .map(drop)
}

/// Spends an open flow and returns it.
pub(super) async fn take_flow(
    tx: &mut Conn,
    tenant: TenantId,
    state_hash: &str,
    now: Millis,
) -> Result<Option<Flow>> {
    let spent = sqlx::query(
        "update sso_flows set spent_at = $3 \
         where tenant_id = $1 and state_hash = $2 and spent_at is null and expires_at > $3",
    )
    .bind(tenant.to_string())
    .bind(state_hash)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db("spending a sign-in"))?;
    if spent.rows_affected() != 1 {
        return Ok(None);
    }
    let (nonce, pkce_verifier, created_at, expires_at): (String, String, i64, i64) =
        sqlx::query_as(
            "select nonce, pkce_verifier, created_at, expires_at from sso_flows \
             where tenant_id = $1 and state_hash = $2",
        )
        .bind(tenant.to_string())
        .bind(state_hash)
        .fetch_one(tx)
        .await
        .map_err(db("reading a sign-in"))?;
    Ok(Some(Flow {
        state_hash: state_hash.to_owned(),
        tenant_id: tenant,
        nonce,
        pkce_verifier,
        created_at,
        expires_at,
    }))
}

/// The user a provider account is linked to.
pub(super) async fn identity_user(
    tx: &mut Conn,
    tenant: TenantId,
    issuer: &str,
    subject: &str,
) -> Result<Option<UserId>> {
    let row: Option<(String,)> = sqlx::query_as(
        "select user_id from user_identities where tenant_id = $1 and issuer = $2 and subject = $3",
    )
    .bind(tenant.to_string())
    .bind(issuer)
    .bind(subject)
    .fetch_optional(tx)
    .await
    .map_err(db("reading linked accounts"))?;
    row.map(|(id,)| parse_uuid("user_identities.user_id", &id).map(UserId::from))
        .transpose()
}

/// Links a provider account to a user.
pub(super) async fn link(
    tx: &mut Conn,
    tenant: TenantId,
    (issuer, subject, user): (&str, &str, UserId),
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "insert into user_identities (tenant_id, issuer, subject, user_id, created_at) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.to_string())
    .bind(issuer)
    .bind(subject)
    .bind(user.to_string())
    .bind(now)
    .execute(tx)
    .await
    .map_err(db("linking a provider account"))
    .map(drop)
}

#[async_trait]
impl SsoStore for SqlIamStore {
    async fn sso_provider(&self, tenant: TenantId) -> Result<Option<SsoProvider>> {
        self.db
            .in_tenant(tenant, "reading the single sign-on settings", async |tx| {
                provider(tx, &self.secrets, tenant).await
            })
            .await
    }

    async fn update_sso_provider(
        &self,
        tenant: TenantId,
        mut change: Change<'_, Option<SsoProvider>>,
    ) -> Result<Option<SsoProvider>> {
        let doing = "saving the single sign-on settings";
        self.db
            .in_tenant_write(tenant, doing, async |tx| {
                // A first provider has no row to lock: on PostgreSQL two first ones at once
                // meet the primary key (`on conflict do nothing`, then no row changed).
                let lock = crm_core::storage::Engine::of(tx).row_lock();
                let mut provider = read(tx, &self.secrets, tenant, lock).await?;
                let expected = provider.as_ref().map_or(0, |p| p.version);
                let Some(changes) = change(&mut provider)? else {
                    return Ok(provider);
                };
                let Some(stored) = &provider else {
                    return Ok(None);
                };
                if save(tx, &self.secrets, stored, expected).await? == 0 {
                    return Err(Error::etag_mismatch("single sign-on settings")
                        .with_metadata("id", tenant.to_string()));
                }
                write_changes(tx, tenant, changes).await?;
                Ok(provider)
            })
            .await
    }

    async fn insert_sso_flow(&self, flow: &Flow) -> Result<()> {
        self.db
            .in_tenant(flow.tenant_id, "storing a sign-in", async |tx| {
                insert_flow(tx, flow).await
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
                take_flow(tx, tenant, state_hash, now).await
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
                identity_user(tx, tenant, issuer, subject).await
            })
            .await
    }
}
