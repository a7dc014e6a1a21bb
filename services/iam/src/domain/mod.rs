//! IAM's domain: value objects, aggregates and their invariants, the permission catalog, and the
//! ports the application needs. No IO.

pub mod api_key;
pub mod audit;
pub mod email;
pub mod events;
pub mod import_columns;
pub mod invitation;
pub mod mfa;
pub mod opaque;
pub mod password;
pub mod ports;
pub mod role;
pub mod saved_view;
pub mod service_account;
pub mod session;
pub mod sso;
pub mod tenant;
pub mod user;
pub mod visibility;

/// Milliseconds since the Unix epoch: how every time is stored.
pub type Millis = i64;
