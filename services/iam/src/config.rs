//! IAM's section of the configuration (`[iam]`, `CRM_IAM__*`): token lifetimes, signing keys,
//! login throttling, hashing. The launcher gets it through [`crate::CONTEXT`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crm_core::Config;
use crm_core::config::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// Identity and access: token lifetimes, signing keys, login throttling, hashing.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IamConfig {
    /// Access-token lifetime in seconds.
    pub access_token_ttl_seconds: u64,
    /// Refresh-token lifetime in days.
    pub refresh_token_ttl_days: u64,
    /// Directory of Ed25519 PKCS#8 PEM signing keys; `<data_dir>/keys` when unset. The first key
    /// is generated there when it is empty.
    pub signing_keys_dir: Option<PathBuf>,
    /// Failed logins of one account (tenant + email) before a lockout.
    pub account_failure_limit: u32,
    /// Failed logins from one client address before a lockout.
    pub address_failure_limit: u32,
    /// Failed logins in one tenant before the tenant's logins are locked.
    pub tenant_failure_limit: u32,
    /// The window failures are counted in, in seconds.
    pub failure_window_seconds: u64,
    /// How long a lockout lasts, in seconds.
    pub lockout_seconds: u64,
    /// Sign-ups (`Register`) from one client address per `signup_window_seconds`; 0: no limit.
    pub signup_address_limit: u32,
    /// Sign-ups from everywhere together per `signup_window_seconds`; 0: no limit.
    pub signup_limit: u32,
    /// The window sign-ups are counted in, in seconds.
    pub signup_window_seconds: u64,
    /// Invitation emails (InviteUser and ResendInvitation) one workspace sends per day; 0: no
    /// limit. Each carries the workspace's and the inviter's names to an address nobody there
    /// has confirmed: the limit keeps a workspace from being used to mail strangers in bulk.
    pub invitation_daily_limit: u32,
    /// Password hashes computed at once (each takes 19 MiB); 0 means one per CPU core.
    pub hash_concurrency: usize,
    /// Prefix of the login throttle's keys in Redis.
    pub throttle_key_prefix: String,
    /// The services that may get service tokens (microservices mode): name (`sales`) → the
    /// SHA-256 (hex) of its secret, as `crm service-account secret <name>` prints them.
    pub service_accounts: BTreeMap<String, String>,
    /// Service-token lifetime in seconds.
    pub service_token_ttl_seconds: u64,
    /// Let single sign-on use a plain-HTTP identity provider on a loopback address (a local
    /// provider for development and tests). Off by default, in every mode: issuers must be
    /// HTTPS on a public address, so a tenant owner cannot aim the CRM at this machine's ports.
    pub sso_allow_loopback_http: bool,
    /// The address people open the console at (`https://crm.kilang.example`), for the links in
    /// invitations. When unset, `http://localhost:<listen port>`: right for one machine only.
    pub console_url: Option<String>,
}

impl Default for IamConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_seconds: 15 * 60,
            refresh_token_ttl_days: 30,
            signing_keys_dir: None,
            account_failure_limit: 5,
            address_failure_limit: 20,
            tenant_failure_limit: 100,
            failure_window_seconds: 15 * 60,
            lockout_seconds: 15 * 60,
            signup_address_limit: 10,
            signup_limit: 200,
            signup_window_seconds: 3600,
            invitation_daily_limit: 200,
            hash_concurrency: 0,
            throttle_key_prefix: "crm:iam:login:".into(),
            service_accounts: BTreeMap::new(),
            service_token_ttl_seconds: 300,
            sso_allow_loopback_http: false,
            console_url: None,
        }
    }
}

/// The section's key.
pub const NAME: &str = "iam";

/// The section, for the launcher.
pub static SECTION: Section = Section {
    name: NAME,
    defaults: || {
        figment::value::Value::serialize(IamConfig::default()).expect("the defaults serialise")
    },
    check: |config| match IamConfig::of(config) {
        Ok(iam) => iam.problems(),
        Err(e) => e.problems,
    },
};

