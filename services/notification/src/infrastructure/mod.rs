//! Adapters: the SQL store, the event flows, the providers, the live hub and the delivery
//! worker.

pub mod channels;
pub mod consumer;
pub mod hub;
pub mod sql;
pub mod worker;
