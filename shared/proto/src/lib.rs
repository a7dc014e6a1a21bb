//! The Kilang CRM contracts as Rust: prost messages and tonic clients and servers for every
//! package under `proto/`, generated at build time with protox (no system `protoc`).
//!
//! Modules follow the protobuf packages: `crm::iam::v1`, `crm::sales::events::v1`,
//! `google::rpc`, ...

#![allow(clippy::all, missing_docs, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/mod.rs"));

pub mod codec;

/// The encoded `FileDescriptorSet` of every contract and its imports, with source comments and
/// custom options (`google.api.http`) kept: what reflection serves and REST transcoding reads.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/crm_descriptor.bin"));

/// The fully qualified names of every CRM gRPC service, per bounded context.
pub mod services {
    /// IAM's services.
    pub const IAM: &[&str] = &[
        "crm.iam.v1.AuthService",
        "crm.iam.v1.UserService",
        "crm.iam.v1.RoleService",
        "crm.iam.v1.TenantService",
        "crm.iam.v1.AuthorizationService",
        "crm.iam.v1.AuditService",
        "crm.iam.v1.ApiKeyService",
        "crm.iam.v1.MfaService",
        "crm.iam.v1.DirectoryService",
        "crm.iam.v1.SsoService",
        "crm.iam.v1.SavedViewService",
    ];
    /// The customer context's services.
    pub const CUSTOMER: &[&str] = &[
        "crm.customer.v1.CustomerService",
        "crm.customer.v1.CustomFieldService",
    ];
    /// The sales context's services.
    pub const SALES: &[&str] = &[
        "crm.sales.v1.LeadService",
        "crm.sales.v1.OpportunityService",
        "crm.sales.v1.PipelineService",
        "crm.sales.v1.DealService",
    ];
    /// The edge's own services (views composed from the contexts).
    pub const EDGE: &[&str] = &["crm.edge.v1.EdgeService"];
    /// The notification context's services.
    pub const NOTIFICATION: &[&str] = &[
        "crm.notification.v1.NotificationService",
        "crm.notification.v1.TemplateService",
    ];
}
