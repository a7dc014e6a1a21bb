//! The tower layer every server runs requests through: a correlation id, a tracing span (with
//! the caller's W3C trace context as parent), access-token verification, and the
//! [`RequestContext`] in the request's extensions.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::auth::TokenVerifier;
use crate::context::{Principal, RequestContext};
use crate::error::Error;
use crate::revocation::Revocations;

/// The request and response header carrying the correlation id.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";
/// The optional request header naming the tenant; must match the token's.
pub const TENANT_ID_HEADER: &str = "x-tenant-id";
/// The request header an integration may send its API key in (instead of `authorization`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Authenticates the credentials that are not access tokens: IAM's API keys. The layer asks it
/// about every credential it [recognizes](ApiKeys::recognizes) by shape, before a call runs.
pub trait ApiKeys: Send + Sync + 'static {
    /// Whether `credential` is shaped like a key this reads (it may still be unknown).
    fn recognizes(&self, credential: &str) -> bool;
    /// Who the key acts as; `UNAUTHENTICATED` when it is unknown, revoked or expired.
    fn authenticate(&self, key: String) -> BoxFuture<'_, Result<Principal, Error>>;
}

/// Which calls need no access token, and which callers each method takes: people (access
/// tokens, API keys) everywhere but on internal methods; services (service tokens) only where a
/// context lets them.
#[derive(Clone, Debug, Default)]
pub struct OpenAccess {
    services: HashSet<String>,
    methods: HashSet<String>,
    /// Methods service tokens may call, beside people.
    for_services: HashSet<String>,
    /// Methods only service tokens may call.
    internal: HashSet<String>,
    /// Services another process serves, which this one (an edge) forwards calls to.
    forwarded: HashSet<String>,
    /// Recognizes an API key by its shape, where the process that authenticates keys is
    /// elsewhere: a key sent to a forwarded service is passed on for its process to check.
    key_shape: Option<fn(&str) -> bool>,
}

impl OpenAccess {
    /// Health and reflection open; everything else protected.
    pub fn standard() -> Self {
        let mut open = Self::default();
        for service in [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            open.services.insert(service.to_owned());
        }
        open
    }

    /// Opens one method, by its full path (`/crm.iam.v1.AuthService/Login`).
    pub fn open_method(&mut self, path: impl Into<String>) {
        self.methods.insert(path.into());
    }

    /// Lets service tokens call `path` as well as people.
    pub fn service_method(&mut self, path: impl Into<String>) {
        self.for_services.insert(path.into());
    }

    /// Makes `path` internal: only service tokens may call it.
    pub fn internal_method(&mut self, path: impl Into<String>) {
        self.internal.insert(path.into());
    }

    /// Marks `service` (`crm.customer.v1.CustomerService`) as served by another process that
    /// this one forwards its calls to.
    pub fn forwarded(&mut self, service: impl Into<String>) {
        self.forwarded.insert(service.into());
    }

    /// API keys (recognized by `shape`) sent to forwarded services are passed on unchecked: the
    /// process that serves the method authenticates them.
    pub fn forward_api_keys(&mut self, shape: fn(&str) -> bool) {
        self.key_shape = Some(shape);
    }

    /// Whether a call to `path` carrying `credential` goes on for another process to
    /// authenticate.
    fn passes_on(&self, path: &str, credential: &str) -> bool {
        self.key_shape.is_some_and(|shape| shape(credential))
            && self.forwarded.contains(service_of(path))
    }

    /// Refuses a caller the method at `path` does not take: a service where only people are
    /// served, a person on an internal method.
    pub fn admits(&self, path: &str, principal: &Principal) -> Result<(), Error> {
        let internal = self.internal.contains(path);
        match &principal.service {
            Some(service) if !internal && !self.for_services.contains(path) => Err(
                Error::permission_denied(format!(
                    "{path} serves people, not services: the {service} service must call it with the token of the user it acts for"
                ))
                .with_reason("USER_ONLY"),
            ),
            None if internal => Err(Error::permission_denied(format!(
                "{path} is internal: only the CRM's own services call it, with a service token"
            ))
            .with_reason("INTERNAL_ONLY")),
            _ => Ok(()),
        }
    }

    /// Whether the method at `path` is open.
    pub fn is_open(&self, path: &str) -> bool {
        if self.methods.contains(path) {
            return true;
        }
        self.services.contains(service_of(path))
    }
}

