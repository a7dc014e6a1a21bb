//! gRPC ⇄ use cases: `crm.customer.v1.CustomerService`. Decoding requests (ids, masks, page
//! tokens, enums) and encoding responses; no business rules here.

mod batch;
mod bulk;
pub mod convert;
mod custom_fields;

pub use custom_fields::CustomFieldGrpc;

use std::pin::Pin;

use crm_core::api::{self, bounded, mask_paths};
use crm_core::{Error, RequestContext, UserId};
use crm_proto::crm::customer::v1 as pb;
use futures::Stream;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use crate::application::custom_fields::MAX_FIELD_FILTERS;
use crate::application::{Caller, Customers};
use crate::domain::customer::{
    CONTACT_UPDATABLE, CustomerType, Status as CustomerStatus, UPDATABLE,
};
use crate::domain::messages::{contact_pb, customer_pb};
use crate::domain::ports::{Credential, Cursor, Filter, Order};
use crate::domain::values::{CustomValue, MAX_CUSTOM_KEY, MAX_CUSTOM_VALUE};
use convert::{contact_input, contact_set_fields, customer_input, set_fields};

/// The customer service over [`Customers`].
#[derive(Clone)]
pub struct CustomerGrpc {
    customers: Customers,
}

impl CustomerGrpc {
    /// Serves `customers`.
    pub fn new(customers: Customers) -> CustomerGrpc {
        CustomerGrpc { customers }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The longest etag a request may carry (ours are version numbers).
const MAX_ETAG: usize = 64;
/// The most tags a filter may name.
const MAX_FILTER_TAGS: usize = 10;

pub(super) fn caller<T>(request: &Request<T>) -> Result<Caller, Error> {
    let context = RequestContext::of(request)?;
    // As the auth layer reads them: a key first.
    let credential = ["x-api-key", "authorization"].into_iter().find_map(|name| {
        let value = request.metadata().get(name)?.to_str().ok()?;
        Some(Credential {
            name,
            value: value.to_owned(),
        })
    });
    Ok(Caller {
        principal: context.principal()?.clone(),
        causation: crm_events::Causation::of_request(context),
        credential,
    })
}

fn id(field: &str, raw: &str, what: &str) -> Result<Uuid, Error> {
    api::uuid(field, raw, what)
}

/// A status asked for on `field` (`None` when unspecified).
fn status_of(field: &str, raw: i32) -> Result<Option<CustomerStatus>, Error> {
    Ok(match api::enum_filter::<pb::CustomerStatus>(field, raw)? {
        Some(pb::CustomerStatus::Prospect) => Some(CustomerStatus::Prospect),
        Some(pb::CustomerStatus::Active) => Some(CustomerStatus::Active),
        Some(pb::CustomerStatus::Inactive) => Some(CustomerStatus::Inactive),
        Some(pb::CustomerStatus::Unspecified) | None => None,
    })
}

/// At most `max` tags on `field`, normalised (trimmed, lower-cased, each once).
fn tags_of(field: &str, raw: &[String], max: usize) -> Result<Vec<String>, Error> {
    api::bounded_list(field, raw, max, 256)?;
    crate::domain::values::tags(raw).map_err(|e| Error::invalid_field(field, e))
}

fn filter(
    customer_type: i32,
    status: i32,
    tags: &[String],
    owner_id: &str,
    custom_fields: &[String],
) -> Result<Filter, Error> {
    let customer_type = match api::enum_filter::<pb::CustomerType>("type", customer_type)? {
        Some(pb::CustomerType::Individual) => Some(CustomerType::Individual),
        Some(pb::CustomerType::Business) => Some(CustomerType::Business),
        Some(pb::CustomerType::Unspecified) | None => None,
    };
    let status = status_of("status", status)?;
    let tags = tags_of("tags", tags, MAX_FILTER_TAGS)?;
    let owner_id = api::optional_uuid("owner_id", owner_id, "a user id")?.map(UserId::from);
    Ok(Filter {
        customer_type,
        status,
        tags,
        owner_id,
        custom_fields: custom_field_filters(custom_fields)?,
    })
}

/// A list's `key=value` custom field filters, as sent (the use case reads each value as its
/// field's type).
fn custom_field_filters(raw: &[String]) -> Result<Vec<(String, CustomValue)>, Error> {
    api::bounded_list(
        "custom_fields",
        raw,
        MAX_FIELD_FILTERS,
        MAX_CUSTOM_KEY + 1 + MAX_CUSTOM_VALUE,
    )?;
    raw.iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => Ok((key.to_owned(), CustomValue::Text(value.to_owned()))),
            None => Err(Error::invalid_field(
                "custom_fields",
                format!("{pair:?} is not key=value, e.g. preferred_motif=parang"),
            )),
        })
        .collect()
}

