//! Adapters: the SQL store (SQLite, PostgreSQL) and the consumer of IAM's events.

pub mod consumer;
pub mod sql;
