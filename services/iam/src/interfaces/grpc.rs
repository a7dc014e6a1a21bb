//! gRPC ⇄ use cases: decoding requests (ids, masks, page tokens), calling [`Iam`], encoding
//! responses. No business rules here.

use crm_core::api::{self, bounded, mask_paths};
use crm_core::authz::Resource;
use crm_core::{Error, RequestContext, TenantId, UserId};
use crm_proto::crm::iam::v1 as pb;
use prost_types::Timestamp;
use tonic::{Request, Response, Status};

use crate::application::roles::RoleView;
use crate::application::{Caller, Iam, SessionTokens, UserChanges};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin};
use crate::domain::ports::{AuditFilter, UserFilter};
use crate::domain::tenant::{Tenant, TenantSettings, TenantStatus};
use crate::domain::user::{User, UserStatus};

/// IAM's six gRPC services over one [`Iam`].
#[derive(Clone)]
pub struct IamGrpc {
    iam: Iam,
}

impl IamGrpc {
    /// Serves `iam`.
    pub fn new(iam: Iam) -> IamGrpc {
        IamGrpc { iam }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn origin<T>(request: &Request<T>) -> Origin {
    let context = request.extensions().get::<RequestContext>();
    Origin {
        // The IP alone: it keys the per-address login throttle, and the port says nothing.
        client_address: request.remote_addr().map(|a| a.ip().to_string()),
        user_agent: request
            .metadata()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        correlation_id: context.map(|c| c.correlation_id.clone()),
        traceparent: context.and_then(|c| c.traceparent.clone()),
    }
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Error> {
    let principal = RequestContext::of(request)?.principal()?.clone();
    Ok(Caller {
        principal,
        origin: origin(request),
    })
}

fn user_id(field: &str, raw: &str) -> Result<UserId, Error> {
    api::uuid(field, raw, "a user id").map(UserId::from)
}

fn ts(millis: Millis) -> Option<Timestamp> {
    Some(api::timestamp(millis))
}

/// The longest name, description or team a request may carry, in bytes, checked before any
/// rule reads it (the rules then count characters).
const MAX_TEXT: usize = 1024;
/// The longest password a request may carry, in bytes (the rule allows 128 characters).
const MAX_PASSWORD: usize = 1024;
/// The most permissions one role may grant (the catalog has fewer).
const MAX_GRANTS: usize = 100;

fn user_pb(user: &User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        tenant_id: user.tenant_id.to_string(),
        email: user.email.to_string(),
        display_name: user.display_name.clone(),
        status: match user.status {
            UserStatus::Active => pb::UserStatus::Active,
            UserStatus::Deactivated => pb::UserStatus::Deactivated,
            UserStatus::Deleted => pb::UserStatus::Deleted,
        } as i32,
        roles: user.roles.clone(),
        team: user.team.clone().unwrap_or_default(),
        create_time: ts(user.created_at),
        update_time: ts(user.updated_at),
        last_login_time: user.last_login_at.and_then(ts),
        etag: user.etag(),
    }
}

fn tenant_pb(tenant: &Tenant) -> pb::Tenant {
    let s = &tenant.settings;
    pb::Tenant {
        id: tenant.id.to_string(),
        name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        status: match tenant.status {
            TenantStatus::Active => pb::TenantStatus::Active,
            TenantStatus::Suspended => pb::TenantStatus::Suspended,
        } as i32,
        settings: Some(pb::TenantSettings {
            default_currency_code: s.default_currency_code.clone(),
            time_zone: s.time_zone.clone(),
            locale: s.locale.clone(),
            deal_approval_threshold_units: s.deal_approval_threshold_units,
        }),
        create_time: ts(tenant.created_at),
        update_time: ts(tenant.updated_at),
        etag: tenant.version.to_string(),
    }
}

fn role_pb(view: &RoleView) -> pb::Role {
    let r = &view.role;
    pb::Role {
        id: if view.built_in {
            r.name.clone()
        } else {
            r.id.to_string()
        },
        tenant_id: r.tenant_id.to_string(),
        name: r.name.clone(),
        description: r.description.clone(),
        permissions: r.permissions.clone(),
        built_in: view.built_in,
        create_time: if view.built_in {
            None
        } else {
            ts(r.created_at)
        },
        update_time: if view.built_in {
            None
        } else {
            ts(r.updated_at)
        },
        etag: r.version.to_string(),
    }
}

fn audit_pb(e: &AuditEntry) -> pb::AuditEvent {
    pb::AuditEvent {
        id: e.id.to_string(),
        tenant_id: e.tenant_id.to_string(),
        kind: e.kind as i32,
        actor_id: e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        target_type: e.target_type.clone(),
        target_id: e.target_id.clone(),
        outcome: e.outcome as i32,
        client_address: e.origin.client_address.clone().unwrap_or_default(),
        user_agent: e.origin.user_agent.clone().unwrap_or_default(),
        correlation_id: e.origin.correlation_id.clone().unwrap_or_default(),
        details: e.details.clone().into_iter().collect(),
        create_time: ts(e.created_at),
    }
}

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
        let (tenant, session) = self
            .iam
            .register(
                &r.tenant_name,
                &r.email,
                &r.password,
                &r.display_name,
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
        let session = self
            .iam
            .login(&r.tenant, &r.email, &r.password, &origin)
            .await?;
        let t = tokens(&session);
        Ok(Response::new(pb::LoginResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: BEARER.into(),
            access_token_expire_time: t.access_token_expire_time,
            refresh_token_expire_time: t.refresh_token_expire_time,
            user: Some(user_pb(&session.user)),
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
            .keys()
            .public_keys()
            .map(|(kid, x)| pb::Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: x.to_owned(),
                kid: kid.to_owned(),
                alg: "EdDSA".into(),
                r#use: "sig".into(),
            })
            .collect();
        Ok(Response::new(pb::GetJwksResponse { keys }))
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for IamGrpc {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Reply<pb::CreateUserResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let u = r.user.clone().unwrap_or_default();
        bounded("user.email", &u.email, MAX_TEXT)?;
        bounded("user.display_name", &u.display_name, MAX_TEXT)?;
        bounded("user.team", &u.team, MAX_TEXT)?;
        bounded("password", &r.password, MAX_PASSWORD)?;
        api::bounded_list("user.roles", &u.roles, MAX_GRANTS, api::MAX_ID_LEN)?;
        // The password is not part of what makes a retry "the same request": its hash must not
        // sit in the idempotency table beside the request.
        let fingerprint = pb::CreateUserRequest {
            password: String::new(),
            ..r.clone()
        };
        let response = self
            .iam
            .idempotency()
            .once(
                caller.principal.tenant_id,
                "CreateUser",
                &r.request_id,
                &fingerprint,
                || async {
                    let user = self
                        .iam
                        .create_user(
                            &caller,
                            &u.email,
                            &u.display_name,
                            &r.password,
                            u.roles.clone(),
                            &u.team,
                        )
                        .await?;
                    Ok(pb::CreateUserResponse {
                        user: Some(user_pb(&user)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Reply<pb::ListUsersResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let status = match api::enum_filter::<pb::UserStatus>("status", r.status)? {
            None | Some(pb::UserStatus::Unspecified) => None,
            Some(pb::UserStatus::Active) => Some(UserStatus::Active),
            Some(pb::UserStatus::Deactivated) => Some(UserStatus::Deactivated),
            Some(pb::UserStatus::Deleted) => Some(UserStatus::Deleted),
        };
        let role = if r.role.is_empty() {
            None
        } else {
            Some(api::id("role", &r.role)?)
        };
        let filter = UserFilter { status, role };
        let page = api::page("users", r.page_size, &r.page_token)?;
        let after = api::uuid_cursor(&page)?.map(UserId::from);
        let page = self
            .iam
            .list_users(&caller, filter, page.size, after)
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.users.iter().map(user_pb).collect(),
            next_page_token: page
                .next_after
                .map(|id| api::page_token("users", &id.to_string()))
                .unwrap_or_default(),
        }))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Reply<pb::GetUserResponse> {
        let caller = caller(&request)?;
        let id = user_id("id", &request.get_ref().id)?;
        let user = self.iam.get_user(&caller, id).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user_pb(&user)),
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Reply<pb::UpdateUserResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let u = r
            .user
            .ok_or_else(|| Error::invalid_field("user", "is required"))?;
        let id = user_id("user.id", &u.id)?;
        bounded("user.email", &u.email, MAX_TEXT)?;
        bounded("user.display_name", &u.display_name, MAX_TEXT)?;
        bounded("user.team", &u.team, MAX_TEXT)?;
        let set = [
            ("email", !u.email.is_empty()),
            ("display_name", !u.display_name.is_empty()),
            ("status", u.status != 0),
            ("team", !u.team.is_empty()),
        ];
        let paths = mask_paths(
            r.update_mask,
            &set,
            &["email", "display_name", "status", "team"],
        )?;
        let mut changes = UserChanges::default();
        for path in &paths {
            match path.as_str() {
                "email" => changes.email = Some(u.email.clone()),
                "display_name" => changes.display_name = Some(u.display_name.clone()),
                "team" => changes.team = Some(u.team.clone()),
                "status" => {
                    changes.status = Some(
                        match api::enum_filter::<pb::UserStatus>("user.status", u.status)? {
                            Some(pb::UserStatus::Active) => UserStatus::Active,
                            Some(pb::UserStatus::Deactivated) => UserStatus::Deactivated,
                            Some(pb::UserStatus::Deleted) => UserStatus::Deleted,
                            None | Some(pb::UserStatus::Unspecified) => {
                                return Err(Error::invalid_field(
                                    "user.status",
                                    "must be ACTIVE or DEACTIVATED",
                                )
                                .into());
                            }
                        },
                    )
                }
                _ => unreachable!("mask_paths checked the paths"),
            }
        }
        let user = self.iam.update_user(&caller, id, &u.etag, changes).await?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(user_pb(&user)),
        }))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Reply<pb::DeleteUserResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        self.iam
            .delete_user(&caller, user_id("id", &r.id)?, &r.etag)
            .await?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn assign_role(
        &self,
        request: Request<pb::AssignRoleRequest>,
    ) -> Reply<pb::AssignRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let user = self
            .iam
            .assign_role(
                &caller,
                user_id("user_id", &r.user_id)?,
                &api::id("role", &r.role)?,
            )
            .await?;
        Ok(Response::new(pb::AssignRoleResponse {
            user: Some(user_pb(&user)),
        }))
    }

    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Reply<pb::RevokeRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let user = self
            .iam
            .revoke_role(
                &caller,
                user_id("user_id", &r.user_id)?,
                &api::id("role", &r.role)?,
            )
            .await?;
        Ok(Response::new(pb::RevokeRoleResponse {
            user: Some(user_pb(&user)),
        }))
    }
}

#[tonic::async_trait]
impl pb::role_service_server::RoleService for IamGrpc {
    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Reply<pb::ListRolesResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        // Every tenant has a handful of roles: one page holds them all, and no token is issued.
        api::page("roles", r.page_size, &r.page_token)?;
        let roles = self.iam.list_roles(&caller).await?;
        // Every tenant has a handful of roles: one page holds them all.
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.iter().map(role_pb).collect(),
            next_page_token: String::new(),
        }))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Reply<pb::CreateRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let role = r
            .role
            .clone()
            .ok_or_else(|| Error::invalid_field("role", "is required"))?;
        bounded("role.name", &role.name, MAX_TEXT)?;
        bounded("role.description", &role.description, MAX_TEXT * 4)?;
        api::bounded_list(
            "role.permissions",
            &role.permissions,
            MAX_GRANTS,
            api::MAX_ID_LEN,
        )?;
        let response = self
            .iam
            .idempotency()
            .once(
                caller.principal.tenant_id,
                "CreateRole",
                &r.request_id,
                &r,
                || async {
                    let created = self
                        .iam
                        .create_role(&caller, &role.name, &role.description, &role.permissions)
                        .await?;
                    Ok(pb::CreateRoleResponse {
                        role: Some(role_pb(&RoleView {
                            role: created,
                            built_in: false,
                        })),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_role(&self, request: Request<pb::GetRoleRequest>) -> Reply<pb::GetRoleResponse> {
        let caller = caller(&request)?;
        let id = api::id("id", &request.get_ref().id)?;
        let role = self.iam.get_role(&caller, &id).await?;
        Ok(Response::new(pb::GetRoleResponse {
            role: Some(role_pb(&role)),
        }))
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Reply<pb::UpdateRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let role = r
            .role
            .ok_or_else(|| Error::invalid_field("role", "is required"))?;
        let id = api::id("role.id", &role.id)?;
        bounded("role.description", &role.description, MAX_TEXT * 4)?;
        api::bounded_list(
            "role.permissions",
            &role.permissions,
            MAX_GRANTS,
            api::MAX_ID_LEN,
        )?;
        let set = [
            ("description", !role.description.is_empty()),
            ("permissions", !role.permissions.is_empty()),
        ];
        let paths = mask_paths(r.update_mask, &set, &["description", "permissions"])?;
        let description = paths
            .iter()
            .any(|p| p == "description")
            .then_some(role.description.as_str());
        let permissions = paths
            .iter()
            .any(|p| p == "permissions")
            .then_some(role.permissions.as_slice());
        let updated = self
            .iam
            .update_role(&caller, &id, &role.etag, description, permissions)
            .await?;
        Ok(Response::new(pb::UpdateRoleResponse {
            role: Some(role_pb(&RoleView {
                role: updated,
                built_in: false,
            })),
        }))
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Reply<pb::DeleteRoleResponse> {
        let caller = caller(&request)?;
        let id = api::id("id", &request.get_ref().id)?;
        self.iam.delete_role(&caller, &id).await?;
        Ok(Response::new(pb::DeleteRoleResponse {}))
    }

    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Reply<pb::ListPermissionsResponse> {
        caller(&request)?;
        let permissions = self
            .iam
            .list_permissions()
            .iter()
            .map(|(name, description)| pb::Permission {
                name: (*name).into(),
                description: (*description).into(),
            })
            .collect();
        Ok(Response::new(pb::ListPermissionsResponse { permissions }))
    }
}

#[tonic::async_trait]
impl pb::tenant_service_server::TenantService for IamGrpc {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Reply<pb::CreateTenantResponse> {
        caller(&request)?;
        Err(Error::permission_denied(
            "creating tenants is for operators (`crm tenant create`) and for sign-up (AuthService/Register)",
        )
        .with_reason("OPERATORS_ONLY")
        .into())
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Reply<pb::GetTenantResponse> {
        let caller = caller(&request)?;
        let id = TenantId::from(api::uuid("id", &request.get_ref().id, "a tenant id")?);
        let tenant = self.iam.get_tenant(&caller, id).await?;
        Ok(Response::new(pb::GetTenantResponse {
            tenant: Some(tenant_pb(&tenant)),
        }))
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Reply<pb::UpdateTenantResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let t = r
            .tenant
            .ok_or_else(|| Error::invalid_field("tenant", "is required"))?;
        let id = TenantId::from(api::uuid("tenant.id", &t.id, "a tenant id")?);
        bounded("tenant.name", &t.name, MAX_TEXT)?;
        if let Some(settings) = &t.settings {
            bounded(
                "tenant.settings.default_currency_code",
                &settings.default_currency_code,
                64,
            )?;
            bounded("tenant.settings.time_zone", &settings.time_zone, 64)?;
            bounded("tenant.settings.locale", &settings.locale, 64)?;
        }
        let set = [
            ("name", !t.name.is_empty()),
            ("settings", t.settings.is_some()),
        ];
        let paths = mask_paths(r.update_mask, &set, &["name", "settings"])?;
        let name = paths.iter().any(|p| p == "name").then_some(t.name.as_str());
        let settings = paths.iter().any(|p| p == "settings").then(|| {
            let s = t.settings.clone().unwrap_or_default();
            TenantSettings {
                default_currency_code: s.default_currency_code,
                time_zone: s.time_zone,
                locale: s.locale,
                deal_approval_threshold_units: s.deal_approval_threshold_units,
            }
        });
        let tenant = self
            .iam
            .update_tenant(&caller, id, &t.etag, name, settings)
            .await?;
        Ok(Response::new(pb::UpdateTenantResponse {
            tenant: Some(tenant_pb(&tenant)),
        }))
    }
}

#[tonic::async_trait]
impl pb::authorization_service_server::AuthorizationService for IamGrpc {
    async fn check_permission(
        &self,
        request: Request<pb::CheckPermissionRequest>,
    ) -> Reply<pb::CheckPermissionResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let res = r.resource.unwrap_or_default();
        let owner_id =
            api::optional_uuid("resource.owner_id", &res.owner_id, "a user id")?.map(UserId::from);
        bounded("resource.team", &res.team, MAX_TEXT)?;
        bounded("permission", &r.permission, api::MAX_ID_LEN)?;
        let resource = Resource {
            owner_id,
            team: (!res.team.is_empty()).then_some(res.team.as_str()),
            amount_units: res.amount.as_ref().map(|m| m.units),
        };
        let subject = api::optional_uuid("subject_user_id", &r.subject_user_id, "a user id")?
            .map(UserId::from);
        let decision = self
            .iam
            .check_permission(&caller, r.permission.trim(), &resource, subject)
            .await?;
        Ok(Response::new(pb::CheckPermissionResponse {
            allowed: decision.allowed,
            decided_by: decision.decided_by,
            reason: decision.reason,
        }))
    }
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for IamGrpc {
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut kinds = Vec::new();
        if r.kinds.len() > 64 {
            return Err(Error::invalid_field("kinds", "must have at most 64 items").into());
        }
        for k in &r.kinds {
            kinds.push(AuditKind::from_i32(*k).ok_or_else(|| {
                Error::invalid_field("kinds", format!("{k} is not an audit event kind"))
            })?);
        }
        let actor_id = api::optional_uuid("actor_id", &r.actor_id, "a user id")?.map(UserId::from);
        let filter = AuditFilter {
            kinds,
            since: r.start_time.as_ref().map(api::millis),
            until: r.end_time.as_ref().map(api::millis),
            actor_id,
        };
        let page = api::page("audit_events", r.page_size, &r.page_token)?;
        let before = api::uuid_cursor(&page)?;
        let (entries, next) = self
            .iam
            .list_audit(&caller, filter, page.size, before)
            .await?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            audit_events: entries.iter().map(audit_pb).collect(),
            next_page_token: next
                .map(|id| api::page_token("audit_events", &id.to_string()))
                .unwrap_or_default(),
        }))
    }
}