fn order(raw: &str) -> Result<Order, Error> {
    match raw.trim() {
        "" | "create_time" | "create_time asc" => Ok(Order::Created),
        "create_time desc" => Ok(Order::CreatedDesc),
        "display_name" | "display_name asc" => Ok(Order::Name),
        "display_name desc" => Ok(Order::NameDesc),
        other => Err(Error::invalid_field(
            "order_by",
            format!(
                "{other:?} is not an order of this list; use create_time, create_time desc, display_name or display_name desc"
            ),
        )),
    }
}

/// A list's cursor as its page token's text: the id, then the sort key.
fn cursor_text(c: &Cursor) -> String {
    format!("{}:{}", c.id, c.key)
}

fn cursor(text: Option<String>) -> Result<Option<Cursor>, Error> {
    let bad = || Error::invalid_field("page_token", "is not a page token of this list");
    text.map(|t| {
        let (id, key) = t.split_once(':').ok_or_else(bad)?;
        Ok(Cursor {
            key: key.to_owned(),
            id: Uuid::try_parse(id).map_err(|_| bad())?,
        })
    })
    .transpose()
}

#[tonic::async_trait]
impl pb::customer_service_server::CustomerService for CustomerGrpc {
    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Reply<pb::ListCustomersResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        bounded("order_by", &r.order_by, 64)?;
        let order = order(&r.order_by)?;
        let filter = filter(r.r#type, r.status, &r.tags, &r.owner_id, &r.custom_fields)?;
        // The order is part of the list's name: a token of another order is refused.
        let list = format!("customers/{order:?}");
        let page = api::page(&list, r.page_size, &r.page_token)?;
        let after = cursor(page.after)?;
        let page = self
            .customers
            .list(&caller, filter, order, after, page.size)
            .await?;
        Ok(Response::new(pb::ListCustomersResponse {
            total_size: page
                .total
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
                .unwrap_or_default(),
            customers: page.customers.iter().map(customer_pb).collect(),
            next_page_token: page
                .next
                .map(|c| api::page_token(&list, &cursor_text(&c)))
                .unwrap_or_default(),
        }))
    }

    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Reply<pb::CreateCustomerResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let input = customer_input(&r.customer.clone().unwrap_or_default())?;
        let response = self
            .customers
            .idempotency()
            .once(
                &caller.principal,
                "customers.write",
                "CreateCustomer",
                &r.request_id,
                &r,
                || async {
                    let customer = self.customers.create(&caller, input).await?;
                    Ok(pb::CreateCustomerResponse {
                        customer: Some(customer_pb(&customer)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Reply<pb::GetCustomerResponse> {
        let caller = caller(&request)?;
        let id = id("id", &request.get_ref().id, "a customer id")?;
        let customer = self.customers.get(&caller, id).await?;
        Ok(Response::new(pb::GetCustomerResponse {
            customer: Some(customer_pb(&customer)),
        }))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Reply<pb::UpdateCustomerResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let c = r.customer.unwrap_or_default();
        let customer_id = id("customer.id", &c.id, "a customer id")?;
        bounded("customer.etag", &c.etag, MAX_ETAG)?;
        let paths = mask_paths(r.update_mask, &set_fields(&c), UPDATABLE)?;
        let input = customer_input(&c)?;
        let customer = self
            .customers
            .update(&caller, customer_id, &c.etag, input, paths)
            .await?;
        Ok(Response::new(pb::UpdateCustomerResponse {
            customer: Some(customer_pb(&customer)),
        }))
    }

    async fn delete_customer(
        &self,
        request: Request<pb::DeleteCustomerRequest>,
    ) -> Reply<pb::DeleteCustomerResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let customer_id = id("id", &r.id, "a customer id")?;
        bounded("etag", &r.etag, MAX_ETAG)?;
        self.customers
            .delete(&caller, customer_id, &r.etag, r.close_open_opportunities)
            .await?;
        Ok(Response::new(pb::DeleteCustomerResponse {}))
    }

    async fn list_deleted_customers(
        &self,
        request: Request<pb::ListDeletedCustomersRequest>,
    ) -> Reply<pb::ListDeletedCustomersResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let list = "customers/deleted";
        let page = api::page(list, r.page_size, &r.page_token)?;
        let after = cursor(page.after)?;
        let page = self
            .customers
            .list_deleted(&caller, after, page.size)
            .await?;
        Ok(Response::new(pb::ListDeletedCustomersResponse {
            customers: page.customers.iter().map(customer_pb).collect(),
            next_page_token: page
                .next
                .map(|c| api::page_token(list, &cursor_text(&c)))
                .unwrap_or_default(),
        }))
    }

    async fn restore_customer(
        &self,
        request: Request<pb::RestoreCustomerRequest>,
    ) -> Reply<pb::RestoreCustomerResponse> {
        let caller = caller(&request)?;
        let customer_id = id("id", &request.get_ref().id, "a customer id")?;
        let customer = self.customers.restore(&caller, customer_id).await?;
        Ok(Response::new(pb::RestoreCustomerResponse {
            customer: Some(customer_pb(&customer)),
        }))
    }

    async fn search_customers(
        &self,
        request: Request<pb::SearchCustomersRequest>,
    ) -> Reply<pb::SearchCustomersResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        bounded("query", &r.query, 1024)?;
        let filter = filter(r.r#type, 0, &r.tags, "", &r.custom_fields)?;
        let page = api::page("customers/search", r.page_size, &r.page_token)?;
        let offset: u32 = match &page.after {
            None => 0,
            Some(text) => text.parse().map_err(|_| {
                Error::invalid_field("page_token", "is not a page token of this list")
            })?,
        };
        let found = self
            .customers
            .search(&caller, &r.query, filter, offset, page.size)
            .await?;
        let next = if found.len() as u32 == page.size {
            api::page_token("customers/search", &(offset + page.size).to_string())
        } else {
            String::new()
        };
        Ok(Response::new(pb::SearchCustomersResponse {
            customers: found.iter().map(customer_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn batch_update_customers(
        &self,
        request: Request<pb::BatchUpdateCustomersRequest>,
    ) -> Reply<pb::BatchUpdateCustomersResponse> {
        let caller = caller(&request)?;
        let answer = batch::update(&self.customers, &caller, request.into_inner()).await?;
        Ok(Response::new(answer))
    }

    async fn batch_delete_customers(
        &self,
        request: Request<pb::BatchDeleteCustomersRequest>,
    ) -> Reply<pb::BatchDeleteCustomersResponse> {
        let caller = caller(&request)?;
        let answer = batch::delete(&self.customers, &caller, request.into_inner()).await?;
        Ok(Response::new(answer))
    }

    async fn import_customers(
        &self,
        request: Request<Streaming<pb::ImportCustomersRequest>>,
    ) -> Reply<pb::ImportCustomersResponse> {
        let caller = caller(&request)?;
        let report = bulk::import(&self.customers, &caller, request.into_inner()).await?;
        Ok(Response::new(report))
    }

    type ExportCustomersStream =
        Pin<Box<dyn Stream<Item = Result<pb::ExportCustomersResponse, Status>> + Send>>;

    async fn export_customers(
        &self,
        request: Request<pb::ExportCustomersRequest>,
    ) -> Reply<Self::ExportCustomersStream> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let filter = filter(r.r#type, r.status, &r.tags, "", &r.custom_fields)?;
        let stream = bulk::export(self.customers.clone(), caller, filter).await?;
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Reply<pb::ListContactsResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let customer_id = id("customer_id", &r.customer_id, "a customer id")?;
        let page = api::page("contacts", r.page_size, &r.page_token)?;
        let after = api::uuid_cursor(&page)?;
        let (customer, contacts) = self
            .customers
            .contacts(&caller, customer_id, after, page.size)
            .await?;
        let next = (contacts.len() as u32 == page.size)
            .then(|| contacts.last())
            .flatten()
            .map(|c| api::page_token("contacts", &c.id.to_string()))
            .unwrap_or_default();
        Ok(Response::new(pb::ListContactsResponse {
            contacts: contacts.iter().map(|c| contact_pb(&customer, c)).collect(),
            next_page_token: next,
        }))
    }

    async fn add_contact(
        &self,
        request: Request<pb::AddContactRequest>,
    ) -> Reply<pb::AddContactResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let customer_id = id("customer_id", &r.customer_id, "a customer id")?;
        let input = contact_input(&r.contact.clone().unwrap_or_default())?;
        // `primary: true` on a new contact makes it the customer's primary one.
        let primary = r.contact.as_ref().is_some_and(|c| c.primary);
        let response = self
            .customers
            .idempotency()
            .once(
                &caller.principal,
                "customers.write",
                "AddContact",
                &r.request_id,
                &r,
                || async {
                    let (customer, contact_id) = self
                        .customers
                        .add_contact(&caller, customer_id, input, primary)
                        .await?;
                    let contact = customer.contact(contact_id).expect("just added");
                    Ok(pb::AddContactResponse {
                        contact: Some(contact_pb(&customer, contact)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn update_contact(
        &self,
        request: Request<pb::UpdateContactRequest>,
    ) -> Reply<pb::UpdateContactResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let customer_id = id("customer_id", &r.customer_id, "a customer id")?;
        let c = r.contact.unwrap_or_default();
        let contact_id = id("contact.id", &c.id, "a contact id")?;
        bounded("contact.etag", &c.etag, MAX_ETAG)?;
        let paths = mask_paths(r.update_mask, &contact_set_fields(&c), CONTACT_UPDATABLE)?;
        let input = contact_input(&c)?;
        let customer = self
            .customers
            .update_contact(&caller, customer_id, contact_id, &c.etag, input, paths)
            .await?;
        let contact = customer.contact(contact_id).expect("just updated");
        Ok(Response::new(pb::UpdateContactResponse {
            contact: Some(contact_pb(&customer, contact)),
        }))
    }

    async fn remove_contact(
        &self,
        request: Request<pb::RemoveContactRequest>,
    ) -> Reply<pb::RemoveContactResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let customer_id = id("customer_id", &r.customer_id, "a customer id")?;
        let contact_id = id("contact_id", &r.contact_id, "a contact id")?;
        self.customers
            .remove_contact(&caller, customer_id, contact_id)
            .await?;
        Ok(Response::new(pb::RemoveContactResponse {}))
    }

    async fn set_primary_contact(
        &self,
        request: Request<pb::SetPrimaryContactRequest>,
    ) -> Reply<pb::SetPrimaryContactResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let customer_id = id("customer_id", &r.customer_id, "a customer id")?;
        let contact_id = id("contact_id", &r.contact_id, "a contact id")?;
        let customer = self
            .customers
            .set_primary_contact(&caller, customer_id, contact_id)
            .await?;
        Ok(Response::new(pb::SetPrimaryContactResponse {
            customer: Some(customer_pb(&customer)),
        }))
    }
}
