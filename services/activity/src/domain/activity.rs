//! An activity: a call, a meeting, a WhatsApp or SMS conversation, an email or a note, logged
//! against records; who may change it and until when; its Markdown rendered safely.

use crm_core::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::records::{self, RecordRef};
use super::{Millis, Problem, problem};

/// The longest subject, in characters.
pub const MAX_SUBJECT: usize = 200;
/// The longest outcome, in characters.
pub const MAX_OUTCOME: usize = 500;
/// The longest body, in characters.
pub const MAX_BODY: usize = 20_000;
/// The most participants.
pub const MAX_PARTICIPANTS: usize = 50;
/// The longest duration: a day, in seconds.
pub const MAX_DURATION: i32 = 24 * 3600;

/// What an activity was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A phone call.
    Call,
    /// A meeting.
    Meeting,
    /// A WhatsApp conversation.
    Whatsapp,
    /// An SMS conversation.
    Sms,
    /// An email.
    Email,
    /// A note.
    Note,
}

impl Kind {
    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Meeting => "meeting",
            Kind::Whatsapp => "whatsapp",
            Kind::Sms => "sms",
            Kind::Email => "email",
            Kind::Note => "note",
        }
    }

    /// In words, for a timeline's line.
    pub fn words(self) -> &'static str {
        match self {
            Kind::Call => "Call",
            Kind::Meeting => "Meeting",
            Kind::Whatsapp => "WhatsApp conversation",
            Kind::Sms => "SMS conversation",
            Kind::Email => "Email",
            Kind::Note => "Note",
        }
    }
}

/// Who started it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer reached us.
    Inbound,
    /// We reached the customer.
    Outbound,
}

/// Someone who took part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// A contact.
    pub contact_id: Option<Uuid>,
    /// A user.
    pub user_id: Option<UserId>,
    /// The name as written.
    pub name: String,
}

/// An activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// UUIDv7.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// What it was.
    pub kind: Kind,
    /// When it happened.
    pub occurred_at: Millis,
    /// How long, in seconds.
    pub duration_seconds: u32,
    /// Who started it.
    pub direction: Option<Direction>,
    /// Who took part.
    pub participants: Vec<Participant>,
    /// How it ended.
    pub outcome: String,
    /// A short subject.
    pub subject: String,
    /// Markdown.
    pub body: String,
    /// The records it is about.
    pub related: Vec<RecordRef>,
    /// Who logged it.
    pub author_id: UserId,
    /// When it was logged.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
    /// When it was deleted (softly).
    pub deleted_at: Option<Millis>,
    /// Bumped by every change.
    pub version: i64,
}

/// What a caller gives for an activity.
#[derive(Clone, Debug, Default)]
pub struct ActivityInput {
    /// What it was.
    pub kind: Option<Kind>,
    /// When (now when `None`).
    pub occurred_at: Option<Millis>,
    /// Seconds.
    pub duration_seconds: i32,
    /// Who started it.
    pub direction: Option<Direction>,
    /// Who took part.
    pub participants: Vec<Participant>,
    /// How it ended.
    pub outcome: String,
    /// A short subject.
    pub subject: String,
    /// Markdown.
    pub body: String,
    /// The records it is about.
    pub related: Vec<RecordRef>,
}

/// The fields `UpdateActivity` may change.
pub const UPDATABLE: &[&str] = &[
    "occur_time",
    "duration_seconds",
    "direction",
    "participants",
    "outcome",
    "subject",
    "body",
    "related",
];

fn text(problems: &mut Vec<Problem>, field: &str, raw: &str, max: usize, into: &mut String) {
    if raw.chars().count() > max {
        problems.push(problem(field, format!("must be at most {max} characters")));
    } else {
        *into = raw.trim().to_owned();
    }
}

impl Activity {
    /// A new activity from `input`, or the problems of its fields.
    pub fn log(
        tenant_id: TenantId,
        input: ActivityInput,
        author: UserId,
        now: Millis,
    ) -> Result<Activity, Vec<Problem>> {
        let Some(kind) = input.kind else {
            let mut problems = vec![problem(
                "activity.kind",
                "is required: a call, meeting, WhatsApp, SMS, email or note",
            )];
            if input.related.is_empty() {
                problems.push(related_required());
            }
            return Err(problems);
        };
        let mut activity = Activity {
            id: Uuid::now_v7(),
            tenant_id,
            kind,
            occurred_at: now,
            duration_seconds: 0,
            direction: None,
            participants: Vec::new(),
            outcome: String::new(),
            subject: String::new(),
            body: String::new(),
            related: Vec::new(),
            author_id: author,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        };
        let occurred = input.occurred_at.unwrap_or(now);
        activity.apply(
            ActivityInput {
                occurred_at: Some(occurred),
                ..input
            },
            UPDATABLE,
        )?;
        Ok(activity)
    }

