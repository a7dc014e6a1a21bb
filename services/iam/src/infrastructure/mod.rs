//! Adapters: the SQL store (SQLite, PostgreSQL), the login throttle (memory, Redis), the password
//! hasher, the signing keys, the key that seals stored secrets and the OpenID Connect relying
//! party.

pub mod hasher;
pub mod keys;
pub mod oidc;
pub mod secrets;
pub mod sql;
pub mod throttle;
