//! The gateway of microservices mode: the edge forwards every call for a context it does not run
//! to that context's processes (`edge.upstreams.<context>`), after its own checks (token, quota).
//! gRPC goes as it came; grpc-web and REST have become gRPC calls by then, so one forwarder
//! serves all three. How the processes are chosen, and which failed calls go to another, is
//! [`crm_core::upstream`]'s, which the services use for each other too.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use crm_core::{Error, ErrorKind};
use futures::future::BoxFuture;
use http::{Request, Response};
use tower::Service;

pub use crm_core::upstream::{
    ANSWER_TIMEOUT, Addresses, Balanced, CONNECT_TIMEOUT, RESOLVE_EVERY, Upstream, grpc_timeout,
};

/// The service that forwards a context's calls: to its upstream, or, where none is configured,
/// an `UNAVAILABLE` saying which key to set.
#[derive(Clone)]
pub enum Forward {
    /// To these processes.
    To(Arc<Upstream>),
    /// The context runs nowhere this edge knows of.
    Unconfigured(&'static str),
}

impl<B> Service<Request<B>> for Forward
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self {
            Forward::To(upstream) => Balanced::new(upstream.clone()).call(request),
            Forward::Unconfigured(context) => {
                let error = Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the {context} service does not run in this process and no upstream is configured for it: set edge.upstreams.{context} (e.g. http://{context}:50051)"
                    ),
                )
                .with_reason("NO_UPSTREAM")
                .with_metadata("context", *context);
                Box::pin(std::future::ready(Ok(
                    tonic::Status::from(error).into_http()
                )))
            }
        }
    }
}

/// The upstreams of an edge, by context name.
pub type Upstreams = BTreeMap<&'static str, Arc<Upstream>>;

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn a_context_without_upstream_says_which_key_to_set() {
        let response = Forward::Unconfigured("sales")
            .oneshot(
                Request::post("/crm.sales.v1.LeadService/ListLeads")
                    .body(tonic::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(status.message().contains("edge.upstreams.sales"));
    }
}
