//! ApiKeyService: the keys of integrations.

use super::*;
use crate::domain::api_key::ApiKey;

/// The key as listed: never its hash or secret.
fn key_pb(key: &ApiKey) -> pb::ApiKey {
    pb::ApiKey {
        id: key.id.to_string(),
        tenant_id: key.tenant_id.to_string(),
        name: key.name.clone(),
        role_id: key.role_id.clone(),
        prefix: key.prefix.clone(),
        created_by: key.created_by.to_string(),
        create_time: ts(key.created_at),
        expire_time: key.expires_at.and_then(ts),
        last_use_time: key.last_used_at.and_then(ts),
        revoke_time: key.revoked_at.and_then(ts),
    }
}

fn key_id(raw: &str) -> Result<uuid::Uuid, Error> {
    api::uuid("id", raw, "an API key id")
}

#[tonic::async_trait]
impl pb::api_key_service_server::ApiKeyService for IamGrpc {
    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Reply<pb::CreateApiKeyResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        bounded("name", &r.name, MAX_TEXT)?;
        bounded("role_id", &r.role_id, api::MAX_ID_LEN)?;
        let expires_at = r.expire_time.as_ref().map(api::millis);
        let response = self
            .iam
            .idempotency()
            .once(
                &caller.principal,
                "api_keys.manage",
                "CreateApiKey",
                &r.request_id,
                &r,
                || async {
                    let issued = self
                        .iam
                        .create_api_key(&caller, &r.name, &r.role_id, expires_at)
                        .await?;
                    Ok(pb::CreateApiKeyResponse {
                        api_key: Some(key_pb(&issued.record)),
                        secret: issued.secret,
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Reply<pb::ListApiKeysResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let page = api::page("api_keys", r.page_size, &r.page_token)?;
        let before = api::uuid_cursor(&page)?;
        let mut keys = self
            .iam
            .list_api_keys(&caller, before, page.size + 1)
            .await?;
        let more = keys.len() > page.size as usize;
        keys.truncate(page.size as usize);
        let next_page_token = match keys.last() {
            Some(last) if more => api::page_token("api_keys", &last.id.to_string()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: keys.iter().map(key_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_api_key(
        &self,
        request: Request<pb::GetApiKeyRequest>,
    ) -> Reply<pb::GetApiKeyResponse> {
        let caller = caller(&request)?;
        let id = key_id(&request.get_ref().id)?;
        let key = self.iam.get_api_key(&caller, id).await?;
        Ok(Response::new(pb::GetApiKeyResponse {
            api_key: Some(key_pb(&key)),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Reply<pb::RevokeApiKeyResponse> {
        let caller = caller(&request)?;
        let id = key_id(&request.get_ref().id)?;
        let key = self.iam.revoke_api_key(&caller, id).await?;
        Ok(Response::new(pb::RevokeApiKeyResponse {
            api_key: Some(key_pb(&key)),
        }))
    }
}
