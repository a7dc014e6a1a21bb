//! Composing a gRPC server from the contexts a process runs: each context adds its services (or,
//! while its issue is open, a placeholder naming what is missing) and opens the methods that
//! need no token. The launcher adds health and reflection and serves it all on one port.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::response::IntoResponse;
use http::{Request, Response};
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use crate::error::Error;
use crate::layer::OpenAccess;

/// The gRPC services of one process, and which of their methods are open.
pub struct ServiceSet {
    routes: tonic::service::Routes,
    names: Vec<&'static str>,
    open: OpenAccess,
}

impl Default for ServiceSet {
    fn default() -> Self {
        Self {
            routes: tonic::service::Routes::default(),
            names: Vec::new(),
            open: OpenAccess::standard(),
        }
    }
}

impl ServiceSet {
    /// Adds a generated tonic server.
    pub fn add<S>(&mut self, service: S) -> &mut Self
    where
        S: Service<Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes = std::mem::take(&mut self.routes).add_service(service);
        self.names.push(S::NAME);
        self
    }

    /// Adds a service whose capability is not built yet: every method answers `UNIMPLEMENTED`
    /// with a message naming the method and what is missing.
    pub fn add_unavailable(
        &mut self,
        service: &'static str,
        capability: &'static str,
    ) -> &mut Self {
        let placeholder = Unavailable { capability };
        let router = std::mem::take(self.routes.axum_router_mut());
        *self.routes.axum_router_mut() =
            router.route_service(&format!("/{service}/{{*method}}"), placeholder);
        self.names.push(service);
        self
    }

    /// Lets `method` (`/package.Service/Method`) be called without an access token.
    pub fn open_method(&mut self, method: &str) -> &mut Self {
        self.open.open_method(method);
        self
    }

    /// The fully qualified names of the services added, in order.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// The routes and the open methods: what the launcher serves.
    pub fn into_routes(self) -> (tonic::service::Routes, OpenAccess) {
        (self.routes, self.open)
    }
}

/// Answers every method of a service with `UNIMPLEMENTED`, naming the method and the missing
/// capability.
#[derive(Clone, Copy)]
struct Unavailable {
    capability: &'static str,
}

impl Service<Request<axum::body::Body>> for Unavailable {
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<axum::body::Body>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/');
        let err = Error::unimplemented(format!(
            "{method} is not available yet: {}",
            self.capability
        ))
        .with_reason("NOT_BUILT_YET")
        .with_metadata("method", method);
        std::future::ready(Ok(tonic::Status::from(err).into_http()))
    }
}
