//! How the console's import reads a CSV file's columns, remembered for a workspace: a header as
//! written in a file → the field it fills, or nothing for a column left out. IAM keeps it with
//! the workspace's settings and checks only its shape; the console knows the fields.

use std::collections::BTreeMap;

/// At most this many columns are remembered.
pub const MAX_COLUMNS: usize = 200;
/// A header's longest form, in characters.
pub const MAX_HEADER: usize = 100;
/// A field name's longest form (`custom.` and a custom field's key of up to 64 fit).
pub const MAX_FIELD: usize = 80;

/// The field violation's path.
const FIELD: &str = "tenant.settings.import_columns";

/// Header (trimmed, lower case) → field (`""`: not read).
pub type ImportColumns = BTreeMap<String, String>;

/// Checks `columns` and puts each header in its remembered form (trimmed, lower case, as the
/// console looks it up); every problem found, by request field.
pub fn parse_import_columns(
    columns: BTreeMap<String, String>,
) -> Result<ImportColumns, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    if columns.len() > MAX_COLUMNS {
        problems.push((
            FIELD,
            format!("holds {} columns; at most {MAX_COLUMNS}", columns.len()),
        ));
    }
    let mut parsed = ImportColumns::new();
    for (header, field) in columns {
        let key = header.trim().to_lowercase();
        if key.is_empty() {
            problems.push((FIELD, "a header must not be empty".into()));
        } else if key.chars().count() > MAX_HEADER {
            problems.push((
                FIELD,
                format!("the header {key:?} is longer than {MAX_HEADER} characters"),
            ));
        } else if key.chars().any(is_control) {
            problems.push((
                FIELD,
                format!("the header {key:?} holds control characters"),
            ));
        }
        let shaped = field
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if field.len() > MAX_FIELD || !shaped {
            problems.push((
                FIELD,
                format!(
                    "the header {key:?} names the field {field:?}: a field is lower-case letters, digits, _ and . (at most {MAX_FIELD}), or empty for a column not read"
                ),
            ));
        }
        if parsed.insert(key.clone(), field).is_some() {
            problems.push((
                FIELD,
                format!("the header {key:?} is given twice (headers are compared in lower case)"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

/// Control characters, and those that reorder text (the shared rule of names).
fn is_control(c: char) -> bool {
    c.is_control() || crm_core::text::is_bidi_control(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(h, f)| ((*h).to_owned(), (*f).to_owned()))
            .collect()
    }

    #[test]
    fn headers_are_kept_trimmed_in_lower_case() {
        let parsed = parse_import_columns(columns(&[
            (" Nama Syarikat ", "legal_name"),
            ("Poskod", "postcode"),
            ("Catatan dalaman", ""),
            ("Gred 2", "custom.grade_2"),
        ]))
        .unwrap();
        assert_eq!(
            parsed,
            columns(&[
                ("catatan dalaman", ""),
                ("gred 2", "custom.grade_2"),
                ("nama syarikat", "legal_name"),
                ("poskod", "postcode"),
            ])
        );
    }

    #[test]
    fn every_bad_column_is_named() {
        let problems = parse_import_columns(columns(&[
            ("", "email"),
            ("E-mel", "Email"),
            ("e-mel ", "email"),
            ("nota\u{202e}", "notes"),
            (&"x".repeat(101), "notes"),
        ]))
        .unwrap_err();
        let said: Vec<_> = problems.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(problems.len(), 5, "{said:#?}");
        assert!(problems.iter().all(|(f, _)| *f == FIELD));
        assert!(said.iter().any(|p| p.contains("must not be empty")));
        assert!(said.iter().any(|p| p.contains("\"Email\"")));
        assert!(said.iter().any(|p| p.contains("given twice")));
        assert!(said.iter().any(|p| p.contains("control characters")));
        assert!(said.iter().any(|p| p.contains("longer than 100")));
        let many: BTreeMap<_, _> = (0..=MAX_COLUMNS)
            .map(|i| (format!("column {i}"), String::new()))
            .collect();
        assert!(parse_import_columns(many).is_err());
    }
}
