//! The rules: tasks (due times, reminders, recurrence), activities (what was logged, who may
//! change it, how its Markdown is rendered), records they relate to, and the timeline's entries;
//! the events they raise and the store's ports.

pub mod activity;
pub mod events;
pub mod messages;
pub mod permissions;
pub mod ports;
pub mod records;
pub mod task;
pub mod timeline;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The words a search finds an activity by: letters and digits, lower-cased (as the customers'
/// search words are).
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A field's problem, for `INVALID_ARGUMENT`'s field violations.
pub type Problem = (String, String);

/// `(field, description)`.
pub fn problem(field: &str, description: impl Into<String>) -> Problem {
    (field.to_owned(), description.into())
}
