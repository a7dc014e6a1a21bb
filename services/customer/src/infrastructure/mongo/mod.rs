//! The customer store on MongoDB (`customer.store = "mongodb"`): one document per customer with
//! its contacts embedded, and its events in the database's outbox ([`crm_events::mongo`]) in the
//! same multi-document transaction (so MongoDB must run as a replica set, as it does for
//! transactions anywhere).
//!
//! A stored document is the aggregate under `customer`, beside the fields reads filter, order
//! and search by:
//!
//! ```text
//! { _id: "<customer id>", tenant_id, customer_type, status, owner_id, sort_name, tags: [..],
//!   email_key: "<primary email>" (absent when there is none or the customer is deleted),
//!   words: ["kilang", "batik", ..] (none when deleted), version, deleted_at: null | millis,
//!   customer: { .. } }
//! }
//! ```
//!
//! - The primary email is unique per tenant through a unique index on `(tenant_id, email_key)`
//!   that holds only documents with an `email_key` (a partial index): deleting a customer removes
//!   its key, freeing the email.
//! - Search matches the last query word as a prefix of one of the `words` (an anchored regular
//!   expression, which a multikey index on `(tenant_id, words)` answers by range) and every word
//!   before it whole. MongoDB's
//!   text index is not used: it matches whole stemmed words only, so `bat` would not find
//!   "Batik". As on SQLite, the newest [`CANDIDATES`] matches are ranked by
//!   [`search_score`] against their names: a word matched whole counts more than one matched
//!   by its prefix.
//! - Changes are conditional on the version read, so a concurrent writer is never overwritten:
//!   a transaction MongoDB reports as transient (e.g. two writers of the outbox counter) is
//!   run again; a version that moved is the usual stale-etag `ABORTED`.

use async_trait::async_trait;
use crm_core::{Error, ErrorKind, Result, TenantId, UserId};
use futures::TryStreamExt as _;
use mongodb::bson::{Bson, Document, doc};
use mongodb::{Client, ClientSession, Collection, Database};
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::customer::Customer;
use crate::domain::ports::{
    Change, Cursor, CustomerStore, Filter, Mode, Order, OutboxEvent, Purged,
};
use crate::domain::values::search_words;

mod documents;
mod errors;
mod names;
mod purge;

use documents::{
    customer_from, deleted_query, document, filter_document, indexes, list_query, rank,
    search_filter,
};
use errors::{StaleVersion, refusal_or_failure, unavailable};

/// The collection holding the customers.
pub const CUSTOMERS: &str = "customers";
/// How many of the newest matches a search ranks (as on SQL).
pub const CANDIDATES: i64 = 1_000;

/// The customer store on a MongoDB database.
#[derive(Clone, Debug)]
pub struct MongoCustomerStore {
    client: Client,
    db: Database,
}

impl MongoCustomerStore {
    /// A store in database `db` of `client` (see [`MongoCustomerStore::ensure_indexes`]).
    pub fn new(client: Client, db: Database) -> MongoCustomerStore {
        MongoCustomerStore { client, db }
    }

    /// Connects to `url` and uses database `database`, creating its indexes (idempotent).
    pub async fn connect(url: &str, database: &str) -> Result<MongoCustomerStore> {
        let client = Client::with_uri_str(url)
            .await
            .map_err(|e| unavailable(e, "connecting (check `mongodb.url`)"))?;
        let store = MongoCustomerStore::new(client.clone(), client.database(database));
        store.ensure_indexes().await?;
        names::rekey_if_needed(&store.db).await?;
        Ok(store)
    }

    /// Creates the customers' and the outbox's indexes (idempotent; run at startup).
    pub async fn ensure_indexes(&self) -> Result<()> {
        self.customers()
            .create_indexes(indexes())
            .await
            .map_err(|e| unavailable(e, "creating the customers' indexes"))?;
        crm_events::mongo::ensure_indexes(&self.db)
            .await
            .map_err(|e| unavailable(e, "creating the outbox's indexes"))
    }

    /// The outbox of this store, whose events go to `topic` (for the relay).
    pub fn outbox(&self, topic: &str) -> crm_events::OutboxLog {
        crm_events::OutboxLog::mongo(self.db.clone(), topic)
    }

    fn customers(&self) -> Collection<Document> {
        self.db.collection(CUSTOMERS)
    }

