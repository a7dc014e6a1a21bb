//! The gRPC face of IAM.

pub mod grpc;
