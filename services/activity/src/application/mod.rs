//! The use cases, and who may run them: tasks, activities and timelines. Rights come from the
//! caller's token; what an `:own` grant reaches comes from the owners the projection learnt
//! from the other contexts' events (never a call to them).

pub mod activities;
pub mod projection;
pub mod tasks;
pub mod timeline;

use std::sync::Arc;

use crm_core::authz::Scope;
use crm_core::clock::Clock;
use crm_core::idempotency::Idempotency;
use crm_core::{Error, Principal, Result};
use crm_events::Causation;
use tokio::sync::Notify;

use crate::domain::Problem;
use crate::domain::ports::{Reach, Store};
use crate::domain::records::{RecordRef, RecordType};

/// Who calls, and what their events carry.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The caller.
    pub principal: Principal,
    /// The request's correlation and trace.
    pub causation: Causation,
}

/// The settings the use cases read.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// How long after logging it an activity's author may change it, in minutes.
    pub edit_window_minutes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            edit_window_minutes: 24 * 60,
        }
    }
}

/// The activity context's use cases.
#[derive(Clone)]
pub struct Activities {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    idempotency: Idempotency,
    settings: Settings,
    /// Woken when a reminder may have moved (the reminder worker sleeps until the next).
    reminders: Arc<Notify>,
}

impl Activities {
    /// On `store`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        idempotency: Idempotency,
        settings: Settings,
        reminders: Arc<Notify>,
    ) -> Activities {
        Activities {
            store,
            clock,
            idempotency,
            settings,
            reminders,
        }
    }

    /// The `request_id` records.
    pub fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }

    /// The settings.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Whether `p` may read `record`: its read permission unscoped, or `:own` on a record the
    /// projection knows them to own.
    pub async fn can_read(&self, p: &Principal, record: RecordRef) -> Result<bool> {
        Ok(match p.scope(record.record_type.read_permission()) {
            None => false,
            Some(Scope::Own) => {
                self.store.owner(p.tenant_id, record).await?.flatten() == Some(p.user_id)
            }
            Some(_) => true,
        })
    }

    /// `NOT_FOUND` for the first of `records` the caller may not read, or that the tenant has
    /// not got (as far as the events told this context: a record made a moment ago is known
    /// within a second).
    async fn readable_records(
        &self,
        p: &Principal,
        records: &[RecordRef],
        field: &str,
    ) -> Result<()> {
        for (i, r) in records.iter().enumerate() {
            let owner = self.store.owner(p.tenant_id, *r).await?;
            let readable = match (owner, p.scope(r.record_type.read_permission())) {
                (None, _) | (_, None) => false,
                (Some(owner), Some(Scope::Own)) => owner == Some(p.user_id),
                (Some(_), Some(_)) => true,
            };
            if !readable {
                return Err(Error::not_found(r.record_type.as_str(), r.id)
                    .with_metadata("field", format!("{field}[{i}]")));
            }
        }
        Ok(())
    }
}

/// What `p` reaches of rows guarded by `permission`: `None` when every row, else their own
/// and those about records they read. `PERMISSION_DENIED` without the permission.
pub fn reach(p: &Principal, permission: &str) -> Result<Option<Reach>> {
    match p.scope(permission) {
        None => Err(Error::missing_permission(permission)),
        Some(Scope::Own) => {
            let mut reach = Reach {
                me: p.user_id,
                every: Vec::new(),
                own: Vec::new(),
            };
            for t in RecordType::ALL {
                match p.scope(t.read_permission()) {
                    Some(Scope::Own) => reach.own.push(t),
                    Some(_) => reach.every.push(t),
                    None => {}
                }
            }
            Ok(Some(reach))
        }
        Some(_) => Ok(None),
    }
}

/// `INVALID_ARGUMENT` with a field violation per problem.
pub fn invalid(problems: Vec<Problem>) -> Error {
    Error::invalid_fields(problems)
}
