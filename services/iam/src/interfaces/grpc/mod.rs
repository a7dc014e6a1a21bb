//! gRPC ⇄ use cases: decoding requests (ids, masks, page tokens), calling [`Iam`], encoding
//! responses. No business rules here. One file per service; the mappings between protobuf
//! messages and domain types, and what every service decodes alike, are here.

mod api_keys;
mod audit;
mod auth;
mod authorization;
mod directory;
mod mfa;
mod roles;
mod sso;
mod tenants;
mod users;
mod views;

use crm_core::api::{self, bounded, mask_paths};
use crm_core::authz::Resource;
use crm_core::{Error, RequestContext, TenantId, UserId};
use crm_proto::crm::iam::v1 as pb;
use prost_types::Timestamp;
use tonic::{Request, Response, Status};

use crate::application::roles::RoleView;
use crate::application::{Caller, Iam, SessionTokens};
use crate::domain::Millis;
use crate::domain::audit::{AuditEntry, AuditKind, Origin};
use crate::domain::ports::{AuditFilter, UserFilter};
use crate::domain::tenant::{Tenant, TenantSettings, TenantStatus};
use crate::domain::user::UserPatch;
use crate::domain::user::{User, UserStatus};

/// IAM's eleven gRPC services over one [`Iam`].
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
        // Resolved once for every protocol and hop (a trusted proxy's X-Forwarded-For).
        client_address: context
            .and_then(|c| c.client_address)
            .map(|a| a.to_string()),
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
/// The longest etag a request may carry (ours are version numbers).
const MAX_ETAG: usize = 64;
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
            UserStatus::Invited => pb::UserStatus::Invited,
        } as i32,
        roles: user.roles.clone(),
        team: user.team.clone().unwrap_or_default(),
        create_time: ts(user.created_at),
        update_time: ts(user.updated_at),
        last_login_time: user.last_login_at.and_then(ts),
        etag: user.etag(),
        mfa_enabled: user.mfa_on(),
        invitation: None,
        locale: user.locale.clone().unwrap_or_default(),
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
        settings: Some(crate::domain::events::settings_pb(s)),
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
