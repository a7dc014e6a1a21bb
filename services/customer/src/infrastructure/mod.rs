//! Adapters: the SQL store (SQLite, PostgreSQL).

pub mod sql;
