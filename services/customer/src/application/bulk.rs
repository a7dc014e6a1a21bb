//! Bulk import and export. An import validates each row on its own (a bad row is reported with
//! its number and fields and never stops the others) and writes new customers in batches of
//! [`BATCH`], one transaction each with their events, so memory stays flat however long the
//! stream is and a broken stream keeps every batch committed before it. Duplicates (by primary
//! email, in the store or earlier in the same import) are skipped, updated or reported, as asked;
//! a batch looks its emails up in one statement.

use std::collections::HashMap;

use crm_core::{Error, ErrorKind, Result};
use uuid::Uuid;

use super::custom_fields::check_values;
use super::{Caller, Customers, Reach, invalid, writable};
use crate::domain::custom_field::CustomField;
use crate::domain::customer::{Customer, CustomerInput};
use crate::domain::events::{customer_created, customer_updated};
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
    /// The first [`MAX_LISTED_ERRORS`] rows imported with a doubtful value set aside (a phone
    /// that is not a number, kept in the notes as written).
    pub warnings: Vec<RowError>,
}

/// A row waiting for its batch.
struct Pending {
    row: i64,
    customer: Customer,
    /// What an update of its duplicate applies (kept only when duplicates are updated).
    update: Option<(CustomerInput, Vec<String>)>,
}

