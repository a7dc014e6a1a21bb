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
                    && crate::rest::Template::parse(path).map(|t| t.shape()) == Ok(route.shape())
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
    // A batch names 1 to 100 customers, each once, by UUID.
    let batch = &doc["paths"]["/api/v1/customers:batchUpdate"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let ids = if let Some(reference) = batch["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        doc["components"]["schemas"][name]["properties"]["ids"].clone()
    } else {
        batch["properties"]["ids"].clone()
    };
    assert_eq!(
        (&ids["minItems"], &ids["maxItems"], &ids["uniqueItems"]),
        (&json!(1), &json!(100), &json!(true)),
        "{ids}"
    );
    assert_eq!(ids["items"]["format"], "uuid");
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
