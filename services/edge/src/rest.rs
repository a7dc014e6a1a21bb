//! REST/JSON for every method with a `google.api.http` annotation, read at startup from the
//! descriptor set the proto crate exports: no route is written by hand. A REST call becomes the
//! gRPC call it names and goes to the same service stack in process (auth layer included), so
//! REST and gRPC behave the same; the answer comes back as proto3 JSON (`prost-reflect`), and an
//! error as `google.rpc.Status` JSON with its details, under the HTTP status Google's mapping
//! gives its code.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MessageDescriptor, SerializeOptions, Value,
};
use serde_json::{Map, Value as Json};
use tower::{Layer, Service};

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

/// One segment of a path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Must be exactly this.
    Literal(String),
    /// Any one segment, the value of this (dotted) field.
    Field(Vec<String>),
}

/// Where the request message's fields come from besides the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyRule {
    /// No body: the query string.
    None,
    /// The whole message is the body.
    All,
    /// This field is the body; the rest from the query string.
    Field(String),
}

/// A parsed path template: `/api/v1/users/{user_id}/sessions/{session_id}:revoke`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
    verb: Option<String>,
}

impl Template {
    pub(crate) fn parse(path: &str) -> Result<Template, String> {
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| format!("{path:?} does not start with /"))?;
        // A verb follows the last `:` that is not inside a variable.
        let (rest, verb) = match rest.rfind(':') {
            Some(at) if !rest[at..].contains('}') && !rest[at..].contains('/') => {
                (&rest[..at], Some(rest[at + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        let mut segments = Vec::new();
        for part in rest.split('/') {
            if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let field = inner.split('=').next().unwrap_or(inner);
                if inner.contains("**") {
                    return Err(format!(
                        "{path:?}: multi-segment variables are not supported"
                    ));
                }
                segments.push(Segment::Field(
                    field.split('.').map(str::to_owned).collect(),
                ));
            } else if part.is_empty() || part.contains(['{', '}']) {
                return Err(format!("{path:?}: bad segment {part:?}"));
            } else {
                segments.push(Segment::Literal(part.to_owned()));
            }
        }
        Ok(Template { segments, verb })
    }

    /// The field values of `path` if it matches (segments percent-decoded).
    fn matches(&self, path: &str) -> Option<Vec<(Vec<String>, String)>> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut fields = Vec::new();
        for (part, segment) in parts.iter().zip(&self.segments) {
            let decoded = percent_decode(part)?;
            match segment {
                Segment::Literal(literal) if *literal == decoded => {}
                Segment::Literal(_) => return None,
                Segment::Field(field) if !decoded.is_empty() => {
                    fields.push((field.clone(), decoded))
                }
                Segment::Field(_) => return None,
            }
        }
        Some(fields)
    }

    /// The template written out, each variable as `var` gives it.
    fn render(&self, mut var: impl FnMut(&[String]) -> String) -> String {
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Literal(l) => path.push_str(l),
                Segment::Field(f) => path.push_str(&var(f)),
            }
        }
        if let Some(verb) = &self.verb {
            path.push(':');
            path.push_str(verb);
        }
        path
    }

    /// Its shape: the literals and where the variables are (`/customers/*:revoke`).
    pub(crate) fn shape(&self) -> String {
        self.render(|_| "*".to_owned())
    }

    /// How specific it is: literal segments first, then a verb.
    fn rank(&self) -> (usize, bool) {
        (
            self.segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count(),
            self.verb.is_some(),
        )
    }
}

fn percent_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = part.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One REST route: an HTTP method and template, and the gRPC method it calls.
#[derive(Clone, Debug)]
pub struct Route {
    method: Method,
    template: Template,
    body: BodyRule,
    /// `/crm.customer.v1.CustomerService/GetCustomer`.
    grpc_path: String,
    input: MessageDescriptor,
    output: MessageDescriptor,
    client_streaming: bool,
    server_streaming: bool,
}

