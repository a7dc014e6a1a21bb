//! The sales context's use cases: one method each, thin. Rules live in the aggregates; this
//! layer decides who may do what (`pipelines.read`, `pipelines.manage`, ...) and loads and saves.

mod access;
pub mod analytics;
mod approvals;
pub mod conversions;
pub mod deleted_leads;
pub mod leads;
pub mod opportunities;
pub mod pipelines;

use std::sync::Arc;

use crm_core::clock::Clock;
use crm_core::idempotency::Idempotency;
use crm_core::{Error, Principal};

use crate::domain::Millis;
use crate::domain::events::Cause;
use crate::domain::pipeline::Violation;
use crate::domain::ports::{CustomerDirectory, SalesStore};

/// Who calls a use case.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The authenticated user (or service).
    pub principal: Principal,
    /// The request's correlation id and trace, carried by its events.
    pub causation: crm_events::Causation,
}

impl Caller {
    /// This caller as the cause of a change, for its events.
    pub(crate) fn cause(&self) -> Cause<'_> {
        Cause {
            by: self.principal.user_id,
            causation: &self.causation,
        }
    }
}

/// The sales application service.
#[derive(Clone)]
pub struct Sales {
    store: Arc<dyn SalesStore>,
    customers: Arc<dyn CustomerDirectory>,
    clock: Arc<dyn Clock>,
    idempotency: Idempotency,
}

impl Sales {
    /// The service over its adapters.
    pub fn new(
        store: Arc<dyn SalesStore>,
        customers: Arc<dyn CustomerDirectory>,
        clock: Arc<dyn Clock>,
        idempotency: Idempotency,
    ) -> Sales {
        Sales {
            store,
            customers,
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

/// The rules' problems as one `INVALID_ARGUMENT` naming every field under `prefix`.
pub(crate) fn invalid(prefix: &str, problems: Vec<Violation>) -> Error {
    Error::invalid_fields(
        problems
            .into_iter()
            .map(|(field, problem)| (format!("{prefix}.{field}"), problem)),
    )
}
