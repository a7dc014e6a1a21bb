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

/// The embedded file answering `path`, if any: `/` is the app's page; `/favicon.ico`, asked
/// for by browsers whatever the page says, is its icon.
fn asset(path: &str) -> Option<(rust_embed::EmbeddedFile, &str)> {
    let name = match path {
        "/" | "/index.html" => "index.html",
        "/favicon.svg" | "/favicon.ico" => "favicon.svg",
        _ => path.strip_prefix("/assets/").map(|_| &path[1..])?,
    };
    Assets::get(name).map(|file| (file, name))
}

/// The smallest form of `name` the request accepts: brotli, then gzip (built beside each text
/// file by the console's build), else as it is. Answers the file and its `Content-Encoding`.
fn encoded(
    name: &str,
    accept: Option<&HeaderValue>,
    plain: rust_embed::EmbeddedFile,
) -> (rust_embed::EmbeddedFile, Option<&'static str>) {
    let accept = accept.and_then(|v| v.to_str().ok()).unwrap_or_default();
    let accepts = |coding: &str| {
        accept.split(',').any(|part| {
            let mut pieces = part.split(';');
            let named = pieces.next().is_some_and(|c| c.trim() == coding);
            // `;q=0` refuses it.
            named && !pieces.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"))
        })
    };
    for (coding, suffix) in [("br", "br"), ("gzip", "gz")] {
        if accepts(coding)
            && let Some(file) = Assets::get(&format!("{name}.{suffix}"))
        {
            return (file, Some(coding));
        }
    }
    (plain, None)
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
            && let Some((plain, name)) = asset(request.uri().path())
        {
            let mime = plain.metadata.mimetype().to_owned();
            let accept = request.headers().get(http::header::ACCEPT_ENCODING);
            let (file, coding) = encoded(name, accept, plain);
            // Each encoding is its own representation, with its own tag.
            let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
            let fresh = request
                .headers()
                .get(http::header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == etag.as_bytes());
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
            if let Some(coding) = coding {
                headers.insert(
                    http::header::CONTENT_ENCODING,
                    HeaderValue::from_static(coding),
                );
            }
            headers.insert(
                http::header::VARY,
                HeaderValue::from_static("accept-encoding"),
            );
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
        let (icon, _) = asset("/favicon.ico").expect("the icon browsers ask for");
        assert_eq!(icon.metadata.mimetype(), "image/svg+xml");
    }

    #[test]
    fn the_smallest_encoding_the_browser_accepts_is_served() {
        let name = "assets/console.js";
        let plain = || Assets::get(name).unwrap();
        let size = plain().data.len();
        let with = |accept: &str| {
            let header = HeaderValue::from_str(accept).unwrap();
            let (file, coding) = encoded(name, Some(&header), plain());
            (coding, file.data.len())
        };
        let (coding, br) = with("gzip, deflate, br, zstd");
        assert_eq!(coding, Some("br"));
        let (coding, gz) = with("gzip");
        assert_eq!(coding, Some("gzip"));
        assert!(br < gz && gz < size / 2, "{br} < {gz} < {size} / 2");
        assert_eq!(with("br;q=0, gzip").0, Some("gzip"), "br refused");
        assert_eq!(with("identity").0, None);
        let (file, coding) = encoded(name, None, plain());
        assert_eq!((coding, file.data.len()), (None, size));
        // That the compressed forms are the script whole, the browser journey proves: Chromium
        // asks for brotli, and the console runs.
    }
}