impl IamConfig {
    /// IAM's section of `config` (defaults for keys not given).
    pub fn of(config: &Config) -> Result<IamConfig, ConfigError> {
        config.section(NAME)
    }

    /// Sets IAM's section of `config` (tests and tools).
    pub fn set(self, config: &mut Config) {
        config.set_section(NAME, &self);
    }

    /// Where the signing keys live.
    pub fn signing_keys_dir(&self, config: &Config) -> PathBuf {
        self.signing_keys_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("keys"))
    }

    /// The console's address for invitation links: `console_url`, else this machine's port.
    pub fn console_url(&self, config: &Config) -> String {
        match &self.console_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://localhost:{}", config.listen.port()),
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(url) = &self.console_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            problems.push(format!(
                "`iam.console_url`: {url:?} is not an address people open; write it like https://crm.kilang.example"
            ));
        }
        if !(30..=24 * 3600).contains(&self.access_token_ttl_seconds) {
            problems
                .push("`iam.access_token_ttl_seconds`: must be between 30 and 86400".to_owned());
        }
        if !(1..=365).contains(&self.refresh_token_ttl_days) {
            problems.push("`iam.refresh_token_ttl_days`: must be between 1 and 365".to_owned());
        }
        if self.account_failure_limit == 0
            || self.address_failure_limit == 0
            || self.tenant_failure_limit == 0
        {
            problems.push("`iam.*_failure_limit`: must be at least 1".to_owned());
        }
        if !(60..=7 * 24 * 3600).contains(&self.signup_window_seconds) {
            problems.push(
                "`iam.signup_window_seconds`: must be between 60 and 604800 (a week)".to_owned(),
            );
        }
        if !(30..=3600).contains(&self.service_token_ttl_seconds) {
            problems
                .push("`iam.service_token_ttl_seconds`: must be between 30 and 3600".to_owned());
        }
        for (name, hash) in &self.service_accounts {
            if crate::domain::service_account::account(name).is_none() {
                let known: Vec<_> = crate::domain::service_account::SERVICE_ACCOUNTS
                    .iter()
                    .map(|a| a.name)
                    .collect();
                problems.push(format!(
                    "`iam.service_accounts.{name}`: no such service; the services that call others are {}",
                    known.join(", ")
                ));
            } else if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push(format!(
                    "`iam.service_accounts.{name}`: must be the SHA-256 (64 hex digits) `crm service-account secret {name}` prints, not the secret"
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_out_of_range_are_named() {
        let mut config = Config::default();
        IamConfig {
            access_token_ttl_seconds: 10,
            refresh_token_ttl_days: 0,
            tenant_failure_limit: 0,
            ..IamConfig::default()
        }
        .set(&mut config);
        assert_eq!(
            (SECTION.check)(&config),
            [
                "`iam.access_token_ttl_seconds`: must be between 30 and 86400",
                "`iam.refresh_token_ttl_days`: must be between 1 and 365",
                "`iam.*_failure_limit`: must be at least 1",
            ]
        );
        assert!((SECTION.check)(&Config::default()).is_empty());
    }

    #[test]
    fn service_accounts_must_be_known_and_hold_hashes() {
        let mut config = Config::default();
        let hash = crate::domain::service_account::hash_secret("s");
        IamConfig {
            service_accounts: [
                ("sales".to_owned(), hash.clone()),
                ("billing".to_owned(), hash),
                ("notification".to_owned(), "ksvc_plain_secret".to_owned()),
            ]
            .into(),
            ..IamConfig::default()
        }
        .set(&mut config);
        let problems = (SECTION.check)(&config);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("`iam.service_accounts.billing`: no such service"));
        assert!(
            problems[1].starts_with("`iam.service_accounts.notification`: must be the SHA-256")
        );
    }
}
