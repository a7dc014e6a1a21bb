//! How a customer is stored and found on MongoDB: its document (the aggregate beside the fields
//! reads filter, order and search by), the indexes, and the filters of lists and searches.

use std::collections::HashSet;

use crm_core::text::sort_key;
use crm_core::{Error, Result, TenantId};
use mongodb::IndexModel;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::options::IndexOptions;

use crate::domain::customer::Customer;
use crate::domain::ports::{Cursor, Filter, Order};
use crate::domain::values::{CustomValue, query_terms, search_score, search_words};

/// The indexes every read and the email rule need.
pub(super) fn indexes() -> Vec<IndexModel> {
    let index = |name: &str, keys: Document| {
        IndexModel::builder()
            .keys(keys)
            .options(IndexOptions::builder().name(name.to_owned()).build())
            .build()
    };
    vec![
        IndexModel::builder()
            .keys(doc! { "tenant_id": 1, "email_key": 1 })
            .options(
                IndexOptions::builder()
                    .name("customers_tenant_email_key".to_owned())
                    .unique(true)
                    .partial_filter_expression(doc! { "email_key": { "$type": "string" } })
                    .build(),
            )
            .build(),
        index(
            "customers_tenant_created",
            doc! { "tenant_id": 1, "_id": 1 },
        ),
        index(
            "customers_tenant_name",
            doc! { "tenant_id": 1, "sort_name": 1, "_id": 1 },
        ),
        index(
            "customers_tenant_owner",
            doc! { "tenant_id": 1, "owner_id": 1, "_id": 1 },
        ),
        index(
            "customers_tenant_tags",
            doc! { "tenant_id": 1, "tags": 1, "_id": 1 },
        ),
        index(
            "customers_tenant_words",
            doc! { "tenant_id": 1, "words": 1 },
        ),
        index(
            "customers_tenant_deleted",
            doc! { "tenant_id": 1, "deleted_at": 1, "_id": 1 },
        ),
    ]
}

/// The stored document of a customer; a deleted one has neither words (search does not find
/// it) nor an email key (its email is free).
pub(super) fn document(c: &Customer) -> Result<Document> {
    let customer = bson::to_document(c).map_err(|e| {
        Error::internal(
            "a customer could not be stored",
            anyhow::anyhow!("{}: {e}", c.id),
        )
    })?;
    let optional = |v: Option<String>| v.map_or(Bson::Null, Bson::String);
    let mut words: Vec<String> = search_words(&c.search_text());
    let mut seen = HashSet::new();
    words.retain(|w| seen.insert(w.clone()));
    let mut d = doc! {
        "_id": c.id.to_string(),
        "tenant_id": c.tenant_id.to_string(),
        "customer_type": c.customer_type.as_str(),
        "status": c.status.as_str(),
        "owner_id": optional(c.owner_id.map(|o| o.to_string())),
        "sort_name": sort_key(&c.display_name),
        "tags": c.tags.clone(),
        "words": words,
        "version": c.version,
        "deleted_at": c.deleted_at.map_or(Bson::Null, Bson::Int64),
        "customer": customer,
    };
    if c.deleted_at.is_some() {
        d.insert("words", Vec::<String>::new());
    } else if let Some(email) = &c.email {
        d.insert("email_key", email.clone());
    }
    Ok(d)
}

/// The customer a stored document holds; an error names the document.
pub(super) fn customer_from(d: &Document) -> Result<Customer> {
    let corrupt = |e: &dyn std::fmt::Display| {
        Error::internal(
            "stored data could not be read",
            anyhow::anyhow!("customers document {:?}: {e}", d.get("_id")),
        )
    };
    let customer = d.get_document("customer").map_err(|e| corrupt(&e))?;
    let mut customer: Customer = bson::from_document(customer.clone()).map_err(|e| corrupt(&e))?;
    // Customers deleted before the aggregate knew its deletion time have it only outside.
    customer.deleted_at = customer.deleted_at.or(d.get_i64("deleted_at").ok());
    Ok(customer)
}

