//! AuthService: register, login, refresh, logout, the public keys.

use super::*;
use crate::application::{SignIn, Workspace};

struct Tokens {
    access_token: String,
    refresh_token: String,
    access_token_expire_time: Option<Timestamp>,
    refresh_token_expire_time: Option<Timestamp>,
}

fn tokens(t: &SessionTokens) -> Tokens {
    Tokens {
        access_token: t.access_token.clone(),
        refresh_token: t.refresh_token.clone(),
        access_token_expire_time: ts(t.access_expires_at),
        refresh_token_expire_time: ts(t.refresh_expires_at),
    }
}

const BEARER: &str = "Bearer";

#[tonic::async_trait]
impl pb::auth_service_server::AuthService for IamGrpc {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Reply<pb::RegisterResponse> {
        let origin = origin(&request);
        let r = request.into_inner();
        bounded("tenant_name", &r.tenant_name, MAX_TEXT)?;
        bounded("email", &r.email, MAX_TEXT)?;
        bounded("password", &r.password, MAX_PASSWORD)?;
        bounded("display_name", &r.display_name, MAX_TEXT)?;
        bounded("locale", &r.locale, MAX_ETAG)?;
        let (tenant, session) = self
            .iam
            .register(
                &r.tenant_name,
                &r.email,
                &r.password,
                (&r.display_name, &r.locale),
                &origin,
            )
            .await?;
        let t = tokens(&session);
        Ok(Response::new(pb::RegisterResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: BEARER.into(),
            access_token_expire_time: t.access_token_expire_time,
            refresh_token_expire_time: t.refresh_token_expire_time,
            tenant: Some(tenant_pb(&tenant)),
            user: Some(user_pb(&session.user)),
        }))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::LoginResponse> {
        let origin = origin(&request);
        let r = request.into_inner();
        bounded("tenant", &r.tenant, MAX_TEXT)?;
        bounded("email", &r.email, MAX_TEXT)?;
        bounded("password", &r.password, MAX_PASSWORD)?;
        let signed_in = self
            .iam
            .login(&r.tenant, &r.email, &r.password, &origin)
            .await?;
        let (session, workspace) = match signed_in {
            SignIn::Done(session, workspace) => (session, workspace),
            SignIn::SecondFactor(pending, workspace) => {
                return Ok(Response::new(pb::LoginResponse {
                    mfa_challenge: Some(pb::MfaChallenge {
                        mfa_token: pending.mfa_token,
                        expire_time: ts(pending.expires_at),
                        enrollment_required: pending.enrollment_required,
                    }),
                    workspace: Some(workspace_pb(&workspace)),
                    ..Default::default()
                }));
            }
            SignIn::Choose(workspaces) => {
                return Ok(Response::new(pb::LoginResponse {
                    workspaces: workspaces.iter().map(workspace_pb).collect(),
                    ..Default::default()
                }));
            }
        };
        let t = tokens(&session);
        Ok(Response::new(pb::LoginResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: BEARER.into(),
            access_token_expire_time: t.access_token_expire_time,
            refresh_token_expire_time: t.refresh_token_expire_time,
            user: Some(user_pb(&session.user)),
            mfa_challenge: None,
            workspace: Some(workspace_pb(&workspace)),
            workspaces: Vec::new(),
        }))
    }

    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Reply<pb::IssueServiceTokenResponse> {
        let r = request.into_inner();
        bounded("client_id", &r.client_id, MAX_TEXT)?;
        bounded("client_secret", &r.client_secret, MAX_TEXT)?;
        bounded("audience", &r.audience, MAX_TEXT)?;
        let tenant = TenantId::from(api::uuid("tenant_id", &r.tenant_id, "a tenant id")?);
        let issued = self
            .iam
            .issue_service_token(&r.client_id, &r.client_secret, &r.audience, tenant)
            .await?;
        Ok(Response::new(pb::IssueServiceTokenResponse {
            access_token: issued.token,
            token_type: BEARER.into(),
            expire_time: ts(issued.expires_at),
        }))
    }

    async fn start_sso(
        &self,
        request: Request<pb::StartSsoRequest>,
    ) -> Reply<pb::StartSsoResponse> {
        let tenant = bounded("tenant", &request.get_ref().tenant, MAX_TEXT)?;
        let started = self.iam.start_sso(tenant).await?;
        Ok(Response::new(pb::StartSsoResponse {
            authorization_url: started.authorization_url,
            state: started.state,
            expire_time: ts(started.expires_at),
        }))
    }

    async fn complete_sso(
        &self,
        request: Request<pb::CompleteSsoRequest>,
    ) -> Reply<pb::CompleteSsoResponse> {
        let origin = origin(&request);
        let r = request.into_inner();
        bounded("state", &r.state, MAX_TEXT)?;
        bounded("code", &r.code, 4096)?;
        let (session, created) = self.iam.complete_sso(&r.state, &r.code, &origin).await?;
        let t = tokens(&session);
        Ok(Response::new(pb::CompleteSsoResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: BEARER.into(),
            access_token_expire_time: t.access_token_expire_time,
            refresh_token_expire_time: t.refresh_token_expire_time,
            user: Some(user_pb(&session.user)),
            user_created: created,
        }))
    }

    async fn get_invitation(
        &self,
        request: Request<pb::GetInvitationRequest>,
    ) -> Reply<pb::GetInvitationResponse> {
        let token = bounded("token", &request.get_ref().token, MAX_TEXT)?;
        let view = self.iam.invitation(token).await?;
        Ok(Response::new(pb::GetInvitationResponse {
            workspace: Some(workspace_pb(&view.workspace)),
            email: view.user.email.to_string(),
            display_name: view.user.display_name.clone(),
            inviter_name: view.inviter_name,
            roles: view.user.roles.clone(),
            expire_time: ts(view.invitation.expires_at),
            sso_enabled: view.sso_enabled,
        }))
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Reply<pb::AcceptInvitationResponse> {
        let origin = origin(&request);
        let r = request.into_inner();
        bounded("token", &r.token, MAX_TEXT)?;
        bounded("password", &r.password, MAX_PASSWORD)?;
        bounded("display_name", &r.display_name, MAX_TEXT)?;
        let (workspace, user) = self
            .iam
            .accept_invitation(&r.token, &r.password, &r.display_name, &origin)
            .await?;
        Ok(Response::new(pb::AcceptInvitationResponse {
            workspace: Some(workspace_pb(&workspace)),
            user: Some(user_pb(&user)),
        }))
    }

    async fn verify_mfa(
        &self,
        request: Request<pb::VerifyMfaRequest>,
    ) -> Reply<pb::VerifyMfaResponse> {
        let origin = origin(&request);
        let r = request.into_inner();
        bounded("mfa_token", &r.mfa_token, MAX_TEXT)?;
        bounded("code", &r.code, MAX_TEXT)?;
        let (session, recovery_codes) = self.iam.verify_mfa(&r.mfa_token, &r.code, &origin).await?;
        let t = tokens(&session);
        Ok(Response::new(pb::VerifyMfaResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: BEARER.into(),
            access_token_expire_time: t.access_token_expire_time,
            refresh_token_expire_time: t.refresh_token_expire_time,
            user: Some(user_pb(&session.user)),
            recovery_codes: recovery_codes.unwrap_or_default(),
        }))
    }

    async fn enroll_mfa(
        &self,
        request: Request<pb::EnrollMfaRequest>,
    ) -> Reply<pb::EnrollMfaResponse> {
        let origin = origin(&request);
        let r = request.into_inner();
        bounded("mfa_token", &r.mfa_token, MAX_TEXT)?;
        let enrolment = self
            .iam
            .enroll_mfa_for_sign_in(&r.mfa_token, &origin)
            .await?;
        Ok(Response::new(pb::EnrollMfaResponse {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
        }))
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Reply<pb::RefreshResponse> {
        let origin = origin(&request);
        let r = request.into_inner();
        if r.refresh_token.is_empty() {
            return Err(Error::invalid_field("refresh_token", "must not be empty").into());
        }
        bounded("refresh_token", &r.refresh_token, MAX_TEXT)?;
        let session = self.iam.refresh(&r.refresh_token, &origin).await?;
        let t = tokens(&session);
        Ok(Response::new(pb::RefreshResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: BEARER.into(),
            access_token_expire_time: t.access_token_expire_time,
            refresh_token_expire_time: t.refresh_token_expire_time,
        }))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Reply<pb::LogoutResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        if r.refresh_token.is_empty() {
            return Err(Error::invalid_field("refresh_token", "must not be empty").into());
        }
        bounded("refresh_token", &r.refresh_token, MAX_TEXT)?;
        self.iam.logout(&caller, &r.refresh_token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_jwks(&self, _: Request<pb::GetJwksRequest>) -> Reply<pb::GetJwksResponse> {
        let keys = self
            .iam
            .signer()
            .public_keys()
            .into_iter()
            .map(|(kid, x)| pb::Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x,
                kid,
                alg: "EdDSA".into(),
                r#use: "sig".into(),
            })
            .collect();
        Ok(Response::new(pb::GetJwksResponse { keys }))
    }
}

fn workspace_pb(w: &Workspace) -> pb::Workspace {
    pb::Workspace {
        id: w.id.to_string(),
        name: w.name.clone(),
        slug: w.slug.clone(),
    }
}
