//! The providers that carry each channel, and the circuit breaker in front of each.
//!
//! - [`Smtp`]: email through `lettre` (STARTTLS or TLS from the URL, credentials from it too),
//!   a plain-text and an HTML part.
//! - [`TwilioSms`]: SMS through an HTTP API shaped like Twilio's Messages API.
//! - [`LogSink`]: what email and SMS use when nothing is configured: the message is logged and
//!   stored as sent, with a note saying so, so `crm serve` works with nothing installed.
//! - [`InApp`]: the notification is already stored; delivering it publishes it to the live
//!   watchers of its recipient.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
pub use crm_core::breaker::BreakerState;
use crm_core::breaker::BreakerWatch;
use failsafe::StateMachine;
use failsafe::backoff::EqualJittered;
use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::futures::CircuitBreaker as _;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::application::hub::Hub;
use crate::domain::notification::Notification;
use crate::domain::ports::{SendError, Sender};

/// Email over SMTP.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// A mailer for `url` (`smtp://host:25`, `smtp://user:pass@host:587?tls=required` for
    /// STARTTLS, `smtps://user:pass@host:465` for TLS) sending as `from`.
    /// Keeps up to `connections` connections open.
    pub fn new(url: &str, from: &str, connections: u32) -> anyhow::Result<Smtp> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("`notification.smtp_url` is not an SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(15)))
            .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(connections))
            .build();
        let from = from.parse().map_err(|e| {
            anyhow::anyhow!("`notification.email_from` is not an email address ({from}): {e}")
        })?;
        Ok(Smtp { transport, from })
    }
}

/// The body as HTML: escaped, paragraphs from blank lines, line breaks kept.
pub fn html(body: &str) -> String {
    let escaped = body
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let paragraphs: Vec<String> = escaped
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.trim().replace('\n', "<br>\n")))
        .collect();
    format!(
        "<!doctype html>\n<html><body style=\"font-family: sans-serif\">\n{}\n</body></html>\n",
        paragraphs.join("\n")
    )
}

#[async_trait]
impl Sender for Smtp {
    fn provider(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, n: &Notification) -> Result<String, SendError> {
        let refused = |message: String| SendError {
            message,
            answer: String::new(),
            permanent: true,
        };
        let to: Mailbox = n.recipient_address.parse().map_err(|e| {
            refused(format!(
                "the recipient {} is not an email address: {e}",
                n.recipient_address
            ))
        })?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&n.subject)
            .message_id(Some(format!("<{}@kilang-crm>", n.id)))
            .multipart(MultiPart::alternative_plain_html(
                n.body.clone(),
                html(&n.body),
            ))
            .map_err(|e| refused(format!("the message cannot be built: {e}")))?;
        match self.transport.send(message).await {
            Ok(response) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => Err(SendError {
                answer: e.status().map(|c| c.to_string()).unwrap_or_default(),
                permanent: e.is_permanent(),
                message: format!("the SMTP server did not take the message: {e}"),
            }),
        }
    }
}

/// SMS through an API shaped like Twilio's Messages API: `POST
/// {base}/2010-04-01/Accounts/{account}/Messages.json` with `To`, `From` and `Body`, basic auth
/// with the account and its token.
pub struct TwilioSms {
    http: reqwest::Client,
    url: String,
    account: String,
    token: String,
    from: String,
}

impl TwilioSms {
    /// A client of the API at `base` (e.g. `https://api.twilio.com`).
    pub fn new(base: &str, account: &str, token: &str, from: &str) -> anyhow::Result<TwilioSms> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(TwilioSms {
            http,
            url: format!(
                "{}/2010-04-01/Accounts/{account}/Messages.json",
                base.trim_end_matches('/')
            ),
            account: account.into(),
            token: token.into(),
            from: from.into(),
        })
    }
}

#[async_trait]
impl Sender for TwilioSms {
    fn provider(&self) -> &'static str {
        "sms"
    }

    async fn send(&self, n: &Notification) -> Result<String, SendError> {
        let text = if n.subject.is_empty() {
            n.body.clone()
        } else {
            format!("{}\n{}", n.subject, n.body)
        };
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.account, Some(&self.token))
            .form(&[
                ("To", n.recipient_address.as_str()),
                ("From", self.from.as_str()),
                ("Body", text.as_str()),
            ])
            .send()
            .await
            .map_err(|e| SendError {
                message: format!("the SMS provider could not be reached: {e}"),
                answer: String::new(),
                permanent: false,
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let answer: String = format!(
            "{} {}",
            status.as_u16(),
            body.chars().take(500).collect::<String>()
        );
        if status.is_success() {
            return Ok(answer);
        }
        // Twilio answers 400 for a bad number or body: no retry changes that. 429 and 5xx pass.
        let permanent =
            status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408;
        Err(SendError {
            message: format!("the SMS provider answered {status}"),
            answer,
            permanent,
        })
    }
}

