//! The OpenAPI 3.1 document of the REST routes, generated from the same descriptor set: a path
//! per route, parameters from the path template and the query-string fields, request and
//! response schemas from the messages (proto3 JSON forms), proto comments as descriptions, and
//! bearer auth except on the methods open without a token.

use std::collections::{BTreeMap, HashMap, VecDeque};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
};
use serde_json::{Map, Value as Json, json};

use crate::rest::{BodyRule, Routes, Segment};

/// Proto source comments by file and location path.
struct Comments(HashMap<(String, Vec<i32>), String>);

impl Comments {
    fn of(pool: &DescriptorPool) -> Comments {
        let mut map = HashMap::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            let Some(info) = &proto.source_code_info else {
                continue;
            };
            for location in &info.location {
                let text = location.leading_comments().trim();
                if !text.is_empty() {
                    map.insert(
                        (file.name().to_owned(), location.path.clone()),
                        text.lines().map(str::trim).collect::<Vec<_>>().join("\n"),
                    );
                }
            }
        }
        Comments(map)
    }

    fn get(&self, file: &FileDescriptor, path: &[i32]) -> Option<&str> {
        self.0
            .get(&(file.name().to_owned(), path.to_vec()))
            .map(String::as_str)
    }
}

/// The schema of a well-known type, in its proto3 JSON form.
fn well_known(name: &str) -> Option<Json> {
    Some(match name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"})
        }
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Any" => json!({"type": "object",
            "properties": {"@type": {"type": "string"}}, "required": ["@type"]}),
        "google.protobuf.StringValue" => json!({"type": "string"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({"type": "integer"})
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": "string", "pattern": "^-?[0-9]+$"})
        }
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            json!({"type": "number"})
        }
        "google.protobuf.BytesValue" => json!({"type": "string", "contentEncoding": "base64"}),
        _ => return None,
    })
}

/// Whether a field is marked `(google.api.field_behavior) = REQUIRED`: a call without it is
/// refused.
fn is_required(field: &FieldDescriptor) -> bool {
    const REQUIRED: i32 = 2;
    let pool = field.parent_message().parent_pool();
    let Some(behavior) = pool.get_extension_by_name("google.api.field_behavior") else {
        return false;
    };
    let options = field.options();
    if !options.has_extension(&behavior) {
        return false;
    }
    match options.get_extension(&behavior).as_ref() {
        prost_reflect::Value::List(values) => {
            values.iter().any(|v| v.as_enum_number() == Some(REQUIRED))
        }
        _ => false,
    }
}

/// Request fields that hold an id but not a UUID: keys the caller makes up (`request_id`,
/// AIP-155), OAuth client ids, tax numbers, and roles, whose ids are also the built-in roles'
/// names (`viewer`).
const NOT_UUIDS: [&str; 4] = ["request_id", "client_id", "tax_id", "role_id"];

/// The schema of a request's id field, which the server reads as a UUID: `format: uuid` when it
/// is required, else a UUID or the empty string (none). Only request messages: answers carry
/// ids of other shapes (a role's name, an audit entry's target).
fn uuid_schema(field: &FieldDescriptor) -> Option<Json> {
    let message = field.parent_message();
    let name = field.name();
    let is_id = name == "id" || name.ends_with("_id") || name.ends_with("_ids");
    let role_request = message.name().ends_with("RoleRequest");
    if field.kind() != Kind::String || field.is_map() || !message.name().ends_with("Request") {
        return None;
    }
    // A role goes by its id or, built in, its name: an id of printable ASCII.
    if name == "role" || name == "role_id" || (role_request && name == "id") {
        let least = if is_required(field) { 1 } else { 0 };
        return Some(json!({"type": "string", "pattern": format!("^[!-~]{{{least},{MAX_ID}}}$")}));
    }
    // AIP-155: the caller's key for a retried create, at most 128 printable ASCII characters.
    if name == "request_id" {
        return Some(json!({"type": "string", "maxLength": 128, "pattern": "^[!-~]*$"}));
    }
    if !is_id || NOT_UUIDS.contains(&name) {
        return None;
    }
    const UUID: &str =
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    const UUID_OR_NONE: &str =
        "^$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    let one = if is_required(field) {
        json!({"type": "string", "format": "uuid", "pattern": UUID})
    } else {
        json!({"type": "string", "pattern": UUID_OR_NONE})
    };
    Some(if field.is_list() {
        json!({"type": "array", "items": {"type": "string", "format": "uuid", "pattern": UUID}})
    } else {
        one
    })
}

