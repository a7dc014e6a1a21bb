//! Adapters: the SQL store (SQLite, PostgreSQL), the consumer of IAM's events, and the customer
//! directory (a gRPC client of the customer service).

pub mod consumer;
pub mod customer_events;
pub mod directory;
pub mod sql;
