//! Who is calling, in which tenant, under which correlation id: put into every request's
//! extensions by [`crate::layer::RequestContextLayer`] and read by every handler.

use crate::error::Error;

pub use crate::ids::{TenantId, UserId};

/// The authenticated caller, from a verified access token or an API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The tenant every query of this request is scoped to.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: UserId,
    /// Role names granted when the token was issued.
    pub roles: Vec<String>,
    /// The roles' permissions when the token was issued (see [`crate::authz`]).
    pub permissions: Vec<String>,
    /// The user's team, if any.
    pub team: Option<String>,
    /// The token's `jti`.
    pub token_id: String,
    /// When the token was issued, in milliseconds since the epoch (from its UUIDv7 `jti`, else
    /// `iat`): revocations cut tokens issued before a moment (see [`crate::revocation`]).
    pub issued_at: i64,
    /// When the credential stops being valid, in milliseconds since the epoch (an access
    /// token's `exp`, an API key's end); `None` for one without an end. A stream that outlives
    /// it is ended (see [`crate::revocation::until_revoked`]).
    pub expires_at: Option<i64>,
    /// Set when the caller is an integration's API key rather than a person: then `user_id` is
    /// the key's id (a key is its own subject: it owns nothing, and the audit trail names it).
    pub api_key_id: Option<uuid::Uuid>,
    /// Set when the caller is one of our services acting for the tenant with a service token
    /// (background work: saga recovery, event consumers): its name, e.g. `sales`. `user_id` is
    /// then [`crate::auth::service_user_id`] of it, and `permissions` only what it needs.
    pub service: Option<String>,
}

impl Principal {
    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The policy engine's view of the caller.
    pub fn subject(&self) -> crate::authz::Subject<'_> {
        crate::authz::Subject {
            user_id: self.user_id,
            roles: &self.roles,
            permissions: &self.permissions,
            team: self.team.as_deref(),
        }
    }

    /// The widest scope in which the caller's roles grant `permission`, if any.
    pub fn scope(&self, permission: &str) -> Option<crate::authz::Scope> {
        crate::authz::best_grant(&self.permissions, permission)
    }

    /// `PERMISSION_DENIED` unless the caller's roles grant `permission` outright (unscoped).
    pub fn require(&self, permission: &str) -> Result<(), Error> {
        let decision = crate::authz::evaluate(
            &self.subject(),
            permission,
            &crate::authz::Resource::default(),
            crate::authz::PolicySettings::default(),
        );
        if decision.allowed && decision.rule == crate::authz::Rule::Rbac {
            Ok(())
        } else {
            Err(Error::missing_permission(permission))
        }
    }
}

/// Per-request context in the request's extensions.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// From the `x-correlation-id` header, or a new UUIDv7. Echoed in the response and on
    /// every log line of the request.
    pub correlation_id: String,
    /// The caller; `None` on the few methods open without a token (Login, Register, health,
    /// reflection).
    pub principal: Option<Principal>,
    /// The caller's W3C `traceparent`, if it sent one; events caused by the request carry it.
    pub traceparent: Option<String>,
    /// The client's address (see [`crate::client`]): the peer, or what a trusted proxy says.
    /// `None` only for calls that came in on no connection (in-process tests).
    pub client_address: Option<std::net::IpAddr>,
}

impl RequestContext {
    /// The context of a tonic request. Missing only when the server was composed without the
    /// context layer: a bug, hence `INTERNAL`.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&RequestContext, Error> {
        request.extensions().get::<RequestContext>().ok_or_else(|| {
            Error::internal(
                "request context missing",
                anyhow::anyhow!("RequestContextLayer is not installed on this server"),
            )
        })
    }

    /// The authenticated caller, or `UNAUTHENTICATED`.
    pub fn principal(&self) -> Result<&Principal, Error> {
        self.principal.as_ref().ok_or_else(|| {
            Error::unauthenticated(
                "this method needs an access token: send `authorization: Bearer <token>`",
            )
        })
    }
}

/// How a call came in, in the request's extensions, for the request metrics: the edge marks
/// grpc-web and REST calls; a call without a mark came as gRPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// gRPC over HTTP/2.
    Grpc,
    /// grpc-web (HTTP/1.1 or HTTP/2), from a browser.
    GrpcWeb,
    /// REST/JSON, transcoded at the edge.
    Rest,
}

impl Protocol {
    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc_web",
            Protocol::Rest => "rest",
        }
    }
}
