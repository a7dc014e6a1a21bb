//! The refusals and access rules several use cases share: invalid input, a locked-out login,
//! owners' accounts, handing out rights one does not hold.

use crm_core::{Error, Principal, Result};

use crate::domain::role::{OWNER, first_escalation};
use crate::domain::user::User;

/// `RESOURCE_EXHAUSTED` for a login locked out, with when to try again (RetryInfo).
pub(crate) fn locked_out(left: std::time::Duration) -> Error {
    let seconds = left.as_secs().max(1);
    Error::resource_exhausted(
        format!("too many failed logins; try again in {seconds} s"),
        std::time::Duration::from_secs(seconds),
    )
    .with_reason("LOGIN_LOCKED_OUT")
}

/// `INVALID_ARGUMENT` with one field violation per problem, all named in the message.
pub(crate) fn invalid(problems: Vec<(&str, String)>) -> Error {
    Error::invalid_fields(problems)
}

/// `PERMISSION_DENIED` for actions reserved to owners.
pub(crate) fn owners_only_error(message: &str) -> Error {
    Error::permission_denied(message).with_reason("OWNERS_ONLY")
}

/// Actions on an owner's account (changing, deactivating, deleting it, its roles, its second
/// factor, its sessions, its API keys) are owners' only: an admin must not lock the owners out,
/// take their place, or weaken what guards them. Every such use case asks here.
pub(crate) fn owners_only(caller: &Principal, target: &User) -> Result<()> {
    if target.has_role(OWNER) && !caller.has_role(OWNER) {
        return Err(owners_only_error(
            "only an owner can change an owner's account: its details, status, roles, second factor, sessions or keys",
        ));
    }
    Ok(())
}

/// `PERMISSION_DENIED` (`ESCALATION`) when `grants` hold a permission `granter` may not hand out.
pub(crate) fn escalation_check(granter: &Principal, grants: &[String], what: &str) -> Result<()> {
    match first_escalation(&granter.permissions, granter.has_role(OWNER), grants) {
        None => Ok(()),
        Some(grant) => Err(Error::permission_denied(format!(
            "{what} grants {grant}, which you may not hand out: you can grant only permissions you hold, and owners' permissions only as an owner"
        ))
        .with_reason("ESCALATION")
        .with_metadata("permission", grant)),
    }
}
