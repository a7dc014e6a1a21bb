//! What the application needs from the outside: a store for customers (SQLite and PostgreSQL
//! adapters, one contract suite), and who the tenant's users are (IAM, asked over gRPC).

use async_trait::async_trait;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::Millis;
use super::custom_field::CustomField;
use super::customer::{Customer, CustomerType, Status};
use super::values::CustomValue;

pub use crm_events::OutboxEvent;

/// Whether a user may own the tenant's customers, as IAM knows them now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// An active user of the tenant.
    Active,
    /// A user of the tenant who is deactivated or deleted.
    Inactive,
    /// Nobody of this tenant (another tenant's user, or no user at all).
    Unknown,
}

/// The credential a call came with (`authorization: Bearer …` or `x-api-key: …`), passed on
/// when the context asks another on the caller's behalf, so the other answers within the
/// caller's tenant and rights.
#[derive(Clone, Debug)]
pub struct Credential {
    /// The metadata key: `authorization` or `x-api-key`.
    pub name: &'static str,
    /// Its value, as sent.
    pub value: String,
}

/// The tenant's users, as IAM knows them now.
#[async_trait]
pub trait Members: Send + Sync + 'static {
    /// `user`'s membership of the caller's tenant, asked with the caller's own `credential`.
    async fn membership(&self, credential: &Credential, user: UserId) -> Result<Membership>;
}

/// Filters of ListCustomers, SearchCustomers and ExportCustomers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// Only this type.
    pub customer_type: Option<CustomerType>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only customers carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only this owner's (a filter asked for, or the caller's `:own` scope).
    pub owner_id: Option<UserId>,
    /// Only customers whose custom field `key` holds this value (of its type: the store
    /// compares the stored value's type too). As a request sends it, a text, until the
    /// application reads it by the field's definition.
    pub custom_fields: Vec<(String, CustomValue)>,
}

/// How a list is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first (ids are UUIDv7).
    #[default]
    Created,
    /// Newest first.
    CreatedDesc,
    /// By display name, case-insensitively.
    Name,
    /// By display name, case-insensitively, Z to A.
    NameDesc,
}

/// Where a page starts: after this customer, in the list's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The last customer's sort key (its lower-cased name when ordered by name).
    pub key: String,
    /// The last customer's id.
    pub id: Uuid,
}

/// The change a closure makes to a loaded customer, and the events it causes; the store saves
/// both in one transaction, or neither. A store may run it again on a fresh read when its
/// first transaction lost to a concurrent writer (MongoDB), so it decides from the customer it
/// is given and has no other effect.
pub type Change<'a> = Box<dyn FnMut(&mut Customer) -> Result<Vec<OutboxEvent>> + Send + 'a>;

/// Which of the store's changes runs: it loads a live customer (a deleted one to restore) and
/// saves it live or deleted as the method says, whatever the closure did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// [`CustomerStore::update`].
    Update,
    /// [`CustomerStore::delete`].
    Delete,
    /// [`CustomerStore::restore`].
    Restore,
}

impl Mode {
    /// Whether it loads among the deleted customers.
    pub fn loads_deleted(self) -> bool {
        self == Mode::Restore
    }

    /// Makes the changed customer (read at version `read`) live or deleted as this change
    /// leaves it; a change of that state is a change of the customer (a new version).
    pub fn settle(self, c: &mut Customer, read: i64) {
        let deleted = self == Mode::Delete;
        if c.deleted_at.is_some() != deleted {
            if c.version == read {
                c.touch(c.updated_at);
            }
            c.deleted_at = deleted.then_some(c.updated_at);
        }
    }
}

/// The event of a purged customer.
pub type Purged = dyn Fn(&Customer) -> OutboxEvent + Send + Sync;

