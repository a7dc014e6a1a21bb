//! Adapters: the SQL store, the event consumer, the providers and the delivery worker.

pub mod channels;
pub mod consumer;
pub mod sql;
pub mod worker;
