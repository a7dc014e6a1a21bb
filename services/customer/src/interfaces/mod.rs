//! The API: gRPC (`crm.customer.v1.CustomerService`).

pub mod grpc;
