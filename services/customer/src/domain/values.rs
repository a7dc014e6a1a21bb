//! The values a customer is made of, each parsed from what a client sends into its normal form,
//! or refused with a field violation: emails (trimmed, lower-cased), phone numbers (E.164),
//! countries (ISO 3166-1 alpha-2), tags, custom fields (typed, bounded).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A problem with one field: (field path, what is wrong).
pub type Violation = (String, String);

/// An email address in its normal form (`crm_core::text::email`).
pub fn email(raw: &str) -> Result<String, String> {
    crm_core::text::email(raw).map_err(str::to_owned)
}

/// A phone number in E.164 (`crm_core::text::phone`: Malaysian without a country code).
pub fn phone(raw: &str) -> Result<String, String> {
    crm_core::text::phone(raw)
}

/// The digits of an E.164 number and of its national form, for search (`60123456789`,
/// `0123456789`, `123456789`).
pub fn phone_digits(e164: &str) -> Vec<String> {
    let digits = e164.trim_start_matches('+').to_owned();
    // The country calling code is the 1 to 3 leading digits the numbering plan knows (a lookup,
    // where parsing the number again costs ten times as much).
    let national = (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        phonenumber::metadata::DATABASE
            .by_code(&code)
            .map(|_| digits[len..].to_owned())
    });
    let mut out = vec![digits];
    if let Some(national) = national {
        out.push(format!("0{national}"));
        out.push(national);
    }
    out
}

/// An ISO 3166-1 alpha-2 region code, upper-cased (`my` → `MY`).
pub fn region_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 2 && rust_iso3166::from_alpha2(&code).is_some() {
        Ok(code)
    } else {
        Err("must be an ISO 3166-1 alpha-2 country code, e.g. MY or SG".into())
    }
}

pub use crm_core::text::{MAX_TAG_CHARS, MAX_TAGS};

/// Tags (`crm_core::text::tags`): trimmed, lower-cased, each once, in order; none empty.
pub fn tags(raw: &[String]) -> Result<Vec<String>, String> {
    crm_core::text::tags(raw)
}

/// The words search matches: letters and digits, lower-cased; every other character separates
/// words (so `siti@kilang.example` is `siti`, `kilang`, `example`).
pub fn search_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Every word of a query as a store's term, by `whole` or `prefix`: the last one as a prefix
/// (`bat` finds "Batik" as it is typed), the words before it whole. A prefix term costs a walk
/// over every indexed word it starts (PostgreSQL's GIN merges their lists: 15–30 ms for two
/// prefixes at a million customers against 3 ms for a whole word and a prefix), and the words
/// before the last are finished ones as a person types.
pub fn query_terms<T>(
    words: &[String],
    whole: impl Fn(&str) -> T,
    prefix: impl Fn(&str) -> T,
) -> Vec<T> {
    let last = words.len().saturating_sub(1);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| if i == last { prefix(w) } else { whole(w) })
        .collect()
}

/// How well a customer whose name's words are `have` matches `query`: two points per query
/// word its name has whole, one per word its name has only as a longer word, none for a word
/// found elsewhere (an email, a city, a contact). Higher is better; the SQLite and MongoDB
/// stores rank their candidates with it.
pub fn search_score<S: AsRef<str>>(query: &[String], have: &[S]) -> u32 {
    query
        .iter()
        .map(|w| {
            if have.iter().any(|h| h.as_ref() == w) {
                2
            } else {
                u32::from(have.iter().any(|h| h.as_ref().starts_with(w.as_str())))
            }
        })
        .sum()
}

/// A custom field's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum CustomValue {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// True or false.
    Bool(bool),
    /// A calendar date, `YYYY-MM-DD` (sent as a string of that shape).
    Date(String),
}

/// The most custom fields a customer may carry.
pub const MAX_CUSTOM_FIELDS: usize = 50;
/// The longest custom field key, in bytes.
pub const MAX_CUSTOM_KEY: usize = 64;
/// The largest custom field value, in bytes.
pub const MAX_CUSTOM_VALUE: usize = 1024;

/// A value as a client sends it, before its type is known.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// A string (a date when shaped `YYYY-MM-DD`).
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// Anything else (null, a list, a map): refused.
    Other(&'static str),
}

