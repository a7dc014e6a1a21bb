//! REST/JSON at the edge, as `curl` and browsers call it over HTTP/1.1: routes from the
//! contracts' `google.api.http` annotations, proto3 JSON both ways, the same auth and checks as
//! gRPC, errors as `google.rpc.Status` JSON under Google's HTTP statuses, and the JWKS.

use crate::support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use support::{TestServer, authorized, spawn, spawn_targets, spawn_with};

/// Sends one HTTP/1.1 request; the status and the JSON body.
pub(crate) async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let (status, _, body) = call_raw(server, method, path, token, body).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body:?}"));
    (status, json)
}

async fn call_raw(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, http::HeaderMap, Bytes) {
    let mut sender = support::http1_connection(server.addr).await;
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", server.addr))
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status.as_u16(), parts.headers, bytes)
}

/// `GET path` as the owner of a new tenant: 404, and the error.
pub(crate) async fn not_found_to_another_tenant(server: &TestServer, path: &str) -> Value {
    let other = register(server, "Butik Lain", "ali@lain.example").await;
    let (status, error) = call(server, "GET", path, other["accessToken"].as_str(), "").await;
    assert_eq!(status, 404, "{error}");
    error
}

pub(crate) async fn register(server: &TestServer, tenant: &str, email: &str) -> Value {
    let (status, body) = call(
        server,
        "POST",
        "/api/v1/auth/register",
        None,
        &json!({
            "tenantName": tenant,
            "email": email,
            "password": "batik canting motif",
            "displayName": "Siti Aminah",
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rest_api_speaks_proto3_json_through_the_same_checks_as_grpc() {
    let server = spawn().await;
    // Register: an open route, lowerCamelCase in and out.
    let owner = register(&server, "Kilang Desa Murni Batik", "siti@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(owner["tokenType"], "Bearer");
    assert_eq!(owner["tenant"]["name"], "Kilang Desa Murni Batik");

    // Create (body "*"), then read by id (path field): enums by name, times in RFC 3339.
    let (status, created) = call(
        &server,
        "POST",
        "/api/v1/customers",
        Some(&token),
        &json!({
            "customer": {
                "type": "CUSTOMER_TYPE_INDIVIDUAL",
                "individual": {"givenName": "Aisyah", "familyName": "Omar"},
                "email": "aisyah@hotel.example",
                "phones": [{"e164Number": "+60123456789", "kind": "PHONE_KIND_MOBILE"}],
            },
            "requestId": "0b5c3f4e-rest-create-1",
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let customer = &created["customer"];
    let id = customer["id"].as_str().unwrap();
    assert_eq!(customer["type"], "CUSTOMER_TYPE_INDIVIDUAL");
    // An enum by number, which the OpenAPI document does not allow, is refused, naming it, and
    // stores nothing.
    let (status, refused) = call(
        &server,
        "POST",
        "/api/v1/tasks",
        Some(&token),
        &json!({"task": {"title": "Call back", "dueTime": "2030-01-02T02:00:00Z",
            "recurrence": {"frequency": 0}}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("`task.recurrence.frequency` is 0; write the value's name"),
        "{refused}"
    );
    let created_at = customer["createTime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "{created_at}"
    );
    let (status, fetched) = call(
        &server,
        "GET",
        &format!("/api/v1/customers/{id}"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["customer"]["email"], "aisyah@hotel.example");
    assert_eq!(
        fetched["customer"]["phones"][0]["kind"],
        "PHONE_KIND_MOBILE"
    );

    // Query parameters: snake_case or lowerCamelCase, numbers from strings.
    for query in ["page_size=1", "pageSize=1"] {
        let (status, page) = call(
            &server,
            "GET",
            &format!("/api/v1/customers?{query}"),
            Some(&token),
            "",
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["customers"].as_array().unwrap().len(), 1, "{page}");
    }
    // The literal route wins over `{id}`.
    let (status, found) = call(
        &server,
        "GET",
        "/api/v1/customers/search?query=aisyah",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["customers"][0]["id"], id);

    // The same auth: no token is 401, another tenant's customer 404, as google.rpc.Status.
    let (status, error) = call(&server, "GET", &format!("/api/v1/customers/{id}"), None, "").await;
    assert_eq!(status, 401, "{error}");
    assert_eq!(error["code"], 16);
    let error = not_found_to_another_tenant(&server, &format!("/api/v1/customers/{id}")).await;
    assert_eq!(error["code"], 5);

    // Field violations come back as BadRequest details, under 400.
    let (status, error) = call(
        &server,
        "POST",
        "/api/v1/customers",
        Some(&token),
        &json!({"customer": {"type": "CUSTOMER_TYPE_INDIVIDUAL", "email": "not an email"}})
            .to_string(),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], 3);
    let bad_request = error["details"]
        .as_array()
        .unwrap_or_else(|| panic!("details: {error}"))
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .unwrap_or_else(|| panic!("{error}"));
    assert!(
        bad_request["fieldViolations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["field"].as_str().unwrap().contains("email")),
        "{error}"
    );

    // A second create with the same email: 409.
    let (status, error) = call(
        &server,
        "POST",
        "/api/v1/customers",
        Some(&token),
        &json!({"customer": {"type": "CUSTOMER_TYPE_INDIVIDUAL",
            "individual": {"givenName": "Aisyah"}, "email": "aisyah@hotel.example"}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["code"], 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_400_and_unknown_routes_404_never_500() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    for (method, path, body, status, says) in [
        ("POST", "/api/v1/customers", "{not json", 400, "not JSON"),
        ("POST", "/api/v1/customers", "[1, 2]", 400, "JSON object"),
        (
            "POST",
            "/api/v1/customers",
            r#"{"customer": {"colour": "blue"}}"#,
            400,
            "colour",
        ),
        (
            "POST",
            "/api/v1/customers",
            r#"{"customer": {"type": 42.5}}"#,
            400,
            "type",
        ),
        (
            "GET",
            "/api/v1/customers?page_size=lots",
            "",
            400,
            "whole number",
        ),
        ("GET", "/api/v1/customers?nonsense=1", "", 400, "nonsense"),
        (
            "GET",
            "/api/v1/customers/abc",
            r#"{"x": 1}"#,
            400,
            "takes no body",
        ),
        ("GET", "/api/v1/nothing-here", "", 404, "no REST route"),
        (
            "DELETE",
            "/api/v1/auth/jwks",
            "",
            405,
            "not served with DELETE",
        ),
    ] {
        let (got, headers, raw) = call_raw(&server, method, path, Some(token), body).await;
        let error: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(got, status, "{method} {path} {body}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{method} {path} {body}: {error}"
        );
        assert!(error["code"].as_i64().unwrap() > 0, "{error}");
        // Every answer, the edge's own refusals included, carries a correlation id.
        assert!(
            headers.contains_key("x-correlation-id"),
            "{method} {path}: {headers:?}"
        );
        if got == 405 {
            // RFC 9110 §15.5.6: the methods the resource has.
            assert_eq!(headers["allow"], "GET", "{headers:?}");
        }
    }
    // A caller's correlation id comes back on a 404 of a path no route has, too.
    let mut sender = support::http1_connection(server.addr).await;
    let answer = sender
        .send_request(
            http::Request::get(format!("http://{}/api/v1/nothing-here", server.addr))
                .header("x-correlation-id", "batik-42")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert_eq!(answer.headers()["x-correlation-id"], "batik-42");
    // A bad id is the service's answer, not the edge's: 400 naming the field.
    let (status, error) = call(&server, "GET", "/api/v1/customers/abc", Some(token), "").await;
    assert_eq!(status, 400, "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jwks_is_served_at_the_well_known_path() {
    let server = spawn().await;
    let (status, headers, body) =
        call_raw(&server, "GET", "/.well-known/jwks.json", None, "").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let jwks: Value = serde_json::from_slice(&body).unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert!(!key["kid"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_import_and_export_as_ndjson() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    // One request message a line: the options, then the customers; one bad row.
    let mut lines = vec![json!({"options": {}}).to_string()];
    for (n, email) in ["a@batik.example", "not an email", "c@batik.example"]
        .iter()
        .enumerate()
    {
        lines.push(
            json!({"customer": {"type": "CUSTOMER_TYPE_INDIVIDUAL",
                "individual": {"givenName": format!("Row {n}")}, "email": email}})
            .to_string(),
        );
    }
    let (status, report) = call(
        &server,
        "POST",
        "/api/v1/customers/import",
        Some(token),
        &(lines.join("\n") + "\n"),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["receivedCount"], "3", "int64 as a string: {report}");
    assert_eq!(report["createdCount"], "2", "{report}");
    assert_eq!(report["failedCount"], "1", "{report}");
    assert_eq!(report["errors"][0]["row"], "2", "{report}");

    // A line that is not a request message: 400 naming the line.
    let (status, error) = call(
        &server,
        "POST",
        "/api/v1/customers/import",
        Some(token),
        "{\"options\": {}}\n{\"customer\": 7}\n",
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("line 2"),
        "{error}"
    );

    // Export streams one customer a line.
    let (status, headers, body) =
        call_raw(&server, "GET", "/api/v1/customers/export", Some(token), "").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let exported: Vec<Value> = String::from_utf8(body.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported.len(), 2, "{exported:?}");
    let mut emails: Vec<&str> = exported
        .iter()
        .map(|l| l["customer"]["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(emails, ["a@batik.example", "c@batik.example"]);
    // Without a token the stream never starts: a plain 401.
    let (status, error) = call(&server, "GET", "/api/v1/customers/export", None, "").await;
    assert_eq!(status, 401, "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route() {
    let server = spawn().await;
    let (status, doc) = call(&server, "GET", "/api/v1/openapi.json", None, "").await;
    assert_eq!(status, 200, "served without a token");
    assert_eq!(doc["openapi"], "3.1.0");
    let get = &doc["paths"]["/api/v1/customers/{id}"]["get"];
    assert_eq!(get["operationId"], "CustomerService_GetCustomer");
    assert_eq!(
        doc["paths"]["/api/v1/auth/register"]["post"]["security"],
        json!([]),
        "open methods need no token"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_over_its_quota_is_told_when_to_come_back_over_rest_and_grpc() {
    let server = spawn_with(|config| {
        config.rate_limit.subject_per_minute = 3;
        config.rate_limit.tenant_per_minute = 100;
    })
    .await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    // Three calls a minute: each answer says how many are left.
    for left in [2, 1, 0] {
        let (status, headers, _) =
            call_raw(&server, "GET", "/api/v1/customers", Some(token), "").await;
        assert_eq!(status, 200);
        assert_eq!(headers["ratelimit-limit"], "3");
        assert_eq!(headers["ratelimit-remaining"], left.to_string().as_str());
        let reset: u64 = headers["ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
    }
    // The fourth: 429 with Retry-After and RetryInfo.
    let (status, headers, body) =
        call_raw(&server, "GET", "/api/v1/customers", Some(token), "").await;
    assert_eq!(status, 429);
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=20).contains(&wait),
        "about 20 s for the next call: {wait}"
    );
    assert_eq!(headers["ratelimit-remaining"], "0");
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["code"], 8);
    assert!(
        error["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"),
        "{error}"
    );
    // The same caller over gRPC: RESOURCE_EXHAUSTED, with the same metadata.
    let mut customers =
        crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient::new(
            server.channel.clone(),
        );
    let refused = customers
        .list_customers(authorized(
            crm_proto::crm::customer::v1::ListCustomersRequest::default(),
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert_eq!(refused.metadata().get("ratelimit-limit").unwrap(), "3");
    // Another caller of the tenant has a quota of its own; unauthenticated calls (the JWKS,
    // health) are not counted.
    let other = register(&server, "Butik Lain", "ali@lain.example").await;
    let (status, _, _) = call_raw(
        &server,
        "GET",
        "/api/v1/customers",
        other["accessToken"].as_str(),
        "",
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..5 {
        let (status, headers, _) =
            call_raw(&server, "GET", "/.well-known/jwks.json", None, "").await;
        assert_eq!(status, 200);
        assert!(headers.get("ratelimit-limit").is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_through_rest_with_a_decision_not_a_failure() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    let routes = crm_edge::rest::Routes::from_descriptors(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut answered = 0;
    for route in routes.all() {
        let described = route.describe();
        let (method, template) = described.split_once(' ').unwrap();
        if template == "/api/v1/notifications/watch" {
            continue; // A stream that stays open: tests/notifications.rs watches it.
        }
        // Every path variable an id that exists nowhere; bodies empty.
        let path: String = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    let verb = segment.split_once("}:").map(|(_, v)| format!(":{v}"));
                    format!("{}{}", uuid::Uuid::now_v7(), verb.unwrap_or_default())
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = if method == "GET" || method == "DELETE" {
            ""
        } else {
            "{}"
        };
        let (status, headers, bytes) = call_raw(&server, method, &path, Some(token), body).await;
        assert!(
            [200, 400, 401, 403, 404, 409].contains(&status),
            "{described} ({method} {path}): {status} {bytes:?}"
        );
        let content_type = headers["content-type"].to_str().unwrap();
        assert!(
            content_type == "application/json" || content_type == "application/x-ndjson",
            "{described}: {content_type}"
        );
        if status != 200 {
            let error: Value = serde_json::from_slice(&bytes).unwrap();
            assert!(error["code"].as_i64().unwrap() > 0, "{described}: {error}");
        }
        answered += 1;
    }
    assert!(answered > 80, "{answered} routes");
}

pub(crate) async fn business(server: &TestServer, token: &str, email: &str) -> String {
    let (status, created) = call(
        server,
        "POST",
        "/api/v1/customers",
        Some(token),
        &json!({"customer": {"type": "CUSTOMER_TYPE_BUSINESS",
            "business": {"legalName": "Hotel Seri Malaysia"}, "email": email}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    created["customer"]["id"].as_str().unwrap().to_owned()
}

/// A lead made over REST from `lead`, qualified and converted into the customer `customer_id`
/// (once IAM's event has seeded the tenant's pipeline): ConvertLead's answer.
pub(crate) async fn convert_lead(
    server: &TestServer,
    token: &str,
    lead: Value,
    customer_id: &str,
) -> Value {
    let (status, made) = call(
        server,
        "POST",
        "/api/v1/leads",
        Some(token),
        &json!({ "lead": lead }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let lead_id = made["lead"]["id"].as_str().unwrap();
    let (status, qualified) = call(
        server,
        "POST",
        &format!("/api/v1/leads/{lead_id}/qualify"),
        Some(token),
        &json!({"qualified": true, "score": 80}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{qualified}");
    crm_core::testing::eventually("converted once the pipeline is seeded", async || {
        let (status, answer) = call(
            server,
            "POST",
            &format!("/api/v1/leads/{lead_id}/convert"),
            Some(token),
            &json!({ "existingCustomerId": customer_id }).to_string(),
        )
        .await;
        if status != 200 {
            assert_eq!(status, 400, "{answer}");
        }
        (status == 200).then_some(answer)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_overview_gathers_contacts_opportunities_and_converted_leads() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    let id = business(&server, token, "buyer@hotelseri.example").await;
    let (status, contact) = call(
        &server,
        "POST",
        &format!("/api/v1/customers/{id}/contacts"),
        Some(token),
        &json!({"contact": {"givenName": "Nur", "jobTitle": "Buyer"}}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{contact}");
    // A lead converted into this customer: an open opportunity, and the lead.
    let converted = convert_lead(
        &server,
        token,
        json!({"contactName": "Nur", "companyName": "Hotel Seri",
            "email": "nur@hotelseri.example"}),
        &id,
    )
    .await;
    let lead_id = converted["lead"]["id"].as_str().unwrap();
    assert!(converted.is_object(), "{converted}");

    let (status, overview) = call(
        &server,
        "GET",
        &format!("/api/v1/customers/{id}/overview"),
        Some(token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["customer"]["id"], id.as_str());
    assert_eq!(overview["contacts"][0]["givenName"], "Nur");
    assert_eq!(overview["openOpportunities"].as_array().unwrap().len(), 1);
    assert_eq!(overview["convertedLeads"][0]["id"], lead_id);
    assert!(
        overview.get("missing").is_none(),
        "nothing missing: {overview}"
    );

    // Another tenant's customer is not found through the overview either.
    not_found_to_another_tenant(&server, &format!("/api/v1/customers/{id}/overview")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overview_without_sales_still_answers_naming_what_is_missing() {
    use crm_core::config::Target;
    let server = spawn_targets(&[
        Target::named("iam"),
        Target::named("customer"),
        Target::EDGE,
    ])
    .await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    let id = business(&server, token, "buyer@hotelseri.example").await;
    let (status, overview) = call(
        &server,
        "GET",
        &format!("/api/v1/customers/{id}/overview"),
        Some(token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["customer"]["id"], id.as_str());
    let missing: Vec<&str> = overview["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 3, "{missing:?}");
    assert!(
        missing[0].starts_with("recent_deals: the sales service neither runs here"),
        "{missing:?}"
    );
    assert!(missing.iter().any(|m| m.contains("edge.upstreams.sales")));
}
