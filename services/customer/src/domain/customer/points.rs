//! What a customer and its contacts are made of (names, emails, phones, addresses, social
//! profiles) and the rules each is checked by, every problem collected at once.

use serde::{Deserialize, Serialize};

use super::values::{self, Violation};

/// A person's names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Individual {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
}

/// A company's particulars.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Business {
    /// Registered name.
    pub legal_name: String,
    /// Company registration number (e.g. SSM).
    pub registration_number: String,
    /// Tax id.
    pub tax_id: String,
    /// Industry.
    pub industry: String,
    /// Web site, `http(s)://`.
    pub website: String,
}

/// An email address. `kind` is the contract's `EmailKind` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// Work, personal, other.
    pub kind: i32,
    /// Normalised address.
    pub address: String,
    /// The primary one.
    pub primary: bool,
}

/// A phone number. `kind` is the contract's `PhoneKind` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// Mobile, work, home, fax, other.
    pub kind: i32,
    /// E.164 (as sent before it is parsed).
    pub number: String,
    /// Extension.
    pub extension: String,
    /// The primary one.
    pub primary: bool,
}

/// A postal address. `kind` is the contract's `AddressKind` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Billing, shipping, office, home, other.
    pub kind: i32,
    /// Street lines.
    pub lines: Vec<String>,
    /// City or town.
    pub locality: String,
    /// State.
    pub administrative_area: String,
    /// Postcode.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub region_code: String,
    /// The primary one.
    pub primary: bool,
}

/// A social profile. `network` is the contract's `SocialNetwork` value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialProfile {
    /// LinkedIn, Facebook, ...
    pub network: i32,
    /// Handle.
    pub handle: String,
    /// Profile URL.
    pub url: String,
}

pub(super) const MAX_NAME: usize = 200;
pub(super) const MAX_NOTES: usize = 10_000;
pub(super) const MAX_POINTS: usize = 20;
pub(super) const MAX_ADDRESS_LINES: usize = 5;
pub(super) const MAX_SHORT: usize = 200;
pub(super) struct Problems(pub(super) Vec<Violation>);

impl Problems {
    pub(super) fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push((field.into(), problem.into()));
    }

    pub(super) fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.add(field, e)).ok()
    }

    pub(super) fn short(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        if value.chars().any(|c| c.is_control() && c != '\n') {
            self.add(field, "must not contain control characters");
        }
        value.to_owned()
    }
}

pub(super) fn optional_name(problems: &mut Problems, field: &str, raw: &str) -> String {
    if raw.trim().is_empty() {
        return String::new();
    }
    problems
        .check(field, crm_core::text::name(raw, 1, MAX_NAME))
        .unwrap_or_default()
}

pub(super) fn emails(
    problems: &mut Problems,
    field: &str,
    raw: &[EmailAddress],
) -> Vec<EmailAddress> {
    if raw.len() > MAX_POINTS {
        problems.add(field, format!("must be at most {MAX_POINTS} addresses"));
    }
    let mut out: Vec<EmailAddress> = Vec::new();
    for (i, e) in raw.iter().enumerate() {
        if let Some(address) =
            problems.check(&format!("{field}[{i}].address"), values::email(&e.address))
            && !out.iter().any(|o| o.address == address)
        {
            out.push(EmailAddress {
                address,
                ..e.clone()
            });
        }
    }
    if out.iter().filter(|e| e.primary).count() > 1 {
        problems.add(field, "at most one email may be primary");
    }
    out
}

pub(super) fn phones(problems: &mut Problems, field: &str, raw: &[Phone]) -> Vec<Phone> {
    if raw.len() > MAX_POINTS {
        problems.add(field, format!("must be at most {MAX_POINTS} numbers"));
    }
    let mut out = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let number = problems.check(
            &format!("{field}[{i}].e164_number"),
            values::phone(&p.number),
        );
        let extension = problems.short(&format!("{field}[{i}].extension"), &p.extension, 10);
        if let Some(number) = number {
            out.push(Phone {
                number,
                extension,
                ..p.clone()
            });
        }
    }
    if out.iter().filter(|p| p.primary).count() > 1 {
        problems.add(field, "at most one phone may be primary");
    }
    out
}

pub(super) fn addresses(problems: &mut Problems, raw: &[Address]) -> Vec<Address> {
    if raw.len() > MAX_POINTS {
        problems.add(
            "addresses",
            format!("must be at most {MAX_POINTS} addresses"),
        );
    }
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let at = |f: &str| format!("addresses[{i}].{f}");
        if a.lines.len() > MAX_ADDRESS_LINES {
            problems.add(
                at("lines"),
                format!("must be at most {MAX_ADDRESS_LINES} lines"),
            );
        }
        let lines = a
            .lines
            .iter()
            .map(|l| problems.short(&at("lines"), l, MAX_SHORT))
            .filter(|l| !l.is_empty())
            .collect();
        let region_code = if a.region_code.trim().is_empty() {
            String::new()
        } else {
            problems
                .check(&at("region_code"), values::region_code(&a.region_code))
                .unwrap_or_default()
        };
        out.push(Address {
            kind: a.kind,
            lines,
            locality: problems.short(&at("locality"), &a.locality, MAX_SHORT),
            administrative_area: problems.short(
                &at("administrative_area"),
                &a.administrative_area,
                MAX_SHORT,
            ),
            postal_code: problems.short(&at("postal_code"), &a.postal_code, 20),
            region_code,
            primary: a.primary,
        });
    }
    if out.iter().filter(|a| a.primary).count() > 1 {
        problems.add("addresses", "at most one address may be primary");
    }
    out
}

pub(super) fn social(problems: &mut Problems, raw: &[SocialProfile]) -> Vec<SocialProfile> {
    if raw.len() > MAX_POINTS {
        problems.add(
            "social_profiles",
            format!("must be at most {MAX_POINTS} profiles"),
        );
    }
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let handle = problems.short(
            &format!("social_profiles[{i}].handle"),
            &s.handle,
            MAX_SHORT,
        );
        let url = problems.short(&format!("social_profiles[{i}].url"), &s.url, 2048);
        if handle.is_empty() && url.is_empty() {
            problems.add(format!("social_profiles[{i}]"), "needs a handle or a url");
        }
        if !url.is_empty() && !is_web_url(&url) {
            problems.add(
                format!("social_profiles[{i}].url"),
                "must be an http:// or https:// URL",
            );
        }
        out.push(SocialProfile {
            network: s.network,
            handle,
            url,
        });
    }
    out
}

pub(super) fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace))
}