/// The longest id a request may carry.
const MAX_ID: usize = crm_core::api::MAX_ID_LEN;

/// The HTTP errors every operation documents, with their response's name.
const ERRORS: [(&str, &str); 6] = [
    ("400", "BadRequest"),
    ("401", "Unauthenticated"),
    ("403", "PermissionDenied"),
    ("404", "NotFound"),
    ("409", "Conflict"),
    ("429", "TooManyRequests"),
];

fn error_description(code: &str) -> &'static str {
    match code {
        "400" => {
            "INVALID_ARGUMENT (or FAILED_PRECONDITION, OUT_OF_RANGE): a field is wrong; google.rpc.BadRequest names each."
        }
        "401" => {
            "UNAUTHENTICATED: no token, or one that is invalid, expired or revoked; ErrorInfo.reason says which."
        }
        "403" => "PERMISSION_DENIED: the caller's roles do not grant this.",
        "404" => {
            "NOT_FOUND: no such resource in the caller's tenant (another tenant's is not found either)."
        }
        "409" => {
            "ALREADY_EXISTS (a duplicate) or ABORTED (a stale etag, a request still in progress)."
        }
        _ => {
            "RESOURCE_EXHAUSTED: over a quota, or locked out after failed sign-ins; Retry-After says when to try again."
        }
    }
}

/// Collects the schemas of messages as they are referenced.
struct Schemas<'a> {
    comments: &'a Comments,
    done: BTreeMap<String, Json>,
    todo: VecDeque<MessageDescriptor>,
}

impl Schemas<'_> {
    fn reference(&mut self, message: &MessageDescriptor) -> Json {
        if let Some(schema) = well_known(message.full_name()) {
            return schema;
        }
        if !self.done.contains_key(message.full_name()) {
            self.done.insert(message.full_name().to_owned(), Json::Null);
            self.todo.push_back(message.clone());
        }
        json!({"$ref": format!("#/components/schemas/{}", message.full_name())})
    }

    fn enumeration(&self, e: &EnumDescriptor) -> Json {
        let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
        json!({"type": "string", "enum": names})
    }

    fn scalar(&mut self, kind: &Kind) -> Json {
        match kind {
            Kind::Double | Kind::Float => json!({"type": "number"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int32", "minimum": 0})
            }
            // proto3 JSON writes 64-bit integers as strings and reads numbers too.
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": ["string", "integer"], "format": "int64", "pattern": "^-?[0-9]+$"})
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({"type": ["string", "integer"], "format": "uint64", "pattern": "^[0-9]+$", "minimum": 0})
            }
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Kind::Message(m) => self.reference(m),
            Kind::Enum(e) => self.enumeration(e),
        }
    }

    fn field(&mut self, field: &FieldDescriptor) -> Json {
        let mut schema = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("a map field's kind is its entry message")
            };
            let value = entry.map_entry_value_field();
            json!({"type": "object", "additionalProperties": self.scalar(&value.kind())})
        } else if field.is_list() {
            json!({"type": "array", "items": self.scalar(&field.kind())})
        } else if let Some(id) = uuid_schema(field) {
            id
        } else {
            self.scalar(&field.kind())
        };
        if is_required(field)
            && field.kind() == Kind::String
            && let Json::Object(object) = &mut schema
        {
            object.entry("minLength").or_insert(1.into());
        }
        if let Some(text) = self.comments.get(&field.parent_file(), field.path())
            && let Json::Object(object) = &mut schema
            && !object.contains_key("$ref")
        {
            object.insert("description".into(), text.into());
        }
        schema
    }

    fn message(&mut self, message: &MessageDescriptor) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            let schema = self.field(&field);
            if is_required(&field) {
                required.push(field.json_name().to_owned());
                properties.insert(field.json_name().to_owned(), schema);
            } else {
                // proto3 JSON reads `null` as the field's default, as the server does.
                properties.insert(
                    field.json_name().to_owned(),
                    json!({"anyOf": [schema, {"type": "null"}]}),
                );
            }
        }
        // The server refuses a field the message does not have (400), so the document does too.
        let mut schema =
            json!({"type": "object", "properties": properties, "additionalProperties": false});
        if !required.is_empty() {
            schema["required"] = required.into();
        }
        if let Some(text) = self.comments.get(&message.parent_file(), message.path()) {
            schema["description"] = text.into();
        }
        schema
    }

    fn finish(mut self) -> BTreeMap<String, Json> {
        while let Some(message) = self.todo.pop_front() {
            let schema = self.message(&message);
            self.done.insert(message.full_name().to_owned(), schema);
        }
        self.done
    }
}

