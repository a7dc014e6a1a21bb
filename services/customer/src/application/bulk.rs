//! Bulk import and export. An import validates each row on its own (a bad row is reported with
//! its number and fields and never stops the others) and writes new customers in batches of
//! [`BATCH`], one transaction each with their events, so memory stays flat however long the
//! stream is and a broken stream keeps every batch committed before it. Duplicates (by primary
//! email, in the store or earlier in the same import) are skipped, updated or reported, as asked.

use std::collections::HashMap;

use crm_core::{Error, ErrorKind, Result};
use crm_proto::crm::customer::events::v1 as events;
use uuid::Uuid;

use super::messages::customer_pb;
use super::{Caller, Customers, Reach, event, invalid, writable};
use crate::domain::customer::{Customer, CustomerInput};
use crate::domain::ports::{Filter, OutboxEvent};
use crate::domain::values::Violation;

/// Rows written per transaction.
pub const BATCH: usize = 500;
/// The most row errors a report lists (the counts stay exact).
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// What to do with a row whose primary email another customer already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duplicates {
    /// Leave the stored customer as it is; count the row as skipped.
    Skip,
    /// Apply the row's fields to the stored customer.
    Update,
    /// Report the row as failed.
    Fail,
}

/// How an import runs.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    /// Duplicates.
    pub duplicates: Duplicates,
    /// Check every row and count what would happen; write nothing.
    pub dry_run: bool,
}

/// A rejected row.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    /// The row's number in the stream, from 1.
    pub row: i64,
    /// Its email, as sent.
    pub email: String,
    /// What is wrong, by field.
    pub violations: Vec<Violation>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// Rows read.
    pub received: i64,
    /// Customers created.
    pub created: i64,
    /// Customers updated.
    pub updated: i64,
    /// Duplicates left alone.
    pub skipped: i64,
    /// Rows rejected.
    pub failed: i64,
    /// The first [`MAX_LISTED_ERRORS`] rejected rows.
    pub errors: Vec<RowError>,
}

/// An import in progress: rows go in one at a time, batches go to the store as they fill.
pub struct Importer<'a> {
    customers: &'a Customers,
    caller: &'a Caller,
    options: ImportOptions,
    reach: Reach,
    pending: Vec<(i64, Customer)>,
    /// Emails of this import's new customers not yet committed, and their rows.
    pending_emails: HashMap<String, usize>,
    report: ImportReport,
}

impl Customers {
    /// Starts an import for `caller` (`customers.import`, and `customers.write`: under `:own`
    /// every row is owned by the caller).
    pub fn importer<'a>(
        &'a self,
        caller: &'a Caller,
        options: ImportOptions,
    ) -> Result<Importer<'a>> {
        let p = &caller.principal;
        Reach::of(p, "customers.import")?;
        let reach = Reach::of(p, "customers.write")?;
        Ok(Importer {
            customers: self,
            caller,
            options,
            reach,
            pending: Vec::with_capacity(BATCH),
            pending_emails: HashMap::new(),
            report: ImportReport::default(),
        })
    }

    /// Checks that `caller` may export, and how many customers `filter` matches.
    pub async fn export_count(&self, caller: &Caller, filter: &mut Filter) -> Result<i64> {
        let p = &caller.principal;
        Reach::of(p, "customers.export")?;
        let reach = Reach::of(p, "customers.read")?;
        if let Some(me) = reach.owner_filter() {
            if filter.owner_id.is_some_and(|o| o != me) {
                return Ok(0);
            }
            filter.owner_id = Some(me);
        }
        self.store.count(p.tenant_id, filter).await
    }
}

