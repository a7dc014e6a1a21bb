//! What gRPC reflection lists: the CRM's own services this process serves, and the health and
//! reflection services every process serves.

/// The standard services every process serves besides its own.
const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// The services every process serves beside the CRM's own.
pub(crate) const ALWAYS: [&str; 3] = [HEALTH, REFLECTION_V1, REFLECTION_V1ALPHA];

/// Reflection over the CRM contracts, health and reflection itself, listing only the services
/// this process serves.
pub(crate) fn builder(crm_services: &[&str]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(crm_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
    for name in crm_services.iter().copied().chain(ALWAYS) {
        builder = builder.with_service_name(name);
    }
    builder
}
