//! Service identity: service tokens for the CRM's own services (OAuth2 client credentials), and
//! the directory they read users from.

use crm_core::auth::{AccessClaims, service_user_id};
use crm_core::{Error, Result, TenantId, UserId};
use uuid::Uuid;

use super::{Caller, Iam};
use crate::domain::Millis;
use crate::domain::service_account::{DIRECTORY_READ, account, secret_matches};
use crate::domain::tenant::TenantStatus;
use crate::domain::user::User;

/// A signed service token.
#[derive(Clone, Debug)]
pub struct ServiceToken {
    /// The JWT.
    pub token: String,
    /// Its expiry.
    pub expires_at: Millis,
}

/// How many users one LookupUsers may ask for.
pub const MAX_LOOKUP: usize = 100;

fn bad_client() -> Error {
    Error::unauthenticated(
        "unknown service or wrong secret: check the service's `auth.service_secret` against IAM's `iam.service_accounts`",
    )
    .with_reason("INVALID_CLIENT")
}

impl Iam {
    /// Client credentials: a token for `client` to call `audience` for `tenant`.
    #[tracing::instrument(skip_all, fields(client = %client, audience = %audience))]
    pub async fn issue_service_token(
        &self,
        client: &str,
        secret: &str,
        audience: &str,
        tenant: TenantId,
    ) -> Result<ServiceToken> {
        let stored = self.settings.service_accounts.get(client);
        let known = account(client);
        let (Some(stored), Some(known)) = (stored, known) else {
            return Err(bad_client());
        };
        if !secret_matches(secret, stored) {
            tracing::warn!("a service presented a wrong secret");
            return Err(bad_client());
        }
        if !known.audiences.contains(&audience) {
            return Err(Error::permission_denied(format!(
                "the {client} service may not call {audience}; it may call {}",
                known.audiences.join(", ")
            ))
            .with_reason("AUDIENCE_NOT_ALLOWED"));
        }
        self.store
            .find_tenant(&tenant.to_string())
            .await?
            .filter(|t| t.status == TenantStatus::Active)
            .ok_or_else(|| Error::not_found("tenant", tenant))?;
        let now = self.now();
        let exp = now + self.settings.service_token_ttl.as_millis() as i64;
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: audience.to_owned(),
            sub: service_user_id(client).to_string(),
            tid: tenant.to_string(),
            roles: Vec::new(),
            perms: known.permissions.iter().map(|p| (*p).to_owned()).collect(),
            team: None,
            exp: (exp / 1000) as u64,
            iat: (now / 1000) as u64,
            nbf: (now / 1000) as u64,
            jti: Uuid::now_v7().to_string(),
            svc: Some(client.to_owned()),
        };
        Ok(ServiceToken {
            token: self.keys.sign(&claims)?,
            expires_at: exp / 1000 * 1000,
        })
    }

    /// The users of `ids` in the calling service's tenant (unknown ones left out).
    pub async fn lookup_users(&self, caller: &Caller, ids: &[UserId]) -> Result<Vec<User>> {
        let p = &caller.principal;
        if p.service.is_none() {
            return Err(Error::permission_denied("the directory is for services"));
        }
        p.require(DIRECTORY_READ)?;
        if ids.len() > MAX_LOOKUP {
            return Err(Error::invalid_field(
                "user_ids",
                format!("at most {MAX_LOOKUP} ids per call"),
            ));
        }
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(user) = self.store.get_user(p.tenant_id, *id).await? {
                users.push(user);
            }
        }
        Ok(users)
    }
}
