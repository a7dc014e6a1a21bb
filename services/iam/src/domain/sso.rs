//! Single sign-on through a tenant's OpenID provider: the settings and their rules, the flows in
//! flight (`state` → nonce and PKCE verifier), and how a verified ID token's claims become a
//! user's roles.

use crm_core::TenantId;

use super::Millis;

/// How long a started sign-in can be completed.
pub const FLOW_TTL: Millis = 10 * 60 * 1000;
/// The prefix of a sign-in's `state` ([`super::opaque`]).
pub const STATE_PREFIX: &str = "sso_";

/// A tenant's provider, as stored (the client secret apart).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SsoSettings {
    /// Whether sign-ins go through.
    pub enabled: bool,
    /// The issuer URL.
    pub issuer_url: String,
    /// The CRM's client id there.
    pub client_id: String,
    /// Where the provider sends the browser back.
    pub redirect_uri: String,
    /// Verified emails must be in one of these (lowercase); empty: any.
    pub allowed_email_domains: Vec<String>,
    /// The claim with the person's groups.
    pub groups_claim: String,
    /// Group → role name.
    pub group_roles: std::collections::BTreeMap<String, String>,
    /// The role when no group maps.
    pub default_role: String,
    /// Just-in-time provisioning.
    pub provision_users: bool,
}

/// The stored provider of a tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoProvider {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The settings.
    pub settings: SsoSettings,
    /// The client secret (never returned, never logged).
    pub client_secret: String,
    /// When last changed.
    pub updated_at: Millis,
    /// The etag.
    pub version: i64,
}

impl std::fmt::Debug for SsoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoProvider")
            .field("tenant_id", &self.tenant_id)
            .field("settings", &self.settings)
            .field("client_secret", &"<redacted>")
            .field("version", &self.version)
            .finish()
    }
}

/// Whether the server may fetch from `ip`: a public address, or a loopback one when
/// `allow_loopback` (a local provider). Private, link-local, shared, unspecified and
/// documentation ranges never are (an owner's issuer URL must not reach inside the network).
pub fn fetchable(ip: std::net::IpAddr, allow_loopback: bool) -> bool {
    use std::net::IpAddr;
    if ip.is_loopback() {
        return allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| !fetchable(v4.into(), allow_loopback)))
        }
    }
}

