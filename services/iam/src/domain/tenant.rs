//! Tenants: the organisations using the CRM.

use crm_core::TenantId;

use super::Millis;
use super::import_columns::{ImportColumns, parse_import_columns};
use super::mfa::MfaPolicy;
use super::visibility::CustomerVisibility;

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
    /// Minutes a session may go unused; 0 = [`DEFAULT_IDLE_MINUTES`].
    #[serde(default)]
    pub session_idle_timeout_minutes: i64,
    /// Hours a session lasts from its sign-in; 0 = [`DEFAULT_MAX_LIFETIME_HOURS`].
    #[serde(default)]
    pub session_max_lifetime_hours: i64,
    /// Who must sign in with a second factor.
    #[serde(default)]
    pub mfa_policy: MfaPolicy,
    /// Which customers salespeople whose roles reach only their own may read; stored settings
    /// made before it existed read as [`CustomerVisibility::BEFORE`]. In an update, `None`
    /// keeps the current one.
    #[serde(default = "before_visibility")]
    pub customer_visibility: Option<CustomerVisibility>,
    /// How the console's import reads a file's columns (header → field). Changed only on its
    /// own ([`Tenant::apply`]'s `import_columns`): new settings keep the current one.
    #[serde(default, skip_serializing_if = "ImportColumns::is_empty")]
    pub import_columns: ImportColumns,
}

fn before_visibility() -> Option<CustomerVisibility> {
    Some(CustomerVisibility::BEFORE)
}

/// The idle timeout of a session when the tenant sets none (OWASP's session management
/// guidance: 15 to 30 minutes for low-risk applications).
pub const DEFAULT_IDLE_MINUTES: i64 = 30;
/// The longest a session lasts from its sign-in when the tenant sets nothing (OWASP: 4 to 8
/// hours for an application used through a working day).
pub const DEFAULT_MAX_LIFETIME_HOURS: i64 = 8;

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            default_currency_code: "MYR".into(),
            time_zone: "Asia/Kuala_Lumpur".into(),
            locale: "ms-MY".into(),
            deal_approval_threshold_units: 0,
            session_idle_timeout_minutes: 0,
            session_max_lifetime_hours: 0,
            mfa_policy: MfaPolicy::Optional,
            customer_visibility: Some(CustomerVisibility::NEW),
            import_columns: ImportColumns::new(),
        }
    }
}

impl TenantSettings {
    /// Checks the settings against the maintained lists (ISO 4217, IANA tz, BCP 47 + ISO 639)
    /// and puts codes in their canonical form; each error is (field, problem).
    pub fn validate(&mut self) -> Vec<(&'static str, String)> {
        use crm_core::text;
        let mut problems = Vec::new();
        match text::currency_code(&self.default_currency_code) {
            Ok(code) => self.default_currency_code = code,
            Err(e) => problems.push(("tenant.settings.default_currency_code", e.into())),
        }
        match text::time_zone(&self.time_zone) {
            Ok(zone) => self.time_zone = zone,
            Err(e) => problems.push(("tenant.settings.time_zone", e.into())),
        }
        match text::locale(&self.locale) {
            Ok(locale) => self.locale = locale,
            Err(e) => problems.push(("tenant.settings.locale", e.into())),
        }
        if self.deal_approval_threshold_units < 0 {
            problems.push((
                "tenant.settings.deal_approval_threshold_units",
                "must not be negative".into(),
            ));
        }
        if !(self.session_idle_timeout_minutes == 0
            || (5..=7 * 24 * 60).contains(&self.session_idle_timeout_minutes))
        {
            problems.push((
                "tenant.settings.session_idle_timeout_minutes",
                "must be 0 (the default, 30) or 5 to 10080 (a week)".into(),
            ));
        }
        if !(self.session_max_lifetime_hours == 0
            || (1..=90 * 24).contains(&self.session_max_lifetime_hours))
        {
            problems.push((
                "tenant.settings.session_max_lifetime_hours",
                "must be 0 (the default, 8) or 1 to 2160 (90 days)".into(),
            ));
        }
        problems
    }

    /// Which customers salespeople whose roles reach only their own may read.
    pub fn customer_visibility(&self) -> CustomerVisibility {
        self.customer_visibility
            .unwrap_or(CustomerVisibility::BEFORE)
    }

