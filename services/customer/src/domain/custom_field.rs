//! The custom fields a workspace defines for its customers: a key, a label, a type (a choice
//! with its options), required or not. A definition holds the values written under its key from
//! then on: [`conform`] checks a customer's values against the workspace's definitions (and
//! reads a text sent for a date-shaped text field as text), [`filter_value`] reads a list's
//! `key=value` filter as the field's type.

use std::collections::BTreeMap;

use crm_core::TenantId;
use serde::{Deserialize, Serialize};

use super::Millis;
use super::values::{CustomValue, MAX_CUSTOM_FIELDS, MAX_CUSTOM_KEY, MAX_CUSTOM_VALUE, Violation};

/// The permission that defines and changes custom fields.
pub const MANAGE: &str = "custom_fields.manage";
/// How many custom fields a workspace defines (as many as a customer may carry).
pub const MAX_PER_TENANT: i64 = MAX_CUSTOM_FIELDS as i64;
/// The longest label, in characters.
pub const MAX_LABEL: usize = 60;
/// The most options of a choice.
pub const MAX_OPTIONS: usize = 50;
/// The longest option, in characters.
pub const MAX_OPTION: usize = 100;
/// The fields an update may change.
pub const UPDATABLE: &[&str] = &["label", "options", "required"];

/// The type of a custom field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Text (a date-shaped one too).
    Text,
    /// A finite number.
    Number,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// True or false.
    Bool,
    /// One of the field's options.
    Choice,
}

impl FieldType {
    /// The `type` its values are stored with (a choice's are texts).
    pub fn value_type(self) -> &'static str {
        match self {
            FieldType::Text | FieldType::Choice => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Bool => "bool",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            FieldType::Text => "a text",
            FieldType::Number => "a number",
            FieldType::Date => "a date (YYYY-MM-DD)",
            FieldType::Bool => "true or false",
            FieldType::Choice => "one of its options",
        }
    }
}

/// A custom field's definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomField {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The key of its values in `Customer::custom_fields`; unique in the tenant.
    pub key: String,
    /// What people see.
    pub label: String,
    /// The type of its values.
    pub field_type: FieldType,
    /// A choice's options, in order; empty for other types.
    pub options: Vec<String>,
    /// Must be filled when a customer is created or its custom fields change.
    pub required: bool,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
    /// Bumped by every change (its etag).
    pub version: i64,
}

/// What a client sets on a definition, before the rules have read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldInput {
    /// The key (creation only).
    pub key: String,
    /// The label.
    pub label: String,
    /// The type (creation only; required there).
    pub field_type: Option<FieldType>,
    /// A choice's options.
    pub options: Vec<String>,
    /// Required or not.
    pub required: bool,
}

impl CustomField {
    /// A new definition in `tenant` from `input`, or every problem with it.
    pub fn create(
        tenant: TenantId,
        input: FieldInput,
        now: Millis,
    ) -> Result<CustomField, Vec<Violation>> {
        let mut problems = Vec::new();
        if let Err(e) = key(&input.key) {
            problems.push(("key".into(), e));
        }
        let Some(field_type) = input.field_type else {
            problems.push((
                "type".into(),
                "is required: text, number, date, bool or choice".into(),
            ));
            return Err(problems);
        };
        let mut field = CustomField {
            tenant_id: tenant,
            key: input.key.clone(),
            label: String::new(),
            field_type,
            options: Vec::new(),
            required: false,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let paths = UPDATABLE
            .iter()
            .map(|p| (*p).to_owned())
            .collect::<Vec<_>>();
        match field.apply(input, &paths, now) {
            Ok(_) if problems.is_empty() => {
                field.version = 1;
                field.updated_at = now;
                Ok(field)
            }
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        }
    }

    /// Sets the fields of `input` named in `paths` (of [`UPDATABLE`]); returns whether anything
    /// changed (then the version and update time move), or every problem.
    pub fn apply(
        &mut self,
        input: FieldInput,
        paths: &[String],
        now: Millis,
    ) -> Result<bool, Vec<Violation>> {
        let mut problems = Vec::new();
        let mut next = self.clone();
        for path in paths {
            match path.as_str() {
                "label" => match crm_core::text::name(&input.label, 1, MAX_LABEL) {
                    Ok(label) => next.label = label,
                    Err(e) => problems.push(("label".into(), e)),
                },
                "options" => match options(self.field_type, &input.options) {
                    Ok(options) => next.options = options,
                    Err(e) => problems.push(("options".into(), e)),
                },
                "required" => next.required = input.required,
                other => problems.push((
                    "update_mask".into(),
                    format!(
                        "{other:?} cannot be changed; a field's label, options and required can (its key and type stay)"
                    ),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if next == *self {
            return Ok(false);
        }
        next.version = self.version + 1;
        next.updated_at = now.max(self.updated_at);
        *self = next;
        Ok(true)
    }
}

/// A definition's key: what a customer's custom field key may be, lower case only.
fn key(raw: &str) -> Result<(), String> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_CUSTOM_KEY
        && raw.starts_with(|c: char| c.is_ascii_lowercase())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_CUSTOM_KEY} lower-case letters, digits or _, starting with a letter, e.g. preferred_motif"
        ))
    }
}

