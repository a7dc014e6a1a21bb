//! Customers: create, read, list, search, change, delete.

use crm_core::authz::Scope;
use crm_core::text::sort_key;
use crm_core::{Error, ErrorKind, Result, UserId};
use uuid::Uuid;

use super::custom_fields::check_values;
use super::{Caller, Customers, Reach, check_etag, invalid, readable, writable};
use crate::domain::custom_field::CustomField;
use crate::domain::customer::{Customer, CustomerInput};
use crate::domain::events::{customer_created, customer_deleted, customer_updated};
use crate::domain::ports::{Cursor, Filter, Order};

/// A page of customers.
#[derive(Debug)]
pub struct CustomerPage {
    /// The customers.
    pub customers: Vec<Customer>,
    /// Where the next page starts, when more may follow.
    pub next: Option<Cursor>,
    /// How many customers the listing matches, on its first page.
    pub total: Option<i64>,
}

/// The longest search query, in characters, and the most words it may hold.
pub const MAX_QUERY_CHARS: usize = 200;
const MAX_QUERY_WORDS: usize = 8;

impl Customers {
    /// Creates a customer in the caller's tenant, owned by the caller unless `input` names
    /// another owner (which needs `customers.write` on every customer).
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id))]
    pub async fn create(&self, caller: &Caller, input: CustomerInput) -> Result<Customer> {
        let p = &caller.principal;
        let reach = Reach::of(p, "customers.write")?;
        if let (Reach::Own(me), Some(owner)) = (reach, input.owner_id)
            && owner != me
        {
            return Err(not_owner("customers.write"));
        }
        if let Some(owner) = input.owner_id
            && let Some(problem) = self.owner_problem(caller, owner).await
        {
            return Err(problem.error(owner));
        }
        let now = self.now();
        let mut customer = Customer::create(p.tenant_id, input, p.user_id, now)
            .map_err(|problems| invalid("customer", problems))?;
        // Our own services (sales converting a lead, which has no custom fields) create without
        // the required ones; what they do send still holds its type.
        check_values(
            &self.definitions(caller).await?,
            &mut customer,
            p.service.is_none(),
            "customer",
        )?;
        let events = vec![customer_created(&customer, &caller.cause(now))];
        match self.store.insert(&customer, events).await {
            Ok(()) => Ok(customer),
            Err(e) => Err(self.holder_if_readable(caller, e).await),
        }
    }

    /// A customer the caller may read.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Customer> {
        let p = &caller.principal;
        let customer = self
            .store
            .get(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("customer", id))?;
        readable(caller, &customer)?;
        Ok(customer)
    }

    /// A page of the customers the caller may read.
    pub async fn list(
        &self,
        caller: &Caller,
        mut filter: Filter,
        order: Order,
        after: Option<Cursor>,
        size: u32,
    ) -> Result<CustomerPage> {
        let p = &caller.principal;
        let reach = Reach::of(p, "customers.read")?;
        self.read_field_filters(caller, &mut filter).await?;
        if !restrict(&mut filter, reach) {
            return Ok(CustomerPage {
                customers: Vec::new(),
                next: None,
                total: after.is_none().then_some(0),
            });
        }
        // Counted on the first page only: the later pages of one listing need it no more.
        let total = match after {
            None => Some(self.store.count(p.tenant_id, &filter).await?),
            Some(_) => None,
        };
        let customers = self
            .store
            .list(p.tenant_id, &filter, order, after.as_ref(), size)
            .await?;
        let next = (customers.len() as u32 == size)
            .then(|| customers.last())
            .flatten()
            .map(|last| Cursor {
                key: match order {
                    Order::Name | Order::NameDesc => sort_key(&last.display_name),
                    Order::Created | Order::CreatedDesc => String::new(),
                },
                id: last.id,
            });
        Ok(CustomerPage {
            customers,
            next,
            total,
        })
    }

    /// The customers matching every word of `query` (the last a prefix), best first; `offset`
    /// skips that many.
    pub async fn search(
        &self,
        caller: &Caller,
        query: &str,
        mut filter: Filter,
        offset: u32,
        size: u32,
    ) -> Result<Vec<Customer>> {
        let p = &caller.principal;
        let reach = Reach::of(p, "customers.read")?;
        self.read_field_filters(caller, &mut filter).await?;
        let reaches = restrict(&mut filter, reach);
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid_field(
                "query",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let words = crate::domain::values::search_words(query);
        if words.is_empty() {
            return Err(Error::invalid_field(
                "query",
                "must contain a word: letters or digits, e.g. batik or 012345",
            ));
        }
        if words.len() > MAX_QUERY_WORDS {
            return Err(Error::invalid_field(
                "query",
                format!("must have at most {MAX_QUERY_WORDS} words"),
            ));
        }
        if !reaches {
            return Ok(Vec::new());
        }
        self.store
            .search(p.tenant_id, &words, &filter, offset, size)
            .await
    }

    /// Changes the fields of `input` named in `paths`, if `etag` is current (or empty).
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, customer_id = %id))]
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        input: CustomerInput,
        paths: Vec<String>,
    ) -> Result<Customer> {
        let owner = input
            .owner_id
            .filter(|_| paths.iter().any(|f| f == "owner_id"));
        let fields = if paths.iter().any(|f| f == "custom_fields") {
            self.definitions(caller).await?
        } else {
            Vec::new()
        };
        self.update_with(caller, id, etag, owner, &fields, "customer", move |_| {
            (input.clone(), paths.clone())
        })
        .await
    }

    /// Changes a customer by what `make` asks of it as stored (the input and the fields it
    /// sets), if `etag` is current (or empty); `owner` is the owner it may give the customer
    /// (checked against IAM before the transaction), `fields` the custom fields its values are
    /// checked against when they change, `prefix` the name its field violations start with.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn update_with(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        owner: Option<UserId>,
        fields: &[CustomField],
        prefix: &'static str,
        make: impl Fn(&Customer) -> (CustomerInput, Vec<String>) + Send + Sync,
    ) -> Result<Customer> {
        let p = &caller.principal;
        let now = self.now();
        // Asked before the transaction (IAM is another service); it counts only if the change
        // does give the customer to someone else.
        let owner_problem = match owner {
            Some(owner) => self
                .owner_problem(caller, owner)
                .await
                .map(|problem| (owner, problem)),
            None => None,
        };
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, "customers.write")?;
            check_etag(etag, c.version, "customer")?;
            let (input, paths) = make(c);
            let new_owner = input.owner_id;
            let changed = c
                .apply(input, &paths, now)
                .map_err(|e| invalid(prefix, e))?;
            if changed.iter().any(|f| f == "custom_fields") {
                check_values(fields, c, true, prefix)?;
            }
            if changed.iter().any(|f| f == "owner_id")
                && let Reach::Own(me) = Reach::of(p, "customers.write")?
                && new_owner != Some(me)
            {
                return Err(not_owner("customers.write"));
            }
            if changed.iter().any(|f| f == "owner_id")
                && let Some((owner, problem)) = &owner_problem
            {
                return Err(problem.error(*owner));
            }
            if changed.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![customer_updated(c, changed, &caller.cause(now))])
        });
        match self.store.update(p.tenant_id, id, change).await {
            Ok(c) => Ok(c),
            Err(e) => Err(self.holder_if_readable(caller, e).await),
        }
    }

    /// Deletes a customer (softly: it is gone from every read, and its email is free again).
    /// One with open opportunities is refused with their count, unless the caller closes them
    /// as lost (`close_open`, with `opportunities.close` on every one): sales closes them on
    /// `CustomerDeleted`. Our own services (the conversion saga undoing its customer) delete
    /// as before.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, customer_id = %id))]
    pub async fn delete(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        close_open: bool,
    ) -> Result<()> {
        let p = &caller.principal;
        let found = self
            .store
            .get(p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("customer", id))?;
        writable(caller, &found, "customers.delete")?;
        if p.service.is_none() {
            let owners = self.opportunities.owners(p.tenant_id, id).await?;
            if !owners.is_empty() && !close_open {
                return Err(open_opportunities(&found, owners.len()));
            }
            if close_open {
                may_close(p, &owners)?;
            }
        }
        let now = self.now();
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, "customers.delete")?;
            check_etag(etag, c.version, "customer")?;
            c.delete(now);
            Ok(vec![customer_deleted(c, &caller.cause(now), close_open)])
        });
        self.store.delete(p.tenant_id, id, change).await
    }
}

