//! The notification context's API.

pub mod grpc;
