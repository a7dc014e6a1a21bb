//! The purge on MongoDB: customers deleted before a time are removed for good, each in a
//! transaction with its `CustomerPurged` event; one restored in between stays.

use futures::TryStreamExt as _;
use mongodb::bson::{Bson, Document, doc};

use super::{MongoCustomerStore, StaleVersion, customer_from, unavailable};
use crate::domain::Millis;
use crate::domain::ports::Purged;
use crm_core::Result;

const DOING: &str = "purging deleted customers";

pub(super) async fn purge(
    store: &MongoCustomerStore,
    before: Millis,
    limit: u32,
    purged: &Purged,
) -> Result<u32> {
    let due: Vec<Document> = store
        .customers()
        .find(doc! { "deleted_at": { "$ne": Bson::Null, "$lt": before } })
        .sort(doc! { "deleted_at": 1 })
        .limit(i64::from(limit))
        .await
        .map_err(|e| unavailable(e, DOING))?
        .try_collect()
        .await
        .map_err(|e| unavailable(e, DOING))?;
    let mut done = 0;
    for found in &due {
        let customer = customer_from(found)?;
        // Only as it was read: deleted, and at that time.
        let guarded = doc! {
            "_id": customer.id.to_string(),
            "tenant_id": customer.tenant_id.to_string(),
            "deleted_at": found.get("deleted_at").cloned().unwrap_or(Bson::Null),
        };
        let event = purged(&customer);
        let removed = store
            .transaction(std::slice::from_ref(&event), DOING, |session, customers| {
                let guarded = guarded.clone();
                Box::pin(async move {
                    let deleted = customers
                        .delete_one(guarded)
                        .session(&mut *session)
                        .await?
                        .deleted_count;
                    if deleted == 1 {
                        Ok(())
                    } else {
                        // Restored (or purged by another replica) since the read: no event.
                        Err(mongodb::error::Error::custom(StaleVersion))
                    }
                })
            })
            .await;
        match removed {
            Ok(()) => done += 1,
            Err(e) if e.kind() == crm_core::ErrorKind::Aborted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
