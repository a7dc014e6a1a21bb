//! REST/JSON for every method with a `google.api.http` annotation, read at startup from the
//! descriptor set the proto crate exports: no route is written by hand. A REST call becomes the
//! gRPC call it names and goes to the same service stack in process (auth layer included), so
//! REST and gRPC behave the same; the answer comes back as proto3 JSON (`prost-reflect`), and an
//! error as `google.rpc.Status` JSON with its details, under the HTTP status Google's mapping
//! gives its code.

use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::Value as Json;
use tower::{Layer, Service};

mod json;
mod routes;
mod stream;

use json::*;
pub use routes::*;
use stream::*;

/// Request headers passed on to the gRPC calls the edge makes for a caller.
pub(crate) const PASSED_ON: [&str; 6] = [
    "authorization",
    "x-api-key",
    "x-correlation-id",
    "x-tenant-id",
    "traceparent",
    "tracestate",
];

/// The most a REST request body may hold (the gRPC limit is the same order).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Takes the first whole gRPC message frame off `buffer`: its message bytes; `None` until one
/// is whole.
fn next_frame(buffer: &mut Vec<u8>) -> Option<Result<Vec<u8>, String>> {
    if buffer.len() < 5 {
        return None;
    }
    if buffer[0] != 0 {
        return Some(Err("a compressed gRPC frame".into()));
    }
    let len = u32::from_be_bytes(buffer[1..5].try_into().expect("4 bytes")) as usize;
    if buffer.len() < 5 + len {
        return None;
    }
    let frame: Vec<u8> = buffer.drain(..5 + len).collect();
    Some(Ok(frame[5..].to_vec()))
}

/// The gRPC status of a response: from the trailers, or the headers (a trailers-only answer).
fn grpc_status(headers: &HeaderMap, trailers: Option<&HeaderMap>) -> Option<(i32, String, Bytes)> {
    let from = |map: &HeaderMap| {
        let code = map.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        let message = map
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .and_then(percent_decode)
            .unwrap_or_default();
        let details = map
            .get("grpc-status-details-bin")
            .and_then(|d| STATUS_DETAILS.decode(d.as_bytes()).ok())
            .map(Bytes::from)
            .unwrap_or_default();
        Some((code, message, details))
    };
    trailers.and_then(from).or_else(|| from(headers))
}

/// `grpc-status-details-bin`: standard base64, padded or not.
const STATUS_DETAILS: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Answers the REST routes; passes every other request on.
#[derive(Clone)]
pub struct RestLayer {
    routes: Routes,
    openapi: Bytes,
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

impl RestLayer {
    /// A layer serving `routes`, and their OpenAPI document at [`OPENAPI_PATH`] (`is_open`
    /// tells the gRPC methods that need no token).
    pub fn new(routes: Routes, is_open: impl Fn(&str) -> bool) -> RestLayer {
        let document = routes.openapi(is_open);
        let openapi = Bytes::from(serde_json::to_vec(&document).expect("JSON values serialise"));
        RestLayer { routes, openapi }
    }
}

impl<S> Layer<S> for RestLayer {
    type Service = RestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RestService {
            inner,
            routes: self.routes.clone(),
            openapi: self.openapi.clone(),
        }
    }
}

/// See [`RestLayer`].
#[derive(Clone)]
pub struct RestService<S> {
    inner: S,
    routes: Routes,
    openapi: Bytes,
}

/// Whether a request is for the REST API (not gRPC, grpc-web, health or metrics).
fn is_rest(request: &Request<tonic::body::Body>) -> bool {
    let path = request.uri().path();
    path.starts_with("/api/") || path == "/.well-known/jwks.json"
}

impl<S> Service<Request<tonic::body::Body>> for RestService<S>
where
    S: Service<Request<tonic::body::Body>, Response = Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        if !is_rest(&request) {
            return Box::pin(self.inner.call(request));
        }
        if request.uri().path() == OPENAPI_PATH && request.method() == Method::GET {
            let mut response = Response::new(tonic::body::Body::new(http_body_util::Full::new(
                self.openapi.clone(),
            )));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Box::pin(async move { Ok(response) });
        }
        // The service that was made ready answers this call; a clone waits for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let routes = self.routes.clone();
        Box::pin(async move { Ok(transcode(routes, inner, request).await) })
    }
}

