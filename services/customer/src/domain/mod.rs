//! The customer context's rules, with no IO: the [`customer::Customer`] aggregate and its
//! contacts, the values it is made of ([`values`]), and the ports the application needs
//! ([`ports`]).

pub mod custom_field;
pub mod customer;
pub mod events;
pub mod messages;
pub mod permissions;
pub mod ports;
pub mod values;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;