    /// Sets the fields named by `mask` from `input`, or the problems.
    pub fn apply(&mut self, input: ActivityInput, mask: &[&str]) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        let has = |f: &str| mask.contains(&f);
        if has("occur_time") {
            match input.occurred_at {
                Some(at) => self.occurred_at = at,
                None => problems.push(problem("activity.occur_time", "is required")),
            }
        }
        if has("duration_seconds") {
            match input.duration_seconds {
                d if !(0..=MAX_DURATION).contains(&d) => problems.push(problem(
                    "activity.duration_seconds",
                    format!("must be between 0 and {MAX_DURATION} (a day)"),
                )),
                d => self.duration_seconds = d as u32,
            }
        }
        if has("direction") {
            self.direction = input.direction;
        }
        if has("participants") {
            if input.participants.len() > MAX_PARTICIPANTS {
                problems.push(problem(
                    "activity.participants",
                    format!("at most {MAX_PARTICIPANTS}"),
                ));
            } else if let Some(i) = input.participants.iter().position(|p| {
                p.contact_id.is_none() && p.user_id.is_none() && p.name.trim().is_empty()
            }) {
                problems.push(problem(
                    &format!("activity.participants[{i}]"),
                    "name a contact, a user or a person",
                ));
            } else if let Some(i) = input.participants.iter().position(|p| p.name.len() > 200) {
                problems.push(problem(
                    &format!("activity.participants[{i}].name"),
                    "must be at most 200 bytes",
                ));
            } else {
                self.participants = input
                    .participants
                    .into_iter()
                    .map(|p| Participant {
                        name: p.name.trim().to_owned(),
                        ..p
                    })
                    .collect();
            }
        }
        if has("outcome") {
            text(
                &mut problems,
                "activity.outcome",
                &input.outcome,
                MAX_OUTCOME,
                &mut self.outcome,
            );
        }
        if has("subject") {
            text(
                &mut problems,
                "activity.subject",
                &input.subject,
                MAX_SUBJECT,
                &mut self.subject,
            );
        }
        if has("body") {
            text(
                &mut problems,
                "activity.body",
                &input.body,
                MAX_BODY,
                &mut self.body,
            );
        }
        if has("related") {
            match records::distinct(input.related) {
                Ok(r) if r.is_empty() => problems.push(related_required()),
                Ok(r) => self.related = r,
                Err(e) => problems.push(problem("activity.related", e)),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Until when its author may change it.
    pub fn editable_until(&self, window_minutes: u32) -> Millis {
        self.created_at + i64::from(window_minutes) * 60_000
    }

    /// The words search finds it by: its subject, body, outcome and participants' names.
    pub fn search_text(&self) -> String {
        let mut text = format!(
            "{} {} {} {}",
            self.kind.as_str(),
            self.subject,
            self.body,
            self.outcome
        );
        for p in &self.participants {
            text.push(' ');
            text.push_str(&p.name);
        }
        super::search_words(&text).join(" ")
    }

    /// One line for a timeline: "Call: Asked about songket prices".
    pub fn summary(&self) -> String {
        summary(self.kind, &self.subject, &self.outcome, &self.body)
    }
}

/// One line for a timeline of an activity of `kind`: its subject, else its outcome, else the
/// first line of its body.
pub fn summary(kind: Kind, subject: &str, outcome: &str, body: &str) -> String {
    let detail = [subject, outcome]
        .into_iter()
        .find(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| first_line(body));
    if detail.is_empty() {
        kind.words().to_owned()
    } else {
        format!("{}: {detail}", kind.words())
    }
}

fn related_required() -> Problem {
    problem(
        "activity.related",
        "name at least one customer, contact, lead or opportunity it is about",
    )
}

fn first_line(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.trim().trim_start_matches(['#', '>', '-', '*', ' ']);
    line.chars().take(120).collect()
}

/// `markdown` as HTML that is safe to put in a page: the Markdown is rendered by pulldown-cmark,
/// raw HTML in it is shown as text (escaped, never passed through), and links and images keep
/// their destination only when it is http, https, mailto or tel (anything else, `javascript:`
/// included, becomes `#`).
pub fn render_html(markdown: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
    fn safe(url: CowStr<'_>) -> CowStr<'_> {
        let lower = url.trim().to_ascii_lowercase();
        let allowed = ["http://", "https://", "mailto:", "tel:"]
            .iter()
            .any(|s| lower.starts_with(s));
        // A relative link names no scheme: it stays inside the console.
        let relative = !lower.contains(':');
        if allowed || relative {
            url
        } else {
            CowStr::Borrowed("#")
        }
    }
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html.truncate(html.trim_end().len());
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_raw_html_does_not_pass() {
        let html = render_html(
            "**Sampin** order\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>",
        );
        assert!(html.contains("<strong>Sampin</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn only_safe_link_schemes_are_kept() {
        let html = render_html(
            "[a](javascript:alert(1)) [b](https://kilang.my) [c](tel:+60123456789) [d](JaVaScRiPt:x)",
        );
        assert!(!html.to_lowercase().contains("javascript"), "{html}");
        assert!(html.contains("href=\"https://kilang.my\""), "{html}");
        assert!(html.contains("href=\"tel:+60123456789\""), "{html}");
    }

    #[test]
    fn an_activity_needs_a_kind_and_a_record() {
        let problems =
            Activity::log(TenantId::new(), ActivityInput::default(), UserId::new(), 0).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["activity.kind", "activity.related"]);
    }

    #[test]
    fn search_text_holds_the_participants() {
        let a = Activity::log(
            TenantId::new(),
            ActivityInput {
                kind: Some(Kind::Whatsapp),
                body: "Wants 20 pieces of *batik* sutera".into(),
                participants: vec![Participant {
                    name: "Puan Aminah".into(),
                    ..Participant::default()
                }],
                related: vec![RecordRef::new(
                    crate::domain::records::RecordType::Customer,
                    Uuid::now_v7(),
                )],
                ..ActivityInput::default()
            },
            UserId::new(),
            0,
        )
        .unwrap();
        assert_eq!(
            a.search_text(),
            "whatsapp wants 20 pieces of batik sutera puan aminah"
        );
    }
}
