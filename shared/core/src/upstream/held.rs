//! Which calls may go to another process: the gateway holds a call's message (unless its
//! request is a stream) so that one a process never received goes to the next, and one that may
//! have reached it goes again only when it is a read (its contract binds it to HTTP GET: it
//! changes nothing, however often it is sent) or carries a `request_id`.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use http::Request;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};

use super::BUFFER_AT_MOST;

/// What the gateway knows of a method from the contracts.
pub(super) struct Route {
    /// Whether its request is a stream of messages (never held: it is sent once, as it comes).
    pub(super) client_streaming: bool,
    /// Its request's message.
    pub(super) input: MessageDescriptor,
    /// Whether it only reads: its `google.api.http` rule is a GET.
    pub(super) reads: bool,
}

/// Every method of the contracts, by its HTTP/2 path (`/crm.customer.v1.CustomerService/GetCustomer`).
pub(super) static ROUTES: LazyLock<HashMap<String, Route>> = LazyLock::new(|| {
    let pool = DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET)
        .expect("the contracts' descriptor set decodes");
    let http = pool.get_extension_by_name("google.api.http");
    pool.services()
        .flat_map(|service| service.methods().collect::<Vec<_>>())
        .map(|method| {
            let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
            let options = method.options();
            let reads = http.as_ref().is_some_and(|http| {
                options.has_extension(http)
                    && options
                        .get_extension(http)
                        .as_message()
                        .is_some_and(|rule| rule.has_field_by_name("get"))
            });
            let route = Route {
                client_streaming: method.is_client_streaming(),
                input: method.input(),
                reads,
            };
            (path, route)
        })
        .collect()
});

/// A request's body on its way: held whole (sent again as needed) or streamed once.
pub(super) enum Body {
    Held(bytes::Bytes),
    Streamed(Option<tonic::body::Body>),
}

impl Body {
    /// The request to send next, with `head`; `None` once a streamed body has gone.
    pub(super) fn next(
        &mut self,
        head: &http::request::Parts,
    ) -> Option<Request<tonic::body::Body>> {
        let body = match self {
            Body::Held(held) => tonic::body::Body::new(http_body_util::Full::new(held.clone())),
            Body::Streamed(body) => body.take()?,
        };
        let mut request = Request::new(body);
        *request.method_mut() = head.method.clone();
        *request.uri_mut() = head.uri.clone();
        *request.version_mut() = head.version;
        *request.headers_mut() = head.headers.clone();
        Some(request)
    }
}

/// The whole request, read before it is sent: refused as the service would refuse it when it
/// is larger than a service reads.
pub(super) async fn hold(body: tonic::body::Body) -> Result<bytes::Bytes, tonic::Status> {
    use http_body_util::BodyExt as _;
    match http_body_util::Limited::new(body, BUFFER_AT_MOST)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(tonic::Status::resource_exhausted(format!(
                "the request is larger than {} bytes, the most a CRM service reads in one message",
                BUFFER_AT_MOST - 5
            )))
        }
        Err(e) => Err(tonic::Status::cancelled(format!(
            "the request ended before it was whole: {e}"
        ))),
    }
}

/// Whether `held` (one gRPC message, uncompressed) sets the `request_id` its message has:
/// such a call is answered once by the service however often it is sent.
pub(super) fn carries_request_id(input: &MessageDescriptor, held: &[u8]) -> bool {
    let Some(field) = input.get_field_by_name("request_id") else {
        return false;
    };
    let [0, _, _, _, _, message @ ..] = held else {
        return false;
    };
    DynamicMessage::decode(input.clone(), message)
        .is_ok_and(|m| matches!(m.get_field(&field).as_ref(), Value::String(id) if !id.is_empty()))
}

/// Whether `e` says the call never reached the process: the connection could not be made, the
/// stream was refused (`REFUSED_STREAM`, or above a `GOAWAY`'s last stream), or the request was
/// dropped before it was written.
pub(super) fn never_sent(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as Io;
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                Io::ConnectionRefused
                    | Io::HostUnreachable
                    | Io::NetworkUnreachable
                    | Io::AddrNotAvailable
            )
        {
            return true;
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>()
            && (h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || h2.is_go_away() && h2.is_remote())
        {
            return true;
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>()
            && hyper.is_canceled()
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Why a forwarded call failed.
pub(super) enum Failure {
    Unreachable(tonic::transport::Error),
    NoAnswer(Duration),
}

/// Whether `e` is the channel saying the call's deadline passed.
pub(super) fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<tonic::TimeoutExpired>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// An error with its causes, for the log.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
