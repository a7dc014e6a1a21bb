//! The calls the edge's composed views make to the contexts: through the gateway's forwarding,
//! with the caller's credentials and a deadline, and why a part is missing when one fails.

use std::sync::Arc;
use std::time::Duration;

use tonic::{Request, Status};

use crate::gateway::{Forward, Upstream};

/// How long each part may take.
const DEADLINE: Duration = Duration::from_secs(2);

/// Calls to `context` through the gateway's forwarding (its processes in rotation, a call
/// refused by one sent to the next), or the status saying none is configured.
pub(crate) fn channel(upstream: &Option<Arc<Upstream>>, context: &str) -> Result<Forward, Status> {
    match upstream {
        Some(upstream) => Ok(Forward::To(upstream.clone())),
        None => Err(Status::unavailable(format!(
            "the {context} service neither runs here nor is configured (edge.upstreams.{context})"
        ))),
    }
}

/// `message` as a request carrying the caller's credentials and a deadline.
pub(crate) fn forwarded<R, T>(from: &Request<R>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    for name in [
        "authorization",
        "x-api-key",
        "x-correlation-id",
        "traceparent",
    ] {
        if let Some(value) = from.metadata().get(name) {
            request.metadata_mut().insert(name, value.clone());
        }
    }
    request.set_timeout(DEADLINE);
    request
}

/// Why a part is missing, for the `missing` list.
pub(crate) fn why(part: &str, service: &str, status: &Status) -> String {
    let reason = match status.code() {
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            format!("the {service} service did not answer in time")
        }
        tonic::Code::Unavailable if status.message().contains("edge.upstreams") => {
            status.message().to_owned()
        }
        tonic::Code::Unavailable => format!("the {service} service is unavailable"),
        tonic::Code::PermissionDenied => "not permitted to the caller".to_owned(),
        _ => format!("the {service} service answered {:?}", status.code()),
    };
    format!("{part}: {reason}")
}
