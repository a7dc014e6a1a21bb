//! Sales: pipelines and stages, leads (qualify, score, assign), conversion to opportunities (a
//! saga with compensation), stage moves, win to deal, lose with reason, analytics, forecast.
//!
//! Status: the contracts (`crm.sales.v1`) are final; the service is not built yet, so every
//! method answers `UNIMPLEMENTED` and says so.

use crm_core::grpc::ServiceSet;

const CAPABILITY: &str =
    "the sales pipeline (leads, opportunities, pipelines, deals, forecasts) is still being built";

/// Adds the sales context's services to a server.
pub fn register(services: &mut ServiceSet) {
    for name in crm_proto::services::SALES {
        services.add_unavailable(name, CAPABILITY);
    }
}
