//! The SQL store (SQLite and PostgreSQL), the projection that keeps the timeline from the
//! events, and the reminder worker.

pub mod projection;
pub mod reminders;
pub mod sql;
