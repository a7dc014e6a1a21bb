//! Idempotency keys for Create RPCs (AIP-155 `request_id`), written once for every context.
//!
//! A create sent again with the same `request_id` and the same request gets the first response,
//! not a second resource nor `ALREADY_EXISTS`; the same key with a different request is
//! `INVALID_ARGUMENT` (`REQUEST_ID_REUSED`); a retry that arrives while the first is still
//! running is `ABORTED` with a retry delay. Keys are kept for [`KEEP`] in the context's own
//! store (table `idempotency_keys`, [`TABLES`], which the launcher adds to every store).
//!
//! A key belongs to its caller: (tenant, method, caller, `request_id`). Another user, key or
//! service sending the same `request_id` is another request; a replay answers only the caller
//! that made the resource. And the caller's right to create is checked before anything else,
//! replays included: a caller who lost the right since gets `PERMISSION_DENIED`, not the
//! stored answer.
//!
//! The key is claimed before the create runs and completed with the encoded response after it;
//! a failed create releases it, so a retry runs again. A process that dies between the create
//! and the completion leaves a claim that a retry takes over after [`ABANDONED_AFTER`]; that
//! retry runs the create again, which its own unique rules then answer (e.g. `ALREADY_EXISTS`).

use std::future::Future;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::context::{Principal, TenantId};
use crate::error::{Error, Result};
use crate::storage::{Database, Migrations, SharedTables, map_db_error};

/// The `idempotency_keys` table, in every context's store (see [`SharedTables`]).
pub static TABLES: SharedTables = SharedTables {
    owner: "crm_idempotency",
    migrations: &Migrations {
        sqlite: sqlx::migrate!("../../migrations/idempotency/sqlite"),
        postgres: sqlx::migrate!("../../migrations/idempotency/postgres"),
    },
};

/// How long a key is remembered.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);
/// A claim without a response this old is taken to be from a process that died.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// The longest `request_id` accepted (a UUID is 36).
pub const MAX_KEY_LEN: usize = 128;

const CLAIM: &str = "insert into idempotency_keys (tenant_id, method, request_id, fingerprint, response, created_at) \
                     values ($1, $2, $3, $4, null, $5) on conflict do nothing";
const READ: &str = "select fingerprint, response, created_at from idempotency_keys \
                    where tenant_id = $1 and method = $2 and request_id = $3";
const COMPLETE: &str = "update idempotency_keys set response = $4 \
                        where tenant_id = $1 and method = $2 and request_id = $3";
const RELEASE: &str =
    "delete from idempotency_keys where tenant_id = $1 and method = $2 and request_id = $3";
const EXPIRE: &str = "delete from idempotency_keys where tenant_id = $1 and created_at < $2";

/// Whether `caller` holds `permission` at some scope (`x`, `x:team`, `x:own`): enough to try a
/// create, whose own rules then decide on the resource.
fn holds(caller: &Principal, permission: &str) -> bool {
    caller.permissions.iter().any(|g| {
        g == permission
            || g.split_once(':')
                .is_some_and(|(name, _)| name == permission)
    })
}

/// The idempotency keys of one context's store.
#[derive(Clone, Debug)]
pub struct Idempotency {
    db: Database,
}

enum Claim {
    Ours,
    Done(Vec<u8>),
}

impl Idempotency {
    /// Keys in `db` (on PostgreSQL scoped to their tenant, for row-level security).
    pub fn new(db: Database) -> Idempotency {
        Idempotency { db }
    }

    /// Runs `create` at most once per (tenant, `method`, caller, `request_id`), once `caller`
    /// holds `permission` (at any scope); see the module docs. An empty `request_id` runs it
    /// unconditionally. `request` is what makes two sends "the same request": its encoding is
    /// fingerprinted, so it must be encoded deterministically.
    pub async fn once<Req, Res, F, Fut>(
        &self,
        caller: &Principal,
        permission: &str,
        method: &str,
        request_id: &str,
        request: &Req,
        create: F,
    ) -> Result<Res>
    where
        Req: prost::Message,
        Res: prost::Message + Default,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Res>>,
    {
        self.once_telling(caller, permission, method, request_id, request, create)
            .await
            .map(|(response, _)| response)
    }

