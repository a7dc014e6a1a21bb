//! The customer context's use cases: one method each, thin. Rules live in the aggregate; the
//! store saves each change with its events in one transaction; this layer decides who may do
//! what (`customers.read` / `write` / `delete` / `import` / `export`, with `:own` reaching only
//! the customers the caller owns) and which events a change causes.

pub mod batch;
pub mod bulk;
pub mod contacts;
pub mod custom_fields;
pub mod customers;
pub mod deleted;

use std::sync::Arc;

use crm_core::authz::Scope;
use crm_core::clock::Clock;
use crm_core::idempotency::Idempotency;
use crm_core::{Error, Principal, Result, UserId};
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::customer::Customer;
use crate::domain::events::Cause;
use crate::domain::ports::{
    Credential, CustomFieldStore, CustomerStore, Members, Membership, OpenOpportunities,
};
use crate::domain::values::Violation;

/// Who calls a use case, and what its events are caused by.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The authenticated user.
    pub principal: Principal,
    /// The request's correlation id and trace, carried by its events.
    pub causation: crm_events::Causation,
    /// The credential the call came with, for asking IAM on the caller's behalf.
    pub credential: Option<Credential>,
}

impl Caller {
    /// This caller as the cause of a change at `at`, for its events.
    pub(crate) fn cause(&self, at: Millis) -> Cause<'_> {
        Cause {
            by: self.principal.user_id,
            causation: &self.causation,
            at,
        }
    }
}

/// The customer application service.
#[derive(Clone)]
pub struct Customers {
    store: Arc<dyn CustomerStore>,
    fields: Arc<dyn CustomFieldStore>,
    members: Arc<dyn Members>,
    opportunities: Arc<dyn OpenOpportunities>,
    clock: Arc<dyn Clock>,
    idempotency: Idempotency,
}

impl Customers {
    /// The service over its adapters.
    pub fn new(
        store: Arc<dyn CustomerStore>,
        fields: Arc<dyn CustomFieldStore>,
        members: Arc<dyn Members>,
        opportunities: Arc<dyn OpenOpportunities>,
        clock: Arc<dyn Clock>,
        idempotency: Idempotency,
    ) -> Customers {
        Customers {
            store,
            fields,
            members,
            opportunities,
            clock,
            idempotency,
        }
    }

    /// The idempotency keys of the create RPCs.
    pub fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }

    fn now(&self) -> Millis {
        self.clock.now_millis()
    }
}

/// What the caller may reach with `permission`: every customer of the tenant, or only its own
/// (`:own`; a `:team` grant reaches no further, as customers carry no team).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    All,
    Own(UserId),
}

impl Reach {
    fn of(p: &Principal, permission: &str) -> Result<Reach> {
        match p.scope(permission) {
            Some(Scope::All) => Ok(Reach::All),
            Some(Scope::Own | Scope::Team) => Ok(Reach::Own(p.user_id)),
            None => Err(Error::missing_permission(permission)),
        }
    }

    fn covers(self, customer: &Customer) -> bool {
        match self {
            Reach::All => true,
            Reach::Own(user) => customer.owner_id == Some(user),
        }
    }

    fn owner_filter(self) -> Option<UserId> {
        match self {
            Reach::All => None,
            Reach::Own(user) => Some(user),
        }
    }
}

impl Customers {
    /// Whether the caller may read the customer `id` (false when there is none).
    pub(crate) async fn may_read(&self, caller: &Caller, id: Uuid) -> Result<bool> {
        Ok(match Reach::of(&caller.principal, "customers.read") {
            Ok(Reach::All) => true,
            Ok(reach) => self
                .store
                .get(caller.principal.tenant_id, id)
                .await?
                .is_some_and(|c| reach.covers(&c)),
            Err(_) => false,
        })
    }

    /// An email conflict names the customer holding the email (`customer_id`) only to a caller
    /// who may read it: an `:own` caller learns that the email is taken, not whose it is.
    pub(crate) async fn holder_if_readable(&self, caller: &Caller, e: Error) -> Error {
        let holder = e
            .metadata("customer_id")
            .and_then(|id| Uuid::try_parse(id).ok());
        match holder {
            Some(id) if e.kind() == crm_core::ErrorKind::AlreadyExists => {
                match self.may_read(caller, id).await {
                    Ok(true) => e,
                    _ => e.without_metadata("customer_id"),
                }
            }
            _ => e,
        }
    }
}