impl Route {
    /// `GET /api/v1/customers/{id}`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.openapi_path())
    }

    /// The path template as written: `/api/v1/customers/{customer.id}`.
    pub fn openapi_path(&self) -> String {
        self.template.render(|f| format!("{{{}}}", f.join(".")))
    }

    /// The gRPC method it calls.
    pub fn grpc_path(&self) -> &str {
        &self.grpc_path
    }

    /// Its template's shape (see `Template::shape`).
    pub(crate) fn shape(&self) -> String {
        self.template.shape()
    }

    /// The path with its variables named `names`, in order.
    pub(crate) fn openapi_path_named(&self, names: &[String]) -> String {
        let mut names = names.iter();
        self.template
            .render(|_| format!("{{{}}}", names.next().expect("a name per variable")))
    }

    /// The HTTP method.
    pub fn http_method(&self) -> &Method {
        &self.method
    }

    /// The gRPC service's full name.
    pub fn service(&self) -> &str {
        self.grpc_path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
    }

    /// The gRPC method's name.
    pub fn method_name(&self) -> &str {
        self.grpc_path.rsplit('/').next().unwrap_or_default()
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.template.segments
    }

    pub(crate) fn body(&self) -> &BodyRule {
        &self.body
    }

    pub(crate) fn input(&self) -> &MessageDescriptor {
        &self.input
    }

    pub(crate) fn output(&self) -> &MessageDescriptor {
        &self.output
    }

    pub(crate) fn client_streaming(&self) -> bool {
        self.client_streaming
    }

    pub(crate) fn server_streaming(&self) -> bool {
        self.server_streaming
    }
}

/// Every route of the descriptor set, most specific first.
#[derive(Clone, Debug)]
pub struct Routes {
    routes: Arc<Vec<Route>>,
    pool: DescriptorPool,
}

impl Routes {
    /// The routes of the encoded descriptor set `descriptors` (every method with a
    /// `google.api.http` annotation, its `additional_bindings` too).
    pub fn from_descriptors(descriptors: &[u8]) -> Result<Routes, String> {
        let pool = DescriptorPool::decode(descriptors)
            .map_err(|e| format!("the descriptor set does not decode: {e}"))?;
        let http = pool
            .get_extension_by_name("google.api.http")
            .ok_or("the descriptor set lacks google/api/annotations.proto")?;
        let mut routes = Vec::new();
        for service in pool.services() {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http) {
                    continue;
                }
                let rule = options.get_extension(&http);
                let Some(rule) = rule.as_message() else {
                    continue;
                };
                let grpc_path = format!("/{}/{}", service.full_name(), method.name());
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) = rule
                    .get_field_by_name("additional_bindings")
                    .as_deref()
                    .cloned()
                {
                    rules.extend(more.iter().filter_map(|v| v.as_message().cloned()));
                }
                for rule in rules {
                    let (verb, path) = ["get", "put", "post", "delete", "patch"]
                        .into_iter()
                        .find_map(|verb| {
                            let value = rule.get_field_by_name(verb)?;
                            let path = value.as_str()?.to_owned();
                            (!path.is_empty()).then_some((verb, path))
                        })
                        .ok_or_else(|| format!("{grpc_path}: an HTTP rule without a path"))?;
                    let body = match rule
                        .get_field_by_name("body")
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                        .as_str()
                    {
                        "" => BodyRule::None,
                        "*" => BodyRule::All,
                        field => BodyRule::Field(field.to_owned()),
                    };
                    routes.push(Route {
                        method: verb.to_uppercase().parse().expect("an HTTP method"),
                        template: Template::parse(&path)
                            .map_err(|e| format!("{grpc_path}: {e}"))?,
                        body,
                        grpc_path: grpc_path.clone(),
                        input: method.input(),
                        output: method.output(),
                        client_streaming: method.is_client_streaming(),
                        server_streaming: method.is_server_streaming(),
                    });
                }
            }
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.template.rank()));
        Ok(Routes {
            routes: Arc::new(routes),
            pool,
        })
    }

    /// Every route.
    pub fn all(&self) -> &[Route] {
        &self.routes
    }

    pub(crate) fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The route of `method` and `path`, with the path's field values; else the methods the
    /// path is served with (none: an unknown path).
    /// Only the most specific templates that match count (routes are sorted by it): the path
    /// `/api-keys/x:revoke` is the revoke method's, not a key named `x:revoke`.
    fn find(&self, method: &Method, path: &str) -> Result<(&Route, PathFields), Vec<Method>> {
        let mut allowed: Vec<Method> = Vec::new();
        let mut best = None;
        for route in self.routes.iter() {
            if best.is_some_and(|rank| route.template.rank() != rank) {
                break;
            }
            if let Some(fields) = route.template.matches(path) {
                best = Some(route.template.rank());
                if route.method == *method {
                    return Ok((route, fields));
                }
                if !allowed.contains(&route.method) {
                    allowed.push(route.method.clone());
                }
            }
        }
        Err(allowed)
    }
}

