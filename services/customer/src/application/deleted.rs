//! The way back from a delete: the deleted customers still restorable, restoring one, and the
//! purge that removes them for good once [`RESTORE_WINDOW`] has passed. Whoever may delete a
//! customer may see and restore it (a `:own` grant, their own).

use crm_core::{Error, ErrorKind, Result};
use uuid::Uuid;

use super::customers::CustomerPage;
use super::{Caller, Customers, Reach, writable};
use crate::domain::customer::{Customer, RestoreRefusal};
use crate::domain::events::{customer_purged, customer_restored};
use crate::domain::ports::Cursor;

/// The permission that deletes customers, and sees and restores the deleted ones.
const DELETE: &str = "customers.delete";

use crm_core::deletion::PURGE_BATCH;

impl Customers {
    /// A page of the deleted customers the caller may restore, most recently deleted first.
    pub async fn list_deleted(
        &self,
        caller: &Caller,
        after: Option<Cursor>,
        size: u32,
    ) -> Result<CustomerPage> {
        let p = &caller.principal;
        let owner = Reach::of(p, DELETE)?.owner_filter();
        let customers = self
            .store
            .list_deleted(p.tenant_id, owner, after.as_ref(), size)
            .await?;
        let next = (customers.len() as u32 == size)
            .then(|| customers.last())
            .flatten()
            .map(|last| Cursor {
                key: last.deleted_at.unwrap_or_default().to_string(),
                id: last.id,
            });
        Ok(CustomerPage {
            customers,
            next,
            total: None,
        })
    }

    /// Brings a deleted customer back within its window; its email taken since is
    /// `ALREADY_EXISTS`, naming the holder to whoever may read it.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, customer_id = %id))]
    pub async fn restore(&self, caller: &Caller, id: Uuid) -> Result<Customer> {
        let p = &caller.principal;
        Reach::of(p, DELETE)?;
        let now = self.now();
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, DELETE)?;
            c.restore(now).map_err(|refusal| refused(c, refusal))?;
            Ok(vec![customer_restored(c, &caller.cause(now))])
        });
        match self.store.restore(p.tenant_id, id, change).await {
            Ok(c) => Ok(c),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let taken = Error::already_exists(
                    "customer.email",
                    "its email belongs to another customer now: change that customer's email, then restore this one",
                );
                let taken = match e.metadata("customer_id") {
                    Some(holder) => taken.with_metadata("customer_id", holder.to_owned()),
                    None => taken,
                };
                Err(self.holder_if_readable(caller, taken).await)
            }
            Err(e) => Err(e),
        }
    }

    /// Purges every customer whose restore window has closed, a batch per transaction, each with
    /// `CustomerPurged`; returns how many.
    pub async fn purge_due(&self) -> Result<u64> {
        let window = crm_core::deletion::window_millis();
        let store = &self.store;
        let batch = move |now: i64| async move {
            let purged = move |c: &Customer| customer_purged(c, now);
            let before = now.saturating_sub(window);
            store.purge(before, PURGE_BATCH, &purged).await
        };
        crm_core::deletion::purge_due(|| self.now(), batch).await
    }

    /// Purges what is due every hour, while the process serves (the launcher's task).
    pub async fn run_purge(self) {
        crm_core::deletion::purge_every("customers", || self.purge_due()).await
    }
}

/// A restore the rules refuse, in words.
fn refused(c: &Customer, refusal: RestoreRefusal) -> Error {
    refusal.error("customer", c.id, &c.display_name)
}
