//! The console's search box (`EdgeService.Search`, `GET /api/v1/search`): customers, their
//! contacts, leads and opportunities in one ranked answer, each part asked of its service with
//! the caller's token; a part that cannot be asked is named, another tenant's records are never
//! found, and a bad query is refused on its field.

use serde_json::{Value, json};

use crate::rest::{business, call, convert_lead, register};
use crate::support::{TestServer, spawn, spawn_targets};

/// `GET /api/v1/search?query=…` as `token`: the status and the answer.
async fn search(server: &TestServer, token: &str, query: &str) -> (u16, Value) {
    let path = format!("/api/v1/search?query={}", query.replace(' ', "%20"));
    call(server, "GET", &path, Some(token), "").await
}

/// Each result as `KIND title`, best first.
fn found(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|r| {
                    let kind = r["kind"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("SEARCH_RESULT_KIND_");
                    format!("{kind} {}", r["title"].as_str().unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_box_finds_customers_contacts_leads_and_opportunities_best_first() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    let hotel = business(&server, token, "buyer@hotelseri.example").await;
    let (status, contact) = call(
        &server,
        "POST",
        &format!("/api/v1/customers/{hotel}/contacts"),
        Some(token),
        &json!({"contact": {"givenName": "Nur", "familyName": "Aisyah",
            "emails": [{"address": "nur@hotelseri.example"}]}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{contact}");
    let (status, seri) = call(
        &server,
        "POST",
        "/api/v1/customers",
        Some(token),
        &json!({"customer": {"type": "CUSTOMER_TYPE_BUSINESS",
            "business": {"legalName": "Seri Batik Enterprise"}, "email": "hello@seribatik.example"}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{seri}");
    // Converted into the hotel: an opportunity of the hotel's.
    let converted = convert_lead(
        &server,
        token,
        json!({"contactName": "Aisyah binti Omar", "companyName": "Butik Seri",
            "email": "aisyah@butikseri.example", "interest": "sarongs"}),
        &hotel,
    )
    .await;
    let deal = converted["opportunity"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(deal.to_lowercase().contains("seri"), "{converted}");

    let (status, answer) = search(&server, token, "  SERI ").await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("missing").is_none(), "{answer}");
    // A name that starts with the query first; then names with a word that starts with it
    // (customers before opportunities); then what holds it elsewhere: the contact by its email,
    // the lead by its company.
    assert_eq!(
        found(&answer),
        [
            "CUSTOMER Seri Batik Enterprise".to_owned(),
            "CUSTOMER Hotel Seri Malaysia".to_owned(),
            format!("OPPORTUNITY {deal}"),
            "CONTACT Nur Aisyah".to_owned(),
            "LEAD Aisyah binti Omar".to_owned(),
        ]
    );
    let opportunity = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "SEARCH_RESULT_KIND_OPPORTUNITY")
        .unwrap();
    assert_eq!(
        opportunity["customerId"],
        hotel.as_str(),
        "it opens its customer"
    );
    let lead_hit = &answer["results"][4];
    assert_eq!(lead_hit["detail"], "Butik Seri", "{answer}");

    // A contact is found as itself, with the customer it opens; the lead whose name starts
    // with the word comes before the contact whose second word does.
    let (status, answer) = search(&server, token, "aisyah").await;
    assert_eq!(status, 200, "{answer}");
    let kinds = found(&answer);
    assert_eq!(kinds[0], "LEAD Aisyah binti Omar", "{kinds:?}");
    assert_eq!(kinds[1], "CONTACT Nur Aisyah", "{kinds:?}");
    let contact_hit = &answer["results"][1];
    assert_eq!(contact_hit["customerId"], hotel.as_str());
    assert_eq!(contact_hit["detail"], "Hotel Seri Malaysia");
    assert_eq!(contact_hit["id"], contact["contact"]["id"]);

    // At most page_size results, the best.
    let (status, answer) = call(
        &server,
        "GET",
        "/api/v1/search?query=seri&pageSize=1",
        Some(token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(found(&answer), ["CUSTOMER Seri Batik Enterprise"]);

    // More than the most is read as the most, as every list's page size.
    let (status, answer) = call(
        &server,
        "GET",
        "/api/v1/search?query=seri&pageSize=5000",
        Some(token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(found(&answer).len(), 5);

    // Another tenant finds none of it.
    let other = register(&server, "Butik Lain", "ali@lain.example").await;
    let (status, answer) = search(&server, other["accessToken"].as_str().unwrap(), "seri").await;
    assert_eq!(status, 200, "{answer}");
    assert!(found(&answer).is_empty(), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_query_is_refused_on_its_field_and_nobody_searches_unsigned() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    let long = "a".repeat(201);
    for (path, field) in [
        ("/api/v1/search?query=%20".to_owned(), "query"),
        (format!("/api/v1/search?query={long}"), "query"),
        (
            "/api/v1/search?query=seri&pageSize=-1".to_owned(),
            "page_size",
        ),
    ] {
        let (status, error) = call(&server, "GET", &path, Some(token), "").await;
        assert_eq!(status, 400, "{path}: {error}");
        let violations = error["details"].to_string();
        assert!(
            violations.contains(&format!("\"{field}\"")),
            "{path}: {error}"
        );
    }
    let (status, error) = call(&server, "GET", "/api/v1/search?query=seri", None, "").await;
    assert_eq!(status, 401, "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_sales_the_customers_still_come_and_the_rest_is_named() {
    use crm_core::config::Target;
    let server = spawn_targets(&[
        Target::named("iam"),
        Target::named("customer"),
        Target::EDGE,
    ])
    .await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let token = owner["accessToken"].as_str().unwrap();
    business(&server, token, "buyer@hotelseri.example").await;
    let (status, answer) = search(&server, token, "hotel").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(found(&answer), ["CUSTOMER Hotel Seri Malaysia"]);
    let missing = answer["missing"].to_string();
    assert!(
        missing.contains("leads: the sales service neither runs here"),
        "{missing}"
    );
    assert!(
        missing.contains("opportunities: the sales service neither runs here"),
        "{missing}"
    );
}