/// A choice's options (1 to [`MAX_OPTIONS`] names, each once); none for other types.
fn options(field_type: FieldType, raw: &[String]) -> Result<Vec<String>, String> {
    if field_type != FieldType::Choice {
        return if raw.is_empty() {
            Ok(Vec::new())
        } else {
            Err("only a choice has options".into())
        };
    }
    if raw.is_empty() || raw.len() > MAX_OPTIONS {
        return Err(format!("a choice needs 1 to {MAX_OPTIONS} options"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, option) in raw.iter().enumerate() {
        let option = crm_core::text::name(option, 1, MAX_OPTION)
            .map_err(|e| format!("option {} {e}", i + 1))?;
        if out.contains(&option) {
            return Err(format!("{option:?} is there twice"));
        }
        out.push(option);
    }
    Ok(out)
}

/// Checks `values` (a customer's custom fields, as the rules read them) against the workspace's
/// `fields`: every defined key holds its type (a text sent for a text or choice field that looks
/// like a date is kept as text), a choice one of its options, and, when `with_required`, every
/// required field is there. Keys with no definition are left as they are.
pub fn conform(
    fields: &[CustomField],
    values: &mut BTreeMap<String, CustomValue>,
    with_required: bool,
) -> Vec<Violation> {
    let mut problems = Vec::new();
    for field in fields {
        let path = format!("custom_fields.{}", field.key);
        let Some(value) = values.get_mut(&field.key) else {
            if with_required && field.required {
                problems.push((path, format!("{} is required", field.label)));
            }
            continue;
        };
        if let (FieldType::Text | FieldType::Choice, CustomValue::Date(s)) =
            (field.field_type, &*value)
        {
            *value = CustomValue::Text(s.clone());
        }
        let fits = match (field.field_type, &*value) {
            (FieldType::Text, CustomValue::Text(_)) => true,
            (FieldType::Choice, CustomValue::Text(s)) => field.options.contains(s),
            (FieldType::Number, CustomValue::Number(_)) => true,
            (FieldType::Date, CustomValue::Date(_)) => true,
            (FieldType::Bool, CustomValue::Bool(_)) => true,
            _ => false,
        };
        if !fits {
            let detail = match field.field_type {
                FieldType::Choice => format!(": {}", field.options.join(", ")),
                _ => String::new(),
            };
            problems.push((
                path,
                format!(
                    "{} must be {}{detail}",
                    field.label,
                    field.field_type.describe()
                ),
            ));
        }
    }
    problems
}

/// A list's filter `key=value` read as the field `key` of `fields` says, or the problem with it
/// (on `custom_fields`).
pub fn filter_value(
    fields: &[CustomField],
    key: &str,
    text: &str,
) -> Result<(String, CustomValue), String> {
    let Some(field) = fields.iter().find(|f| f.key == key) else {
        return Err(format!(
            "{key:?} is not a custom field of this workspace (ListCustomFields names them)"
        ));
    };
    if text.len() > MAX_CUSTOM_VALUE {
        return Err(format!(
            "the value of {key} must be at most {MAX_CUSTOM_VALUE} bytes"
        ));
    }
    let wrong = || format!("{} must be {}", field.label, field.field_type.describe());
    let value = match field.field_type {
        FieldType::Text => CustomValue::Text(text.to_owned()),
        FieldType::Choice if field.options.iter().any(|o| o == text) => {
            CustomValue::Text(text.to_owned())
        }
        FieldType::Choice => return Err(wrong()),
        FieldType::Number => match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => CustomValue::Number(n),
            _ => return Err(wrong()),
        },
        FieldType::Date if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() => {
            CustomValue::Date(text.to_owned())
        }
        FieldType::Date => return Err(wrong()),
        FieldType::Bool => match text {
            "true" => CustomValue::Bool(true),
            "false" => CustomValue::Bool(false),
            _ => return Err(wrong()),
        },
    };
    Ok((key.to_owned(), value))
}

#[cfg(test)]
mod tests;
