//! The API: gRPC services over the use cases.

pub mod grpc;