/// Where an issuer's discovery document is read: always this path under the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Whether `url` may be fetched as an issuer or a redirect target: HTTPS, or plain HTTP to a
/// loopback address when `allow_loopback_http` (tests and local providers); never a private
/// address written as an IP, never with credentials or a fragment. An `issuer` is only a
/// scheme, a host, a port and a path (OpenID Connect Discovery 1.0 §4): its discovery document
/// is read at [`DISCOVERY_PATH`] under it, never at an address of the owner's choosing.
fn url_problem(raw: &str, allow_loopback_http: bool, issuer: bool) -> Option<String> {
    if raw.len() > 2048 {
        return Some("must be at most 2048 characters".into());
    }
    let Ok(url) = url::Url::parse(raw) else {
        return Some("must be an absolute URL".into());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Some("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Some("must not have a #fragment".into());
    }
    if issuer && url.query().is_some() {
        return Some(
            "must not have a ?query: an issuer is a scheme, a host, a port and a path".into(),
        );
    }
    if issuer && url.path().contains("/.well-known/") {
        return Some(format!(
            "must be the issuer itself (its discovery document is read at <issuer>{DISCOVERY_PATH})"
        ));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
        _ => None,
    };
    if let Some(ip) = ip
        && !fetchable(ip, allow_loopback_http)
    {
        return Some(format!(
            "must not point at this machine or a private address ({ip})"
        ));
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => None,
        "http" if allow_loopback_http && loopback => None,
        _ => Some("must be an https:// URL".into()),
    }
}

impl SsoSettings {
    /// Checks the settings; `roles_known` says whether a role name exists in the tenant. Each
    /// problem is (field, what is wrong). Domains are lowercased.
    pub fn validate(
        &mut self,
        allow_loopback_http: bool,
        roles_known: impl Fn(&str) -> bool,
    ) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, text: String| {
            problems.push((format!("settings.{field}"), text));
        };
        self.issuer_url = self.issuer_url.trim().trim_end_matches('/').to_owned();
        if let Some(p) = url_problem(&self.issuer_url, allow_loopback_http, true) {
            problem("issuer_url", p);
        }
        if let Some(p) = url_problem(self.redirect_uri.trim(), true, false) {
            problem("redirect_uri", p);
        }
        if self.client_id.trim().is_empty() || self.client_id.len() > 256 {
            problem("client_id", "must be 1 to 256 characters".into());
        }
        self.allowed_email_domains = self
            .allowed_email_domains
            .iter()
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .collect();
        for domain in &self.allowed_email_domains {
            if domain.is_empty() || !domain.contains('.') || domain.contains(char::is_whitespace) {
                problem(
                    "allowed_email_domains",
                    format!("{domain:?} is not a domain name"),
                );
            }
        }
        if self.allowed_email_domains.len() > 50 || self.group_roles.len() > 100 {
            problem(
                "group_roles",
                "at most 50 domains and 100 group mappings".into(),
            );
        }
        for (group, role) in &self.group_roles {
            if role == super::role::OWNER {
                problem(
                    "group_roles",
                    "owner is never handed out at sign-in; promote owners by hand".into(),
                );
            } else if !roles_known(role) {
                problem(
                    "group_roles",
                    format!("{group:?} maps to {role:?}, which is not a role of this tenant"),
                );
            }
        }
        if self.default_role.trim().is_empty() {
            self.default_role = super::role::DEFAULT_ROLE.to_owned();
        }
        if !roles_known(&self.default_role) || self.default_role == super::role::OWNER {
            problem(
                "default_role",
                format!(
                    "{:?} is not a role this tenant can hand out at sign-in",
                    self.default_role
                ),
            );
        }
        problems
    }

    /// Whether a verified email may sign in.
    pub fn allows_email(&self, email: &str) -> bool {
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_lowercase());
        self.allowed_email_domains.is_empty()
            || domain.is_some_and(|d| self.allowed_email_domains.contains(&d))
    }

    /// The roles of a person in `groups`: every mapped one, else the default role.
    pub fn roles_for(&self, groups: &[String]) -> Vec<String> {
        let mut roles: Vec<String> = groups
            .iter()
            .filter_map(|g| self.group_roles.get(g).cloned())
            .collect();
        roles.sort();
        roles.dedup();
        if roles.is_empty() {
            roles.push(self.default_role.clone());
        }
        roles
    }
}

/// A sign-in in flight.
#[derive(Clone, Debug)]
pub struct Flow {
    /// SHA-256 of the state, hex.
    pub state_hash: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier of the code challenge sent.
    pub pkce_verifier: String,
    /// When started.
    pub created_at: Millis,
    /// When it stops working.
    pub expires_at: Millis,
}

/// What a verified ID token says about the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email`, when the provider says it is verified (`email_verified: true`).
    pub verified_email: Option<String>,
    /// `email`, verified or not (for messages only).
    pub email: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// The groups claim's values.
    pub groups: Vec<String>,
}

/// Why a sign-in's answer was refused, safe to tell the person and to audit.
#[derive(Debug, thiserror::Error)]
pub enum SsoRefusal {
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider could not be reached: {0}")]
    Unreachable(String),
    /// The provider refused the code (expired, used, another client's).
    #[error("the identity provider refused the sign-in: {0}")]
    CodeRefused(String),
    /// The ID token failed a check.
    #[error("the identity provider's ID token was refused: {0}")]
    IdToken(String),
}

