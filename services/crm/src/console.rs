//! The web console (`web/`, built into `web/dist` and committed): embedded in the binary and
//! served at `/` by a process that runs the edge, so the README's one command needs nothing but
//! the Rust toolchain. It talks to the CRM with grpc-web on the same origin.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower::{Layer, Service};

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/dist"]
struct Assets;

/// The embedded file answering `path`, if any: `/` is the app's page.
fn asset(path: &str) -> Option<(rust_embed::EmbeddedFile, &str)> {
    let name = match path {
        "/" | "/index.html" => "index.html",
        _ => path.strip_prefix("/assets/").map(|_| &path[1..])?,
    };
    Assets::get(name).map(|file| (file, name))
}

/// Answers `GET /` and `/assets/...` from the embedded console; passes everything else on.
#[derive(Clone, Copy, Default)]
pub struct ConsoleLayer;

impl<S> Layer<S> for ConsoleLayer {
    type Service = ConsoleService<S>;

    fn layer(&self, inner: S) -> ConsoleService<S> {
        ConsoleService { inner }
    }
}

/// See [`ConsoleLayer`].
#[derive(Clone)]
pub struct ConsoleService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for ConsoleService<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method();
        if (method == Method::GET || method == Method::HEAD)
            && let Some((file, name)) = asset(request.uri().path())
        {
            let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
            let fresh = request
                .headers()
                .get(http::header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == etag.as_bytes());
            let mime = file.metadata.mimetype().to_owned();
            let head = method == Method::HEAD;
            let body = if fresh || head {
                tonic::body::Body::empty()
            } else {
                tonic::body::Body::new(http_body_util::Full::new(bytes::Bytes::from(
                    file.data.into_owned(),
                )))
            };
            let mut response = Response::new(body);
            if fresh {
                *response.status_mut() = StatusCode::NOT_MODIFIED;
            }
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&mime) {
                headers.insert(http::header::CONTENT_TYPE, value);
            }
            if let Ok(value) = HeaderValue::from_str(&etag) {
                headers.insert(http::header::ETAG, value);
            }
            // Names are stable across builds: always ask whether a file changed.
            headers.insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            );
            headers.insert(
                http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            if name == "index.html" {
                headers.insert(
                    http::header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; connect-src 'self' https: http:; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
                    ),
                );
            }
            return Box::pin(std::future::ready(Ok(response)));
        }
        Box::pin(self.inner.call(request))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_assets_are_embedded() {
        let (page, _) = asset("/").expect("the console's page");
        let text = String::from_utf8_lossy(&page.data);
        assert!(text.contains("<div id=\"app\">"), "{text}");
        assert_eq!(page.metadata.mimetype(), "text/html");
        let script = text
            .split("src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the page loads its script");
        let (js, _) = asset(script).unwrap_or_else(|| panic!("{script} is embedded"));
        assert!(js.metadata.mimetype().contains("javascript"));
        assert!(asset("/assets/../Cargo.toml").is_none());
        assert!(asset("/api/v1/customers").is_none());
    }
}