/// The query-string parameters of a route: the top-level fields that are neither in the path
/// nor in the body, scalar, enum, well-known or repeated of those.
fn query_parameters(
    input: &MessageDescriptor,
    in_path: &[String],
    schemas: &mut Schemas<'_>,
) -> Vec<Json> {
    let mut out = Vec::new();
    for field in input.fields() {
        if in_path.iter().any(|p| p == field.name()) || field.is_map() {
            continue;
        }
        if let Kind::Message(m) = field.kind()
            && well_known(m.full_name()).is_none()
        {
            continue;
        }
        let mut schema = schemas.field(&field);
        if field.name() == "page_size" {
            // Negative sizes are refused; 0 means the default, and more than the most is the most.
            schema["minimum"] = 0.into();
        }
        let mut parameter = json!({
            "name": field.name(),
            "in": "query",
            "required": is_required(&field),
            "schema": schema,
        });
        if field.is_list() {
            parameter["explode"] = true.into();
        }
        out.push(parameter);
    }
    out
}

impl Routes {
    /// The OpenAPI 3.1 document of every route; `is_open` tells the gRPC methods that need no
    /// token.
    pub fn openapi(&self, is_open: impl Fn(&str) -> bool) -> Json {
        let pool = self.pool();
        let comments = Comments::of(pool);
        let mut schemas = Schemas {
            comments: &comments,
            done: BTreeMap::new(),
            todo: VecDeque::new(),
        };
        let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
        // Templates of one shape (`/customers/{id}`, `/customers/{customer.id}`) are one path
        // in OpenAPI, whose variables the first route of that shape names (`.` as `_`: dots
        // are not safe in parameter names); the server matches by position, not by name.
        let mut shapes: HashMap<String, (String, Vec<String>)> = HashMap::new();
        let mut used_ids: std::collections::HashSet<String> = Default::default();
        for route in self.all() {
            let names: Vec<String> = route
                .segments()
                .iter()
                .filter_map(|s| match s {
                    Segment::Field(f) => Some(f.join("_")),
                    Segment::Literal(_) => None,
                })
                .collect();
            shapes
                .entry(route.shape())
                .or_insert_with(|| (route.openapi_path_named(&names), names));
        }
        for route in self.all() {
            let (path_key, names) = shapes[&route.shape()].clone();
            let method = pool
                .get_service_by_name(route.service())
                .and_then(|s| s.methods().find(|m| m.name() == route.method_name()));
            let description = method
                .as_ref()
                .and_then(|m| comments.get(&m.parent_file(), m.path()))
                .unwrap_or_default();
            let summary = description.lines().next().unwrap_or_default();
            let in_path: Vec<String> = route
                .segments()
                .iter()
                .filter_map(|s| match s {
                    Segment::Field(f) => f.first().cloned(),
                    Segment::Literal(_) => None,
                })
                .collect();
            let fields = route.segments().iter().filter_map(|s| match s {
                Segment::Field(f) => Some(f.join(".")),
                Segment::Literal(_) => None,
            });
            let mut parameters: Vec<Json> = names
                .iter()
                .zip(fields)
                .map(|(name, field)| {
                    // An id in a path is a UUID, except a role's (built-in roles go by name).
                    let last = field.rsplit('.').next().unwrap_or_default();
                    let is_uuid = (last == "id" || last.ends_with("_id"))
                        && !NOT_UUIDS.contains(&last)
                        && route.service() != "crm.iam.v1.RoleService";
                    let schema = if is_uuid {
                        json!({"type": "string", "format": "uuid"})
                    } else if route.service() == "crm.iam.v1.RoleService" || last == "role" {
                        json!({"type": "string", "pattern": format!("^[!-~]{{1,{MAX_ID}}}$")})
                    } else {
                        json!({"type": "string", "minLength": 1})
                    };
                    json!({
                        "name": name,
                        "in": "path",
                        "required": true,
                        "description": format!("`{field}` of the request"),
                        "schema": schema,
                    })
                })
                .collect();
            // One id per operation: an additional binding (the PATCH beside an update's PUT)
            // gets its HTTP method after the method's name.
            let base = format!(
                "{}_{}",
                route.service().rsplit('.').next().unwrap_or_default(),
                route.method_name()
            );
            let operation_id = if used_ids.insert(base.clone()) {
                base
            } else {
                format!("{base}_{}", route.http_method().as_str().to_lowercase())
            };
            let mut operation = json!({
                "operationId": operation_id,
                "tags": [route.service()],
                "summary": summary,
                "description": description,
            });
            let body_content = if route.client_streaming() {
                "application/x-ndjson"
            } else {
                "application/json"
            };
            match route.body() {
                BodyRule::None => {
                    parameters.extend(query_parameters(route.input(), &in_path, &mut schemas));
                }
                // A missing body is read as an empty message (the service then says which
                // fields it needs), so no body is required.
                // The request without what the path carries (the server refuses a body that
                // says otherwise). A missing body is an empty message: required only when the
                // message has a required field the body must carry.
                BodyRule::All => {
                    let mut schema = schemas.message(route.input());
                    for name in &in_path {
                        if let Some(field) = route.input().get_field_by_name(name) {
                            let json_name = field.json_name().to_owned();
                            if let Some(properties) = schema["properties"].as_object_mut() {
                                properties.remove(&json_name);
                            }
                            if let Some(required) = schema["required"].as_array_mut() {
                                required.retain(|r| r != &json_name);
                            }
                        }
                    }
                    let needed = schema["required"].as_array().is_some_and(|r| !r.is_empty());
                    if schema["required"].as_array().is_some_and(Vec::is_empty) {
                        schema.as_object_mut().map(|o| o.remove("required"));
                    }
                    operation["requestBody"] = json!({
                        "required": needed,
                        "content": {body_content: {"schema": schema}},
                    });
                }
                BodyRule::Field(name) => {
                    if let Some(field) = route.input().get_field_by_name(name) {
                        operation["requestBody"] = json!({
                            "required": is_required(&field),
                            "content": {body_content: {"schema": schemas.field(&field)}},
                        });
                    }
                    let mut taken = in_path.clone();
                    taken.push(name.clone());
                    parameters.extend(query_parameters(route.input(), &taken, &mut schemas));
                }
            }
            operation["parameters"] = parameters.into();
            let answer = if route.server_streaming() {
                "application/x-ndjson"
            } else {
                "application/json"
            };
            let mut responses = json!({
                "200": {
                    "description": if route.server_streaming() {
                        "One message a line (NDJSON); an error after the first line is a last line {\"error\": Status}."
                    } else {
                        "The answer."
                    },
                    "headers": {"x-correlation-id": {"$ref": "#/components/headers/CorrelationId"}},
                    "content": {answer: {"schema": schemas.reference(route.output())}},
                },
                "default": {"$ref": "#/components/responses/Error"},
            });
            // The refusals any call can meet: bad input, no or a bad token, no right, an id
            // that is not there (or another tenant's), a conflict (a duplicate or a stale
            // etag), a quota or lockout.
            for (code, name) in ERRORS {
                responses[code] = json!({"$ref": format!("#/components/responses/{name}")});
            }
            operation["responses"] = responses;
            if is_open(route.grpc_path()) {
                operation["security"] = json!([]);
            }
            paths
                .entry(path_key)
                .or_default()
                .insert(route.http_method().as_str().to_lowercase(), operation);
        }
        let status = schemas.reference(
            &pool
                .get_message_by_name("google.rpc.Status")
                .expect("google/rpc/status.proto is in the descriptor set"),
        );
        let schemas = schemas.finish();
        // A tag per gRPC service that has routes, described by its proto comment.
        let mut tags: Vec<Json> = Vec::new();
        for route in self.all() {
            if tags.iter().any(|t| t["name"] == route.service()) {
                continue;
            }
            let description = pool
                .get_service_by_name(route.service())
                .and_then(|s| comments.get(&s.parent_file(), s.path()).map(str::to_owned))
                .unwrap_or_else(|| format!("The methods of {}.", route.service()));
            tags.push(json!({"name": route.service(), "description": description}));
        }
        let mut responses = Map::new();
        responses.insert(
            "Error".into(),
            json!({
                "description": "An error: google.rpc.Status under the HTTP status of its code (Google's mapping).",
                "headers": {"x-correlation-id": {"$ref": "#/components/headers/CorrelationId"}},
                "content": {"application/json": {"schema": status}},
            }),
        );
        for (code, name) in ERRORS {
            let mut response = json!({
                "description": error_description(code),
                "headers": {"x-correlation-id": {"$ref": "#/components/headers/CorrelationId"}},
                "content": {"application/json": {"schema": status}},
            });
            if code == "429" {
                response["headers"]["Retry-After"] = json!({
                    "description": "Seconds to wait before calling again.",
                    "schema": {"type": "integer", "minimum": 0},
                });
            }
            responses.insert(name.into(), response);
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Kilang CRM",
                "version": "v1",
                "description": "REST/JSON of the Kilang CRM's gRPC contracts (proto3 JSON mapping), generated from the same descriptor set the server transcodes with.",
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
                "contact": {
                    "name": "Kilang CRM",
                    "url": "https://github.com/kilang-desa-murni/kilang-crm",
                },
            },
            "servers": [{"url": "/"}],
            "security": [{"bearer": []}],
            "tags": tags,
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                },
                "headers": {
                    "CorrelationId": {
                        "description": "The call's correlation id: the caller's, when it sent one, else a new one. The server's logs carry it too.",
                        "schema": {"type": "string"},
                    },
                },
                "responses": responses,
                "schemas": schemas,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Json {
        let routes = Routes::from_descriptors(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
        routes.openapi(|path| path.ends_with("/Register") || path.ends_with("/GetJwks"))
    }

    /// Every `$ref` of `value`.
    fn refs(value: &Json, out: &mut Vec<String>) {
        match value {
            Json::Object(object) => {
                if let Some(Json::String(target)) = object.get("$ref") {
                    out.push(target.clone());
                }
                object.values().for_each(|v| refs(v, out));
            }
            Json::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_a_path_and_every_reference_resolves() {
        let routes = Routes::from_descriptors(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for route in routes.all() {
            let method = route.http_method().as_str().to_lowercase();
            let operations = doc["paths"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(path, item)| {
                    item[&method].is_object()
                        && crate::rest::Template::parse(path).map(|t| t.shape())
                            == Ok(route.shape())
                })
                .count();
            assert_eq!(operations, 1, "{}", route.describe());
        }
        // One path per shape, and no dots in parameter names.
        let put = &doc["paths"]["/api/v1/customers/{id}"]["put"];
        assert_eq!(put["parameters"][0]["name"], "id");
        assert_eq!(
            put["parameters"][0]["description"],
            "`customer.id` of the request"
        );
        assert!(
            doc["paths"]
                .get("/api/v1/customers/{customer.id}")
                .is_none()
        );
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50);
        for target in found {
            let (kind, name) = target
                .strip_prefix("#/components/")
                .and_then(|t| t.split_once('/'))
                .unwrap_or_else(|| panic!("{target} points into the document's components"));
            assert!(
                doc["components"][kind][name].is_object(),
                "{target} resolves"
            );
        }
        // One id per operation (the PUT and PATCH of an update differ), as generators need.
        let mut ids = std::collections::HashSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{id} twice");
            }
        }
        let put = &doc["paths"]["/api/v1/customers/{id}"];
        assert_eq!(put["put"]["operationId"], "CustomerService_UpdateCustomer");
        assert_eq!(
            put["patch"]["operationId"],
            "CustomerService_UpdateCustomer_patch"
        );
        // The errors a call can meet are documented, and every tag is defined.
        for code in ["400", "401", "403", "404", "409", "429"] {
            assert!(put["put"]["responses"][code].is_object(), "{code}");
        }
        let tags: Vec<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(
            tags.contains(&"crm.customer.v1.CustomerService"),
            "{tags:?}"
        );
        assert!(doc["info"]["license"]["identifier"] == "Apache-2.0");
    }

    #[test]
    fn operations_carry_parameters_schemas_comments_and_auth() {
        let doc = document();
        let get = &doc["paths"]["/api/v1/customers/{id}"]["get"];
        assert_eq!(get["operationId"], "CustomerService_GetCustomer");
        assert_eq!(get["parameters"][0]["name"], "id");
        assert_eq!(get["parameters"][0]["in"], "path");
        assert!(!get["description"].as_str().unwrap().is_empty(), "{get}");
        assert!(
            get.get("security").is_none(),
            "bearer, the document's default"
        );
        let list = &doc["paths"]["/api/v1/customers"]["get"];
        let names: Vec<&str> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"page_size"), "{names:?}");
        let register = &doc["paths"]["/api/v1/auth/register"]["post"];
        assert_eq!(register["security"], json!([]));
        // What the call needs is required, and a required text is not empty.
        let body = &register["requestBody"];
        assert_eq!(body["required"], true);
        let schema = &body["content"]["application/json"]["schema"];
        assert_eq!(
            schema["required"],
            json!(["tenantName", "email", "password", "displayName"])
        );
        assert_eq!(schema["properties"]["email"]["minLength"], 1);
        // An id in a path is a UUID (a role's is its name); an optional one in a query may be
        // empty; a field the path gives is not in the body.
        let get = &doc["paths"]["/api/v1/customers/{id}"]["get"];
        assert_eq!(get["parameters"][0]["schema"]["format"], "uuid");
        let role = &doc["paths"]["/api/v1/roles/{id}"]["get"];
        assert!(role["parameters"][0]["schema"].get("format").is_none());
        let leads = &doc["paths"]["/api/v1/leads"]["get"]["parameters"];
        let owner = leads
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "owner_id")
            .unwrap();
        assert!(
            owner["schema"]["pattern"]
                .as_str()
                .unwrap()
                .starts_with("^$|")
        );
        let read = &doc["paths"]["/api/v1/notifications/{id}/read"]["post"];
        let read_body = &read["requestBody"]["content"]["application/json"]["schema"];
        assert!(read_body["properties"].get("id").is_none(), "{read_body}");
        assert_eq!(read["requestBody"]["required"], false);
        // Optional fields may be null, as proto3 JSON reads it.
        let customer = &doc["components"]["schemas"]["crm.customer.v1.Customer"];
        assert_eq!(
            customer["properties"]["createTime"]["anyOf"][1],
            json!({"type": "null"})
        );
        let created = &customer["properties"]["createTime"]["anyOf"][0];
        assert_eq!(
            (&created["type"], &created["format"]),
            (&json!("string"), &json!("date-time"))
        );
        assert_eq!(
            created["description"], "Output only.",
            "field comments: {created}"
        );
        assert_eq!(customer["properties"]["type"]["anyOf"][0]["type"], "string");
        assert!(
            customer["properties"]["type"]["anyOf"][0]["enum"]
                .as_array()
                .unwrap()
                .contains(&json!("CUSTOMER_TYPE_BUSINESS"))
        );
        let export = &doc["paths"]["/api/v1/customers/export"]["get"];
        assert!(export["responses"]["200"]["content"]["application/x-ndjson"].is_object());
    }
}
