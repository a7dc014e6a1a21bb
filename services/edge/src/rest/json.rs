//! JSON in and out: a REST request (path, query and body) as the gRPC request message, an
//! answer as proto3 JSON, an error as `google.rpc.Status` JSON under its HTTP status.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, SerializeOptions};
use serde_json::{Map, Value as Json};

use super::*;

pub(super) type PathFields = Vec<(Vec<String>, String)>;

/// A REST request's problem, answered as `google.rpc.Status` JSON.
pub(super) struct Problem {
    pub(super) http: StatusCode,
    pub(super) code: tonic::Code,
    pub(super) message: String,
}

impl Problem {
    pub(super) fn bad(message: impl Into<String>) -> Problem {
        Problem {
            http: StatusCode::BAD_REQUEST,
            code: tonic::Code::InvalidArgument,
            message: message.into(),
        }
    }

    pub(super) fn response(self) -> Response<tonic::body::Body> {
        let body = serde_json::json!({
            "code": self.code as i32,
            "message": self.message,
            "details": [],
        });
        json_response(self.http, &body, HeaderMap::new())
    }
}

pub(super) fn json_response(
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
/// (and `google.protobuf.Value`s) take any number. An enum takes its value's name, as the
/// OpenAPI document says: a number there (which proto3 JSON parsers may read) is refused, so
/// that what the document refuses the API refuses too.
pub(super) fn exact_numbers(
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
                (Kind::Enum(e), Json::Number(n)) => {
                    let example = e
                        .values()
                        .nth(1)
                        .or_else(|| e.values().next())
                        .map(|v| v.name().to_owned())
                        .unwrap_or_default();
                    return Err(format!(
                        "`{path}` is {n}; write the value's name, e.g. {example}"
                    ));
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
pub(super) fn json_name(name: &str) -> String {
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
pub(super) fn body_value<'a>(object: &'a Map<String, Json>, path: &[String]) -> Option<&'a Json> {
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
pub(super) fn remove_path(object: &mut Map<String, Json>, path: &[String]) {
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

pub(super) fn set_path(
    object: &mut Map<String, Json>,
    path: &[String],
    value: Json,
) -> Result<(), String> {
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
pub(super) fn field_kind(message: &MessageDescriptor, path: &[String]) -> Option<(Kind, bool)> {
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
pub(super) fn json_value(
    kind: Option<(Kind, bool)>,
    values: Vec<String>,
    name: &str,
) -> Result<Json, String> {
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
pub(super) fn request_message(
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
pub(super) fn to_json(message: &DynamicMessage) -> Json {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().skip_default_fields(true),
        )
        .unwrap_or_else(|e| Json::String(format!("the answer does not serialise: {e}")))
}