    /// Runs `writes` in a transaction with the events, committed or not at all, through the
    /// driver's transaction runner: a `TransientTransactionError` (a write conflict, a lost
    /// primary) runs the whole transaction again, an `UnknownTransactionCommitResult` retries
    /// the commit, for up to 120 s, as MongoDB's drivers specify.
    async fn transaction<F>(
        &self,
        events: &[OutboxEvent],
        doing: &'static str,
        writes: F,
    ) -> Result<()>
    where
        F: for<'s> Fn(
                &'s mut ClientSession,
                Collection<Document>,
            ) -> futures::future::BoxFuture<'s, mongodb::error::Result<()>>
            + Send
            + Sync,
    {
        let events = OutboxEvent::pairs(events);
        let mut session = self
            .client
            .start_session()
            .await
            .map_err(|e| unavailable(e, doing))?;
        // What the runs borrow goes through the runner's context (each run's future may only
        // borrow what the runner hands it).
        let context = (self.customers(), &self.db, &events, &writes);
        let outcome = session
            .start_transaction()
            .and_run(context, |session, (customers, db, events, writes)| {
                Box::pin(async move {
                    writes(&mut *session, customers.clone()).await?;
                    crm_events::mongo::append_all_mongo(session, db, events).await
                })
            })
            .await;
        match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(refusal_or_failure(e, doing)),
        }
    }

    async fn find(&self, filter: Document, sort: Document, limit: i64) -> Result<Vec<Customer>> {
        let docs: Vec<Document> = self
            .customers()
            .find(filter)
            .sort(sort)
            .limit(limit)
            .await
            .map_err(|e| unavailable(e, "reading customers"))?
            .try_collect()
            .await
            .map_err(|e| unavailable(e, "reading customers"))?;
        docs.iter().map(customer_from).collect()
    }
}

/// One run of a change inside a transaction the driver may run again: the closure, and what
/// its last run decided.
struct Attempt<'c> {
    change: Change<'c>,
    /// The closure's own refusal (a stale etag, a rule), returned as it is.
    refused: Option<Error>,
    /// The customer as the last run tried to save it (to name an email's holder).
    tried: Option<Customer>,
    /// The customer as the committed run saved it.
    saved: Option<Customer>,
}

/// The marker of a change the closure refused ([`Attempt::refused`] holds why).
#[derive(Debug)]
struct Refused;

/// The marker of a customer that is not there (or is deleted).
#[derive(Debug)]
struct Missing;

/// The marker of a stored document that does not read back as a customer.
#[derive(Debug)]
struct Unreadable(String);

#[async_trait]
impl CustomerStore for MongoCustomerStore {
    async fn insert(&self, customer: &Customer, events: Vec<OutboxEvent>) -> Result<()> {
        self.insert_batch(std::slice::from_ref(customer), events)
            .await
    }

