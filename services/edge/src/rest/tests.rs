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
