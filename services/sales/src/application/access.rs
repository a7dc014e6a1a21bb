//! Who may do what to leads and opportunities: the caller's reach (`:own` or all), the policy
//! engine's decision (with the large-deal rule), and the etag a change must name. Checked before
//! anything else is asked, and again on the state the write locks.

use crm_core::authz::{Amount, PolicySettings, Resource, Scope, evaluate};
use crm_core::{Error, ErrorKind, Result, UserId};

use super::{Caller, Sales};
use crate::domain::opportunity::OpportunityChangeError;
use crate::domain::ports::TenantPolicy;

pub(crate) fn refused(e: OpportunityChangeError) -> Error {
    match e {
        OpportunityChangeError::Invalid(problems) => Error::invalid_fields(problems),
        OpportunityChangeError::Closed(status) => Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "the opportunity is {}: it no longer moves, wins or loses",
                status.as_str()
            ),
        )
        .with_reason("OPPORTUNITY_CLOSED")
        .with_metadata("status", status.as_str()),
        OpportunityChangeError::NotClosed => Error::new(
            ErrorKind::FailedPrecondition,
            "the opportunity is open: only a won or lost one can be reopened",
        )
        .with_reason("OPPORTUNITY_OPEN"),
        OpportunityChangeError::ApprovalWaiting(since) => {
            let since = chrono::DateTime::from_timestamp_millis(since)
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            Error::new(
                ErrorKind::FailedPrecondition,
                format!("a request to approve it has waited for a sales manager since {since}"),
            )
            .with_reason("APPROVAL_WAITING")
        }
        OpportunityChangeError::NoApprovalWaiting => Error::new(
            ErrorKind::FailedPrecondition,
            "nobody has asked to approve it, or it was decided already",
        )
        .with_reason("NO_APPROVAL_WAITING"),
        OpportunityChangeError::TooLateToReopen(closed_at) => {
            let closed = chrono::DateTime::from_timestamp_millis(closed_at)
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            let days = crate::domain::opportunity::REOPEN_WINDOW / 86_400_000;
            Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "the opportunity was closed on {closed}, more than {days} days ago: it can \
                     no longer be reopened; open a new opportunity for the customer instead"
                ),
            )
            .with_reason("REOPEN_WINDOW_PASSED")
            .with_metadata("close_time", closed)
        }
    }
}

/// The owner filter a list applies: none with an unscoped grant, else the caller's own.
pub(crate) fn reach(caller: &Caller, permission: &str) -> Result<Option<UserId>> {
    let p = &caller.principal;
    match p.scope(permission) {
        Some(Scope::All) => Ok(None),
        Some(Scope::Own | Scope::Team) => Ok(Some(p.user_id)),
        None => Err(Error::missing_permission(permission)),
    }
}

/// Narrows a list's owner filter to what the caller may read with `permission`: false when
/// the filter asks for someone else's and the caller reaches only their own (an empty list).
pub(crate) fn restrict(
    caller: &Caller,
    permission: &str,
    owner: &mut Option<UserId>,
) -> Result<bool> {
    if let Some(me) = reach(caller, permission)? {
        if owner.is_some_and(|o| o != me) {
            return Ok(false);
        }
        *owner = Some(me);
    }
    Ok(true)
}

/// Whether the caller may read something owned by `owner` (a scoped grant reaches only one's
/// own; another's is `NOT_FOUND`, as if it did not exist).
pub(crate) fn readable(
    caller: &Caller,
    permission: &str,
    owner: Option<UserId>,
    not_found: impl FnOnce() -> Error,
) -> Result<()> {
    match reach(caller, permission)? {
        Some(me) if owner != Some(me) => Err(not_found()),
        _ => Ok(()),
    }
}

/// `PERMISSION_DENIED` unless the policy engine lets the caller do `permission` on something
/// owned by `owner` (worth `amount`, weighed against `policy`'s large-deal threshold): the
/// decision without IO, which a change makes on the state it read under the write lock.
pub(crate) fn decide(
    caller: &Caller,
    permission: &str,
    owner: Option<UserId>,
    amount: Option<Amount<'_>>,
    policy: &TenantPolicy,
) -> Result<()> {
    let p = &caller.principal;
    let settings = PolicySettings {
        deal_approval_threshold_units: if amount.is_some() {
            policy.deal_approval_threshold_units
        } else {
            0
        },
        deal_approval_currency: &policy.currency_code,
    };
    let resource = Resource {
        owner_id: owner,
        // Sales knows no one's team but the caller's: a `:team` grant reaches one's own.
        team: (owner == Some(p.user_id))
            .then_some(p.team.as_deref())
            .flatten(),
        amount,
    };
    let decision = evaluate(&p.subject(), permission, &resource, settings);
    if decision.allowed {
        Ok(())
    } else {
        Err(Error::permission_denied(decision.reason)
            .with_reason(if decision.decided_by == "abac:large-deal-approval" {
                "LARGE_DEAL_APPROVAL"
            } else {
                "NOT_ALLOWED"
            })
            .with_metadata("permission", permission)
            .with_metadata("decided_by", decision.decided_by))
    }
}

/// What a change of an opportunity must satisfy: the etag the caller sent, the permission
/// it needs, and (when winning) the tenant's policy for the large-deal rule.
pub(crate) type Rule<'a> = (&'a str, &'a str, Option<&'a TenantPolicy>);

/// `ABORTED` `ETAG_MISMATCH` unless `etag` is empty or names `version`, the state read under
/// the write lock.
pub(crate) fn current(etag: &str, version: i64, what: &'static str) -> Result<()> {
    crm_core::api::check_etag(etag, &version.to_string(), what)
        .map_err(|e| e.with_metadata("current_etag", version.to_string()))
}

impl Sales {
    /// `PERMISSION_DENIED` unless the policy engine lets the caller do `permission` on
    /// something owned by `owner` (worth `amount`, for the large-deal rule, read against the
    /// tenant's threshold).
    pub(crate) async fn authorize(
        &self,
        caller: &Caller,
        permission: &str,
        owner: Option<UserId>,
        amount: Option<Amount<'_>>,
    ) -> Result<()> {
        let policy = if amount.is_some() {
            self.store.tenant_policy(caller.principal.tenant_id).await?
        } else {
            TenantPolicy::default()
        };
        decide(caller, permission, owner, amount, &policy)
    }
}