async fn transcode<S>(
    routes: Routes,
    mut inner: S,
    request: Request<tonic::body::Body>,
) -> Response<tonic::body::Body>
where
    S: Service<Request<tonic::body::Body>, Response = Response<tonic::body::Body>>,
{
    let (mut parts, body) = request.into_parts();
    let path = match parts.uri.path() {
        "/.well-known/jwks.json" => "/api/v1/auth/jwks",
        path => path,
    };
    let (route, path_fields) = match routes.find(&parts.method, path) {
        Ok(found) => found,
        Err(allowed) if !allowed.is_empty() => {
            let allow = allowed
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            let mut response = Problem {
                http: StatusCode::METHOD_NOT_ALLOWED,
                code: tonic::Code::Unimplemented,
                message: format!(
                    "{} is not served with {}; it is with {allow}",
                    parts.uri.path(),
                    parts.method
                ),
            }
            .response();
            // RFC 9110 §15.5.6: a 405 names the methods the resource has.
            response.headers_mut().insert(
                http::header::ALLOW,
                HeaderValue::from_str(&allow).expect("method names are header-safe"),
            );
            return response;
        }
        Err(_) => {
            return Problem {
                http: StatusCode::NOT_FOUND,
                code: tonic::Code::NotFound,
                message: format!("no REST route {} {}", parts.method, parts.uri.path()),
            }
            .response();
        }
    };
    // A client stream reads the body as NDJSON, one request message a line, as it comes; a
    // problem in a line ends the stream and is answered as 400 after the call.
    let problem: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let grpc_body = if route.client_streaming {
        lines_in(
            route.clone(),
            path_fields,
            parts.uri.query().unwrap_or_default().to_owned(),
            body,
            problem.clone(),
        )
    } else {
        let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => return Problem::bad(format!("the body could not be read: {e}")).response(),
        };
        let message = match request_message(route, path_fields, parts.uri.query(), &body) {
            Ok(message) => message,
            Err(e) => return Problem::bad(e).response(),
        };
        tonic::body::Body::new(http_body_util::Full::new(frame_of(&message)))
    };
    let mut call = Request::new(grpc_body);
    *call.method_mut() = Method::POST;
    *call.uri_mut() = route.grpc_path.parse().expect("a gRPC path is a URI");
    *call.version_mut() = http::Version::HTTP_2;
    // The connection it came in on (the client's address) goes with the call.
    *call.extensions_mut() = std::mem::take(&mut parts.extensions);
    call.extensions_mut()
        .insert(crm_core::context::Protocol::Rest);
    let headers = call.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
    for name in PASSED_ON {
        if let Some(value) = parts.headers.get(name) {
            headers.insert(name, value.clone());
        }
    }
    // Believed only from a trusted proxy, by the context layer.
    for value in parts.headers.get_all(crm_core::client::FORWARDED_FOR) {
        headers.append(crm_core::client::FORWARDED_FOR, value.clone());
    }
    let response = match inner.call(call).await {
        Ok(response) => response,
        Err(_) => {
            return Problem {
                http: StatusCode::SERVICE_UNAVAILABLE,
                code: tonic::Code::Unavailable,
                message: "the service did not answer".into(),
            }
            .response();
        }
    };
    let (head, body) = response.into_parts();
    if let Some(problem) = problem.lock().expect("not poisoned").take() {
        return Problem::bad(problem).response();
    }
    // A stream answers NDJSON unless it failed at once (a trailers-only error).
    if route.server_streaming
        && grpc_status(&head.headers, None).is_none_or(|(code, _, _)| code == 0)
    {
        return lines_out(
            route.output.clone(),
            routes.pool.clone(),
            head.headers,
            body,
        );
    }
    let collected = match body.collect().await {
        Ok(collected) => {
            if let Some(problem) = problem.lock().expect("not poisoned").take() {
                return Problem::bad(problem).response();
            }
            collected
        }
        Err(e) => {
            return Problem {
                http: StatusCode::BAD_GATEWAY,
                code: tonic::Code::Unavailable,
                message: format!("the answer broke off: {e}"),
            }
            .response();
        }
    };
    let trailers = collected.trailers().cloned();
    let bytes = collected.to_bytes();
    let mut headers = passed_back(&head.headers);
    let (code, message, details) =
        grpc_status(&head.headers, trailers.as_ref()).unwrap_or((0, String::new(), Bytes::new()));
    if code != 0 {
        let code = tonic::Code::from_i32(code);
        let status = status_json(&routes.pool, code as i32, message, details);
        if let Some(seconds) = retry_after(&status) {
            headers.insert(http::header::RETRY_AFTER, seconds);
        }
        return json_response(http_status(code), &status, headers);
    }
    let answer = next_frame(&mut bytes.to_vec())
        .unwrap_or_else(|| Err("no whole message in the answer".into()))
        .and_then(|message| {
            DynamicMessage::decode(route.output.clone(), message.as_slice())
                .map_err(|e| e.to_string())
        });
    match answer {
        Ok(answer) => json_response(StatusCode::OK, &to_json(&answer), headers),
        Err(e) => Problem {
            http: StatusCode::BAD_GATEWAY,
            code: tonic::Code::Internal,
            message: format!("the answer could not be read: {e}"),
        }
        .response(),
    }
}

/// The gRPC answer's headers a REST answer carries too: the correlation id and the quota.
fn passed_back(grpc: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in grpc {
        let name_str = name.as_str();
        if name_str == "x-correlation-id" || name_str.starts_with("ratelimit-") {
            headers.insert(name.clone(), value.clone());
        }
    }
    headers
}

/// A message as one gRPC frame.
fn frame_of(message: &DynamicMessage) -> Bytes {
    let payload = message.encode_to_vec();
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(0);
    frame.extend((payload.len() as u32).to_be_bytes());
    frame.extend(payload);
    Bytes::from(frame)
}

/// A gRPC status as `google.rpc.Status` JSON, its details decoded.
fn status_json(pool: &DescriptorPool, code: i32, message: String, details: Bytes) -> Json {
    let plain = || serde_json::json!({"code": code, "message": message, "details": []});
    if details.is_empty() {
        return plain();
    }
    pool.get_message_by_name("google.rpc.Status")
        .and_then(|descriptor| DynamicMessage::decode(descriptor, details.clone()).ok())
        .map(|status| to_json(&status))
        .unwrap_or_else(plain)
}

/// `Retry-After` (whole seconds, rounded up) from a status's `RetryInfo`.
fn retry_after(status: &Json) -> Option<HeaderValue> {
    let details = status.get("details")?.as_array()?;
    let delay = details
        .iter()
        .find(|d| {
            d.get("@type").and_then(Json::as_str)
                == Some("type.googleapis.com/google.rpc.RetryInfo")
        })?
        .get("retryDelay")?
        .as_str()?;
    let seconds: f64 = delay.strip_suffix('s')?.parse().ok()?;
    HeaderValue::from_str(&(seconds.ceil().max(1.0) as u64).to_string()).ok()
}

#[cfg(test)]
mod tests;