    /// The permissions roles give, as these settings widen them ([`CustomerVisibility::widen`]).
    pub fn widen(&self, held: Vec<String>) -> Vec<String> {
        self.customer_visibility().widen(held)
    }

    /// The session limits in milliseconds: (idle timeout, maximum lifetime).
    pub fn session_limits(&self) -> (Millis, Millis) {
        let idle = match self.session_idle_timeout_minutes {
            0 => DEFAULT_IDLE_MINUTES,
            m => m,
        };
        let max = match self.session_max_lifetime_hours {
            0 => DEFAULT_MAX_LIFETIME_HOURS,
            h => h,
        };
        (idle * 60_000, max * 3_600_000)
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

impl Tenant {
    /// Renames, resets the settings and/or the import's columns (each given one checked by its
    /// rule; settings come out in their canonical form). Every problem found, by request field.
    /// Does not bump the version; [`Tenant::touch`] records the change.
    pub fn apply(
        &mut self,
        name: Option<&str>,
        settings: Option<TenantSettings>,
        import_columns: Option<ImportColumns>,
    ) -> Result<(), Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let name = name
            .map(|n| parse_tenant_name(n).map_err(|e| problems.push(("tenant.name", e))))
            .transpose()
            .ok()
            .flatten();
        let settings = settings.map(|mut s| {
            problems.extend(s.validate());
            s
        });
        let import_columns = import_columns
            .map(|c| parse_import_columns(c).map_err(|p| problems.extend(p)))
            .transpose()
            .ok()
            .flatten();
        if !problems.is_empty() {
            return Err(problems);
        }
        if let Some(name) = name {
            self.name = name;
        }
        if let Some(mut settings) = settings {
            // Left unset, the visibility stays as it is.
            settings.customer_visibility = settings
                .customer_visibility
                .or(self.settings.customer_visibility);
            // The import's columns change only on their own.
            settings.import_columns = std::mem::take(&mut self.settings.import_columns);
            self.settings = settings;
        }
        if let Some(columns) = import_columns {
            self.settings.import_columns = columns;
        }
        Ok(())
    }

    /// Records a change made at `now`: a new version (etag) and update time.
    pub fn touch(&mut self, now: Millis) {
        self.version += 1;
        self.updated_at = now;
    }
}

/// Checks a tenant's display name (the shared rules for names people read: no control,
/// bidirectional or invisible characters, at least one letter or digit).
pub fn parse_tenant_name(raw: &str) -> Result<String, String> {
    crm_core::text::name(raw, 2, 100)
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
        let mut bad = TenantSettings {
            default_currency_code: "ringgit".into(),
            ..Default::default()
        };
        let problems = bad.validate();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "tenant.settings.default_currency_code");
        let mut worse = TenantSettings {
            default_currency_code: "XYZ".into(),
            time_zone: "../../etc/passwd".into(),
            locale: "xx-YY".into(),
            deal_approval_threshold_units: 0,
            session_idle_timeout_minutes: 4,
            session_max_lifetime_hours: 2161,
            mfa_policy: MfaPolicy::Everyone,
            customer_visibility: None,
            import_columns: ImportColumns::new(),
        };
        let fields: Vec<_> = worse.validate().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "tenant.settings.default_currency_code",
                "tenant.settings.time_zone",
                "tenant.settings.locale",
                "tenant.settings.session_idle_timeout_minutes",
                "tenant.settings.session_max_lifetime_hours",
            ]
        );
        assert!(TenantSettings::default().validate().is_empty());
    }

    #[test]
    fn settings_stored_before_a_field_existed_read_with_its_default() {
        let stored = r#"{"default_currency_code":"MYR","time_zone":"Asia/Kuala_Lumpur","locale":"ms-MY","deal_approval_threshold_units":0}"#;
        let settings: TenantSettings = serde_json::from_str(stored).unwrap();
        assert_eq!(
            settings,
            TenantSettings {
                // A workspace made before the setting: its salespeople still see only their own.
                customer_visibility: Some(CustomerVisibility::Own),
                ..TenantSettings::default()
            }
        );
        assert_eq!(
            TenantSettings::default().customer_visibility(),
            CustomerVisibility::Everyone,
            "a new workspace shares its customers"
        );
        let admins = TenantSettings {
            mfa_policy: MfaPolicy::Admins,
            ..TenantSettings::default()
        };
        let json = serde_json::to_string(&admins).unwrap();
        assert!(json.contains(r#""mfa_policy":"admins""#), "{json}");
        assert_eq!(
            serde_json::from_str::<TenantSettings>(&json).unwrap(),
            admins
        );
    }

    #[test]
    fn session_limits_default_after_owasp_and_follow_the_settings() {
        assert_eq!(
            TenantSettings::default().session_limits(),
            (30 * 60_000, 8 * 3_600_000)
        );
        let mut set = TenantSettings {
            session_idle_timeout_minutes: 60,
            session_max_lifetime_hours: 24,
            ..TenantSettings::default()
        };
        assert_eq!(set.validate(), Vec::new());
        assert_eq!(set.session_limits(), (3_600_000, 24 * 3_600_000));
        // Stored before the fields existed: the defaults.
        let old: TenantSettings = serde_json::from_str(
            r#"{"default_currency_code":"MYR","time_zone":"Asia/Kuala_Lumpur","locale":"ms-MY","deal_approval_threshold_units":0}"#,
        )
        .unwrap();
        assert_eq!(
            old.session_limits(),
            TenantSettings::default().session_limits()
        );
    }

    #[test]
    fn an_update_without_a_visibility_keeps_the_one_chosen() {
        let mut tenant = Tenant::new("Kilang".into(), "kilang".into(), 1_000);
        let own = TenantSettings {
            customer_visibility: Some(CustomerVisibility::Own),
            ..TenantSettings::default()
        };
        tenant.apply(None, Some(own), None).unwrap();
        let unset = TenantSettings {
            customer_visibility: None,
            time_zone: "Asia/Singapore".into(),
            ..TenantSettings::default()
        };
        tenant.apply(None, Some(unset), None).unwrap();
        assert_eq!(tenant.settings.time_zone, "Asia/Singapore");
        assert_eq!(
            tenant.settings.customer_visibility(),
            CustomerVisibility::Own
        );
    }

    #[test]
    fn the_import_columns_change_only_on_their_own() {
        let mut tenant = Tenant::new("Kilang".into(), "kilang".into(), 1_000);
        let columns = ImportColumns::from([("Nama Syarikat".into(), "legal_name".into())]);
        tenant.apply(None, None, Some(columns)).unwrap();
        let remembered = ImportColumns::from([("nama syarikat".into(), "legal_name".into())]);
        assert_eq!(tenant.settings.import_columns, remembered);
        // New settings, from a client that does not know the columns: they stay.
        tenant
            .apply(None, Some(TenantSettings::default()), None)
            .unwrap();
        assert_eq!(tenant.settings.import_columns, remembered);
        // A bad column refuses the whole change.
        let bad = ImportColumns::from([("e-mel".into(), "E-mail!".into())]);
        let fields: Vec<_> = tenant
            .apply(Some("Kilang Batik"), None, Some(bad))
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["tenant.settings.import_columns"]);
        assert_eq!(
            (tenant.name.as_str(), &tenant.settings.import_columns),
            ("Kilang", &remembered)
        );
        tenant
            .apply(None, None, Some(ImportColumns::new()))
            .unwrap();
        assert!(
            tenant.settings.import_columns.is_empty(),
            "an empty map forgets them"
        );
    }

    #[test]
    fn an_update_changes_all_or_nothing() {
        let mut tenant = Tenant::new("Kilang".into(), "kilang".into(), 1_000);
        let bad = TenantSettings {
            time_zone: "Mars/Olympus".into(),
            ..TenantSettings::default()
        };
        let fields: Vec<_> = tenant
            .apply(Some("K\0"), Some(bad), None)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["tenant.name", "tenant.settings.time_zone"]);
        assert_eq!(tenant.name, "Kilang", "nothing changed");
        tenant.apply(Some("Kilang Batik"), None, None).unwrap();
        tenant.touch(2_000);
        assert_eq!(
            (tenant.name.as_str(), tenant.version, tenant.updated_at),
            ("Kilang Batik", 2, 2_000)
        );
    }

    #[test]
    fn tenant_names_follow_the_shared_text_rules() {
        assert!(parse_tenant_name("Kilang\0Batik").is_err());
        assert!(parse_tenant_name("Kilang\r\nBatik").is_err());
        assert!(parse_tenant_name("\u{202E}\u{200B}\u{2066}").is_err());
        assert_eq!(parse_tenant_name(" Kilang Desa ").unwrap(), "Kilang Desa");
    }
}
