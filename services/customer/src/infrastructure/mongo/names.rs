//! The key lists by name are ordered by (`sort_name`, [`sort_key`]) on MongoDB: documents
//! written by an earlier version (the name lower-cased, so "Borong Kain 10" came before
//! "Borong Kain 2") are rekeyed from their names once, when the store connects.

use crm_core::Result;
use crm_core::text::sort_key;
use std::future::IntoFuture as _;

use futures::TryStreamExt as _;
use mongodb::Database;
use mongodb::bson::{Document, doc};

use super::CUSTOMERS;
use super::errors::unavailable;

/// The collection of the store's own state: `{ _id: "sort_key", version }`.
pub const STATE: &str = "customer_store_state";

/// The version of the keys [`sort_key`] writes.
const SORT_KEY_VERSION: i64 = 2;

/// Customers rekeyed at once (their updates in flight together).
const BATCH: usize = 500;

/// Rewrites every document's `sort_name` from its customer's name (deleted customers too:
/// they may come back) unless the state says the keys are of this version; then records the
/// version. A customer saved in between writes the same key; interrupted, it starts over at
/// the next connect (rewriting a key is idempotent).
pub(super) async fn rekey_if_needed(db: &Database) -> Result<()> {
    let state = db.collection::<Document>(STATE);
    let version = state
        .find_one(doc! { "_id": "sort_key" })
        .await
        .map_err(|e| unavailable(e, "reading the name order's version"))?
        .and_then(|d| d.get_i64("version").ok())
        .unwrap_or(1);
    if version >= SORT_KEY_VERSION {
        return Ok(());
    }
    let customers = db.collection::<Document>(CUSTOMERS);
    let mut found = customers
        .find(doc! {})
        .projection(doc! { "_id": 1, "customer.display_name": 1 })
        .await
        .map_err(|e| unavailable(e, "reading customers' names"))?;
    let mut done = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let next = found
            .try_next()
            .await
            .map_err(|e| unavailable(e, "reading customers' names"))?;
        if let Some(d) = &next {
            let name = d
                .get_document("customer")
                .and_then(|c| c.get_str("display_name"))
                .unwrap_or_default();
            if let Some(id) = d.get("_id") {
                batch.push((id.clone(), sort_key(name)));
            }
        }
        if batch.len() == BATCH || (next.is_none() && !batch.is_empty()) {
            done += batch.len() as u64;
            futures::future::try_join_all(batch.drain(..).map(|(id, key)| {
                customers
                    .update_one(doc! { "_id": id }, doc! { "$set": { "sort_name": key } })
                    .into_future()
            }))
            .await
            .map_err(|e| unavailable(e, "reordering customers' names"))?;
        }
        if next.is_none() {
            break;
        }
    }
    state
        .update_one(
            doc! { "_id": "sort_key" },
            doc! { "$set": { "version": SORT_KEY_VERSION } },
        )
        .upsert(true)
        .await
        .map_err(|e| unavailable(e, "recording the name order's version"))?;
    if done > 0 {
        tracing::info!(customers = done, "the customers' names are in order");
    }
    Ok(())
}
