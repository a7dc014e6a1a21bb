//! Templates: one channel and one event type each, in one locale, rendered by a sandboxed
//! `minijinja` (no loader, so no file or network access; strict variables; a fuel budget bounds
//! the work and a size cap the output). A template is checked when it is saved: it must parse,
//! name only variables its event gives, and render within the bounds with sample values.

use std::collections::BTreeMap;

use crm_core::TenantId;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::catalogue::{self, EventKind};
use super::{Millis, Violation};

/// How a notification reaches its recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email, over SMTP.
    Email,
    /// SMS, through an HTTP provider.
    Sms,
    /// In the CRM's own interface, live on `WatchNotifications`.
    InApp,
}

impl Channel {
    /// As the contracts (the API and the events) name it.
    pub fn to_pb(self) -> crm_proto::crm::notification::v1::Channel {
        use crm_proto::crm::notification::v1::Channel as Pb;
        match self {
            Channel::Email => Pb::Email,
            Channel::Sms => Pb::Sms,
            Channel::InApp => Pb::InApp,
        }
    }

    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::InApp => "in_app",
        }
    }

    /// From its name in the store.
    pub fn parse(raw: &str) -> Option<Channel> {
        [Channel::Email, Channel::Sms, Channel::InApp]
            .into_iter()
            .find(|c| c.as_str() == raw)
    }
}

/// The most a rendered subject may hold, in bytes.
pub const MAX_SUBJECT: usize = 255;
/// The most a rendered body may hold, in bytes.
pub const MAX_BODY: usize = 32 * 1024;
/// The most a template's source may hold, in bytes.
pub const MAX_SOURCE: usize = 16 * 1024;
/// The work one render may do (minijinja's fuel: about one unit per instruction).
const FUEL: u64 = 100_000;

/// A notification template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// UUIDv7.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Unique in the tenant.
    pub name: String,
    /// How it is delivered.
    pub channel: Channel,
    /// The event type it is for.
    pub event_type: String,
    /// Its BCP 47 locale.
    pub locale: String,
    /// The subject's source (email, in-app).
    pub subject: String,
    /// The body's source.
    pub body: String,
    /// Whether it is used.
    pub enabled: bool,
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// The etag.
    pub version: i64,
}

/// A template's fields as a request gives them.
#[derive(Clone, Debug, Default)]
pub struct TemplateInput {
    /// Its name.
    pub name: String,
    /// Its channel (`None`: not given).
    pub channel: Option<Channel>,
    /// Its event type.
    pub event_type: String,
    /// Its locale.
    pub locale: String,
    /// The subject's source.
    pub subject: String,
    /// The body's source.
    pub body: String,
    /// Whether it is used.
    pub enabled: bool,
}

impl Template {
    /// A new template, checked.
    pub fn new(
        tenant_id: TenantId,
        input: TemplateInput,
        now: Millis,
    ) -> Result<Template, Vec<Violation>> {
        let mut template = Template {
            id: Uuid::now_v7(),
            tenant_id,
            name: String::new(),
            channel: Channel::Email,
            event_type: String::new(),
            locale: String::new(),
            subject: String::new(),
            body: String::new(),
            enabled: input.enabled,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        template.set(input)?;
        Ok(template)
    }

    /// Replaces its fields with `input`'s, checked; on refusal nothing changes.
    pub fn set(&mut self, input: TemplateInput) -> Result<(), Vec<Violation>> {
        let mut problems = Vec::new();
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            problems.push(("name".into(), "must be 1 to 100 characters".into()));
        }
        let channel = match input.channel {
            Some(c) => c,
            None => {
                problems.push((
                    "channel".into(),
                    "must be CHANNEL_EMAIL, CHANNEL_SMS or CHANNEL_IN_APP".into(),
                ));
                Channel::Email
            }
        };
        let kind = catalogue::event(&input.event_type);
        if kind.is_none() {
            let known: Vec<&str> = catalogue::EVENTS.iter().map(|e| e.event_type).collect();
            problems.push((
                "event_type".into(),
                format!("must be one of {}", known.join(", ")),
            ));
        }
        let locale = match crm_core::text::locale(input.locale.trim()) {
            Ok(l) => l,
            Err(problem) => {
                problems.push(("locale".into(), problem.into()));
                String::new()
            }
        };
        if channel != Channel::Sms && input.subject.trim().is_empty() {
            problems.push((
                "subject_template".into(),
                "must be given for email and in-app templates".into(),
            ));
        }
        if input.body.trim().is_empty() {
            problems.push(("body_template".into(), "must be given".into()));
        }
        if let Some(kind) = kind {
            problems.extend(check(kind, &input.subject, &input.body));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        self.name = name;
        self.channel = channel;
        self.event_type = input.event_type;
        self.locale = locale;
        self.subject = input.subject;
        self.body = input.body;
        self.enabled = input.enabled;
        Ok(())
    }

    /// The template as an input (to change some fields and `set` it back).
    pub fn input(&self) -> TemplateInput {
        TemplateInput {
            name: self.name.clone(),
            channel: Some(self.channel),
            event_type: self.event_type.clone(),
            locale: self.locale.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
            enabled: self.enabled,
        }
    }

    /// Renders it with `variables`.
    pub fn render(&self, variables: &BTreeMap<&str, String>) -> Result<Rendered, String> {
        render(&self.subject, &self.body, variables)
    }
}

/// A rendered subject and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    /// Plain text.
    pub body: String,
}

