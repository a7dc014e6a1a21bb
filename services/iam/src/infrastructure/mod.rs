//! Adapters: the SQL store (SQLite, PostgreSQL), the login throttle (memory, Redis), the password
//! hasher and the signing keys.

pub mod hasher;
pub mod keys;
pub mod sql;
pub mod throttle;
