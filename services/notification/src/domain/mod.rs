//! The notification context's rules: templates and what they may say, notifications and their
//! delivery states, the events that cause them.

pub mod built_in;
pub mod catalogue;
pub mod notification;
pub mod permissions;
pub mod ports;
pub mod template;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A field and what is wrong with it.
pub type Violation = (String, String);