fn environment<'s>() -> Environment<'s> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(16);
    env.set_debug(true);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env
}

/// `line L, column C` of the byte `offset` of `source`.
fn place(source: &str, offset: usize) -> String {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// The problems of a subject and body written for `kind`: syntax, unknown variables, and
/// output or work beyond the bounds with sample values.
pub fn check(kind: &EventKind, subject: &str, body: &str) -> Vec<Violation> {
    let mut problems = Vec::new();
    let env = environment();
    for (field, source, limit) in [
        ("subject_template", subject, MAX_SUBJECT),
        ("body_template", body, MAX_BODY),
    ] {
        if source.len() > MAX_SOURCE {
            problems.push((
                field.into(),
                format!("is {} bytes; at most {MAX_SOURCE}", source.len()),
            ));
            continue;
        }
        let template = match env.template_from_str(source) {
            Ok(t) => t,
            Err(e) => {
                let at = match (e.range(), e.line()) {
                    (Some(range), _) => place(source, range.start),
                    (None, Some(line)) => format!("line {line}"),
                    (None, None) => "line 1".into(),
                };
                let detail = e.detail().unwrap_or("the template does not parse");
                problems.push((field.into(), format!("{at}: {detail}")));
                continue;
            }
        };
        let mut unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !kind.gives(v) && !env.globals().any(|(g, _)| g == v))
            .collect();
        unknown.sort();
        for name in &unknown {
            let at = source.find(name.as_str()).unwrap_or(0);
            problems.push((
                field.into(),
                format!(
                    "{}: `{name}` is not a variable of {}; it gives {}",
                    place(source, at),
                    kind.event_type,
                    kind.names()
                ),
            ));
        }
        if !unknown.is_empty() {
            continue;
        }
        // Sample values as long as real ones may be.
        let sample: BTreeMap<&str, String> = kind
            .variables
            .iter()
            .map(|(n, _)| (*n, "x".repeat(64)))
            .collect();
        match template.render(&sample) {
            Ok(out) if out.len() > limit => problems.push((
                field.into(),
                format!(
                    "renders {} bytes with 64-character values; at most {limit}",
                    out.len()
                ),
            )),
            Ok(_) => {}
            Err(e) => problems.push((field.into(), render_problem(source, &e))),
        }
    }
    problems
}

fn render_problem(source: &str, e: &minijinja::Error) -> String {
    let what = match e.kind() {
        minijinja::ErrorKind::OutOfFuel => "takes too much work to render".to_owned(),
        _ => e.detail().map_or_else(|| e.to_string(), str::to_owned),
    };
    match e.range() {
        Some(range) => format!("{}: {what}", place(source, range.start)),
        None => what,
    }
}

/// Renders a subject and body with `variables` within the bounds.
pub fn render(
    subject: &str,
    body: &str,
    variables: &BTreeMap<&str, String>,
) -> Result<Rendered, String> {
    let env = environment();
    let run = |source: &str, limit: usize| -> Result<String, String> {
        let out = env
            .render_str(source, variables)
            .map_err(|e| render_problem(source, &e))?;
        if out.len() > limit {
            return Err(format!("renders {} bytes; at most {limit}", out.len()));
        }
        Ok(out)
    };
    let subject = run(subject, MAX_SUBJECT)?
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Rendered {
        subject: subject.trim().to_owned(),
        body: run(body, MAX_BODY)?,
    })
}

/// Of `templates` (one event type and channel, enabled or not), the one for `locale`: the exact
/// locale, else its language, else English. `None` if none fits or the fitting one is disabled.
pub fn pick<'t>(templates: &'t [Template], locale: &str) -> Option<&'t Template> {
    let language = locale.split('-').next().unwrap_or(locale);
    let fits = |want: &str| {
        templates
            .iter()
            .find(|t| t.locale.eq_ignore_ascii_case(want))
    };
    fits(locale)
        .or_else(|| fits(language))
        .or_else(|| {
            templates.iter().find(|t| {
                t.locale
                    .split('-')
                    .next()
                    .is_some_and(|l| l.eq_ignore_ascii_case(language))
            })
        })
        .or_else(|| fits("en"))
        .filter(|t| t.enabled)
}

#[cfg(test)]
mod tests;
