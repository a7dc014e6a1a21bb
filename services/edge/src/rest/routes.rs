//! The routes: each annotated method's path template, verb and body rule, and the table that
//! matches a request to one.

use std::sync::Arc;

use http::Method;
use prost_reflect::{DescriptorPool, MessageDescriptor, Value};

use super::*;

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
    pub(super) segments: Vec<Segment>,
    pub(super) verb: Option<String>,
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
    pub(super) fn matches(&self, path: &str) -> Option<Vec<(Vec<String>, String)>> {
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
    pub(super) fn render(&self, mut var: impl FnMut(&[String]) -> String) -> String {
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
    pub(super) fn rank(&self) -> (usize, bool) {
        (
            self.segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count(),
            self.verb.is_some(),
        )
    }
}

pub(super) fn percent_decode(part: &str) -> Option<String> {
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
    pub(super) method: Method,
    pub(super) template: Template,
    pub(super) body: BodyRule,
    /// `/crm.customer.v1.CustomerService/GetCustomer`.
    pub(super) grpc_path: String,
    pub(super) input: MessageDescriptor,
    pub(super) output: MessageDescriptor,
    pub(super) client_streaming: bool,
    pub(super) server_streaming: bool,
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
    pub(super) routes: Arc<Vec<Route>>,
    pub(super) pool: DescriptorPool,
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
    pub(super) fn find(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(&Route, PathFields), Vec<Method>> {
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