/// Logs the message and calls it sent: email and SMS when no provider is configured.
pub struct LogSink {
    /// The channel it stands in for (`email`, `sms`).
    pub channel: &'static str,
}

#[async_trait]
impl Sender for LogSink {
    fn provider(&self) -> &'static str {
        "log"
    }

    async fn send(&self, n: &Notification) -> Result<String, SendError> {
        tracing::info!(
            notification_id = %n.id,
            channel = self.channel,
            to = %n.recipient_address,
            subject = %n.subject,
            body = %n.body,
            "not sent: no {} provider is configured; the message is stored as sent",
            self.channel
        );
        Ok(format!(
            "logged, not sent: no {} provider is configured (notification.{})",
            self.channel,
            if self.channel == "email" {
                "smtp_url"
            } else {
                "sms_*"
            }
        ))
    }
}

/// In-app: publishes the stored notification to its recipient's watchers.
pub struct InApp {
    /// The live watchers.
    pub hub: Hub,
}

#[async_trait]
impl Sender for InApp {
    fn provider(&self) -> &'static str {
        "in_app"
    }

    async fn send(&self, n: &Notification) -> Result<String, SendError> {
        // Watchers see it as it is once delivered.
        let mut shown = n.clone();
        // The event is the worker's to store, with the delivery.
        let _ = shown.sent(chrono::Utc::now().timestamp_millis());
        let watching = self.hub.publish(&shown);
        Ok(format!("in the inbox; {watching} watching"))
    }
}

type Machine = StateMachine<ConsecutiveFailures<EqualJittered>, BreakerWatch>;

/// A provider behind its circuit breaker.
#[derive(Clone)]
pub struct Guarded {
    sender: Arc<dyn Sender>,
    breaker: Machine,
    state: BreakerWatch,
    /// How long a delivery waits when the breaker is open.
    pub wait: Duration,
}

/// What became of a guarded send.
#[derive(Debug)]
pub enum Outcome {
    /// Taken, with the provider's answer.
    Sent(String),
    /// Refused or failed.
    Failed(SendError),
    /// Not tried: the breaker is open.
    Open,
}

impl Guarded {
    /// `sender` behind a breaker that opens after `failures` transient failures in a row and
    /// stays open between `open_for` and twice that before letting one call probe.
    pub fn new(sender: Arc<dyn Sender>, failures: u32, open_for: Duration) -> Guarded {
        let policy = failsafe::failure_policy::consecutive_failures(
            failures,
            failsafe::backoff::equal_jittered(open_for, open_for * 2),
        );
        let state = BreakerWatch::default();
        Guarded {
            sender,
            breaker: failsafe::Config::new()
                .failure_policy(policy)
                .instrument(state.clone())
                .build(),
            state,
            wait: open_for,
        }
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.sender.provider()
    }

    /// Where its breaker stands.
    pub fn state(&self) -> BreakerState {
        self.state.state()
    }

    /// Its state, for whoever watches it (metrics, health).
    pub fn watch(&self) -> BreakerWatch {
        self.state.clone()
    }

    /// Sends through the breaker; only transient failures count against the provider.
    pub async fn send(&self, n: &Notification) -> Outcome {
        match self
            .breaker
            .call_with(|e: &SendError| !e.permanent, self.sender.send(n))
            .await
        {
            Ok(answer) => Outcome::Sent(answer),
            Err(failsafe::Error::Inner(e)) => Outcome::Failed(e),
            Err(failsafe::Error::Rejected) => Outcome::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_with_paragraphs() {
        let out = html("Dear <Siti> & co,\n\nThanks.\nBye");
        assert!(out.contains("<p>Dear &lt;Siti&gt; &amp; co,</p>"), "{out}");
        assert!(out.contains("<p>Thanks.<br>\nBye</p>"), "{out}");
    }
}
