//! The sales context's rules: pipelines and stages, leads and their status machine, money,
//! opportunities and deals, the conversion saga's steps, analytics and forecast, and
//! the ports the use cases need. No IO.

pub mod analytics;
pub mod conversion;
pub mod events;
pub mod lead;
pub mod messages;
pub mod money;
pub mod opportunity;
pub mod opportunity_order;
pub mod permissions;
pub mod pipeline;
pub mod ports;
pub mod search;

/// Milliseconds since the Unix epoch: how every time is stored.
pub type Millis = i64;
