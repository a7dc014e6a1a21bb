//! Adapters: the SQL store (SQLite, PostgreSQL) and the MongoDB store.

pub mod mongo;
pub mod sql;
