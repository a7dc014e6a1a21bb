//! The gRPC API.

pub mod grpc;
