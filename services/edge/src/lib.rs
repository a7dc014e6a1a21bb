//! The edge: where browsers and REST clients come in. It lets browsers call every service with
//! grpc-web across origins (CORS), and serves REST/JSON for every method with a
//! `google.api.http` annotation ([`rest`]), their OpenAPI document ([`openapi`]), and
//! `/.well-known/jwks.json`.

mod calls;
pub mod gateway;
pub mod openapi;
pub mod overview;
pub mod ratelimit;
pub mod rest;
pub mod search;
mod service;

use std::time::Duration;

use crm_core::config::CorsConfig;
use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a grpc-web or REST client may send.
const ALLOWED_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
    "x-correlation-id",
    "x-tenant-id",
    "traceparent",
    "tracestate",
];

/// Response headers a browser script may read: gRPC's status lives in them.
const EXPOSED_HEADERS: [&str; 4] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "x-correlation-id",
];

/// The CORS policy of the edge, from configuration.
pub fn cors_layer(config: &CorsConfig) -> CorsLayer {
    let origin = if config.allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
        .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
        .max_age(Duration::from_secs(24 * 60 * 60))
}
