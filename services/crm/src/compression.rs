//! Answers compressed for the clients that accept it (`Accept-Encoding: gzip`, which every
//! browser sends): grpc-web answers (the console's) and REST/JSON answers of unary calls, by
//! `tower-http`. A streamed answer is left as it is, because a compressor holds bytes back until
//! it has a block and a notification must arrive when it happens: a server-streaming method over
//! grpc-web (its request's `Accept-Encoding` is set aside), NDJSON over REST (by its type).
//! Native gRPC is left alone (its own message compression is the client's to ask for), and the
//! console's assets are compressed ahead of time by its build.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, header};
use prost_reflect::DescriptorPool;
use tower::{Layer, Service};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{Compression, CompressionLayer};

/// Answers smaller than this are sent as they are: gzip's header would outweigh the saving.
const SMALLEST: u64 = 256;

/// Whether an answer is one this layer compresses: grpc-web (binary or text) or JSON.
#[derive(Clone, Copy, Debug, Default)]
pub struct Answers;

impl Predicate for Answers {
    fn should_compress<B>(&self, response: &Response<B>) -> bool
    where
        B: http_body::Body,
    {
        let kind = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        kind.starts_with("application/grpc-web") || kind.starts_with("application/json")
    }
}

/// The layer: streamed grpc-web calls set aside, then `tower-http`'s compression.
#[derive(Clone)]
pub struct AnswerCompressionLayer {
    streams: Arc<HashSet<String>>,
}

impl AnswerCompressionLayer {
    /// Knows the server-streaming methods from the contracts' descriptors.
    pub fn new(descriptors: &[u8]) -> anyhow::Result<AnswerCompressionLayer> {
        let pool = DescriptorPool::decode(descriptors)?;
        let streams = pool
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .filter(|m| m.is_server_streaming())
            .map(|m| format!("/{}/{}", m.parent_service().full_name(), m.name()))
            .collect();
        Ok(AnswerCompressionLayer {
            streams: Arc::new(streams),
        })
    }
}

impl<S> Layer<S> for AnswerCompressionLayer {
    type Service = StreamsAsTheyAre<
        Compression<S, tower_http::compression::predicate::And<Answers, SizeAbove>>,
    >;

    fn layer(&self, inner: S) -> Self::Service {
        let compression = CompressionLayer::new()
            .compress_when(Answers.and(SizeAbove::new(SMALLEST)))
            .layer(inner);
        StreamsAsTheyAre {
            streams: self.streams.clone(),
            inner: compression,
        }
    }
}

/// Takes `Accept-Encoding` off the requests of server-streaming methods, so their answers pass
/// uncompressed.
#[derive(Clone)]
pub struct StreamsAsTheyAre<S> {
    streams: Arc<HashSet<String>>,
    inner: S,
}

/// The compressed answer, as the server's body type again.
type Answer = Response<tonic::body::Body>;

impl<S, B, A> Service<Request<B>> for StreamsAsTheyAre<S>
where
    S: Service<Request<B>, Response = Response<A>>,
    A: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    A::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Answer;
    type Error = S::Error;
    type Future = futures::future::MapOk<S::Future, fn(Response<A>) -> Answer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if self.streams.contains(request.uri().path()) {
            request.headers_mut().insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static("identity"),
            );
        }
        let boxed: fn(Response<A>) -> Answer = |answer| answer.map(tonic::body::Body::new);
        futures::TryFutureExt::map_ok(self.inner.call(request), boxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_methods_are_known_from_the_contracts() {
        let layer = AnswerCompressionLayer::new(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
        for method in [
            "/crm.notification.v1.NotificationService/WatchNotifications",
            "/crm.customer.v1.CustomerService/ExportCustomers",
        ] {
            assert!(layer.streams.contains(method), "{method}");
        }
        assert!(
            !layer
                .streams
                .contains("/crm.customer.v1.CustomerService/ListCustomers")
        );
    }

    #[test]
    fn grpc_web_and_json_answers_are_compressed_and_the_rest_not() {
        let answer = |kind: &str| {
            Response::builder()
                .header(header::CONTENT_TYPE, kind)
                .body(String::new())
                .unwrap()
        };
        for kind in [
            "application/grpc-web+proto",
            "application/grpc-web-text",
            "application/json",
        ] {
            assert!(Answers.should_compress(&answer(kind)), "{kind}");
        }
        for kind in ["application/grpc", "application/x-ndjson", "image/png", ""] {
            assert!(!Answers.should_compress(&answer(kind)), "{kind}");
        }
    }
}
