//! Which process a call goes to: one refusing connections or failing its health check leaves
//! the rotation; a call goes again to another only when it never reached the first, reads, or
//! carries a `request_id`; service-to-service clients go around the same way.

use super::*;

/// The edge's upstream of the customer processes at `addresses`.
fn customers(addresses: &str) -> std::sync::Arc<Upstream> {
    Upstream::connect("edge", "customer", "edge.upstreams.customer", addresses).unwrap()
}

#[tokio::test]
async fn a_process_that_refuses_connections_leaves_the_rotation_and_no_call_fails() {
    let (live, served, _) = process().await;
    let upstream = customers(&format!("http://127.0.0.1:{},http://{live}", closed_port()));
    let get = crm_proto::crm::customer::v1::GetCustomerRequest { id: "c-1".into() };
    for i in 0..20 {
        let response = upstream
            .forward(call_of(
                "/crm.customer.v1.CustomerService/GetCustomer",
                &get,
            ))
            .await;
        assert_eq!(status_of(&response), tonic::Code::Ok, "call {i}");
    }
    assert_eq!(
        served.load(Ordering::SeqCst),
        20,
        "every call reached the live process"
    );
    let down = &upstream.pool.replicas()[0];
    assert!(
        down.ejected_until.load(Ordering::SeqCst) > upstream.pool.now_ms(),
        "the refusing process is out of rotation"
    );
    assert_eq!(
        upstream.breaker().watch.state(),
        crate::breaker::BreakerState::Closed,
        "a context with a process that answers keeps its breaker closed"
    );
}

#[tokio::test]
async fn a_call_that_may_have_reached_a_process_goes_again_only_with_a_request_id() {
    use crm_proto::crm::customer::v1::CreateCustomerRequest;
    let (live, served, _) = process().await;
    let dropping = dropping().await;
    let create = |request_id: &str| {
        call_of(
            "/crm.customer.v1.CustomerService/CreateCustomer",
            &CreateCustomerRequest {
                request_id: request_id.into(),
                ..Default::default()
            },
        )
    };
    // A fresh upstream sends its first call to its first process: the one that drops it.
    let upstream = customers(&format!("http://{dropping},http://{live}"));
    let response = upstream.forward(create("")).await;
    assert_eq!(status_of(&response), tonic::Code::Unavailable);
    assert_eq!(
        served.load(Ordering::SeqCst),
        0,
        "a create without request_id is not sent twice"
    );
    let upstream = customers(&format!("http://{dropping},http://{live}"));
    let response = upstream.forward(create("r-1")).await;
    assert_eq!(status_of(&response), tonic::Code::Ok);
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "a create with request_id goes to the next process"
    );
}

#[tokio::test]
async fn a_read_that_may_have_reached_a_process_goes_again() {
    let (live, served, _) = process().await;
    let dropping = dropping().await;
    let upstream = customers(&format!("http://{dropping},http://{live}"));
    // GetCustomer is bound to GET: reading twice changes nothing.
    let get = crm_proto::crm::customer::v1::GetCustomerRequest { id: "c-1".into() };
    let response = upstream
        .forward(call_of(
            "/crm.customer.v1.CustomerService/GetCustomer",
            &get,
        ))
        .await;
    assert_eq!(status_of(&response), tonic::Code::Ok);
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "the read went to the next process"
    );
    assert!(
        held::ROUTES["/crm.customer.v1.CustomerService/GetCustomer"].reads
            && !held::ROUTES["/crm.customer.v1.CustomerService/CreateCustomer"].reads
    );
}

#[tokio::test]
async fn a_process_failing_its_health_check_leaves_the_rotation_until_it_passes() {
    let (one, served_one, serving_one) = process().await;
    let (two, served_two, _) = process().await;
    let upstream = customers(&format!("http://{one},http://{two}"));
    let get = crm_proto::crm::customer::v1::GetCustomerRequest { id: "c-1".into() };
    serving_one.store(false, Ordering::SeqCst);
    assert!(
        upstream.check(Duration::from_secs(1)).await,
        "one still serves"
    );
    for _ in 0..10 {
        let response = upstream
            .forward(call_of(
                "/crm.customer.v1.CustomerService/GetCustomer",
                &get,
            ))
            .await;
        assert_eq!(status_of(&response), tonic::Code::Ok);
    }
    assert_eq!(
        served_one.load(Ordering::SeqCst),
        0,
        "none went to the process not serving"
    );
    assert_eq!(served_two.load(Ordering::SeqCst), 10);
    serving_one.store(true, Ordering::SeqCst);
    assert!(upstream.check(Duration::from_secs(1)).await);
    for _ in 0..10 {
        upstream
            .forward(call_of(
                "/crm.customer.v1.CustomerService/GetCustomer",
                &get,
            ))
            .await;
    }
    assert_eq!(
        served_one.load(Ordering::SeqCst),
        5,
        "back in rotation, it takes its turn"
    );
}

#[tokio::test]
async fn a_services_client_over_balanced_goes_around_processes_that_refuse_or_are_unhealthy() {
    use crm_proto::crm::customer::v1::GetCustomerRequest;
    use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
    let (sick, served_sick, serving_sick) = process().await;
    let (live, served_live, _) = process().await;
    serving_sick.store(false, Ordering::SeqCst);
    let balanced = Balanced::connect(
        "sales",
        "customer",
        "sales.customer_endpoint",
        &format!(
            "http://127.0.0.1:{},http://{sick},http://{live}",
            closed_port()
        ),
    )
    .unwrap();
    // The health checks run on their own: the process not serving leaves the rotation.
    let pool = &balanced.upstream().pool;
    let out = || pool.replicas()[1].ejected_until.load(Ordering::SeqCst) > pool.now_ms();
    for _ in 0..100 {
        if out() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        out(),
        "the health checks took the unhealthy process out of rotation"
    );
    let mut client = CustomerServiceClient::new(balanced.clone());
    for i in 0..12 {
        client
            .get_customer(GetCustomerRequest { id: "c-1".into() })
            .await
            .unwrap_or_else(|status| panic!("call {i}: {status:?}"));
    }
    assert_eq!(
        served_sick.load(Ordering::SeqCst),
        0,
        "none went to the unhealthy process"
    );
    assert_eq!(
        served_live.load(Ordering::SeqCst),
        12,
        "every call reached the live one"
    );

    // Nothing answers at all: the caller's client gets UNAVAILABLE naming its setting.
    let nowhere = Balanced::connect(
        "sales",
        "customer",
        "sales.customer_endpoint",
        &format!("http://127.0.0.1:{}", closed_port()),
    )
    .unwrap();
    let status = CustomerServiceClient::new(nowhere)
        .get_customer(GetCustomerRequest { id: "c-1".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("sales.customer_endpoint")
            && status.message().contains("customer service"),
        "{}",
        status.message()
    );
}