/// Customers of every tenant; every method is scoped to one tenant, and another tenant's
/// customer is never seen. Deleted customers are invisible to every read.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// Adds a customer with its events. Its primary email taken by another customer of the
    /// tenant is `ALREADY_EXISTS` on `customer.email`, with that customer's id.
    async fn insert(&self, customer: &Customer, events: Vec<OutboxEvent>) -> Result<()>;

    /// Adds many customers of one tenant in one transaction (an import batch), with their
    /// events: all of them or none.
    async fn insert_batch(&self, customers: &[Customer], events: Vec<OutboxEvent>) -> Result<()>;

    /// A customer by id.
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<Customer>>;

    /// The customer not deleted whose primary email is `email`, if any.
    async fn by_email(&self, tenant: TenantId, email: &str) -> Result<Option<Customer>>;

    /// Which of `emails` (normal form) customers not deleted hold, and which customer each:
    /// (email, customer id). One statement, for an import batch.
    async fn taken_emails(
        &self,
        tenant: TenantId,
        emails: &[String],
    ) -> Result<Vec<(String, Uuid)>>;

    /// Loads a live customer (a deleted one for [`Mode::Restore`]), runs `change` on it and
    /// saves it, live or deleted as `mode` settles it, with the events the change returns, all
    /// in one transaction that keeps other writers of the customer out. What
    /// [`CustomerStore::update`], [`CustomerStore::delete`] and [`CustomerStore::restore`] do.
    async fn change(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_>,
        mode: Mode,
    ) -> Result<Customer>;

    /// Loads a customer, runs `change` on it and saves it with the events the change returns,
    /// all in one transaction that keeps other writers of the customer out (`BEGIN IMMEDIATE`
    /// on SQLite, `FOR UPDATE` on PostgreSQL). `NOT_FOUND` when there is no such customer; the
    /// closure's error rolls everything back. Returns the saved customer.
    async fn update(&self, tenant: TenantId, id: Uuid, change: Change<'_>) -> Result<Customer> {
        self.change(tenant, id, change, Mode::Update).await
    }

    /// Soft-deletes a customer with its events, as [`CustomerStore::update`] does (the change
    /// sets its `deleted_at`): it is gone from every read but [`CustomerStore::list_deleted`],
    /// its email is free again, and search no longer finds it.
    async fn delete(&self, tenant: TenantId, id: Uuid, change: Change<'_>) -> Result<()> {
        self.change(tenant, id, change, Mode::Delete)
            .await
            .map(drop)
    }

    /// Restores a deleted customer with its events, as [`CustomerStore::update`] does among the
    /// deleted ones (the change clears its `deleted_at`): `NOT_FOUND` when no deleted customer
    /// has this id; its primary email taken by another customer since is `ALREADY_EXISTS` on
    /// `customer.email`, naming that customer, and nothing changes.
    async fn restore(&self, tenant: TenantId, id: Uuid, change: Change<'_>) -> Result<Customer> {
        self.change(tenant, id, change, Mode::Restore).await
    }

    /// A page of the tenant's deleted customers (only `owner`'s when given), most recently
    /// deleted first, after `after` (its key the deletion time in milliseconds), at most `limit`.
    async fn list_deleted(
        &self,
        tenant: TenantId,
        owner: Option<UserId>,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>>;

    /// Removes for good, across tenants, at most `limit` customers deleted before
    /// `deleted_before`, each with the event `purged` makes of it, in one transaction; a
    /// customer restored meanwhile is not touched. Returns how many were purged.
    async fn purge(&self, deleted_before: Millis, limit: u32, purged: &Purged) -> Result<u32>;

    /// A page of customers in `order`, after `after`, at most `limit`.
    async fn list(
        &self,
        tenant: TenantId,
        filter: &Filter,
        order: Order,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>>;

    /// How many customers match `filter`.
    async fn count(&self, tenant: TenantId, filter: &Filter) -> Result<i64>;

    /// Customers matching every word of `words` (the last as a prefix, the others whole), best
    /// first, skipping `offset`, at most `limit`. Sees every committed write at once
    /// (read-your-writes).
    async fn search(
        &self,
        tenant: TenantId,
        words: &[String],
        filter: &Filter,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Customer>>;
}

/// The customers' open opportunities, as sales' events told them: a customer with open
/// opportunities is deleted only if the caller closes them as lost.
#[async_trait]
pub trait OpenOpportunities: Send + Sync + 'static {
    /// The owners of a customer's open opportunities, one per opportunity (`None`: no owner).
    async fn owners(&self, tenant: TenantId, customer: Uuid) -> Result<Vec<Option<UserId>>>;
}

/// The change a closure makes to a loaded definition (false: nothing changed, nothing saved).
pub type FieldChange<'a> = Box<dyn FnOnce(&mut CustomField) -> Result<bool> + Send + 'a>;

/// The workspaces' custom field definitions, each scoped to one tenant (another tenant's is
/// never seen). Kept in the context's SQL store whatever store holds the customers.
#[async_trait]
pub trait CustomFieldStore: Send + Sync + 'static {
    /// The tenant's definitions, oldest first.
    async fn list_fields(&self, tenant: TenantId) -> Result<Vec<CustomField>>;

    /// Adds a definition: its key taken is `ALREADY_EXISTS` on `custom_field.key`; the tenant
    /// holding `max` already is `FAILED_PRECONDITION` `TOO_MANY_CUSTOM_FIELDS` (counted in turn
    /// with any other definition added at once).
    async fn insert_field(&self, field: &CustomField, max: i64) -> Result<()>;

    /// Loads a definition, runs `change` on it and saves it when it says it changed, in one
    /// transaction that keeps other writers of it out; `NOT_FOUND` when there is none.
    async fn update_field(
        &self,
        tenant: TenantId,
        key: &str,
        change: FieldChange<'_>,
    ) -> Result<CustomField>;

    /// Deletes a definition after `check` accepts it as loaded (the etag), in one transaction;
    /// `NOT_FOUND` when there is none.
    async fn delete_field(&self, tenant: TenantId, key: &str, check: FieldChange<'_>)
    -> Result<()>;
}
