//! Customers: individuals and businesses with contacts, addresses, phones, emails, social
//! profiles, tags and custom fields; unique email per tenant; search; bulk import and export.
//!
//! Status: the contracts (`crm.customer.v1`) are final; the service is not built yet, so every
//! method answers `UNIMPLEMENTED` and says so.

use crm_core::grpc::ServiceSet;

const CAPABILITY: &str =
    "customer management (customers, contacts, search, import, export) is still being built";

/// Adds the customer context's services to a server.
pub fn register(services: &mut ServiceSet) {
    for name in crm_proto::services::CUSTOMER {
        services.add_unavailable(name, CAPABILITY);
    }
}