impl Importer<'_> {
    /// Takes row number `row`: its input (or why it could not be read) and the fields it sets
    /// (what an update of a duplicate changes). Only a store failure is an error.
    pub async fn row(
        &mut self,
        row: i64,
        input: Result<CustomerInput>,
        paths: Vec<String>,
    ) -> Result<()> {
        self.report.received += 1;
        let input = match input {
            Ok(input) => input,
            Err(e) => return self.rejected(row, String::new(), e.field_violations().to_vec()),
        };
        let email = input.email.clone();
        let p = &self.caller.principal;
        if let (Reach::Own(me), Some(owner)) = (self.reach, input.owner_id)
            && owner != me
        {
            let problem = "must be you: customers.write is granted only on customers you own";
            let violations = vec![("customer.owner_id".into(), problem.into())];
            return self.rejected(row, email, violations);
        }
        let now = self.customers.now();
        let customer = match Customer::create(p.tenant_id, input.clone(), p.user_id, now) {
            Ok(c) => c,
            Err(problems) => {
                let violations = problems
                    .into_iter()
                    .map(|(f, d)| (format!("customer.{f}"), d))
                    .collect();
                return self.rejected(row, email, violations);
            }
        };
        let Some(address) = customer.email.clone() else {
            return self.add(row, customer).await;
        };
        if self.pending_emails.contains_key(&address) {
            // A duplicate of an earlier row of this import: commit that one first.
            self.flush().await?;
        }
        let stored = self.customers.store.by_email(p.tenant_id, &address).await?;
        match (stored, self.options.duplicates) {
            (None, _) => self.add(row, customer).await,
            (Some(_), Duplicates::Skip) => {
                self.report.skipped += 1;
                Ok(())
            }
            (Some(holder), Duplicates::Fail) => {
                let problem = format!("a customer with this email already exists ({})", holder.id);
                self.rejected(row, email, vec![("customer.email".into(), problem)])
            }
            (Some(holder), Duplicates::Update) => self.update(row, holder.id, input, paths).await,
        }
    }

    fn rejected(&mut self, row: i64, email: String, violations: Vec<Violation>) -> Result<()> {
        self.reject(row, email, violations);
        Ok(())
    }

    fn reject(&mut self, row: i64, email: String, violations: Vec<Violation>) {
        self.report.failed += 1;
        if self.report.errors.len() < MAX_LISTED_ERRORS {
            self.report.errors.push(RowError {
                row,
                email,
                violations,
            });
        }
    }

    async fn add(&mut self, row: i64, customer: Customer) -> Result<()> {
        if let Some(email) = &customer.email {
            self.pending_emails
                .insert(email.clone(), self.pending.len());
        }
        self.pending.push((row, customer));
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn update(
        &mut self,
        row: i64,
        id: Uuid,
        input: CustomerInput,
        paths: Vec<String>,
    ) -> Result<()> {
        if self.options.dry_run {
            self.report.updated += 1;
            return Ok(());
        }
        let caller = self.caller;
        let now = self.customers.now();
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, "customers.write")?;
            let changed = c
                .apply(input, &paths, now)
                .map_err(|e| invalid("customer", e))?;
            if changed.is_empty() {
                return Ok(Vec::new());
            }
            let updated = events::CustomerUpdated {
                customer: Some(customer_pb(c)),
                changed_fields: changed,
                updated_by_user_id: caller.principal.user_id.to_string(),
            };
            Ok(vec![event(caller, c, &updated, now)])
        });
        let email = String::new();
        match self
            .customers
            .store
            .update(caller.principal.tenant_id, id, change)
            .await
        {
            Ok(_) => self.report.updated += 1,
            Err(e) if is_row_error(&e) => {
                let violations = violations_of(&e);
                self.reject(row, email, violations);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Writes the pending rows in one transaction. If another writer took one of their emails
    /// meanwhile, the batch is written row by row instead, and that row reported.
    async fn flush(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.pending);
        self.pending_emails.clear();
        if batch.is_empty() {
            return Ok(());
        }
        if self.options.dry_run {
            self.report.created += batch.len() as i64;
            return Ok(());
        }
        let (customers, events): (Vec<Customer>, Vec<OutboxEvent>) = batch
            .iter()
            .map(|(_, c)| (c.clone(), self.created_event(c)))
            .unzip();
        let store = &self.customers.store;
        match store.insert_batch(&customers, events).await {
            Ok(()) => {
                self.report.created += customers.len() as i64;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                for (row, customer) in batch {
                    let event = self.created_event(&customer);
                    match store.insert(&customer, vec![event]).await {
                        Ok(()) => self.report.created += 1,
                        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                            match self.options.duplicates {
                                Duplicates::Skip => self.report.skipped += 1,
                                Duplicates::Fail | Duplicates::Update => {
                                    let email = customer.email.clone().unwrap_or_default();
                                    self.reject(row, email, violations_of(&e));
                                }
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn created_event(&self, customer: &Customer) -> OutboxEvent {
        let created = events::CustomerCreated {
            customer: Some(customer_pb(customer)),
            created_by_user_id: self.caller.principal.user_id.to_string(),
        };
        event(self.caller, customer, &created, customer.created_at)
    }

    /// Writes what is pending and returns the report.
    pub async fn finish(mut self) -> Result<ImportReport> {
        self.flush().await?;
        Ok(self.report)
    }

    /// The report so far (rows pending in an unfinished batch are not counted as created).
    pub fn report(&self) -> &ImportReport {
        &self.report
    }
}

fn is_row_error(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::InvalidArgument | ErrorKind::AlreadyExists | ErrorKind::PermissionDenied
    )
}

fn violations_of(e: &Error) -> Vec<Violation> {
    if e.field_violations().is_empty() {
        vec![("customer".into(), e.message().to_owned())]
    } else {
        e.field_violations().to_vec()
    }
}
