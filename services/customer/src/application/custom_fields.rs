//! Custom fields: the workspace's definitions (read with `customers.read`, changed with
//! `custom_fields.manage`), and what they ask of customers' values and of list filters.

use crm_core::{Error, Result};

use super::{Caller, Customers, check_etag, invalid};
use crate::domain::custom_field::{
    self, CustomField, FieldInput, MANAGE, MAX_PER_TENANT, conform, filter_value,
};
use crate::domain::customer::Customer;
use crate::domain::ports::Filter;

/// The most custom field filters a list may name (bounded where requests are read).
pub const MAX_FIELD_FILTERS: usize = 5;

impl Customers {
    /// The workspace's custom fields, oldest first.
    pub async fn custom_fields(&self, caller: &Caller) -> Result<Vec<CustomField>> {
        let p = &caller.principal;
        if p.scope("customers.read").is_none() {
            return Err(Error::missing_permission("customers.read"));
        }
        self.fields.list_fields(p.tenant_id).await
    }

    /// Defines a custom field.
    pub async fn create_custom_field(
        &self,
        caller: &Caller,
        input: FieldInput,
    ) -> Result<CustomField> {
        let p = &caller.principal;
        manager(caller)?;
        let field = CustomField::create(p.tenant_id, input, self.now())
            .map_err(|problems| invalid("custom_field", problems))?;
        self.fields.insert_field(&field, MAX_PER_TENANT).await?;
        Ok(field)
    }

    /// Changes the fields of `input` named in `paths` of the definition `key`, if `etag` is
    /// current (or empty).
    pub async fn update_custom_field(
        &self,
        caller: &Caller,
        key: &str,
        etag: &str,
        input: FieldInput,
        paths: Vec<String>,
    ) -> Result<CustomField> {
        let p = &caller.principal;
        manager(caller)?;
        let now = self.now();
        let change = Box::new(move |f: &mut CustomField| {
            check_etag(etag, f.version, "custom field")?;
            f.apply(input, &paths, now)
                .map_err(|problems| invalid("custom_field", problems))
        });
        self.fields.update_field(p.tenant_id, key, change).await
    }

    /// Deletes the definition `key`, if `etag` is current (or empty); the values stay.
    pub async fn delete_custom_field(&self, caller: &Caller, key: &str, etag: &str) -> Result<()> {
        let p = &caller.principal;
        manager(caller)?;
        let check = Box::new(move |f: &mut CustomField| {
            check_etag(etag, f.version, "custom field")?;
            Ok(true)
        });
        self.fields.delete_field(p.tenant_id, key, check).await
    }

    /// The definitions a customer write is checked against.
    pub(crate) async fn definitions(&self, caller: &Caller) -> Result<Vec<CustomField>> {
        self.fields.list_fields(caller.principal.tenant_id).await
    }

    /// Reads the filter's custom field values (texts, as sent) as their fields' types; a key
    /// the workspace has not defined, or a value not of its type, is `INVALID_ARGUMENT` on
    /// `custom_fields`. No definition is read when the filter names none.
    pub(crate) async fn read_field_filters(
        &self,
        caller: &Caller,
        filter: &mut Filter,
    ) -> Result<()> {
        if filter.custom_fields.is_empty() {
            return Ok(());
        }
        let fields = self.definitions(caller).await?;
        let mut read = Vec::with_capacity(filter.custom_fields.len());
        for (key, value) in &filter.custom_fields {
            let crate::domain::values::CustomValue::Text(text) = value else {
                return Err(Error::internal(
                    "a custom field filter was read twice",
                    anyhow::anyhow!("{key}"),
                ));
            };
            let pair = filter_value(&fields, key, text)
                .map_err(|e| Error::invalid_field("custom_fields", e))?;
            read.push(pair);
        }
        filter.custom_fields = read;
        Ok(())
    }
}

/// Checks a customer's custom fields against `fields` (every required one when `with_required`:
/// at creation, or when its custom fields change), as field violations under `prefix`.
pub(crate) fn check_values(
    fields: &[CustomField],
    customer: &mut Customer,
    with_required: bool,
    prefix: &str,
) -> Result<()> {
    let problems = conform(fields, &mut customer.custom_fields, with_required);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid(prefix, problems))
    }
}

/// Defining and changing custom fields needs `custom_fields.manage` (unscoped: a definition is
/// the whole workspace's).
fn manager(caller: &Caller) -> Result<()> {
    match caller.principal.scope(MANAGE) {
        Some(crm_core::authz::Scope::All) => Ok(()),
        _ => Err(Error::missing_permission(custom_field::MANAGE)),
    }
}