type PathFields = Vec<(Vec<String>, String)>;

/// A REST request's problem, answered as `google.rpc.Status` JSON.
struct Problem {
    http: StatusCode,
    code: tonic::Code,
    message: String,
}

impl Problem {
    fn bad(message: impl Into<String>) -> Problem {
        Problem {
            http: StatusCode::BAD_REQUEST,
            code: tonic::Code::InvalidArgument,
            message: message.into(),
        }
    }

    fn response(self) -> Response<tonic::body::Body> {
        let body = serde_json::json!({
            "code": self.code as i32,
            "message": self.message,
            "details": [],
        });
        json_response(self.http, &body, HeaderMap::new())
    }
}

fn json_response(
    status: StatusCode,
    body: &Json,
    headers: HeaderMap,
) -> Response<tonic::body::Body> {
    let mut text = serde_json::to_vec(body).expect("JSON values serialise");
    text.push(b'\n');
    let mut response = Response::new(tonic::body::Body::new(http_body_util::Full::new(
        Bytes::from(text),
    )));
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The HTTP status of a gRPC code (Google's mapping, `google/rpc/code.proto`).
pub fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code::*;
    match code {
        Ok => StatusCode::OK,
        Cancelled => StatusCode::from_u16(499).expect("499 is a status"),
        Unknown | Internal | DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        InvalidArgument | FailedPrecondition | OutOfRange => StatusCode::BAD_REQUEST,
        DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        NotFound => StatusCode::NOT_FOUND,
        AlreadyExists | Aborted => StatusCode::CONFLICT,
        PermissionDenied => StatusCode::FORBIDDEN,
        Unauthenticated => StatusCode::UNAUTHORIZED,
        ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Sets `value` at the dotted `path` of `object`, making the objects on the way.
/// Refuses a JSON number for an integer field that cannot be read exactly: an integer beyond 64
/// bits arrives as a float, which rounds (-9223372036854775809 would become the smallest
/// int64). proto3 JSON writes 64-bit integers as strings for this reason. Floating fields
/// (and `google.protobuf.Value`s) take any number.
fn exact_numbers(
    message: &MessageDescriptor,
    fields: &Map<String, Json>,
    at: &str,
) -> Result<(), String> {
    for (key, value) in fields {
        let Some(field) = message
            .get_field_by_name(key)
            .or_else(|| message.get_field_by_json_name(key))
        else {
            continue;
        };
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        let items: Vec<&Json> = match value {
            Json::Array(items) if field.is_list() => items.iter().collect(),
            Json::Object(entries) if field.is_map() => entries.values().collect(),
            other => vec![other],
        };
        let kind = if field.is_map() {
            match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            }
        } else {
            field.kind()
        };
        for item in items {
            match (&kind, item) {
                (Kind::Message(inner), Json::Object(fields)) => {
                    exact_numbers(inner, fields, &path)?
                }
                (
                    Kind::Int32
                    | Kind::Sint32
                    | Kind::Sfixed32
                    | Kind::Uint32
                    | Kind::Fixed32
                    | Kind::Int64
                    | Kind::Sint64
                    | Kind::Sfixed64
                    | Kind::Uint64
                    | Kind::Fixed64,
                    Json::Number(n),
                ) if n.is_f64()
                    && n.as_f64().is_some_and(|x| {
                        x.fract() == 0.0 && x.abs() >= 9_007_199_254_740_992.0
                    }) =>
                {
                    return Err(format!(
                        "`{path}` is {n}, an integer too large to read exactly; send 64-bit integers as strings"
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// protobuf's JSON name of a field name (`customer_id` → `customerId`).
fn json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// What the body gives at a field path, under the field's name or its JSON name.
fn body_value<'a>(object: &'a Map<String, Json>, path: &[String]) -> Option<&'a Json> {
    let (last, parents) = path.split_last()?;
    let mut at = object;
    for name in parents {
        at = at
            .get(name)
            .or_else(|| at.get(&json_name(name)))?
            .as_object()?;
    }
    at.get(last).or_else(|| at.get(&json_name(last)))
}

/// Removes a field path's value from the body, under either name.
fn remove_path(object: &mut Map<String, Json>, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = object;
    for name in parents {
        let key = if at.contains_key(name) {
            name.clone()
        } else {
            json_name(name)
        };
        match at.get_mut(&key).and_then(Json::as_object_mut) {
            Some(next) => at = next,
            None => return,
        }
    }
    at.remove(last);
    at.remove(&json_name(last));
}

fn set_path(object: &mut Map<String, Json>, path: &[String], value: Json) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("a field path has a name");
    let mut at = object;
    for name in parents {
        let next = at
            .entry(name.clone())
            .or_insert_with(|| Json::Object(Map::new()));
        at = next
            .as_object_mut()
            .ok_or_else(|| format!("`{}` is not a message", path.join(".")))?;
    }
    at.insert(last.clone(), value);
    Ok(())
}

/// The field of `message` at `path` (by proto or JSON name).
fn field_kind(message: &MessageDescriptor, path: &[String]) -> Option<(Kind, bool)> {
    let mut descriptor = message.clone();
    let mut found = None;
    for name in path {
        let field = descriptor
            .get_field_by_name(name)
            .or_else(|| descriptor.get_field_by_json_name(name))?;
        let kind = field.kind();
        found = Some((kind.clone(), field.is_list()));
        if let Kind::Message(inner) = kind {
            descriptor = inner;
        }
    }
    found
}

/// A path or query value as the JSON the field's kind reads: bools as booleans, lists as
/// arrays, everything else as the string proto3 JSON accepts (numbers, enum names, timestamps,
/// field masks).
fn json_value(kind: Option<(Kind, bool)>, values: Vec<String>, name: &str) -> Result<Json, String> {
    let one = |v: String| -> Result<Json, String> {
        match &kind {
            Some((Kind::Bool, _)) => match v.as_str() {
                "true" => Ok(Json::Bool(true)),
                "false" => Ok(Json::Bool(false)),
                _ => Err(format!("`{name}` must be true or false, not {v:?}")),
            },
            Some((
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32,
                _,
            )) => v
                .parse::<i64>()
                .map(Json::from)
                .map_err(|_| format!("`{name}` must be a whole number, not {v:?}")),
            Some((Kind::Float | Kind::Double, _)) => match v.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Json::from(n)),
                // NaN and the infinities are strings in proto3 JSON.
                _ => Ok(Json::String(v)),
            },
            _ => Ok(Json::String(v)),
        }
    };
    match kind {
        Some((_, true)) => values
            .into_iter()
            .map(one)
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array),
        _ => {
            if values.len() > 1 {
                return Err(format!("`{name}` is given more than once"));
            }
            one(values.into_iter().next().unwrap_or_default())
        }
    }
}

/// The request message of `route` from the body, the path's fields and the query.
fn request_message(
    route: &Route,
    path_fields: PathFields,
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, String> {
    let mut object = Map::new();
    let parse_body = || -> Result<Json, String> {
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
    };
    match &route.body {
        BodyRule::All if !body.is_empty() => match parse_body()? {
            Json::Object(fields) => object = fields,
            _ => return Err("the body must be a JSON object".into()),
        },
        BodyRule::Field(field) if !body.is_empty() => {
            object.insert(field.clone(), parse_body()?);
        }
        BodyRule::None if !body.iter().all(u8::is_ascii_whitespace) => {
            return Err(format!("{} takes no body", route.describe()));
        }
        _ => {}
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode(&s.replace('+', " "))
                    .ok_or_else(|| format!("the query parameter {s:?} is not valid UTF-8"))
            };
            params
                .entry(decode(name)?)
                .or_default()
                .push(decode(value)?);
        }
        for (name, values) in params {
            let path: Vec<String> = name.split('.').map(str::to_owned).collect();
            let kind = field_kind(&route.input, &path);
            set_path(&mut object, &path, json_value(kind, values, &name)?)?;
        }
    }
    exact_numbers(&route.input, &object, "")?;
    for (path, value) in path_fields {
        let kind = field_kind(&route.input, &path);
        let name = path.join(".");
        let value = json_value(kind, vec![value], &name)?;
        // The path names the resource: a body that names another one is refused, not
        // silently overruled.
        if let Some(said) = body_value(&object, &path)
            && said != &value
        {
            return Err(format!(
                "`{name}` is {value} in the path but {said} in the body; leave it out of the body"
            ));
        }
        remove_path(&mut object, &path);
        set_path(&mut object, &path, value)?;
    }
    DynamicMessage::deserialize(route.input.clone(), Json::Object(object))
        .map_err(|e| format!("the request does not fit {}: {e}", route.input.full_name()))
}

/// The JSON of a message (proto3 mapping: lowerCamelCase names, enums by name, 64-bit
/// integers as strings, well-known types in their JSON forms).
fn to_json(message: &DynamicMessage) -> Json {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().skip_default_fields(true),
        )
        .unwrap_or_else(|e| Json::String(format!("the answer does not serialise: {e}")))
}

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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What is left of an NDJSON request body.
struct LinesIn {
    body: tonic::body::Body,
    buffer: Vec<u8>,
    line: usize,
    ended: bool,
}

/// The request stream of a client-streaming route: each NDJSON line of `body` one request
/// message (path fields and query merged into each), as a gRPC frame, read as it arrives.
fn lines_in(
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
struct LinesOut {
    body: tonic::body::Body,
    buffer: Vec<u8>,
    output: MessageDescriptor,
    pool: DescriptorPool,
}

/// A server-streaming answer as NDJSON: one JSON message a line as each arrives (flat memory);
/// an error after the first line is a last line `{"error": <google.rpc.Status>}`.
fn lines_out(
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
mod tests {
    use super::*;

    fn routes() -> Routes {
        Routes::from_descriptors(crm_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    #[test]
    fn templates_parse_with_nested_fields_and_verbs() {
        let t = Template::parse("/api/v1/users/{user_id}/sessions/{session_id}:revoke").unwrap();
        assert_eq!(t.verb.as_deref(), Some("revoke"));
        assert_eq!(
            t.matches("/api/v1/users/u1/sessions/s%2F2:revoke"),
            Some(vec![
                (vec!["user_id".to_string()], "u1".to_string()),
                (vec!["session_id".to_string()], "s/2".to_string())
            ])
        );
        assert_eq!(t.matches("/api/v1/users/u1/sessions/s2"), None);
        let nested = Template::parse("/api/v1/customers/{customer.id}").unwrap();
        assert_eq!(
            nested.matches("/api/v1/customers/c1"),
            Some(vec![(
                vec!["customer".to_string(), "id".to_string()],
                "c1".to_string()
            )])
        );
        assert_eq!(nested.matches("/api/v1/customers/"), None);
        assert!(Template::parse("api/v1").is_err());
    }

    #[test]
    fn every_annotated_method_has_a_route_and_literals_win() {
        let routes = routes();
        let described: Vec<String> = routes.all().iter().map(Route::describe).collect();
        for expected in [
            "GET /api/v1/customers/{id}",
            "GET /api/v1/customers/search",
            "PUT /api/v1/customers/{customer.id}",
            "POST /api/v1/users/{user_id}/sessions/{session_id}:revoke",
            "POST /api/v1/auth/register",
        ] {
            assert!(
                described.contains(&expected.to_string()),
                "{expected}: {described:?}"
            );
        }
        let (search, _) = routes
            .find(&Method::GET, "/api/v1/customers/search")
            .unwrap();
        assert_eq!(
            search.grpc_path(),
            "/crm.customer.v1.CustomerService/SearchCustomers"
        );
        let (get, fields) = routes.find(&Method::GET, "/api/v1/customers/abc").unwrap();
        assert_eq!(
            get.grpc_path(),
            "/crm.customer.v1.CustomerService/GetCustomer"
        );
        assert_eq!(fields, vec![(vec!["id".to_string()], "abc".to_string())]);
        assert_eq!(
            routes.find(&Method::DELETE, "/api/v1/auth/jwks").err(),
            Some(vec![Method::GET]),
            "a known path names its methods (the 405's Allow)"
        );
        assert_eq!(
            routes
                .find(&Method::POST, "/api/v1/customers/abc")
                .err()
                .map(|m| m.len()),
            Some(4),
            "GET, PUT, PATCH and DELETE"
        );
        assert_eq!(
            routes.find(&Method::GET, "/api/v2/nothing").err(),
            Some(vec![])
        );
        // additional_bindings are routes too.
        let patched = routes
            .all()
            .iter()
            .filter(|r| r.method == Method::PATCH)
            .count();
        assert!(patched > 0, "{described:?}");
    }

    #[test]
    fn query_and_path_values_take_the_field_kinds() {
        let routes = routes();
        let (route, fields) = routes.find(&Method::GET, "/api/v1/leads").unwrap();
        let message = request_message(
            route,
            fields,
            Some("page_size=5&status=LEAD_STATUS_QUALIFIED"),
            b"",
        )
        .unwrap();
        let json = to_json(&message);
        assert_eq!(json["pageSize"], 5);
        assert_eq!(json["status"], "LEAD_STATUS_QUALIFIED");
        let e = request_message(route, Vec::new(), Some("nonsense=1"), b"").unwrap_err();
        assert!(e.contains("nonsense"), "{e}");
        let e = request_message(route, Vec::new(), Some("page_size=many"), b"").unwrap_err();
        assert!(
            e.contains("page_size") || e.contains("pageSize") || e.contains("many"),
            "{e}"
        );
        let e = request_message(route, Vec::new(), None, b"{}").unwrap_err();
        assert!(e.contains("takes no body"), "{e}");
    }

    #[test]
    fn codes_map_to_google_http_statuses() {
        for (code, status) in [
            (tonic::Code::InvalidArgument, 400),
            (tonic::Code::Unauthenticated, 401),
            (tonic::Code::PermissionDenied, 403),
            (tonic::Code::NotFound, 404),
            (tonic::Code::AlreadyExists, 409),
            (tonic::Code::Aborted, 409),
            (tonic::Code::FailedPrecondition, 400),
            (tonic::Code::ResourceExhausted, 429),
            (tonic::Code::Unimplemented, 501),
            (tonic::Code::Unavailable, 503),
            (tonic::Code::DeadlineExceeded, 504),
            (tonic::Code::Internal, 500),
        ] {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
        }
    }
}
