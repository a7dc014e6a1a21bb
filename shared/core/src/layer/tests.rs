use std::convert::Infallible;

use tower::ServiceExt;

use super::*;
use crate::auth::tests::{claims, sign, test_key, verifier};
use crate::context::{TenantId, UserId};

/// An inner service that answers 200 with the context it saw in an `x-seen` header.
fn echo_context()
-> impl Service<Request<()>, Response = Response<String>, Error = Infallible, Future: Send>
+ Clone
+ Send {
    tower::service_fn(|req: Request<()>| async move {
        let ctx = req.extensions().get::<RequestContext>().cloned();
        let seen = match ctx {
            Some(RequestContext {
                principal: Some(p), ..
            }) => format!("{}/{}", p.tenant_id, p.user_id),
            Some(RequestContext {
                principal: None, ..
            }) => "anonymous".to_owned(),
            None => "no context".to_owned(),
        };
        Ok::<_, Infallible>(
            Response::builder()
                .header("x-seen", seen)
                .body(String::new())
                .unwrap(),
        )
    })
}

fn grpc_status(response: &Response<String>) -> Option<&str> {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
}

async fn call(layer: &RequestContextLayer, request: Request<()>) -> Response<String> {
    layer.layer(echo_context()).oneshot(request).await.unwrap()
}

fn request(path: &str) -> http::request::Builder {
    Request::builder().uri(format!("http://localhost{path}"))
}

