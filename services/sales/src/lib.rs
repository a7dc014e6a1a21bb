//! Sales: pipelines and stages, leads (qualify, score, assign), conversion to opportunities (a
//! saga with compensation), stage moves, win to deal, lose with reason, analytics, forecast.
//!
//! Status: the contracts (`crm.sales.v1`) are final; the service is not built yet, so every
//! method answers `UNIMPLEMENTED` and says so.

use crm_core::bounded::{BoundedContext, Started, Startup, placeholder};
use crm_core::config::Target;
use futures::future::BoxFuture;

const CAPABILITY: &str =
    "the sales pipeline (leads, opportunities, pipelines, deals, forecasts) is still being built";

/// The sales context, for the launcher's list. Its store is opened (the file exists) though it
/// has no tables yet.
pub static CONTEXT: BoundedContext = BoundedContext {
    target: Target::Sales,
    has_store: true,
    topic: Some("crm.sales.events.v1"),
    migrations: None,
    config: None,
    start,
};

fn start(_: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async { Ok(placeholder(crm_proto::services::SALES, CAPABILITY)) })
}