/// Narrows a read to what the caller reaches; false when it reaches nothing the filter asks
/// for (another owner's customers under `:own`).
pub(super) fn restrict(filter: &mut Filter, reach: Reach) -> bool {
    match reach.owner_filter() {
        Some(me) if filter.owner_id.is_some_and(|o| o != me) => false,
        Some(me) => {
            filter.owner_id = Some(me);
            true
        }
        None => true,
    }
}

/// The refusal of deleting `c` while it has `count` open opportunities.
fn open_opportunities(c: &Customer, count: usize) -> Error {
    let them = if count == 1 {
        "1 open opportunity".to_owned()
    } else {
        format!("{count} open opportunities")
    };
    Error::new(
        ErrorKind::FailedPrecondition,
        format!(
            "{} has {them}: win or lose them first, or delete the customer closing them as lost",
            c.display_name
        ),
    )
    .with_reason("OPEN_OPPORTUNITIES")
    .with_metadata("count", count.to_string())
}

/// Whether `p` may close every opportunity `owners` own (`opportunities.close`, unscoped or
/// on their own).
fn may_close(p: &crm_core::Principal, owners: &[Option<UserId>]) -> Result<()> {
    let permission = "opportunities.close";
    let refusal = match p.scope(permission) {
        Some(Scope::All) => return Ok(()),
        Some(Scope::Own | Scope::Team) if owners.iter().all(|o| *o == Some(p.user_id)) => {
            return Ok(());
        }
        Some(_) => {
            "some of the customer's open opportunities are not yours to close: ask their owners or a sales manager"
        }
        None => "your roles do not let you close opportunities: ask a sales manager",
    };
    Err(Error::permission_denied(refusal)
        .with_reason("MISSING_PERMISSION")
        .with_metadata("permission", permission))
}

fn not_owner(permission: &str) -> Error {
    Error::permission_denied(format!(
        "your roles let you {} only for the customers you own: the owner stays you",
        crm_core::permission_words::words(permission)
    ))
    .with_reason("NOT_OWNER")
    .with_metadata("permission", permission)
}