    /// [`Idempotency::once`], also telling whether the answer is a replay of the first.
    pub async fn once_telling<Req, Res, F, Fut>(
        &self,
        caller: &Principal,
        permission: &str,
        method: &str,
        request_id: &str,
        request: &Req,
        create: F,
    ) -> Result<(Res, bool)>
    where
        Req: prost::Message,
        Res: prost::Message + Default,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Res>>,
    {
        // Rights first, replays included.
        if !holds(caller, permission) {
            return Err(Error::missing_permission(permission));
        }
        if request_id.is_empty() {
            return create().await.map(|r| (r, false));
        }
        let tenant = caller.tenant_id;
        // The key is the caller's own: a user, an API key or a service.
        let subject = match &caller.service {
            Some(service) => format!("service:{service}"),
            None => caller.user_id.to_string(),
        };
        let method = &format!("{method}/{subject}");
        if request_id.len() > MAX_KEY_LEN || !request_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid_field(
                "request_id",
                format!("must be at most {MAX_KEY_LEN} printable ASCII characters, e.g. a UUID"),
            ));
        }
        let fingerprint = hex::encode(Sha256::digest(request.encode_to_vec()));
        match self.claim(tenant, method, request_id, &fingerprint).await? {
            Claim::Done(bytes) => Res::decode(bytes.as_slice())
                .map(|r| (r, true))
                .map_err(|e| {
                    Error::internal("a stored response could not be read", anyhow::anyhow!(e))
                }),
            Claim::Ours => match create().await {
                Ok(response) => {
                    let key = [tenant.to_string(), method.to_owned(), request_id.to_owned()];
                    self.exec(tenant, COMPLETE, &key, Some(response.encode_to_vec()))
                        .await?;
                    Ok((response, false))
                }
                Err(err) => {
                    let key = [tenant.to_string(), method.to_owned(), request_id.to_owned()];
                    if let Err(release) = self.exec(tenant, RELEASE, &key, None).await {
                        tracing::warn!(error = %release.message(), "an idempotency key was not released");
                    }
                    Err(err)
                }
            },
        }
    }

    async fn claim(
        &self,
        tenant: TenantId,
        method: &str,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Claim> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let key = [tenant.to_string(), method.to_owned(), request_id.to_owned()];
        // Two rounds: the second after an expired or abandoned claim was cleared.
        for _ in 0..2 {
            let expired = now - KEEP.as_millis() as i64;
            let claimed = self
                .claim_or_read(tenant, &key, fingerprint, now, expired)
                .await?;
            let Some((stored, response, created_at)) = claimed else {
                return Ok(Claim::Ours);
            };
            if stored != fingerprint {
                return Err(Error::invalid_field(
                    "request_id",
                    "was already used for a different request; send a new request_id for a new request",
                )
                .with_reason("REQUEST_ID_REUSED"));
            }
            match response {
                Some(bytes) => return Ok(Claim::Done(bytes)),
                None if now - created_at > ABANDONED_AFTER.as_millis() as i64 => {
                    self.exec(tenant, RELEASE, &key, None).await?;
                }
                None => {
                    return Err(Error::new(
                        crate::ErrorKind::Aborted,
                        "a request with this request_id is still being processed; retry shortly",
                    )
                    .with_reason("REQUEST_IN_PROGRESS")
                    .with_retry_after(Duration::from_secs(1)));
                }
            }
        }
        Err(Error::new(
            crate::ErrorKind::Aborted,
            "this request_id is contended; retry shortly",
        )
        .with_retry_after(Duration::from_secs(1)))
    }

    /// Drops the tenant's expired keys, claims the key, and returns the existing claim if the
    /// key was taken: (fingerprint, response, created_at).
    async fn claim_or_read(
        &self,
        tenant: TenantId,
        [t, method, id]: &[String; 3],
        fingerprint: &str,
        now: i64,
        expired: i64,
    ) -> Result<Option<(String, Option<Vec<u8>>, i64)>> {
        let db = |e| map_db_error(e, &[], "using an idempotency key");
        let mut tx = self.db.begin_for(tenant).await.map_err(db)?;
        sqlx::query(EXPIRE)
            .bind(t)
            .bind(expired)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let done = sqlx::query(CLAIM)
            .bind(t)
            .bind(method)
            .bind(id)
            .bind(fingerprint)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let existing = if done.rows_affected() == 1 {
            None
        } else {
            sqlx::query_as::<_, (String, Option<Vec<u8>>, i64)>(READ)
                .bind(t)
                .bind(method)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
        };
        tx.commit().await.map_err(db)?;
        Ok(existing)
    }

    async fn exec(
        &self,
        tenant: TenantId,
        sql: &'static str,
        [t, method, id]: &[String; 3],
        response: Option<Vec<u8>>,
    ) -> Result<()> {
        let db = |e| map_db_error(e, &[], "using an idempotency key");
        let mut tx = self.db.begin_for(tenant).await.map_err(db)?;
        let mut q = sqlx::query(sql).bind(t).bind(method).bind(id);
        if let Some(bytes) = response {
            q = q.bind(bytes);
        }
        q.execute(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)
    }
}