/// An import in progress: rows go in one at a time, batches go to the store as they fill.
pub struct Importer<'a> {
    customers: &'a Customers,
    caller: &'a Caller,
    options: ImportOptions,
    reach: Reach,
    pending: Vec<Pending>,
    /// Emails of the pending rows.
    pending_emails: HashMap<String, i64>,
    /// What IAM said of each owner the rows named.
    owners: HashMap<crm_core::UserId, Option<super::OwnerProblem>>,
    /// The workspace's custom fields, read at the first row.
    fields: Option<Vec<CustomField>>,
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
            owners: HashMap::new(),
            fields: None,
            report: ImportReport::default(),
        })
    }

    /// Checks that `caller` may export, and how many customers `filter` matches.
    pub async fn export_count(&self, caller: &Caller, filter: &mut Filter) -> Result<i64> {
        let p = &caller.principal;
        Reach::of(p, "customers.export")?;
        let reach = Reach::of(p, "customers.read")?;
        self.read_field_filters(caller, filter).await?;
        if !super::customers::restrict(filter, reach) {
            return Ok(0);
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
            let problem =
                "must be you: your roles let you create and change only the customers you own";
            let violations = vec![("customer.owner_id".into(), problem.into())];
            return self.rejected(row, email, violations);
        }
        if let Some(owner) = input.owner_id {
            // Each owner is asked about once per import.
            let problem = match self.owners.get(&owner) {
                Some(known) => known.clone(),
                None => {
                    let found = self.customers.owner_problem(self.caller, owner).await;
                    self.owners.insert(owner, found.clone());
                    found
                }
            };
            if let Some(problem) = problem {
                return self.rejected(row, email, vec![problem.violation(owner)]);
            }
        }
        let now = self.customers.now();
        let prefixed = |problems: Vec<Violation>| -> Vec<Violation> {
            problems
                .into_iter()
                .map(|(f, d)| (format!("customer.{f}"), d))
                .collect()
        };
        // A row whose only fault is a phone that is not a number is imported without it, the
        // phone kept in the notes as written, and the row reported as a warning.
        let (input, mut customer) =
            match Customer::create(p.tenant_id, input.clone(), p.user_id, now) {
                Ok(c) => (input, c),
                Err(problems) => match doubtful_phones(&input, &problems) {
                    Some((kept, warnings)) => {
                        match Customer::create(p.tenant_id, kept.clone(), p.user_id, now) {
                            Ok(c) => {
                                self.warn(row, email.clone(), prefixed(warnings));
                                (kept, c)
                            }
                            Err(problems) => return self.rejected(row, email, prefixed(problems)),
                        }
                    }
                    None => return self.rejected(row, email, prefixed(problems)),
                },
            };
        if self.fields.is_none() {
            self.fields = Some(self.customers.definitions(self.caller).await?);
        }
        let fields = self.fields.as_deref().unwrap_or_default();
        if let Err(e) = check_values(fields, &mut customer, true, "customer") {
            return self.rejected(row, email, e.field_violations().to_vec());
        }
        let update = (self.options.duplicates == Duplicates::Update).then_some((input, paths));
        if let Some(address) = &customer.email {
            if let Some(earlier) = self.pending_emails.get(address).copied() {
                if self.options.dry_run {
                    // Nothing is written in a dry run: the earlier row stands for the stored one.
                    return self
                        .duplicate(row, address.clone(), format!("row {earlier}"), update)
                        .await;
                }
                // A duplicate of an earlier row of this batch: commit that one first.
                self.flush().await?;
            }
            self.pending_emails.insert(address.clone(), row);
        }
        self.pending.push(Pending {
            row,
            customer,
            update,
        });
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    fn warn(&mut self, row: i64, email: String, violations: Vec<Violation>) {
        if self.report.warnings.len() < MAX_LISTED_ERRORS {
            self.report.warnings.push(RowError {
                row,
                email,
                violations,
            });
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

    /// A row whose email `holder` (a customer id, or an earlier row in a dry run) has.
    async fn duplicate(
        &mut self,
        row: i64,
        email: String,
        holder: String,
        update: Option<(CustomerInput, Vec<String>)>,
    ) -> Result<()> {
        // A holder the importer may not read is someone else's: never named by its id, never
        // updated, and the import goes on with the next row.
        let unreadable = match Uuid::try_parse(&holder) {
            Ok(id) => !self.customers.may_read(self.caller, id).await?,
            Err(_) => false,
        };
        let theirs = || {
            vec![(
                "customer.email".to_owned(),
                "a customer with this email already exists and is someone else's: ask its owner or a manager".to_owned(),
            )]
        };
        match (self.options.duplicates, update) {
            (Duplicates::Skip, _) => {
                self.report.skipped += 1;
                Ok(())
            }
            (Duplicates::Update, _) if unreadable => self.rejected(row, email, theirs()),
            (Duplicates::Update, Some((input, paths))) if !self.options.dry_run => {
                let id = Uuid::try_parse(&holder).map_err(|e| {
                    Error::internal("a duplicate's holder is not an id", anyhow::anyhow!(e))
                })?;
                self.update(row, id, input, paths).await
            }
            (Duplicates::Update, _) => {
                self.report.updated += 1;
                Ok(())
            }
            (Duplicates::Fail, _) if unreadable => self.rejected(row, email, theirs()),
            (Duplicates::Fail, _) => {
                let problem = format!("a customer with this email already exists ({holder})");
                self.rejected(row, email, vec![("customer.email".into(), problem)])
            }
        }
    }

    async fn update(
        &mut self,
        row: i64,
        id: Uuid,
        input: CustomerInput,
        paths: Vec<String>,
    ) -> Result<()> {
        let caller = self.caller;
        let now = self.customers.now();
        let email = input.email.clone();
        let fields = self.fields.as_deref().unwrap_or_default();
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, "customers.write")?;
            let changed = c
                .apply(input.clone(), &paths, now)
                .map_err(|e| invalid("customer", e))?;
            if changed.iter().any(|f| f == "custom_fields") {
                check_values(fields, c, true, "customer")?;
            }
            if changed.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![customer_updated(c, changed, &caller.cause(now))])
        });
        match self
            .customers
            .store
            .update(caller.principal.tenant_id, id, change)
            .await
        {
            Ok(_) => self.report.updated += 1,
            Err(e) if is_row_error(&e) => self.reject(row, email, violations_of(&e)),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Settles the pending rows: one lookup of their emails, duplicates handled as asked, and
    /// the new customers written in one transaction. If another writer took one of their emails
    /// meanwhile, they are written row by row instead, and that row handled as a duplicate.
    async fn flush(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.pending);
        self.pending_emails.clear();
        if batch.is_empty() {
            return Ok(());
        }
        let tenant = self.caller.principal.tenant_id;
        let emails: Vec<String> = batch
            .iter()
            .filter_map(|p| p.customer.email.clone())
            .collect();
        let taken: HashMap<String, Uuid> = self
            .customers
            .store
            .taken_emails(tenant, &emails)
            .await?
            .into_iter()
            .collect();
        let mut fresh = Vec::with_capacity(batch.len());
        for p in batch {
            let holder = p
                .customer
                .email
                .as_ref()
                .and_then(|e| taken.get(e))
                .copied();
            match holder {
                Some(holder) => {
                    let email = p.customer.email.clone().unwrap_or_default();
                    self.duplicate(p.row, email, holder.to_string(), p.update)
                        .await?;
                }
                None => fresh.push(p),
            }
        }
        if self.options.dry_run {
            self.report.created += fresh.len() as i64;
            return Ok(());
        }
        let (customers, events): (Vec<Customer>, Vec<OutboxEvent>) = fresh
            .iter()
            .map(|p| (p.customer.clone(), self.created_event(&p.customer)))
            .unzip();
        match self.customers.store.insert_batch(&customers, events).await {
            Ok(()) => {
                self.report.created += customers.len() as i64;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => self.one_by_one(fresh).await,
            Err(e) => Err(e),
        }
    }

    async fn one_by_one(&mut self, rows: Vec<Pending>) -> Result<()> {
        for p in rows {
            let event = self.created_event(&p.customer);
            match self.customers.store.insert(&p.customer, vec![event]).await {
                Ok(()) => self.report.created += 1,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let email = p.customer.email.clone().unwrap_or_default();
                    let holder = e.metadata("customer_id").unwrap_or_default().to_owned();
                    self.duplicate(p.row, email, holder, p.update).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn created_event(&self, customer: &Customer) -> OutboxEvent {
        customer_created(customer, &self.caller.cause(customer.created_at))
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

/// When every problem of a row is one of its phones (not a number), the row without those
/// phones, each kept at the end of the notes as written, and a warning for each.
fn doubtful_phones(
    input: &CustomerInput,
    problems: &[Violation],
) -> Option<(CustomerInput, Vec<Violation>)> {
    let mut doubtful = std::collections::BTreeSet::new();
    for (field, _) in problems {
        let index = field
            .strip_prefix("phones[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(i, _)| i.parse::<usize>().ok())?;
        doubtful.insert(index);
    }
    if doubtful.is_empty() {
        return None;
    }
    let mut kept = input.clone();
    let mut notes = vec![kept.notes.trim_end().to_owned()];
    let mut warnings = Vec::new();
    for (i, phone) in input.phones.iter().enumerate() {
        if !doubtful.contains(&i) {
            continue;
        }
        notes.push(format!("Phone as written: {}", phone.number.trim()));
        let why = problems
            .iter()
            .find(|(f, _)| f.starts_with(&format!("phones[{i}]")))
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        warnings.push((
            format!("phones[{i}].e164_number"),
            format!(
                "{why}; the customer was imported without it, and the phone is kept in the notes as written"
            ),
        ));
    }
    kept.phones = input
        .phones
        .iter()
        .enumerate()
        .filter(|(i, _)| !doubtful.contains(i))
        .map(|(_, p)| p.clone())
        .collect();
    kept.notes = notes
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    Some((kept, warnings))
}
