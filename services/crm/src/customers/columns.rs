//! The columns of `crm customers import` and `export`: one flat record per customer, the same in
//! CSV (a header row) and JSON Lines (one object per line). Lists (`emails`, `phones`, `tags`) are
//! `;`-separated in CSV and arrays in JSON; custom fields are `custom.<key>` columns or one
//! `custom` column holding a JSON object; contacts are a `contacts` column holding a JSON array.
//! Export writes every column, so its files import back unchanged.

use std::collections::BTreeMap;

use crm_proto::crm::common::v1 as common;
use crm_proto::crm::customer::v1 as pb;
use serde_json::{Map, Value};

/// The columns, in export order, with what each holds.
pub const COLUMNS: &[(&str, &str)] = &[
    (
        "type",
        "individual or business (default: business when legal_name is set)",
    ),
    (
        "display_name",
        "the name people see (default: derived from the names)",
    ),
    (
        "given_name",
        "an individual's given name (alias first_name)",
    ),
    (
        "family_name",
        "an individual's family name (alias last_name)",
    ),
    ("legal_name", "a business's registered name (alias company)"),
    ("registration_number", "company registration number"),
    ("tax_id", "tax id"),
    ("industry", "industry"),
    ("website", "http(s) URL"),
    ("status", "prospect, active or inactive"),
    ("owner_id", "the owning user's id (default: you)"),
    ("email", "the primary email, unique in the tenant"),
    ("emails", "other emails, ;-separated"),
    (
        "phones",
        "phone numbers, ;-separated; +60 assumed without a country code (alias phone)",
    ),
    ("tags", ";-separated (alias tag)"),
    ("street", "the address's street line"),
    ("city", "city or town"),
    ("state", "state"),
    ("postcode", "postcode"),
    ("country", "ISO 3166-1 alpha-2, e.g. MY"),
    ("notes", "notes"),
    (
        "custom",
        "custom fields as a JSON object (or one custom.<key> column each)",
    ),
    (
        "contacts",
        "contacts as a JSON array of {given_name, family_name, job_title, department, emails, phones, notes}",
    ),
];

/// The canonical name of a header, or an error naming the columns.
pub fn canonical(header: &str) -> Result<String, String> {
    let h = header.trim().to_ascii_lowercase();
    let name = match h.as_str() {
        "first_name" => "given_name",
        "last_name" => "family_name",
        "company" => "legal_name",
        "phone" => "phones",
        "tag" => "tags",
        other => other,
    };
    if COLUMNS.iter().any(|(c, _)| *c == name)
        || name.strip_prefix("custom.").is_some_and(|k| !k.is_empty())
    {
        Ok(name.to_owned())
    } else {
        let known: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).collect();
        Err(format!(
            "unknown column {header:?}; the columns are {} and custom.<key> (see `crm customers import --help`)",
            known.join(", ")
        ))
    }
}

