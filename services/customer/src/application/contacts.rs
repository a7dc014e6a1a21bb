//! Contacts: the people at a customer, changed through the customer aggregate so its rules hold
//! (one primary contact at most, bounded count), each change with its event.

use crm_core::{Error, Result};
use uuid::Uuid;

use super::{Caller, Customers, check_etag, invalid, writable};
use crate::domain::customer::{Contact, ContactInput, Customer};
use crate::domain::events::{contact_added, contact_removed, contact_updated, customer_updated};

impl Customers {
    /// The contacts of a customer the caller may read, in the order added, after `after`.
    pub async fn contacts(
        &self,
        caller: &Caller,
        customer_id: Uuid,
        after: Option<Uuid>,
        size: u32,
    ) -> Result<(Customer, Vec<Contact>)> {
        let customer = self.get(caller, customer_id).await?;
        let page = customer
            .contacts
            .iter()
            .filter(|c| after.is_none_or(|a| c.id > a))
            .take(size as usize)
            .cloned()
            .collect();
        Ok((customer, page))
    }

    /// Adds a contact, made the customer's primary one when `primary` asks.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, customer_id = %customer_id))]
    pub async fn add_contact(
        &self,
        caller: &Caller,
        customer_id: Uuid,
        input: ContactInput,
        primary: bool,
    ) -> Result<(Customer, Uuid)> {
        let p = &caller.principal;
        let now = self.now();
        let added_id = std::sync::Mutex::new(None);
        let change = Box::new(|c: &mut Customer| {
            writable(caller, c, "customers.write")?;
            let contact = c
                .add_contact(input.clone(), now)
                .map_err(|e| invalid("", e))?;
            let contact_id = contact.id;
            *added_id.lock().expect("not poisoned") = Some(contact_id);
            if primary {
                c.set_primary_contact(contact_id, now);
            }
            let cause = caller.cause(now);
            let mut caused = vec![contact_added(c, contact_id, &cause)];
            if primary {
                let changed = vec!["primary_contact_id".into()];
                caused.push(customer_updated(c, changed, &cause));
            }
            Ok(caused)
        });
        let customer = self.store.update(p.tenant_id, customer_id, change).await?;
        let id = added_id
            .into_inner()
            .expect("not poisoned")
            .expect("the change ran");
        Ok((customer, id))
    }

    /// Changes the fields of a contact named in `paths`, if `etag` (the contact's) is current.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, customer_id = %customer_id))]
    pub async fn update_contact(
        &self,
        caller: &Caller,
        customer_id: Uuid,
        contact_id: Uuid,
        etag: &str,
        input: ContactInput,
        paths: Vec<String>,
    ) -> Result<Customer> {
        let p = &caller.principal;
        let now = self.now();
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, "customers.write")?;
            let current = c
                .contact(contact_id)
                .ok_or_else(|| Error::not_found("contact", contact_id))?;
            check_etag(etag, current.version, "contact")?;
            let changed = c
                .update_contact(contact_id, input.clone(), &paths, now)
                .expect("the contact exists")
                .map_err(|e| invalid("", e))?;
            if changed.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![contact_updated(
                c,
                contact_id,
                changed,
                &caller.cause(now),
            )])
        });
        self.store.update(p.tenant_id, customer_id, change).await
    }

    /// Removes a contact.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, customer_id = %customer_id))]
    pub async fn remove_contact(
        &self,
        caller: &Caller,
        customer_id: Uuid,
        contact_id: Uuid,
    ) -> Result<()> {
        let p = &caller.principal;
        let now = self.now();
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, "customers.write")?;
            if !c.remove_contact(contact_id, now) {
                return Err(Error::not_found("contact", contact_id));
            }
            Ok(vec![contact_removed(c, contact_id, &caller.cause(now))])
        });
        self.store
            .update(p.tenant_id, customer_id, change)
            .await
            .map(drop)
    }

    /// Makes a contact the customer's primary one.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, customer_id = %customer_id))]
    pub async fn set_primary_contact(
        &self,
        caller: &Caller,
        customer_id: Uuid,
        contact_id: Uuid,
    ) -> Result<Customer> {
        let p = &caller.principal;
        let now = self.now();
        let change = Box::new(move |c: &mut Customer| {
            writable(caller, c, "customers.write")?;
            let before = c.version;
            if !c.set_primary_contact(contact_id, now) {
                return Err(Error::not_found("contact", contact_id));
            }
            if c.version == before {
                return Ok(Vec::new());
            }
            let changed = vec!["primary_contact_id".into()];
            Ok(vec![customer_updated(c, changed, &caller.cause(now))])
        });
        self.store.update(p.tenant_id, customer_id, change).await
    }
}
