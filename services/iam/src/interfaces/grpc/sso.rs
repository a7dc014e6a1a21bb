//! SsoService: the tenant's OpenID provider settings.

use super::*;
use crate::domain::sso::{SsoProvider, SsoSettings};

fn settings_pb(p: &SsoProvider) -> pb::SsoSettings {
    let s = &p.settings;
    pb::SsoSettings {
        enabled: s.enabled,
        issuer_url: s.issuer_url.clone(),
        client_id: s.client_id.clone(),
        client_secret: String::new(),
        redirect_uri: s.redirect_uri.clone(),
        allowed_email_domains: s.allowed_email_domains.clone(),
        groups_claim: s.groups_claim.clone(),
        group_roles: s.group_roles.clone().into_iter().collect(),
        default_role: s.default_role.clone(),
        provision_users: s.provision_users,
        client_secret_set: !p.client_secret.is_empty(),
        update_time: ts(p.updated_at),
        etag: p.version.to_string(),
    }
}

#[tonic::async_trait]
impl pb::sso_service_server::SsoService for IamGrpc {
    async fn get_sso_settings(
        &self,
        request: Request<pb::GetSsoSettingsRequest>,
    ) -> Reply<pb::GetSsoSettingsResponse> {
        let caller = caller(&request)?;
        let provider = self.iam.get_sso_settings(&caller).await?;
        Ok(Response::new(pb::GetSsoSettingsResponse {
            settings: provider.as_ref().map(settings_pb),
        }))
    }

    async fn update_sso_settings(
        &self,
        request: Request<pb::UpdateSsoSettingsRequest>,
    ) -> Reply<pb::UpdateSsoSettingsResponse> {
        let caller = caller(&request)?;
        let Some(s) = request.into_inner().settings else {
            return Err(Error::invalid_field("settings", "is required").into());
        };
        for (field, value) in [
            ("settings.issuer_url", &s.issuer_url),
            ("settings.client_id", &s.client_id),
            ("settings.client_secret", &s.client_secret),
            ("settings.redirect_uri", &s.redirect_uri),
            ("settings.groups_claim", &s.groups_claim),
            ("settings.default_role", &s.default_role),
            ("settings.etag", &s.etag),
        ] {
            bounded(field, value, 2048)?;
        }
        for value in s
            .allowed_email_domains
            .iter()
            .chain(s.group_roles.keys())
            .chain(s.group_roles.values())
        {
            bounded("settings", value, MAX_TEXT)?;
        }
        let settings = SsoSettings {
            enabled: s.enabled,
            issuer_url: s.issuer_url,
            client_id: s.client_id,
            redirect_uri: s.redirect_uri,
            allowed_email_domains: s.allowed_email_domains,
            groups_claim: s.groups_claim,
            group_roles: s.group_roles.into_iter().collect(),
            default_role: s.default_role,
            provision_users: s.provision_users,
        };
        let provider = self
            .iam
            .update_sso_settings(&caller, settings, &s.client_secret, &s.etag)
            .await?;
        Ok(Response::new(pb::UpdateSsoSettingsResponse {
            settings: Some(settings_pb(&provider)),
        }))
    }
}
