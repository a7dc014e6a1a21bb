//! Contacts: the people at a customer, changed through the customer aggregate so its rules hold
//! (one primary contact at most, bounded count), each change with its event.

use crm_core::{Error, Result};
use crm_proto::crm::customer::events::v1 as events;
use uuid::Uuid;

use super::messages::contact_pb;
use super::{Caller, Customers, check_etag, event, invalid, writable};
use crate::domain::customer::{Contact, ContactInput, Customer};

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
            let added = events::ContactAdded {
                customer_id: c.id.to_string(),
                contact: Some(contact_pb(c, c.contacts.last().expect("just added"))),
                added_by_user_id: p.user_id.to_string(),
            };
            let mut caused = vec![event(caller, c, &added, now)];
            if primary {
                let updated = events::CustomerUpdated {
                    customer: Some(super::messages::customer_pb(c)),
                    changed_fields: vec!["primary_contact_id".into()],
                    updated_by_user_id: p.user_id.to_string(),
                };
                caused.push(event(caller, c, &updated, now));
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
            let contact = c.contact(contact_id).expect("the contact exists");
            let updated = events::ContactUpdated {
                customer_id: c.id.to_string(),
                contact: Some(contact_pb(c, contact)),
                changed_fields: changed,
                updated_by_user_id: p.user_id.to_string(),
            };
            Ok(vec![event(caller, c, &updated, now)])
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
            let removed = events::ContactRemoved {
                customer_id: c.id.to_string(),
                contact_id: contact_id.to_string(),
                removed_by_user_id: p.user_id.to_string(),
                remove_time: Some(crm_core::api::timestamp(now)),
            };
            Ok(vec![event(caller, c, &removed, now)])
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
            let updated = events::CustomerUpdated {
                customer: Some(super::messages::customer_pb(c)),
                changed_fields: vec!["primary_contact_id".into()],
                updated_by_user_id: p.user_id.to_string(),
            };
            Ok(vec![event(caller, c, &updated, now)])
        });
        self.store.update(p.tenant_id, customer_id, change).await
    }
}
