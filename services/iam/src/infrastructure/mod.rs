//! Adapters: the SQL store (SQLite, PostgreSQL), the login throttle (memory, Redis), the password
//! hasher, the signing keys and the OpenID Connect relying party.

pub mod hasher;
pub mod keys;
pub mod oidc;
pub mod sql;
pub mod throttle;
