//! The notification context's section of the configuration (`[notification]`,
//! `CRM_NOTIFICATION__*`): the email and SMS providers, and how delivery retries.
//!
//! With nothing set, email and SMS go to a log sink: each message is logged and stored as sent
//! with a note saying so, so `crm serve` works with nothing installed (reported at startup).

use crm_core::Config;
use crm_core::config::{ConfigError, Secret, Section};
use serde::{Deserialize, Serialize};

/// The providers and the delivery policy.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationConfig {
    /// The SMTP server, with credentials if it needs them: `smtp://host:25`,
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (TLS).
    /// Unset: email goes to the log sink.
    pub smtp_url: Option<Secret>,
    /// The sender of email, e.g. `Kilang Desa Murni Batik <crm@kilangbatik.my>`.
    pub email_from: Option<String>,
    /// The SMS API's base URL (Twilio's Messages API shape), e.g. `https://api.twilio.com`.
    /// Unset: SMS goes to the log sink.
    pub sms_base_url: Option<String>,
    /// The SMS account (Twilio's account SID).
    pub sms_account: Option<String>,
    /// The SMS account's token.
    pub sms_token: Option<Secret>,
    /// The number SMS are sent from, E.164.
    pub sms_from: Option<String>,
    /// Delivery attempts in all before a notification fails (default 5).
    pub max_attempts: Option<u32>,
    /// The delay after the first failure, in milliseconds (default 30,000); it doubles, with
    /// jitter, up to `retry_max_millis`.
    pub retry_min_millis: Option<u64>,
    /// The longest delay between attempts, in milliseconds (default 3,600,000).
    pub retry_max_millis: Option<u64>,
    /// Transient failures in a row after which a provider's breaker opens (default 5).
    pub breaker_failures: Option<u32>,
    /// How long an open breaker makes deliveries wait before one probes, in milliseconds
    /// (default 30,000; at least 2,000, as the breaker counts whole seconds): between half of it
    /// and all of it, jittered, growing while the provider stays down, up to twice it.
    pub breaker_open_millis: Option<u64>,
    /// How often due notifications are looked for when nothing wakes the worker, in
    /// milliseconds (default 1,000).
    pub poll_millis: Option<u64>,
    /// Deliveries in flight at once, and so the SMTP connections kept open (default 32). An
    /// SMTP connection sends one message at a time, and each waits out the server's delayed
    /// acknowledgement (about 40 ms: `lettre` does not set `TCP_NODELAY`), so the email rate
    /// grows with it.
    pub concurrency: Option<u32>,
    /// How long a message to a customer that a person's action caused (a deal won or lost)
    /// waits before it is sent, in milliseconds (default 120,000): undoing the action within
    /// it (reopening the opportunity) sends nothing. 0 sends at once.
    pub customer_message_grace_millis: Option<u64>,
}

/// The section's key.
pub const NAME: &str = "notification";

/// The section, for the launcher.
pub static SECTION: Section = Section {
    name: NAME,
    defaults: || {
        figment::value::Value::serialize(NotificationConfig::default())
            .expect("the defaults serialise")
    },
    check: |config| match NotificationConfig::of(config) {
        Ok(section) => section.problems(),
        Err(e) => e.problems,
    },
};

impl NotificationConfig {
    /// The notification section of `config` (defaults for keys not given).
    pub fn of(config: &Config) -> Result<NotificationConfig, ConfigError> {
        config.section(NAME)
    }

    /// Sets the notification section of `config` (tests and tools). Secrets are kept whole.
    pub fn set(self, config: &mut Config) {
        let secrets: Vec<(&str, String)> =
            [("smtp_url", &self.smtp_url), ("sms_token", &self.sms_token)]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|s| (k, s.expose().to_owned())))
                .collect();
        let mut value =
            figment::value::Value::serialize(&self).expect("the notification section serialises");
        if let figment::value::Value::Dict(_, dict) = &mut value {
            for (key, secret) in secrets {
                dict.insert(key.into(), secret.into());
            }
        }
        config.set_section(NAME, &value);
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(url) = &self.smtp_url {
            let url = url.expose();
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                problems.push(
                    "`notification.smtp_url`: write it like smtp://user:pass@mail.example.com:587?tls=required or smtps://…:465"
                        .into(),
                );
            }
        }
        let sms = [
            self.sms_base_url.is_some(),
            self.sms_account.is_some(),
            self.sms_token.is_some(),
            self.sms_from.is_some(),
        ];
        if sms.iter().any(|s| *s) && !sms.iter().all(|s| *s) {
            problems.push(
                "`notification.sms_*`: set all of sms_base_url, sms_account, sms_token and sms_from, or none"
                    .into(),
            );
        }
        if let Some(url) = &self.sms_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(format!(
                "`notification.sms_base_url`: {url:?} is not a URL; write it like https://api.twilio.com"
            ));
        }
        if self.concurrency == Some(0) {
            problems.push("`notification.concurrency`: must be at least 1".into());
        }
        if self.max_attempts == Some(0) {
            problems.push("`notification.max_attempts`: must be at least 1".into());
        }
        if self.breaker_open_millis.is_some_and(|ms| ms < 2000) {
            problems.push(
                "`notification.breaker_open_millis`: must be at least 2000 (the breaker counts whole seconds and waits half to all of it)"
                    .into(),
            );
        }
        if self.breaker_failures == Some(0) {
            problems.push("`notification.breaker_failures`: must be at least 1".into());
        }
        problems
    }
}