/// Custom fields: keys of letters, digits and `_` (starting with a letter), at most
/// [`MAX_CUSTOM_FIELDS`], values at most [`MAX_CUSTOM_VALUE`] bytes. Problems are returned per
/// key, with the field path `custom_fields.<key>`.
pub fn custom_fields(
    raw: BTreeMap<String, RawValue>,
) -> Result<BTreeMap<String, CustomValue>, Vec<Violation>> {
    let mut problems = Vec::new();
    if raw.len() > MAX_CUSTOM_FIELDS {
        problems.push((
            "custom_fields".to_owned(),
            format!("must have at most {MAX_CUSTOM_FIELDS} keys"),
        ));
        return Err(problems);
    }
    let mut out = BTreeMap::new();
    for (key, value) in raw {
        let field = format!(
            "custom_fields.{}",
            key.chars().take(MAX_CUSTOM_KEY).collect::<String>()
        );
        let key_ok = !key.is_empty()
            && key.len() <= MAX_CUSTOM_KEY
            && key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok {
            problems.push((
                field,
                format!(
                    "the key must be 1 to {MAX_CUSTOM_KEY} letters, digits or _, starting with a letter"
                ),
            ));
            continue;
        }
        let value = match value {
            RawValue::Text(s) if s.len() > MAX_CUSTOM_VALUE => {
                problems.push((field, format!("must be at most {MAX_CUSTOM_VALUE} bytes")));
                continue;
            }
            RawValue::Text(s) if is_date(&s) => CustomValue::Date(s),
            RawValue::Text(s) => CustomValue::Text(s),
            RawValue::Number(n) if n.is_finite() => CustomValue::Number(n),
            RawValue::Number(_) => {
                problems.push((field, "must be a finite number".into()));
                continue;
            }
            RawValue::Bool(b) => CustomValue::Bool(b),
            RawValue::Other(what) => {
                problems.push((
                    field,
                    format!(
                        "is {what}; a custom field is a string, number, bool or date (YYYY-MM-DD)"
                    ),
                ));
                continue;
            }
        };
        out.insert(key, value);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn is_date(s: &str) -> bool {
    s.len() == 10
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[7] == b'-'
        && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_score_above_prefixes_and_a_missing_word_scores_nothing() {
        let q = |s: &str| search_words(s);
        let have = ["kilang", "batik", "batiks"];
        assert_eq!(search_score(&q("batik"), &have), 2, "whole");
        assert_eq!(search_score(&q("bat"), &have), 1, "prefix only");
        assert_eq!(search_score(&q("kilang bat"), &have), 3);
        assert_eq!(search_score(&q("songket"), &have), 0);
        assert!(search_score(&q("batik"), &["batik"]) > search_score(&q("batik"), &["batiks"]));
    }

    #[test]
    fn phones_are_stored_in_e164() {
        assert_eq!(phone("+60 12-345 6789").unwrap(), "+60123456789");
        assert_eq!(
            phone("012-345 6789").unwrap(),
            "+60123456789",
            "Malaysian by default"
        );
        assert_eq!(phone("+65 6123 4567").unwrap(), "+6561234567");
        assert!(phone("12").is_err());
        assert!(phone("not a phone").is_err());
        assert!(phone("").is_err());
        assert_eq!(
            phone_digits("+60123456789"),
            ["60123456789", "0123456789", "123456789"]
        );
    }

    #[test]
    fn emails_and_regions_are_normalised() {
        assert_eq!(
            email("  Siti@Kilang.EXAMPLE ").unwrap(),
            "siti@kilang.example"
        );
        assert!(email("siti").is_err());
        assert_eq!(region_code("my").unwrap(), "MY");
        assert!(region_code("XX").is_err());
        assert!(region_code("MYS").is_err());
    }

    #[test]
    fn search_words_are_letters_and_digits_lower_cased() {
        assert_eq!(
            search_words("Siti@Kilang.example +60 12"),
            ["siti", "kilang", "example", "60", "12"]
        );
        assert_eq!(search_words("  Batik—Ṭulis!! "), ["batik", "ṭulis"]);
        assert!(search_words("!!!").is_empty());
    }

    #[test]
    fn tags_are_lower_cased_once_each() {
        assert_eq!(
            tags(&["Batik".into(), "batik".into(), " VIP ".into()]).unwrap(),
            ["batik", "vip"]
        );
        assert!(tags(&["".into()]).is_err());
        assert!(tags(&vec!["t".to_owned(); 51]).is_err());
    }

    #[test]
    fn custom_fields_are_typed_and_bounded() {
        let raw = BTreeMap::from([
            ("size".to_owned(), RawValue::Number(42.0)),
            ("since".to_owned(), RawValue::Text("2024-02-29".into())),
            ("vip".to_owned(), RawValue::Bool(true)),
            ("motif".to_owned(), RawValue::Text("parang".into())),
        ]);
        let fields = custom_fields(raw).unwrap();
        assert_eq!(fields["since"], CustomValue::Date("2024-02-29".into()));
        assert_eq!(fields["motif"], CustomValue::Text("parang".into()));
        assert_eq!(fields["size"], CustomValue::Number(42.0));

        let raw = BTreeMap::from([
            ("big".to_owned(), RawValue::Text("x".repeat(1025))),
            ("1bad".to_owned(), RawValue::Bool(true)),
            ("list".to_owned(), RawValue::Other("a list")),
            ("day".to_owned(), RawValue::Text("2023-02-30".into())),
        ]);
        let problems = custom_fields(raw).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "custom_fields.1bad",
                "custom_fields.big",
                "custom_fields.list"
            ]
        );

        let many: BTreeMap<String, RawValue> = (0..51)
            .map(|i| (format!("k{i}"), RawValue::Bool(true)))
            .collect();
        assert_eq!(custom_fields(many).unwrap_err()[0].0, "custom_fields");
    }
}