    async fn insert_batch(&self, customers: &[Customer], events: Vec<OutboxEvent>) -> Result<()> {
        let Some(first) = customers.first() else {
            return Ok(());
        };
        if let Some(c) = customers.iter().find(|c| c.tenant_id != first.tenant_id) {
            return Err(Error::internal(
                "a batch mixes tenants",
                anyhow::anyhow!("insert_batch got {} and {}", first.tenant_id, c.tenant_id),
            ));
        }
        let docs = customers.iter().map(document).collect::<Result<Vec<_>>>()?;
        let result = self
            .transaction(&events, "creating customers", |session, collection| {
                let docs = docs.clone();
                Box::pin(async move {
                    collection
                        .insert_many(docs)
                        .session(&mut *session)
                        .await
                        .map(drop)
                })
            })
            .await;
        match (result, customers) {
            (Err(e), [one]) => Err(super::name_the_holder(self, e, one).await),
            (result, _) => result,
        }
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<Customer>> {
        let found = self
            .customers()
            .find_one(doc! { "_id": id.to_string(), "tenant_id": tenant.to_string(), "deleted_at": Bson::Null })
            .await
            .map_err(|e| unavailable(e, "reading a customer"))?;
        found.as_ref().map(customer_from).transpose()
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> Result<Option<Customer>> {
        let found = self
            .customers()
            .find_one(doc! { "tenant_id": tenant.to_string(), "email_key": email })
            .await
            .map_err(|e| unavailable(e, "reading a customer"))?;
        found.as_ref().map(customer_from).transpose()
    }

    async fn taken_emails(
        &self,
        tenant: TenantId,
        emails: &[String],
    ) -> Result<Vec<(String, Uuid)>> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        let docs: Vec<Document> = self
            .customers()
            .find(doc! { "tenant_id": tenant.to_string(), "email_key": { "$in": emails } })
            .projection(doc! { "_id": 1, "email_key": 1 })
            .await
            .map_err(|e| unavailable(e, "reading emails"))?
            .try_collect()
            .await
            .map_err(|e| unavailable(e, "reading emails"))?;
        docs.iter()
            .map(|d| {
                let read = || -> Option<(String, Uuid)> {
                    let id = Uuid::try_parse(d.get_str("_id").ok()?).ok()?;
                    Some((d.get_str("email_key").ok()?.to_owned(), id))
                };
                read().ok_or_else(|| {
                    Error::internal(
                        "stored data could not be read",
                        anyhow::anyhow!("customers document {:?}: _id or email_key", d.get("_id")),
                    )
                })
            })
            .collect()
    }

    /// Loads a live customer (a deleted one to restore), changes it through `change` and saves
    /// it, live or deleted as `mode` says ([`document`]), with the change's events, in one
    /// transaction. The read is the transaction's
    /// own: when another writer commits a change of the customer first, MongoDB refuses this
    /// transaction's write as a conflict (`TransientTransactionError`), and the driver runs it
    /// all again, so `change` decides again on the customer as it is now, as the SQL stores'
    /// lock makes it decide once on the customer as it is. An etag the caller sent is checked
    /// by `change` against that fresh read: a stale one is `ABORTED`, an absent one applies.
    async fn change(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_>,
        mode: Mode,
    ) -> Result<Customer> {
        let doing = "saving a customer";
        let mut session = self
            .client
            .start_session()
            .await
            .map_err(|e| unavailable(e, doing))?;
        let deleted = if mode.loads_deleted() {
            Bson::Document(doc! { "$ne": Bson::Null })
        } else {
            Bson::Null
        };
        let filter = doc! {
            "_id": id.to_string(),
            "tenant_id": tenant.to_string(),
            "deleted_at": deleted,
        };
        let mut state = Attempt {
            change,
            refused: None,
            tried: None,
            saved: None,
        };
        let context = (self.customers(), &self.db, &filter, &mut state, mode);
        let outcome = session
            .start_transaction()
            .and_run(context, |session, (customers, db, filter, state, mode)| {
                Box::pin(async move {
                    let found = customers
                        .find_one((*filter).clone())
                        .session(&mut *session)
                        .await?;
                    let Some(found) = found else {
                        return Err(mongodb::error::Error::custom(Missing));
                    };
                    let mut customer = customer_from(&found).map_err(|e| {
                        mongodb::error::Error::custom(Unreadable(e.message().to_owned()))
                    })?;
                    let expected = customer.version;
                    let events = match (state.change)(&mut customer) {
                        Ok(events) => events,
                        Err(refused) => {
                            state.refused = Some(refused);
                            return Err(mongodb::error::Error::custom(Refused));
                        }
                    };
                    mode.settle(&mut customer, expected);
                    state.tried = Some(customer.clone());
                    // Conditional on the version read: never over another writer's change.
                    let mut guarded = (*filter).clone();
                    guarded.insert("version", expected);
                    // A change replaces the whole document, so a field it drops (an email
                    // cleared) is gone from it too.
                    let replacement = document(&customer).map_err(|e| {
                        mongodb::error::Error::custom(Unreadable(e.message().to_owned()))
                    })?;
                    let matched = customers
                        .replace_one(guarded, replacement)
                        .session(&mut *session)
                        .await?
                        .matched_count;
                    if matched != 1 {
                        return Err(mongodb::error::Error::custom(StaleVersion));
                    }
                    let pairs = OutboxEvent::pairs(&events);
                    crm_events::mongo::append_all_mongo(session, db, &pairs).await?;
                    state.saved = Some(customer);
                    Ok(())
                })
            })
            .await;
        match outcome {
            Ok(()) => Ok(state.saved.expect("a committed change saved its customer")),
            Err(e) if e.get_custom::<Refused>().is_some() => {
                Err(state.refused.expect("a refusal keeps its error"))
            }
            Err(e) if e.get_custom::<Missing>().is_some() => Err(Error::not_found("customer", id)),
            Err(e) => match refusal_or_failure(e, doing) {
                err if err.kind() == ErrorKind::Aborted => {
                    Err(err.with_metadata("id", id.to_string()))
                }
                err => match &state.tried {
                    Some(customer) => Err(super::name_the_holder(self, err, customer).await),
                    None => Err(err),
                },
            },
        }
    }

    async fn list_deleted(
        &self,
        tenant: TenantId,
        owner: Option<UserId>,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        let (filter, sort) = deleted_query(tenant, owner, after)?;
        self.find(filter, sort, i64::from(limit)).await
    }

    async fn purge(&self, deleted_before: Millis, limit: u32, purged: &Purged) -> Result<u32> {
        purge::purge(self, deleted_before, limit, purged).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: &Filter,
        order: Order,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        let (filter, sort) = list_query(tenant, filter, order, after);
        self.find(filter, sort, i64::from(limit)).await
    }

    async fn count(&self, tenant: TenantId, filter: &Filter) -> Result<i64> {
        let n = self
            .customers()
            .count_documents(filter_document(tenant, filter))
            .await
            .map_err(|e| unavailable(e, "counting customers"))?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    async fn search(
        &self,
        tenant: TenantId,
        words: &[String],
        filter: &Filter,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        let docs: Vec<Document> = self
            .customers()
            .find(search_filter(tenant, words, filter))
            .sort(doc! { "_id": -1 })
            .limit(CANDIDATES)
            .await
            .map_err(|e| unavailable(e, "searching customers"))?
            .try_collect()
            .await
            .map_err(|e| unavailable(e, "searching customers"))?;
        let candidates = docs
            .iter()
            .map(|d| {
                let have = search_words(d.get_str("sort_name").unwrap_or_default());
                customer_from(d).map(|c| (c, have))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(rank(words, candidates)
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect())
    }
}

#[cfg(test)]
mod tests;
