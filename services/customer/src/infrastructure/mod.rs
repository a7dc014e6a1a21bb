//! Adapters: the SQL store (SQLite, PostgreSQL) and the MongoDB store; IAM, asked who the
//! tenant's users are; the customers' open opportunities, kept from sales' events.

pub mod iam;
#[cfg(feature = "mongodb")]
pub mod mongo;
pub mod opportunities;
pub mod sql;

use crm_core::{Error, ErrorKind};

use crate::domain::customer::Customer;
use crate::domain::ports::CustomerStore;

/// An email conflict (`ALREADY_EXISTS`) of a write of `customer` says which customer holds the
/// email, read after the failed write; any other error is returned as it is.
async fn name_the_holder(store: &dyn CustomerStore, err: Error, customer: &Customer) -> Error {
    if err.kind() != ErrorKind::AlreadyExists {
        return err;
    }
    let Some(email) = &customer.email else {
        return err;
    };
    match store.by_email(customer.tenant_id, email).await {
        Ok(Some(holder)) => err.with_metadata("customer_id", holder.id.to_string()),
        _ => err,
    }
}
