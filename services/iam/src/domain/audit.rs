//! Audit entries: append-only records of security-relevant events.

use std::collections::BTreeMap;

use crm_core::{TenantId, UserId};
use uuid::Uuid;

use super::Millis;

/// What an entry records. The numbers are `crm.iam.v1.AuditEventKind`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum AuditKind {
    /// A login succeeded.
    LoginSucceeded = 1,
    /// A login failed.
    LoginFailed = 2,
    /// Too many failures: locked out.
    Lockout = 3,
    /// A spent refresh token was presented.
    RefreshTokenReused = 4,
    /// A session was ended.
    Logout = 5,
    /// A user was created.
    UserCreated = 6,
    /// A user was changed.
    UserUpdated = 7,
    /// A user was deleted.
    UserDeleted = 8,
    /// A role was granted.
    RoleGranted = 9,
    /// A role was revoked.
    RoleRevoked = 10,
    /// A tenant was created or changed.
    TenantChanged = 11,
    /// A custom role was created, changed or deleted.
    RoleChanged = 12,
    /// An API key was created or revoked.
    ApiKeyChanged = 13,
    /// A second factor was turned on or off, or its recovery codes replaced.
    MfaChanged = 14,
}

impl AuditKind {
    /// From the stored number.
    pub fn from_i32(n: i32) -> Option<AuditKind> {
        use AuditKind::*;
        [
            LoginSucceeded,
            LoginFailed,
            Lockout,
            RefreshTokenReused,
            Logout,
            UserCreated,
            UserUpdated,
            UserDeleted,
            RoleGranted,
            RoleRevoked,
            TenantChanged,
            RoleChanged,
            ApiKeyChanged,
            MfaChanged,
        ]
        .into_iter()
        .find(|k| *k as i32 == n)
    }
}

/// How the action ended. The numbers are `crm.iam.v1.AuditOutcome`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Outcome {
    /// It succeeded.
    Success = 1,
    /// It failed.
    Failure = 2,
    /// Refused by policy or a limit.
    Denied = 3,
}

/// Where a request came from, for the trail.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// Client address.
    pub client_address: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// The request's W3C `traceparent`, passed on to the events it causes.
    pub traceparent: Option<String>,
}

impl Origin {
    /// What events caused by this request carry.
    pub fn causation(&self) -> crm_events::Causation {
        crm_events::Causation {
            correlation_id: self.correlation_id.clone(),
            causation_id: None,
            traceparent: self.traceparent.clone(),
        }
    }
}

/// One audit entry.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// UUIDv7.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// What happened.
    pub kind: AuditKind,
    /// Who acted.
    pub actor_id: Option<UserId>,
    /// What was acted on, e.g. `user`.
    pub target_type: String,
    /// Its id.
    pub target_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Where from.
    pub origin: Origin,
    /// More facts.
    pub details: BTreeMap<String, String>,
    /// When.
    pub created_at: Millis,
}

impl AuditEntry {
    /// A new entry.
    pub fn new(
        tenant_id: TenantId,
        kind: AuditKind,
        actor_id: Option<UserId>,
        target: (&str, String),
        outcome: Outcome,
        origin: &Origin,
        now: Millis,
    ) -> AuditEntry {
        AuditEntry {
            id: Uuid::now_v7(),
            tenant_id,
            kind,
            actor_id,
            target_type: target.0.to_owned(),
            target_id: target.1,
            outcome,
            origin: origin.clone(),
            details: BTreeMap::new(),
            created_at: now,
        }
    }

    /// Adds a detail.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> AuditEntry {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}