/// The service of a method's path: `crm.iam.v1.AuthService` of `/crm.iam.v1.AuthService/Login`.
fn service_of(path: &str) -> &str {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
}

/// Installs [`RequestContextService`].
#[derive(Clone)]
pub struct RequestContextLayer {
    shared: Arc<Shared>,
}

#[derive(Clone)]
struct Shared {
    verifier: TokenVerifier,
    open: OpenAccess,
    revocations: Option<Revocations>,
    api_keys: Option<Arc<dyn ApiKeys>>,
    proxies: crate::client::TrustedProxies,
}

impl RequestContextLayer {
    /// A layer verifying tokens with `verifier` on every method `open` does not open.
    pub fn new(verifier: TokenVerifier, open: OpenAccess) -> Self {
        Self::build(verifier, open, None)
    }

    /// Also refuses tokens issued before their user's latest revocation mark.
    pub fn with_revocations(verifier: TokenVerifier, open: OpenAccess, marks: Revocations) -> Self {
        Self::build(verifier, open, Some(marks))
    }

    fn build(verifier: TokenVerifier, open: OpenAccess, revocations: Option<Revocations>) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier,
                open,
                revocations,
                api_keys: None,
                proxies: crate::client::TrustedProxies::default(),
            }),
        }
    }

    /// Also accepts the API keys `keys` recognizes, as `authorization: Bearer <key>` or
    /// `x-api-key: <key>`.
    pub fn with_api_keys(self, keys: Arc<dyn ApiKeys>) -> Self {
        Self {
            shared: Arc::new(Shared {
                api_keys: Some(keys),
                ..(*self.shared).clone()
            }),
        }
    }

    /// Believes `X-Forwarded-For` from `proxies` when naming the client's address.
    pub fn with_trusted_proxies(self, proxies: crate::client::TrustedProxies) -> Self {
        Self {
            shared: Arc::new(Shared {
                proxies,
                ..(*self.shared).clone()
            }),
        }
    }
}

/// Who a request's credential says is calling, once the layer has read it.
enum Caller {
    /// An open method: nobody needs to be known.
    Open,
    /// A verified access token.
    Token(Principal),
    /// An API key, to be looked up before the call runs.
    Key(String),
}

fn revoked() -> Error {
    Error::unauthenticated(
        "this access token was revoked (your roles or status changed); refresh it or sign in again",
    )
    .with_reason("TOKEN_REVOKED")
}

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContextService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// See [`RequestContextLayer`].
#[derive(Clone)]
pub struct RequestContextService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestContextService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let correlation_id = correlation_id(request.headers());
        let path = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            rpc.method = %path,
            correlation_id = %correlation_id,
            tenant_id = tracing::field::Empty,
            user_id = tracing::field::Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);

        let outcome = self.authenticate(&request, &path);
        let header = HeaderValue::from_str(&correlation_id).ok();
        let with_correlation_id = move |mut response: Response<ResBody>| {
            if let Some(value) = header.clone() {
                response.headers_mut().insert(CORRELATION_ID_HEADER, value);
            }
            response
        };
        let caller = match outcome {
            Err(err) => {
                let _entered = span.enter();
                tracing::debug!(error = %err.message(), "call refused");
                let response = tonic::Status::from(err).into_http::<ResBody>();
                return Box::pin(std::future::ready(Ok(with_correlation_id(response))));
            }
            Ok(caller) => caller,
        };
        if let Caller::Token(p) = &caller {
            span.record("tenant_id", tracing::field::display(p.tenant_id));
            span.record("user_id", tracing::field::display(p.user_id));
        }
        // What the call causes (events, calls to other services) joins its trace as children
        // of this call's span; without trace export, the caller's own traceparent goes on.
        let traceparent = crate::telemetry::traceparent_of(&span).or_else(|| {
            request
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
                .map(str::to_owned)
        });
        let client_address = self
            .shared
            .proxies
            .client_address(crate::client::peer(request.extensions()), request.headers());
        let tenant_header = request
            .headers()
            .get(TENANT_ID_HEADER)
            .map(|v| v.to_str().unwrap_or_default().trim().to_owned());
        let shared = self.shared.clone();
        // The clone is ready only if polled; swap so the ready one serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let record_span = span.clone();
        Box::pin(
            async move {
                let refuse = |err: Error| {
                    tracing::debug!(error = %err.message(), "call refused");
                    let response = tonic::Status::from(err).into_http::<ResBody>();
                    Ok(with_correlation_id(response))
                };
                let principal = match caller {
                    Caller::Open => None,
                    Caller::Token(p) => {
                        if let Some(marks) = &shared.revocations {
                            match marks.is_revoked(p.user_id, p.issued_at).await {
                                Ok(false) => {}
                                Ok(true) => return refuse(revoked()),
                                Err(err) => return refuse(err),
                            }
                        }
                        Some(p)
                    }
                    Caller::Key(key) => {
                        let keys = shared
                            .api_keys
                            .as_ref()
                            .expect("a key is read only with keys");
                        let p = match keys.authenticate(key).await {
                            Ok(p) => p,
                            Err(err) => return refuse(err),
                        };
                        if let Err(err) = same_tenant(tenant_header.as_deref(), &p)
                            .and_then(|()| shared.open.admits(&path, &p))
                        {
                            return refuse(err);
                        }
                        record_span.record("tenant_id", tracing::field::display(p.tenant_id));
                        record_span.record("user_id", tracing::field::display(p.user_id));
                        Some(p)
                    }
                };
                request.extensions_mut().insert(RequestContext {
                    correlation_id,
                    principal,
                    traceparent,
                    client_address,
                });
                inner.call(request).await.map(with_correlation_id)
            }
            .instrument(span),
        )
    }
}

