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
        self.route(service, Unavailable { capability })
    }

    /// Adds a service another process serves: its calls go to `proxy` (the edge's gateway),
    /// after this process's own checks.
    pub fn forward<S>(&mut self, service: &'static str, proxy: S) -> &mut Self
    where
        S: Service<Request<axum::body::Body>, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        self.open.forwarded(service);
        self.route(service, proxy)
    }

    /// Sends every method of `service` to `handler`, and lists the service.
    fn route<S>(&mut self, service: &'static str, handler: S) -> &mut Self
    where
        S: Service<Request<axum::body::Body>, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        let router = std::mem::take(self.routes.axum_router_mut());
        *self.routes.axum_router_mut() =
            router.route_service(&format!("/{service}/{{*method}}"), handler);
        self.names.push(service);
        self
    }

    /// API keys (recognized by `shape`) sent to forwarded services are passed on for the
    /// process serving them to authenticate.
    pub fn forward_api_keys(&mut self, shape: fn(&str) -> bool) -> &mut Self {
        self.open.forward_api_keys(shape);
        self
    }

    /// Lets `method` (`/package.Service/Method`) be called without an access token.
    pub fn open_method(&mut self, method: &str) -> &mut Self {
        self.open.open_method(method);
        self
    }

    /// Lets service tokens call `method` as well as people (what another service needs of this
    /// context for background work).
    pub fn service_method(&mut self, method: &str) -> &mut Self {
        self.open.service_method(method);
        self
    }

    /// Makes `method` internal: only service tokens may call it, never people.
    pub fn internal_method(&mut self, method: &str) -> &mut Self {
        self.open.internal_method(method);
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

/// Ends open response streams when the server shuts down. A stream (Health/Watch, and later
/// WatchNotifications) has no natural end, so a graceful shutdown would otherwise wait out the
/// whole grace period for it. Once `stopping` turns true, a response body that is waiting for its
/// next message ends at once with `UNAVAILABLE` ("reconnect"). A body with data ready is passed
/// through untouched, so unary responses and messages already produced are never cut.
#[derive(Clone)]
pub struct DrainLayer {
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl DrainLayer {
    /// Streams end when `stopping` becomes true.
    pub fn new(stopping: tokio::sync::watch::Receiver<bool>) -> DrainLayer {
        DrainLayer { stopping }
    }
}

impl<S> tower::Layer<S> for DrainLayer {
    type Service = DrainService<S>;

    fn layer(&self, inner: S) -> DrainService<S> {
        DrainService {
            inner,
            stopping: self.stopping.clone(),
        }
    }
}

/// See [`DrainLayer`].
#[derive(Clone)]
pub struct DrainService<S> {
    inner: S,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl<S, ReqBody> Service<Request<ReqBody>> for DrainService<S>
where
    S: Service<Request<ReqBody>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let future = self.inner.call(request);
        let mut stopping = self.stopping.clone();
        Box::pin(async move {
            let response = future.await?;
            let stopped: futures::future::BoxFuture<'static, ()> = Box::pin(async move {
                let _ = stopping.wait_for(|s| *s).await;
            });
            Ok(response.map(|inner| {
                Body::new(DrainBody {
                    inner,
                    stopped,
                    done: false,
                })
            }))
        })
    }
}

pin_project_lite::pin_project! {
    struct DrainBody {
        #[pin]
        inner: Body,
        stopped: futures::future::BoxFuture<'static, ()>,
        done: bool,
    }
}

impl http_body::Body for DrainBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Pending => match this.stopped.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    *this.done = true;
                    let status = tonic::Status::unavailable(
                        "the server is shutting down; reconnect to another instance or retry shortly",
                    );
                    let mut trailers = status.into_http::<()>().into_parts().0.headers;
                    trailers.remove(http::header::CONTENT_TYPE);
                    Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))))
                }
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    /// Independent of which contexts are built: a placeholder service answers every method
    /// UNIMPLEMENTED, naming the method and what is missing.
    #[tokio::test]
    async fn an_unbuilt_method_is_unimplemented_and_names_what_is_missing() {
        let mut set = ServiceSet::default();
        set.add_unavailable("test.v1.BatikService", "batik dyeing");
        assert_eq!(set.names(), ["test.v1.BatikService"]);
        let (routes, _) = set.into_routes();
        let request = Request::post("/test.v1.BatikService/ListBatiks")
            .header("content-type", "application/grpc")
            .body(Body::empty())
            .unwrap();
        let response = routes.oneshot(request).await.unwrap();
        let status = tonic::Status::from_header_map(response.headers()).expect("a grpc status");
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert!(
            status.message().contains("test.v1.BatikService/ListBatiks")
                && status.message().contains("batik dyeing"),
            "{}",
            status.message()
        );
        use tonic_types::StatusExt;
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "NOT_BUILT_YET");
        assert_eq!(info.metadata["method"], "test.v1.BatikService/ListBatiks");
    }
}
