//! The sales context's rules: pipelines and stages, leads and their status machine, money (opportunities and deals to come), and
//! the ports the use cases need. No IO.

pub mod lead;
pub mod money;
pub mod pipeline;
pub mod ports;

/// Milliseconds since the Unix epoch: how every time is stored.
pub type Millis = i64;
