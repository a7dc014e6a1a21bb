//! The sales context's section of the configuration (`[sales]`, `CRM_SALES__*`): how it reaches
//! the services it calls (customer for conversions, IAM for its own service tokens), and the
//! secret it proves itself with.
//!
//! In one process with those services (`crm serve`), nothing needs setting: the launcher points
//! the endpoints at the process itself and gives sales a secret IAM knows for this process only.

use crm_core::Config;
use crm_core::config::{ConfigError, Secret, Section};
use serde::{Deserialize, Serialize};

/// How sales reaches the services it calls.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SalesConfig {
    /// The customer service, e.g. `http://customer:50051`. Unset: this process, when it runs
    /// the customer target.
    pub customer_endpoint: Option<String>,
    /// IAM, which issues sales' service tokens, e.g. `http://iam:50051`. Unset: this process,
    /// when it runs IAM.
    pub iam_endpoint: Option<String>,
    /// Sales' service-account secret (`crm service-account secret sales` makes one; IAM keeps
    /// its hash in `iam.service_accounts.sales`). Unset: one for this process, when it runs IAM.
    pub service_secret: Option<Secret>,
    /// Each call's deadline towards the customer service, in milliseconds.
    pub call_deadline_millis: Option<u64>,
    /// How often unfinished lead conversions are looked for and resumed, in seconds.
    pub recovery_interval_seconds: Option<u64>,
}

/// The section's key.
pub const NAME: &str = "sales";

/// The section, for the launcher.
pub static SECTION: Section = Section {
    name: NAME,
    defaults: || {
        figment::value::Value::serialize(SalesConfig::default()).expect("the defaults serialise")
    },
    check: |config| match SalesConfig::of(config) {
        Ok(sales) => sales.problems(),
        Err(e) => e.problems,
    },
};

impl SalesConfig {
    /// The sales section of `config` (defaults for keys not given).
    pub fn of(config: &Config) -> Result<SalesConfig, ConfigError> {
        config.section(NAME)
    }

    /// Sets the sales section of `config` (the launcher, tests and tools). The secret is kept
    /// whole (a `Secret` serialises redacted, for dumps).
    pub fn set(self, config: &mut Config) {
        let secret = self.service_secret.as_ref().map(|s| s.expose().to_owned());
        let mut value =
            figment::value::Value::serialize(&self).expect("the sales section serialises");
        if let (Some(secret), figment::value::Value::Dict(_, dict)) = (secret, &mut value) {
            dict.insert("service_secret".into(), secret.into());
        }
        config.set_section(NAME, &value);
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("customer_endpoint", &self.customer_endpoint),
            ("iam_endpoint", &self.iam_endpoint),
        ] {
            if let Some(url) = value
                && let Err(e) = crm_core::upstream::Addresses::parse(url)
            {
                problems.push(format!("`sales.{key}`: {e}"));
            }
        }
        if self.call_deadline_millis == Some(0) {
            problems.push("`sales.call_deadline_millis`: must be above 0".into());
        }
        if self.recovery_interval_seconds == Some(0) {
            problems.push("`sales.recovery_interval_seconds`: must be above 0".into());
        }
        problems
    }
}
