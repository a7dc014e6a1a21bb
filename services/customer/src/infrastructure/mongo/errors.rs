//! How MongoDB's failures reach the caller: a duplicate email, a version that moved, a document
//! that does not read back, or the store failing (without the driver's text).

use crm_core::Error;

use super::Unreadable;

/// MongoDB's code for a unique index refusing a write.
const DUPLICATE_KEY: i32 = 11000;

/// A transaction's failure as the caller should see it: a duplicate email, a version that
/// moved, or the store failing.
pub(super) fn refusal_or_failure(e: mongodb::error::Error, doing: &'static str) -> Error {
    if e.get_custom::<StaleVersion>().is_some() {
        return Error::etag_mismatch("customer");
    }
    if is_duplicate_key(&e) {
        return Error::already_exists(
            "customer.email",
            "a customer with this email already exists",
        );
    }
    if let Some(Unreadable(why)) = e.get_custom::<Unreadable>() {
        return Error::internal(
            "a stored customer does not read back",
            anyhow::anyhow!("{doing}: {why}"),
        );
    }
    unavailable(e, doing)
}

/// The marker of a conditional write that found another version.
#[derive(Debug)]
pub(super) struct StaleVersion;

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind as Kind, WriteFailure};
    match e.kind.as_ref() {
        Kind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        Kind::InsertMany(m) => m
            .write_errors
            .iter()
            .flatten()
            .any(|w| w.code == DUPLICATE_KEY),
        Kind::Command(c) => c.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// A failure of MongoDB itself, without its text (kept as the source, for the log).
pub(super) fn unavailable(e: mongodb::error::Error, doing: &str) -> Error {
    Error::unavailable(
        format!(
            "the customer store (MongoDB) failed {doing}; check that it is up and runs as a replica set"
        ),
        e,
    )
}
