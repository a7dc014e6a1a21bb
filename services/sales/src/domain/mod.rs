//! The sales context's rules: pipelines and stages (leads, opportunities and deals to come), and
//! the ports the use cases need. No IO.

pub mod pipeline;
pub mod ports;

/// Milliseconds since the Unix epoch: how every time is stored.
pub type Millis = i64;
