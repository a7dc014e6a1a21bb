//! BatchUpdateCustomers and BatchDeleteCustomers: the request checked as a whole (its ids, the
//! change, the right to make it at all), then each customer on its own, its outcome a
//! `google.rpc.Status` of its own.

use crm_core::api::{self};
use crm_core::{Error, UserId};
use crm_proto::crm::customer::v1 as pb;
use crm_proto::google::rpc;
use prost::Message;

use crate::application::batch::{BatchChange, batch_ids};
use crate::application::{Caller, Customers};
use crate::domain::messages::customer_pb;

/// The most tags one change adds or takes away.
const MAX_TAGS: usize = 50;

/// An outcome as the single call would answer it, and what it gave.
fn status_of<T>(outcome: Result<T, Error>) -> (rpc::Status, Option<T>) {
    match outcome {
        Ok(done) => (rpc::Status::default(), Some(done)),
        Err(e) => {
            let status = tonic::Status::from(e);
            // The details are the whole `google.rpc.Status` (code, message, details).
            let answer = rpc::Status::decode(status.details()).unwrap_or_else(|_| rpc::Status {
                code: status.code() as i32,
                message: status.message().to_owned(),
                details: Vec::new(),
            });
            (answer, None)
        }
    }
}

fn change(r: &pb::BatchUpdateCustomersRequest) -> Result<BatchChange, Error> {
    // A change of nothing leaves each customer as it is (its result still says whether the
    // caller could have changed it).
    Ok(BatchChange {
        owner_id: api::optional_uuid("owner_id", &r.owner_id, "a user id")?.map(UserId::from),
        status: super::status_of("status", r.status)?,
        add_tags: super::tags_of("add_tags", &r.add_tags, MAX_TAGS)?,
        remove_tags: super::tags_of("remove_tags", &r.remove_tags, MAX_TAGS)?,
    })
}

/// `BatchUpdateCustomers`.
pub(super) async fn update(
    customers: &Customers,
    caller: &Caller,
    r: pb::BatchUpdateCustomersRequest,
) -> Result<pb::BatchUpdateCustomersResponse, Error> {
    customers
        .idempotency()
        .once(
            &caller.principal,
            "customers.write",
            "BatchUpdateCustomers",
            &r.request_id,
            &r,
            || async {
                let ids = batch_ids(&r.ids)?;
                let change = change(&r)?;
                let done = customers.change_each(caller, &ids, &change).await;
                let results = r
                    .ids
                    .iter()
                    .zip(done)
                    .map(|(raw, outcome)| {
                        let (status, customer) = status_of(outcome);
                        pb::CustomerBatchResult {
                            id: raw.clone(),
                            status: Some(status),
                            customer: customer.map(|c| customer_pb(&c)),
                        }
                    })
                    .collect();
                Ok(pb::BatchUpdateCustomersResponse { results })
            },
        )
        .await
}

/// `BatchDeleteCustomers`.
pub(super) async fn delete(
    customers: &Customers,
    caller: &Caller,
    r: pb::BatchDeleteCustomersRequest,
) -> Result<pb::BatchDeleteCustomersResponse, Error> {
    customers
        .idempotency()
        .once(
            &caller.principal,
            "customers.delete",
            "BatchDeleteCustomers",
            &r.request_id,
            &r,
            || async {
                let ids = batch_ids(&r.ids)?;
                let done = customers.delete_each(caller, &ids).await;
                let results = r
                    .ids
                    .iter()
                    .zip(done)
                    .map(|(raw, outcome)| pb::CustomerBatchResult {
                        id: raw.clone(),
                        status: Some(status_of(outcome).0),
                        customer: None,
                    })
                    .collect();
                Ok(pb::BatchDeleteCustomersResponse { results })
            },
        )
        .await
}
