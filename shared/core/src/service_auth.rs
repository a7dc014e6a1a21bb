//! The client side of service identity (microservices mode): a service's own short-lived tokens,
//! one per (tenant, callee), got from IAM with the OAuth2 client-credentials grant
//! (`AuthService.IssueServiceToken`) and renewed a minute before they expire, so no call ever
//! carries an expired one.
//!
//! Work done for a user (a request in flight) forwards that user's access token instead, and the
//! callee authorizes the user; these tokens are for background work (saga recovery, event
//! consumers), acting for the tenant the saga or event names, with only the permissions the
//! service's account grants.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crm_proto::crm::iam::v1::IssueServiceTokenRequest;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;

use crate::TenantId;
use crate::clock::Clock;
use crate::config::Secret;
use crate::upstream::Balanced;

/// How long before its expiry a token is replaced.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// A service's tokens, cached per tenant and callee.
#[derive(Clone)]
pub struct ServiceTokens {
    iam: AuthServiceClient<Balanced>,
    name: String,
    secret: Secret,
    clock: Arc<dyn Clock>,
    cache: Arc<std::sync::Mutex<Cached>>,
}

/// (tenant, audience) → (token, expiry in milliseconds).
type Cached = HashMap<(TenantId, String), (String, i64)>;

impl std::fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokens")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ServiceTokens {
    /// Tokens of the service `name` (its account in IAM) with its `secret`, from IAM at `iam`.
    pub fn new(
        iam: Balanced,
        name: impl Into<String>,
        secret: Secret,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            iam: AuthServiceClient::new(iam),
            name: name.into(),
            secret,
            clock,
            cache: Arc::default(),
        }
    }

    /// A token to call `audience` (`crm.customer`) for `tenant`: the cached one while it has
    /// more than [`RENEW_BEFORE`] left, else a new one from IAM.
    pub async fn token(&self, tenant: TenantId, audience: &str) -> Result<String, tonic::Status> {
        let key = (tenant, audience.to_owned());
        let now = self.clock.now_millis();
        let renew_before = RENEW_BEFORE.as_millis() as i64;
        if let Some((token, expires_at)) = self.cache.lock().expect("not poisoned").get(&key)
            && now + renew_before < *expires_at
        {
            return Ok(token.clone());
        }
        let issued = self
            .iam
            .clone()
            .issue_service_token(IssueServiceTokenRequest {
                client_id: self.name.clone(),
                client_secret: self.secret.expose().to_owned(),
                audience: audience.to_owned(),
                tenant_id: tenant.to_string(),
            })
            .await?
            .into_inner();
        let expires_at = issued
            .expire_time
            .map(|t| crate::api::millis(&t))
            .unwrap_or(now);
        self.cache
            .lock()
            .expect("not poisoned")
            .insert(key, (issued.access_token.clone(), expires_at));
        Ok(issued.access_token)
    }

    /// `message` as a request to `audience` for `tenant`, with this service's token.
    pub async fn authorize<T>(
        &self,
        message: T,
        tenant: TenantId,
        audience: &str,
    ) -> Result<tonic::Request<T>, tonic::Status> {
        let token = self.token(tenant, audience).await?;
        let mut request = tonic::Request::new(message);
        let value = format!("Bearer {token}").parse().map_err(|_| {
            tonic::Status::internal("IAM issued a token that is not a header value")
        })?;
        request.metadata_mut().insert("authorization", value);
        // The callee's work joins the caller's trace.
        if let Some(traceparent) = crate::telemetry::current_traceparent()
            .and_then(|t| tonic::metadata::MetadataValue::try_from(t).ok())
        {
            request.metadata_mut().insert("traceparent", traceparent);
        }
        Ok(request)
    }
}