/// A page of deleted customers (of `owner` when given), most recently deleted first, after
/// `after` (its key the deletion time): the filter and the sort.
pub(super) fn deleted_query(
    tenant: TenantId,
    owner: Option<crm_core::UserId>,
    after: Option<&Cursor>,
) -> Result<(Document, Document)> {
    let mut d = doc! { "tenant_id": tenant.to_string(), "deleted_at": { "$ne": Bson::Null } };
    if let Some(owner) = owner {
        d.insert("owner_id", owner.to_string());
    }
    if let Some(a) = after {
        let at: i64 = a
            .key
            .parse()
            .map_err(|_| Error::invalid_field("page_token", "is not a page token of this list"))?;
        d.insert(
            "$or",
            vec![
                doc! { "deleted_at": { "$lt": at } },
                doc! { "deleted_at": at, "_id": { "$lt": a.id.to_string() } },
            ],
        );
    }
    Ok((d, doc! { "deleted_at": -1, "_id": -1 }))
}

/// What every read matches: the tenant, not deleted, and the request's filters.
pub(super) fn filter_document(tenant: TenantId, filter: &Filter) -> Document {
    let mut d = doc! { "tenant_id": tenant.to_string(), "deleted_at": Bson::Null };
    if let Some(t) = filter.customer_type {
        d.insert("customer_type", t.as_str());
    }
    if let Some(s) = filter.status {
        d.insert("status", s.as_str());
    }
    if let Some(owner) = filter.owner_id {
        d.insert("owner_id", owner.to_string());
    }
    if !filter.tags.is_empty() {
        d.insert("tags", doc! { "$all": filter.tags.clone() });
    }
    // A custom field is `{type, value}` in the aggregate: both match (a number as a number).
    for (key, value) in &filter.custom_fields {
        let (kind, value) = match value {
            CustomValue::Text(s) => ("text", Bson::String(s.clone())),
            CustomValue::Date(s) => ("date", Bson::String(s.clone())),
            CustomValue::Number(n) => ("number", Bson::Double(*n)),
            CustomValue::Bool(b) => ("bool", Bson::Boolean(*b)),
        };
        d.insert(format!("customer.custom_fields.{key}.type"), kind);
        d.insert(format!("customer.custom_fields.{key}.value"), value);
    }
    d
}

/// A list's filter past `after` and its sort, in `order`.
pub(super) fn list_query(
    tenant: TenantId,
    filter: &Filter,
    order: Order,
    after: Option<&Cursor>,
) -> (Document, Document) {
    let mut d = filter_document(tenant, filter);
    if let Some(a) = after {
        let id = a.id.to_string();
        match order {
            Order::Created => {
                d.insert("_id", doc! { "$gt": id });
            }
            Order::CreatedDesc => {
                d.insert("_id", doc! { "$lt": id });
            }
            Order::Name => {
                d.insert(
                    "$or",
                    vec![
                        doc! { "sort_name": { "$gt": a.key.clone() } },
                        doc! { "sort_name": a.key.clone(), "_id": { "$gt": id } },
                    ],
                );
            }
            Order::NameDesc => {
                d.insert(
                    "$or",
                    vec![
                        doc! { "sort_name": { "$lt": a.key.clone() } },
                        doc! { "sort_name": a.key.clone(), "_id": { "$lt": id } },
                    ],
                );
            }
        }
    }
    let sort = match order {
        Order::Created => doc! { "_id": 1 },
        Order::CreatedDesc => doc! { "_id": -1 },
        Order::Name => doc! { "sort_name": 1, "_id": 1 },
        Order::NameDesc => doc! { "sort_name": -1, "_id": -1 },
    };
    (d, sort)
}

/// The filter of a search: the last word a prefix of one of the customer's words, every word
/// before it one of them whole (as on SQL).
pub(super) fn search_filter(tenant: TenantId, words: &[String], filter: &Filter) -> Document {
    let mut d = filter_document(tenant, filter);
    let every: Vec<Document> = query_terms(
        words,
        |w| doc! { "words": w },
        |w| doc! { "words": { "$regex": format!("^{}", escape(w)) } },
    );
    d.insert("$and", every);
    d
}

/// `word` as a regular expression matching itself.
pub(super) fn escape(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if !c.is_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Candidates best first by [`search_score`]; ties keep the oldest first, as SQL does.
pub(super) fn rank(
    words: &[String],
    mut candidates: Vec<(Customer, Vec<String>)>,
) -> Vec<Customer> {
    candidates.sort_by(|(a, aw), (b, bw)| {
        search_score(words, bw)
            .cmp(&search_score(words, aw))
            .then(a.id.cmp(&b.id))
    });
    candidates.into_iter().map(|(c, _)| c).collect()
}
