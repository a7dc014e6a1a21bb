//! The customer context's use cases: one method each, thin. Rules live in the aggregate; the
//! store saves each change with its events in one transaction; this layer decides who may do
//! what (`customers.read` / `write` / `delete` / `import` / `export`, with `:own` reaching only
//! the customers the caller owns) and which events a change causes.

pub mod bulk;
pub mod contacts;
pub mod customers;
pub mod messages;

use std::sync::Arc;

use crm_core::authz::Scope;
use crm_core::clock::Clock;
use crm_core::idempotency::Idempotency;
use crm_core::{Error, Principal, Result, UserId};
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::customer::Customer;
use crate::domain::ports::{CustomerStore, OutboxEvent};
use crate::domain::values::Violation;

/// Who calls a use case, and what its events are caused by.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The authenticated user.
    pub principal: Principal,
    /// The request's correlation id and trace, carried by its events.
    pub causation: crm_events::Causation,
}

/// The customer application service.
#[derive(Clone)]
pub struct Customers {
    store: Arc<dyn CustomerStore>,
    clock: Arc<dyn Clock>,
    idempotency: Idempotency,
}

impl Customers {
    /// The service over its adapters.
    pub fn new(
        store: Arc<dyn CustomerStore>,
        clock: Arc<dyn Clock>,
        idempotency: Idempotency,
    ) -> Customers {
        Customers {
            store,
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
            None => Err(
                Error::permission_denied(format!("your roles do not grant {permission}"))
                    .with_reason("MISSING_PERMISSION")
                    .with_metadata("permission", permission),
            ),
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
        Err(
            Error::permission_denied(format!("{permission} is granted only on customers you own"))
                .with_reason("NOT_OWNER")
                .with_metadata("permission", permission),
        )
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

/// An event of `customer`, bound for the outbox.
pub(crate) fn event<M: prost::Message + prost::Name>(
    caller: &Caller,
    customer: &Customer,
    message: &M,
    at: Millis,
) -> OutboxEvent {
    let mut envelope = crm_events::Envelope::new(
        "crm.customer",
        customer.tenant_id,
        customer.id,
        message,
        &caller.causation,
    );
    envelope.time = at;
    OutboxEvent {
        aggregate_type: "customer",
        envelope,
    }
}