fn text(record: &Map<String, Value>, key: &str) -> String {
    match record.get(key) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn list(record: &Map<String, Value>, key: &str) -> Vec<String> {
    match record.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .filter(|s| !s.trim().is_empty())
            .collect(),
        Some(Value::String(s)) => s
            .split(';')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

fn value_pb(v: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Null => Kind::NullValue(0),
        // Lists and maps are refused by the server, with the field named.
        Value::Array(_) => Kind::ListValue(prost_types::ListValue::default()),
        Value::Object(_) => Kind::StructValue(prost_types::Struct::default()),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A CSV cell of a `custom.<key>` column: a number, true/false, or text.
fn cell_value(raw: &str) -> Value {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<f64>()
        && n.is_finite()
    {
        return serde_json::json!(n);
    }
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(raw.to_owned()),
    }
}

/// The characters a spreadsheet reads a cell starting with as a formula (OWASP, CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as it is written to a CSV file: one that a spreadsheet would run as a formula gets a
/// leading `'`, which spreadsheets show as text (OWASP's advice against CSV injection).
pub fn neutralised(cell: &str) -> String {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// A cell as read from a CSV file: the `'` [`neutralised`] put before a formula character is
/// taken off again, so an export imports back unchanged.
pub fn restored(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// A CSV row as a record (cells of empty `custom.<key>` columns left out).
pub fn csv_record(headers: &[String], row: &csv::StringRecord) -> Map<String, Value> {
    let mut record = Map::new();
    for (header, cell) in headers.iter().zip(row.iter().map(restored)) {
        if header.starts_with("custom.") {
            if !cell.trim().is_empty() {
                record.insert(header.clone(), cell_value(cell));
            }
        } else if header == "custom" || header == "contacts" {
            if !cell.trim().is_empty() {
                let parsed = serde_json::from_str(cell).unwrap_or(Value::String(cell.to_owned()));
                record.insert(header.clone(), parsed);
            }
        } else {
            record.insert(header.clone(), Value::String(cell.to_owned()));
        }
    }
    record
}

/// A record as the customer to send. Shapes the server cannot take (an unknown type, custom
/// fields that are not an object) go as they are, and the server names the field.
pub fn customer(record: &Map<String, Value>) -> pb::Customer {
    let legal_name = text(record, "legal_name");
    let customer_type = match text(record, "type").to_ascii_lowercase().as_str() {
        "individual" | "person" => pb::CustomerType::Individual as i32,
        "business" | "company" => pb::CustomerType::Business as i32,
        "" if !legal_name.is_empty() => pb::CustomerType::Business as i32,
        "" => pb::CustomerType::Individual as i32,
        _ => -1,
    };
    let status = match text(record, "status").to_ascii_lowercase().as_str() {
        "" => 0,
        "prospect" => pb::CustomerStatus::Prospect as i32,
        "active" => pb::CustomerStatus::Active as i32,
        "inactive" => pb::CustomerStatus::Inactive as i32,
        _ => -1,
    };
    let mut custom: BTreeMap<String, prost_types::Value> = BTreeMap::new();
    if let Some(Value::Object(fields)) = record.get("custom") {
        custom.extend(fields.iter().map(|(k, v)| (k.clone(), value_pb(v))));
    }
    for (key, value) in record {
        if let Some(field) = key.strip_prefix("custom.") {
            custom.insert(field.to_owned(), value_pb(value));
        }
    }
    let address = ["street", "city", "state", "postcode", "country"]
        .iter()
        .any(|k| !text(record, k).is_empty())
        .then(|| common::Address {
            lines: [text(record, "street")]
                .into_iter()
                .filter(|l| !l.is_empty())
                .collect(),
            locality: text(record, "city"),
            administrative_area: text(record, "state"),
            postal_code: text(record, "postcode"),
            region_code: text(record, "country"),
            ..Default::default()
        });
    pb::Customer {
        r#type: customer_type,
        display_name: text(record, "display_name"),
        individual: Some(pb::IndividualDetails {
            given_name: text(record, "given_name"),
            family_name: text(record, "family_name"),
        }),
        business: Some(pb::BusinessDetails {
            legal_name,
            registration_number: text(record, "registration_number"),
            tax_id: text(record, "tax_id"),
            industry: text(record, "industry"),
            website: text(record, "website"),
        }),
        status,
        owner_id: text(record, "owner_id"),
        email: text(record, "email"),
        emails: emails(list(record, "emails")),
        phones: phones(list(record, "phones")),
        addresses: address.into_iter().collect(),
        tags: list(record, "tags"),
        custom_fields: custom,
        notes: text(record, "notes"),
        contacts: contacts(record.get("contacts")),
        ..Default::default()
    }
}

fn emails(addresses: Vec<String>) -> Vec<common::EmailAddress> {
    addresses
        .into_iter()
        .map(|address| common::EmailAddress {
            address,
            ..Default::default()
        })
        .collect()
}

fn phones(numbers: Vec<String>) -> Vec<common::PhoneNumber> {
    numbers
        .into_iter()
        .map(|e164_number| common::PhoneNumber {
            e164_number,
            ..Default::default()
        })
        .collect()
}

fn contacts(value: Option<&Value>) -> Vec<pb::Contact> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_object)
        .map(|c| pb::Contact {
            given_name: text(c, "given_name"),
            family_name: text(c, "family_name"),
            job_title: text(c, "job_title"),
            department: text(c, "department"),
            emails: emails(list(c, "emails")),
            phones: phones(list(c, "phones")),
            notes: text(c, "notes"),
            ..Default::default()
        })
        .collect()
}

fn value_json(v: &prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match &v.kind {
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::NumberValue(n)) => serde_json::json!(n),
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        _ => Value::Null,
    }
}

/// A customer as a record: every column, lists as arrays.
pub fn record(c: &pb::Customer) -> Map<String, Value> {
    let individual = c.individual.clone().unwrap_or_default();
    let business = c.business.clone().unwrap_or_default();
    let address = c.addresses.first().cloned().unwrap_or_default();
    let customer_type = match pb::CustomerType::try_from(c.r#type) {
        Ok(pb::CustomerType::Business) => "business",
        _ => "individual",
    };
    let status = match pb::CustomerStatus::try_from(c.status) {
        Ok(pb::CustomerStatus::Active) => "active",
        Ok(pb::CustomerStatus::Inactive) => "inactive",
        _ => "prospect",
    };
    let strings = |items: Vec<String>| Value::Array(items.into_iter().map(Value::String).collect());
    let mut r = Map::new();
    let mut put = |k: &str, v: Value| {
        r.insert(k.to_owned(), v);
    };
    put("type", customer_type.into());
    put("display_name", c.display_name.clone().into());
    put("given_name", individual.given_name.into());
    put("family_name", individual.family_name.into());
    put("legal_name", business.legal_name.into());
    put("registration_number", business.registration_number.into());
    put("tax_id", business.tax_id.into());
    put("industry", business.industry.into());
    put("website", business.website.into());
    put("status", status.into());
    put("owner_id", c.owner_id.clone().into());
    put("email", c.email.clone().into());
    put(
        "emails",
        strings(
            c.emails
                .iter()
                .filter(|e| e.address != c.email)
                .map(|e| e.address.clone())
                .collect(),
        ),
    );
    put(
        "phones",
        strings(c.phones.iter().map(|p| p.e164_number.clone()).collect()),
    );
    put("tags", strings(c.tags.clone()));
    put("street", address.lines.join(", ").into());
    put("city", address.locality.into());
    put("state", address.administrative_area.into());
    put("postcode", address.postal_code.into());
    put("country", address.region_code.into());
    put("notes", c.notes.clone().into());
    put(
        "custom",
        Value::Object(
            c.custom_fields
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
        ),
    );
    let contacts = c
        .contacts
        .iter()
        .map(|k| {
            serde_json::json!({
                "given_name": k.given_name,
                "family_name": k.family_name,
                "job_title": k.job_title,
                "department": k.department,
                "emails": k.emails.iter().map(|e| e.address.clone()).collect::<Vec<_>>(),
                "phones": k.phones.iter().map(|p| p.e164_number.clone()).collect::<Vec<_>>(),
                "notes": k.notes,
            })
        })
        .collect();
    put("contacts", Value::Array(contacts));
    r
}

/// A record's cells in [`COLUMNS`] order, for CSV: lists `;`-joined, JSON for the rest.
pub fn csv_cells(record: &Map<String, Value>) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|(column, _)| match record.get(*column) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) if matches!(*column, "emails" | "phones" | "tags") => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(";"),
            Some(Value::Array(items)) if items.is_empty() => String::new(),
            Some(Value::Object(map)) if map.is_empty() => String::new(),
            Some(other) => other.to_string(),
            None => String::new(),
        })
        .map(|cell| neutralised(&cell))
        .collect()
}

#[cfg(test)]
mod tests;
