//! Streaming calls over REST: newline-delimited JSON in and out.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::BodyExt;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::Value as Json;

use super::*;

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What is left of an NDJSON request body.
pub(super) struct LinesIn {
    body: tonic::body::Body,
    buffer: Vec<u8>,
    line: usize,
    ended: bool,
}

/// The request stream of a client-streaming route: each NDJSON line of `body` one request
/// message (path fields and query merged into each), as a gRPC frame, read as it arrives.
pub(super) fn lines_in(
    route: Route,
    path_fields: PathFields,
    query: String,
    body: tonic::body::Body,
    problem: Arc<std::sync::Mutex<Option<String>>>,
) -> tonic::body::Body {
    let state = LinesIn {
        body,
        buffer: Vec::new(),
        line: 0,
        ended: false,
    };
    let stream = futures::stream::unfold(Some(state), move |state| {
        let (route, path_fields, query, problem) = (
            route.clone(),
            path_fields.clone(),
            query.clone(),
            problem.clone(),
        );
        async move {
            let mut st = state?;
            let stop = |message: String| {
                *problem.lock().expect("not poisoned") = Some(message.clone());
                let error: BoxError = message.into();
                Some((Err(error), None))
            };
            loop {
                if let Some(end) = st.buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = st.buffer.drain(..=end).collect();
                    st.line += 1;
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return match request_message(&route, path_fields, Some(&query), &line) {
                        Ok(message) => {
                            Some((Ok(http_body::Frame::data(frame_of(&message))), Some(st)))
                        }
                        Err(e) => stop(format!(
                            "line {} is not a {} in JSON: {e}; the stream stopped there",
                            st.line,
                            route.input.full_name()
                        )),
                    };
                }
                if st.ended {
                    return None;
                }
                if st.buffer.len() > MAX_BODY {
                    return stop(format!(
                        "line {} is longer than {MAX_BODY} bytes",
                        st.line + 1
                    ));
                }
                match st.body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            st.buffer.extend_from_slice(&data);
                        }
                    }
                    Some(Err(e)) => return stop(format!("the body broke off: {e}")),
                    None => {
                        st.ended = true;
                        if !st.buffer.is_empty() {
                            st.buffer.push(b'\n');
                        }
                    }
                }
            }
        }
    });
    tonic::body::Body::new(http_body_util::StreamBody::new(stream))
}

/// What is left of a gRPC response stream.
pub(super) struct LinesOut {
    body: tonic::body::Body,
    buffer: Vec<u8>,
    output: MessageDescriptor,
    pool: DescriptorPool,
}

/// A server-streaming answer as NDJSON: one JSON message a line as each arrives (flat memory);
/// an error after the first line is a last line `{"error": <google.rpc.Status>}`.
pub(super) fn lines_out(
    output: MessageDescriptor,
    pool: DescriptorPool,
    head: HeaderMap,
    body: tonic::body::Body,
) -> Response<tonic::body::Body> {
    let state = LinesOut {
        body,
        buffer: Vec::new(),
        output,
        pool,
    };
    let line = |json: Json| -> Result<http_body::Frame<Bytes>, BoxError> {
        let mut text = serde_json::to_vec(&json).expect("JSON values serialise");
        text.push(b'\n');
        Ok(http_body::Frame::data(Bytes::from(text)))
    };
    let stream = futures::stream::unfold(Some(state), move |state| async move {
        let mut st = state?;
        loop {
            if let Some(frame) = next_frame(&mut st.buffer) {
                let json = match frame.and_then(|message| {
                    DynamicMessage::decode(st.output.clone(), message.as_slice())
                        .map_err(|e| e.to_string())
                }) {
                    Ok(message) => to_json(&message),
                    Err(e) => {
                        let error = serde_json::json!({"error": {"code": 13,
                            "message": format!("a message could not be read: {e}")}});
                        return Some((line(error), None));
                    }
                };
                return Some((line(json), Some(st)));
            }
            match st.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => st.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        return match grpc_status(&HeaderMap::new(), Some(&trailers)) {
                            Some((code, message, details)) if code != 0 => {
                                let status = status_json(&st.pool, code, message, details);
                                Some((line(serde_json::json!({"error": status})), None))
                            }
                            _ => None,
                        };
                    }
                },
                Some(Err(e)) => {
                    let error = serde_json::json!({"error": {"code": 14,
                        "message": format!("the stream broke off: {e}")}});
                    return Some((line(error), None));
                }
                None => return None,
            }
        }
    });
    let mut response = Response::new(tonic::body::Body::new(http_body_util::StreamBody::new(
        stream,
    )));
    response.headers_mut().extend(passed_back(&head));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}
