//! IAM: tenants, users, roles and permissions, sessions (register, login, refresh, logout) with
//! EdDSA JWTs, RBAC + ABAC, audit log, login rate limits.
//!
//! Status: the contracts (`crm.iam.v1`) are final; the service itself is the IAM issue's work.
//! Until it lands every IAM method answers `UNIMPLEMENTED` and says so.

use crm_core::grpc::ServiceSet;

/// Methods callable without an access token: they are how a caller gets one.
pub const OPEN_METHODS: [&str; 4] = [
    "/crm.iam.v1.AuthService/Register",
    "/crm.iam.v1.AuthService/Login",
    "/crm.iam.v1.AuthService/Refresh",
    "/crm.iam.v1.AuthService/GetJwks",
];

const CAPABILITY: &str = "identity and access (sign-up, login, tokens, users, roles, policies, audit) is still being built";

/// Adds IAM's services to a server.
pub fn register(services: &mut ServiceSet) {
    for name in crm_proto::services::IAM {
        services.add_unavailable(name, CAPABILITY);
    }
    for method in OPEN_METHODS {
        services.open_method(method);
    }
}
