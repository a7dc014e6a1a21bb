//! The OpenAPI 3.1 document of the REST routes, generated from the same descriptor set: a path
//! per route, parameters from the path template and the query-string fields, request and
//! response schemas from the messages (proto3 JSON forms), proto comments as descriptions, and
//! bearer auth except on the methods open without a token.

use std::collections::{BTreeMap, HashMap, VecDeque};

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Value as Json, json};

use crate::rest::{BodyRule, Routes, Segment};

mod schemas;

use schemas::*;

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
mod tests;
