//! Tenants: the organisations using the CRM.

use crm_core::TenantId;

use super::Millis;

/// Whether a tenant is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantStatus {
    /// In use.
    Active,
    /// Nobody can sign in.
    Suspended,
}

impl TenantStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    /// From the stored form.
    pub fn from_stored(s: &str) -> TenantStatus {
        if s == "suspended" {
            TenantStatus::Suspended
        } else {
            TenantStatus::Active
        }
    }
}

/// Tenant-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TenantSettings {
    /// ISO 4217 code.
    pub default_currency_code: String,
    /// IANA zone.
    pub time_zone: String,
    /// BCP 47 locale.
    pub locale: String,
    /// Deals above this (whole units) need a sales_manager; 0 = no limit.
    pub deal_approval_threshold_units: i64,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            default_currency_code: "MYR".into(),
            time_zone: "Asia/Kuala_Lumpur".into(),
            locale: "ms-MY".into(),
            deal_approval_threshold_units: 0,
        }
    }
}

impl TenantSettings {
    /// Checks the settings; each error is (field, problem).
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let code = &self.default_currency_code;
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            problems.push((
                "tenant.settings.default_currency_code",
                "must be an ISO 4217 code like MYR".into(),
            ));
        }
        if self.time_zone.is_empty() || self.time_zone.len() > 64 {
            problems.push((
                "tenant.settings.time_zone",
                "must be an IANA time zone like Asia/Kuala_Lumpur".into(),
            ));
        }
        if self.locale.is_empty() || self.locale.len() > 35 {
            problems.push((
                "tenant.settings.locale",
                "must be a BCP 47 locale like ms-MY".into(),
            ));
        }
        if self.deal_approval_threshold_units < 0 {
            problems.push((
                "tenant.settings.deal_approval_threshold_units",
                "must not be negative".into(),
            ));
        }
        problems
    }
}

/// A tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Unique URL-safe name.
    pub slug: String,
    /// Status.
    pub status: TenantStatus,
    /// Settings.
    pub settings: TenantSettings,
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// Bumped on every change; the etag.
    pub version: i64,
}

/// Checks a tenant's display name.
pub fn parse_tenant_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    match name.chars().count() {
        0 => Err("must not be empty"),
        1 => Err("must be at least 2 characters"),
        n if n > 100 => Err("must be at most 100 characters"),
        _ => Ok(name.to_owned()),
    }
}

/// The slug a name suggests: lowercase ASCII letters and digits joined by single hyphens.
pub fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.len() < 2 {
        "tenant".to_owned()
    } else {
        slug
    }
}

/// Checks a slug given explicitly.
pub fn parse_slug(raw: &str) -> Result<String, &'static str> {
    let ok = (2..=48).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be 2 to 48 lowercase letters, digits and inner hyphens")
    }
}

impl Tenant {
    /// A new active tenant.
    pub fn new(name: String, slug: String, now: Millis) -> Tenant {
        Tenant {
            id: TenantId::new(),
            name,
            slug,
            status: TenantStatus::Active,
            settings: TenantSettings::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(
            slug_from_name("Kilang Desa Murni Batik"),
            "kilang-desa-murni-batik"
        );
        assert_eq!(
            slug_from_name("  Batik & Songket Sdn. Bhd. "),
            "batik-songket-sdn-bhd"
        );
        assert_eq!(slug_from_name("é"), "tenant");
        assert!(parse_slug(&slug_from_name("Kilang Desa Murni Batik")).is_ok());
    }

    #[test]
    fn explicit_slugs_are_checked() {
        assert!(parse_slug("kilang").is_ok());
        assert!(parse_slug("Kilang").is_err());
        assert!(parse_slug("-kilang").is_err());
        assert!(parse_slug("k").is_err());
    }

    #[test]
    fn settings_are_validated_per_field() {
        let bad = TenantSettings {
            default_currency_code: "ringgit".into(),
            ..Default::default()
        };
        let problems = bad.validate();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "tenant.settings.default_currency_code");
    }
}