impl<S> RequestContextService<S> {
    fn authenticate<B>(&self, request: &Request<B>, path: &str) -> Result<Caller, Error> {
        if self.shared.open.is_open(path) {
            return Ok(Caller::Open);
        }
        let headers = request.headers();
        let sent = headers
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .or_else(|| bearer_token(headers).ok());
        match (&self.shared.api_keys, sent) {
            (Some(keys), Some(key)) if keys.recognizes(key) => {
                return Ok(Caller::Key(key.to_owned()));
            }
            // Authenticated by the process that serves the method; nobody is known here.
            (None, Some(key)) if self.shared.open.passes_on(path, key) => return Ok(Caller::Open),
            _ => {}
        }
        let token = bearer_token(headers)?;
        let principal = self
            .shared
            .verifier
            .verify_call(token, path)
            .map_err(|e| Error::unauthenticated(e.to_string()).with_reason("INVALID_TOKEN"))?;
        let tenant = headers
            .get(TENANT_ID_HEADER)
            .map(|v| v.to_str().unwrap_or_default().trim());
        same_tenant(tenant, &principal)?;
        self.shared.open.admits(path, &principal)?;
        Ok(Caller::Token(principal))
    }
}

/// Refuses an `x-tenant-id` other than the caller's tenant.
fn same_tenant(header: Option<&str>, principal: &Principal) -> Result<(), Error> {
    match header {
        Some(tenant) if tenant != principal.tenant_id.to_string() => Err(Error::permission_denied(
            "x-tenant-id does not match the access token's tenant",
        )
        .with_reason("TENANT_MISMATCH")),
        _ => Ok(()),
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, Error> {
    let missing = || {
        Error::unauthenticated(
            "this method needs an access token: send `authorization: Bearer <token>` from Login",
        )
        .with_reason("MISSING_TOKEN")
    };
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(missing()),
    }
}

/// The caller's correlation id when it is sane (printable, at most 128 bytes), else a new one.
fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get(CORRELATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The outermost layer: gives every request one correlation id (the caller's when sane, else a
/// new one) before anything answers it, and puts it on every answer, whoever wrote it: a call's,
/// a REST 404 or 405, the console's pages, `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorrelationIdLayer;

impl<S> Layer<S> for CorrelationIdLayer {
    type Service = CorrelationIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorrelationIdService { inner }
    }
}

/// See [`CorrelationIdLayer`].
#[derive(Clone, Debug)]
pub struct CorrelationIdService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorrelationIdService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let id = correlation_id(request.headers());
        let value = HeaderValue::from_str(&id).expect("a correlation id is printable ASCII");
        request
            .headers_mut()
            .insert(CORRELATION_ID_HEADER, value.clone());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            response
                .headers_mut()
                .entry(CORRELATION_ID_HEADER)
                .or_insert(value);
            Ok(response)
        })
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests;
