//! The contracts keep the original plan's REST routes: every CRM RPC carries a `google.api.http`
//! annotation, and every route of the plan maps to one.

use std::collections::BTreeSet;

use prost_reflect::{DescriptorPool, DynamicMessage, Value};

/// (verb, path) with path variables written `{}`: the names are the request's fields.
const PLAN_ROUTES: [(&str, &str); 46] = [
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/{}"),
    ("PUT", "/api/v1/users/{}"),
    ("DELETE", "/api/v1/users/{}"),
    ("POST", "/api/v1/users/{}/roles"),
    ("DELETE", "/api/v1/users/{}/roles/{}"),
    ("GET", "/api/v1/roles"),
    ("POST", "/api/v1/roles"),
    ("GET", "/api/v1/customers"),
    ("POST", "/api/v1/customers"),
    ("GET", "/api/v1/customers/{}"),
    ("PUT", "/api/v1/customers/{}"),
    ("DELETE", "/api/v1/customers/{}"),
    ("GET", "/api/v1/customers/search"),
    ("POST", "/api/v1/customers/import"),
    ("GET", "/api/v1/customers/export"),
    ("GET", "/api/v1/customers/{}/contacts"),
    ("POST", "/api/v1/customers/{}/contacts"),
    ("PUT", "/api/v1/customers/{}/contacts/{}"),
    ("DELETE", "/api/v1/customers/{}/contacts/{}"),
    ("GET", "/api/v1/leads"),
    ("POST", "/api/v1/leads"),
    ("GET", "/api/v1/leads/{}"),
    ("PUT", "/api/v1/leads/{}"),
    ("POST", "/api/v1/leads/{}/convert"),
    ("GET", "/api/v1/opportunities"),
    ("POST", "/api/v1/opportunities"),
    ("GET", "/api/v1/opportunities/{}"),
    ("PUT", "/api/v1/opportunities/{}"),
    ("POST", "/api/v1/opportunities/{}/move-stage"),
    ("POST", "/api/v1/opportunities/{}/win"),
    ("POST", "/api/v1/opportunities/{}/lose"),
    ("GET", "/api/v1/pipelines"),
    ("POST", "/api/v1/pipelines"),
    ("GET", "/api/v1/pipelines/{}"),
    ("GET", "/api/v1/pipelines/{}/analytics"),
    ("GET", "/api/v1/deals"),
    ("GET", "/api/v1/deals/{}"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/notifications/templates"),
    ("POST", "/api/v1/notifications/templates"),
];

fn pool() -> DescriptorPool {
    DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET).expect("the descriptor set decodes")
}

/// The (verb, path) bindings of one HttpRule, additional bindings included.
fn bindings(rule: &DynamicMessage, out: &mut Vec<(String, String)>) {
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule.has_field_by_name(verb) {
            let path = rule
                .get_field_by_name(verb)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
            out.push((verb.to_uppercase(), path));
        }
    }
    if let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").as_deref() {
        for binding in more {
            bindings(binding.as_message().unwrap(), out);
        }
    }
}

fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_var = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_var = true;
                out.push_str("{}");
            }
            '}' => in_var = false,
            _ if in_var => {}
            _ => out.push(c),
        }
    }
    out
}

fn all_routes() -> Vec<(String, String, String)> {
    let pool = pool();
    let http = pool
        .get_extension_by_name("google.api.http")
        .expect("google.api.http is in the set");
    let mut routes = Vec::new();
    for service in pool
        .services()
        .filter(|s| s.full_name().starts_with("crm."))
    {
        for method in service.methods() {
            let options = method.options();
            assert!(
                options.has_extension(&http),
                "{} has no google.api.http annotation",
                method.full_name()
            );
            let rule = options.get_extension(&http);
            let mut found = Vec::new();
            bindings(rule.as_message().unwrap(), &mut found);
            for (verb, path) in found {
                routes.push((verb, path, method.full_name().to_owned()));
            }
        }
    }
    routes
}

#[test]
fn every_route_of_the_plan_maps_to_an_rpc() {
    let served: BTreeSet<(String, String)> = all_routes()
        .into_iter()
        .map(|(v, p, _)| (v, normalise(&p)))
        .collect();
    for (verb, path) in PLAN_ROUTES {
        assert!(
            served.contains(&(verb.to_owned(), path.to_owned())),
            "{verb} {path} has no RPC"
        );
    }
}

#[test]
fn no_two_rpcs_share_a_route() {
    let mut seen = BTreeSet::new();
    for (verb, path, method) in all_routes() {
        assert!(
            seen.insert((verb.clone(), normalise(&path))),
            "{verb} {path} is bound twice (again by {method})"
        );
    }
}

#[test]
fn path_variables_name_fields_of_the_request() {
    let pool = pool();
    for (_, path, method) in all_routes() {
        let input = pool
            .get_service_by_name(method.rsplit_once('.').unwrap().0)
            .unwrap();
        let method = input.methods().find(|m| m.full_name() == method).unwrap();
        for var in path
            .split('{')
            .skip(1)
            .map(|rest| rest.split('}').next().unwrap())
        {
            let mut message = method.input();
            let mut parts = var.split('.').peekable();
            while let Some(part) = parts.next() {
                let field = message.get_field_by_name(part).unwrap_or_else(|| {
                    panic!("{path}: {part} is not a field of {}", message.full_name())
                });
                if parts.peek().is_some() {
                    message = field
                        .kind()
                        .as_message()
                        .cloned()
                        .expect("only messages have sub-fields");
                }
            }
        }
    }
}

#[test]
fn every_context_has_events_for_its_consumers() {
    let pool = pool();
    for event in [
        "crm.iam.events.v1.UserCreated",
        "crm.iam.events.v1.UserRoleChanged",
        "crm.iam.events.v1.TenantCreated",
        "crm.customer.events.v1.CustomerCreated",
        "crm.customer.events.v1.CustomerUpdated",
        "crm.customer.events.v1.CustomerDeleted",
        "crm.customer.events.v1.ContactAdded",
        "crm.customer.events.v1.ContactUpdated",
        "crm.customer.events.v1.ContactRemoved",
        "crm.sales.events.v1.LeadCreated",
        "crm.sales.events.v1.LeadQualified",
        "crm.sales.events.v1.LeadConverted",
        "crm.sales.events.v1.OpportunityStageChanged",
        "crm.sales.events.v1.DealWon",
        "crm.sales.events.v1.DealLost",
        "crm.notification.events.v1.NotificationSent",
        "crm.notification.events.v1.NotificationFailed",
    ] {
        assert!(
            pool.get_message_by_name(event).is_some(),
            "{event} is missing"
        );
    }
}