/// Why a customer may not be given to an owner.
#[derive(Clone, Debug)]
pub(crate) enum OwnerProblem {
    /// Not a user of the caller's tenant.
    NotAUser,
    /// A user of the tenant who is deactivated or deleted.
    Inactive,
    /// The caller may not see the tenant's users (`users.read`).
    Unseen,
    /// IAM could not be asked.
    Unchecked(String),
}

impl OwnerProblem {
    /// The error a change giving a customer to `owner` answers.
    pub(crate) fn error(&self, owner: UserId) -> Error {
        match self {
            Self::NotAUser => invalid(
                "customer",
                vec![(
                    "owner_id".into(),
                    format!("{owner} is not a user of this tenant"),
                )],
            ),
            Self::Inactive => invalid(
                "customer",
                vec![(
                    "owner_id".into(),
                    format!("{owner} is deactivated; choose an active user of this tenant"),
                )],
            ),
            Self::Unseen => Error::permission_denied(
                "giving a customer to someone else needs users.read, to know who they are",
            )
            .with_reason("MISSING_PERMISSION")
            .with_metadata("permission", "users.read"),
            Self::Unchecked(why) => Error::unavailable(
                format!(
                    "whether {owner} is an active user of this tenant could not be checked ({why}); try again, and tell the operator if it lasts"
                ),
                anyhow::anyhow!("{why}"),
            ),
        }
    }

    /// As a row's field violation (an import goes on past it).
    pub(crate) fn violation(&self, owner: UserId) -> Violation {
        let error = self.error(owner);
        let description = error
            .field_violations()
            .first()
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| error.message().to_owned());
        ("customer.owner_id".into(), description)
    }
}

impl Customers {
    /// Whether `owner` may own the caller's customers: an active user of the tenant, as IAM
    /// knows them now (asked with the caller's credential). The caller themself is (their
    /// token or key was just checked), and so is any owner our own services set (sales gives a
    /// converted lead's customer to the lead's owner, whom it checked against its view of
    /// IAM's active users).
    pub(crate) async fn owner_problem(
        &self,
        caller: &Caller,
        owner: UserId,
    ) -> Option<OwnerProblem> {
        let p = &caller.principal;
        if p.service.is_some() || (owner == p.user_id && p.api_key_id.is_none()) {
            return None;
        }
        let Some(credential) = &caller.credential else {
            return Some(OwnerProblem::Unchecked(
                "the call carried no credential".into(),
            ));
        };
        match self.members.membership(credential, owner).await {
            Ok(Membership::Active) => None,
            Ok(Membership::Inactive) => Some(OwnerProblem::Inactive),
            Ok(Membership::Unknown) => Some(OwnerProblem::NotAUser),
            Err(e) if e.kind() == crm_core::ErrorKind::PermissionDenied => {
                Some(OwnerProblem::Unseen)
            }
            Err(e) => Some(OwnerProblem::Unchecked(e.message().to_owned())),
        }
    }
}

/// The customers the caller may read: another's is `NOT_FOUND`, as if it did not exist.
pub(crate) fn readable(caller: &Caller, customer: &Customer) -> Result<()> {
    if Reach::of(&caller.principal, "customers.read")?.covers(customer) {
        Ok(())
    } else {
        Err(Error::not_found("customer", customer.id))
    }
}

/// The customers the caller may change: unreadable is `NOT_FOUND`, readable but not writable
/// is `PERMISSION_DENIED`.
pub(crate) fn writable(caller: &Caller, customer: &Customer, permission: &str) -> Result<()> {
    readable(caller, customer)?;
    if Reach::of(&caller.principal, permission)?.covers(customer) {
        Ok(())
    } else {
        Err(Error::permission_denied(format!(
            "your roles let you {} only for the customers you own",
            crm_core::permission_words::words(permission)
        ))
        .with_reason("NOT_OWNER")
        .with_metadata("permission", permission))
    }
}

/// An etag check on the loaded state: a stale one is `ABORTED` with the current etag.
pub(crate) fn check_etag(sent: &str, current: i64, what: &str) -> Result<()> {
    crm_core::api::check_etag(sent, &current.to_string(), what)
        .map_err(|e| e.with_metadata("current_etag", current.to_string()))
}

/// The rules' problems as one `INVALID_ARGUMENT` naming every field, each under `prefix`.
pub(crate) fn invalid(prefix: &str, problems: Vec<Violation>) -> Error {
    Error::invalid_fields(problems.into_iter().map(|(field, problem)| {
        let field = if prefix.is_empty() || field == "update_mask" {
            field
        } else {
            format!("{prefix}.{field}")
        };
        (field, problem)
    }))
}