#[tokio::test]
async fn a_protected_method_without_a_token_is_unauthenticated() {
    let layer = RequestContextLayer::new(verifier(&[&test_key(1, "k1")]), OpenAccess::standard());
    let response = call(
        &layer,
        request("/crm.customer.v1.CustomerService/ListCustomers")
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(grpc_status(&response), Some("16"));
    assert!(
        response.headers().get("x-seen").is_none(),
        "the inner service must not run"
    );
}

#[tokio::test]
async fn a_valid_token_puts_the_principal_in_the_context() {
    let key = test_key(1, "k1");
    let layer = RequestContextLayer::new(verifier(&[&key]), OpenAccess::standard());
    let (tenant, user) = (TenantId::new(), UserId::new());
    let token = sign(&key, &claims(tenant, user));
    let response = call(
        &layer,
        request("/crm.customer.v1.CustomerService/ListCustomers")
            .header("authorization", format!("Bearer {token}"))
            .header(CORRELATION_ID_HEADER, "req-42")
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(
        response.headers()["x-seen"],
        format!("{tenant}/{user}").as_str()
    );
    assert_eq!(response.headers()[CORRELATION_ID_HEADER], "req-42");
}

/// Keys shaped `key-<n>`; `key-1` is valid, of `tenant`.
struct FakeKeys(TenantId);

impl ApiKeys for FakeKeys {
    fn recognizes(&self, credential: &str) -> bool {
        credential.starts_with("key-")
    }

    fn authenticate(&self, key: String) -> BoxFuture<'_, Result<Principal, Error>> {
        Box::pin(async move {
            if key != "key-1" {
                return Err(Error::unauthenticated("unknown key"));
            }
            Ok(Principal {
                tenant_id: self.0,
                user_id: UserId::new(),
                roles: Vec::new(),
                permissions: Vec::new(),
                team: None,
                token_id: key,
                issued_at: 0,
                expires_at: None,
                api_key_id: Some(uuid::Uuid::now_v7()),
                service: None,
            })
        })
    }
}

#[tokio::test]
async fn api_keys_are_read_from_either_header_and_tokens_still_verify() {
    let key = test_key(1, "k1");
    let tenant = TenantId::new();
    let layer = RequestContextLayer::new(verifier(&[&key]), OpenAccess::standard())
        .with_api_keys(Arc::new(FakeKeys(tenant)));
    let path = "/crm.customer.v1.CustomerService/ListCustomers";
    let seen = |response: &Response<String>| {
        response
            .headers()
            .get("x-seen")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for (header, value) in [("authorization", "Bearer key-1"), (API_KEY_HEADER, "key-1")] {
        let response = call(
            &layer,
            request(path).header(header, value).body(()).unwrap(),
        )
        .await;
        assert!(
            seen(&response).unwrap().starts_with(&tenant.to_string()),
            "{header}"
        );
    }
    // An unknown key is refused before the call runs.
    let response = call(
        &layer,
        request(path)
            .header(API_KEY_HEADER, "key-2")
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(grpc_status(&response), Some("16"));
    assert!(seen(&response).is_none(), "the inner service must not run");
    // Another tenant named beside the key is refused.
    let response = call(
        &layer,
        request(path)
            .header(API_KEY_HEADER, "key-1")
            .header(TENANT_ID_HEADER, TenantId::new().to_string())
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(grpc_status(&response), Some("7"));
    // A token is still a token.
    let (other, user) = (TenantId::new(), UserId::new());
    let token = sign(&key, &claims(other, user));
    let response = call(
        &layer,
        request(path)
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(seen(&response).unwrap(), format!("{other}/{user}"));
}

#[test]
fn services_call_only_what_a_context_lets_them_and_people_never_internal_methods() {
    let mut open = OpenAccess::standard();
    open.service_method("/crm.customer.v1.CustomerService/CreateCustomer");
    open.internal_method("/crm.iam.v1.DirectoryService/LookupUsers");
    let person = Principal {
        tenant_id: TenantId::new(),
        user_id: UserId::new(),
        roles: Vec::new(),
        permissions: Vec::new(),
        team: None,
        token_id: String::new(),
        issued_at: 0,
        expires_at: None,
        api_key_id: None,
        service: None,
    };
    let service = Principal {
        service: Some("sales".into()),
        ..person.clone()
    };
    let key = Principal {
        api_key_id: Some(uuid::Uuid::now_v7()),
        ..person.clone()
    };
    let reason = |r: Result<(), Error>| r.unwrap_err().reason();
    let shared = "/crm.customer.v1.CustomerService/CreateCustomer";
    let internal = "/crm.iam.v1.DirectoryService/LookupUsers";
    let people_only = "/crm.iam.v1.UserService/ListSessions";
    assert!(open.admits(shared, &service).is_ok());
    assert!(open.admits(shared, &person).is_ok());
    assert!(open.admits(internal, &service).is_ok());
    assert_eq!(
        reason(open.admits(internal, &person)),
        Some("INTERNAL_ONLY")
    );
    assert_eq!(reason(open.admits(internal, &key)), Some("INTERNAL_ONLY"));
    assert_eq!(
        reason(open.admits(people_only, &service)),
        Some("USER_ONLY")
    );
    assert!(open.admits(people_only, &key).is_ok());
}

#[tokio::test]
async fn a_tenant_header_other_than_the_tokens_is_refused() {
    let key = test_key(1, "k1");
    let layer = RequestContextLayer::new(verifier(&[&key]), OpenAccess::standard());
    let token = sign(&key, &claims(TenantId::new(), UserId::new()));
    let response = call(
        &layer,
        request("/crm.sales.v1.LeadService/ListLeads")
            .header("authorization", format!("Bearer {token}"))
            .header(TENANT_ID_HEADER, TenantId::new().to_string())
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(grpc_status(&response), Some("7"));
}

#[tokio::test]
async fn open_methods_and_health_pass_without_a_token_and_get_a_correlation_id() {
    let mut open = OpenAccess::standard();
    open.open_method("/crm.iam.v1.AuthService/Login");
    let layer = RequestContextLayer::new(TokenVerifier::without_keys("i", "a"), open);
    for path in [
        "/crm.iam.v1.AuthService/Login",
        "/grpc.health.v1.Health/Check",
    ] {
        let response = call(&layer, request(path).body(()).unwrap()).await;
        assert_eq!(response.headers()["x-seen"], "anonymous", "{path}");
        let id = response.headers()[CORRELATION_ID_HEADER].to_str().unwrap();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{path}: generated id {id}"
        );
    }
    let response = call(
        &layer,
        request("/crm.iam.v1.AuthService/Logout").body(()).unwrap(),
    )
    .await;
    assert_eq!(grpc_status(&response), Some("16"), "Logout stays protected");
}

#[tokio::test]
async fn a_garbage_token_is_unauthenticated_and_the_reason_is_sent() {
    let layer = RequestContextLayer::new(verifier(&[&test_key(1, "k1")]), OpenAccess::standard());
    let response = call(
        &layer,
        request("/crm.sales.v1.DealService/ListDeals")
            .header("authorization", "Bearer not.a.jwt")
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(grpc_status(&response), Some("16"));
    let message = response.headers()["grpc-message"].to_str().unwrap();
    assert!(message.contains("malformed"), "{message}");
}