impl From<SsoRefusal> for crm_core::Error {
    fn from(e: SsoRefusal) -> crm_core::Error {
        match &e {
            // What the provider's address answered is the operator's (logged and audited), not
            // the caller's: one message for every way it fails.
            SsoRefusal::Unreachable(_) => crm_core::Error::new(
                crm_core::ErrorKind::Unavailable,
                "the identity provider could not be reached; try again later, or ask your \
                 administrator to check the tenant's single sign-on settings",
            )
            .with_reason("SSO_PROVIDER_UNREACHABLE"),
            SsoRefusal::CodeRefused(_) => {
                crm_core::Error::unauthenticated(e.to_string()).with_reason("SSO_CODE_REFUSED")
            }
            SsoRefusal::IdToken(_) => {
                crm_core::Error::unauthenticated(e.to_string()).with_reason("SSO_ID_TOKEN_INVALID")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::opaque;
    use super::*;

    fn settings() -> SsoSettings {
        SsoSettings {
            enabled: true,
            issuer_url: "https://accounts.google.com/".into(),
            client_id: "crm".into(),
            redirect_uri: "https://crm.kilang.example/sso/callback".into(),
            allowed_email_domains: vec![" @Kilang.Example".into()],
            groups_claim: "groups".into(),
            group_roles: [
                ("sales".to_owned(), "sales_rep".to_owned()),
                ("managers".to_owned(), "sales_manager".to_owned()),
            ]
            .into(),
            default_role: String::new(),
            provision_users: true,
        }
    }

    fn known(role: &str) -> bool {
        ["owner", "admin", "sales_manager", "sales_rep", "viewer"].contains(&role)
    }

    #[test]
    fn settings_are_normalised_and_checked_field_by_field() {
        let mut s = settings();
        assert!(s.validate(false, known).is_empty());
        assert_eq!(s.issuer_url, "https://accounts.google.com");
        assert_eq!(s.allowed_email_domains, ["kilang.example"]);
        assert_eq!(s.default_role, "viewer");

        let mut bad = SsoSettings {
            issuer_url: "http://idp.example".into(),
            client_id: " ".into(),
            redirect_uri: "nowhere".into(),
            allowed_email_domains: vec!["localhost".into()],
            group_roles: [("x".to_owned(), "emperor".to_owned())].into(),
            default_role: "owner".into(),
            ..settings()
        };
        let fields: Vec<String> = bad
            .validate(false, known)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            fields,
            [
                "settings.issuer_url",
                "settings.redirect_uri",
                "settings.client_id",
                "settings.allowed_email_domains",
                "settings.group_roles",
                "settings.default_role",
            ]
        );
        // Plain HTTP only to a loopback provider, and only when allowed.
        let mut local = SsoSettings {
            issuer_url: "http://127.0.0.1:4000".into(),
            ..settings()
        };
        assert!(local.validate(true, known).is_empty());
        assert_eq!(local.validate(false, known).len(), 1);
    }

    #[test]
    fn private_addresses_are_never_fetched_and_loopback_only_when_allowed() {
        for ip in [
            "10.0.0.5",
            "172.16.1.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!fetchable(ip.parse().unwrap(), true), "{ip}");
        }
        for ip in ["127.0.0.1", "::1"] {
            assert!(fetchable(ip.parse().unwrap(), true), "{ip}");
            assert!(!fetchable(ip.parse().unwrap(), false), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860:4860::8888"] {
            assert!(fetchable(ip.parse().unwrap(), false), "{ip}");
        }
        let mut metadata = SsoSettings {
            issuer_url: "https://169.254.169.254/latest".into(),
            ..settings()
        };
        let problems = metadata.validate(true, known);
        assert_eq!(problems[0].0, "settings.issuer_url");
        assert!(problems[0].1.contains("private address"), "{problems:?}");
    }

    #[test]
    fn emails_and_groups_decide_who_signs_in_as_what() {
        let mut s = settings();
        s.validate(false, known);
        assert!(s.allows_email("siti@kilang.example"));
        assert!(s.allows_email("SITI@KILANG.EXAMPLE"));
        assert!(!s.allows_email("siti@kilang.example.evil"));
        assert!(!s.allows_email("nobody"));
        assert_eq!(
            s.roles_for(&["sales".into(), "managers".into(), "x".into()]),
            ["sales_manager", "sales_rep"]
        );
        assert_eq!(s.roles_for(&[]), ["viewer"]);
    }

    #[test]
    fn a_state_names_its_tenant_under_its_own_prefix() {
        let tenant = TenantId::new();
        let state = opaque::mint(STATE_PREFIX, tenant).unwrap();
        assert_eq!(opaque::tenant_of(STATE_PREFIX, &state), Some(tenant));
        assert_eq!(opaque::tenant_of(STATE_PREFIX, "sso_nope"), None);
        assert_eq!(
            opaque::tenant_of(STATE_PREFIX, &state.replace("sso_", "mfa_")),
            None
        );
    }

    #[test]
    fn debug_never_shows_the_client_secret() {
        let p = SsoProvider {
            tenant_id: TenantId::new(),
            settings: settings(),
            client_secret: "very-secret".into(),
            updated_at: 0,
            version: 1,
        };
        assert!(!format!("{p:?}").contains("very-secret"));
    }
}
