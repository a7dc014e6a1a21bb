//! Events leave the CRM as other systems see them: registering a user in IAM puts a
//! `UserCreated` record on `crm.iam.events.v1` that a stock Kafka client (confluent-kafka, through
//! `tests/fixtures/read_topic.py`) reads with its CloudEvents headers. Needs `KAFKA_BROKERS`
//! (ignored without `--include-ignored`). In microservices mode, sales in a process of its own
//! seeds a new tenant's pipeline from IAM's `TenantCreated`, which reaches it only through Kafka;
//! and with IAM, customer and sales in three processes, a lead converted (sales calling the
//! customer process over the network, as itself) and won puts `DealWon` on Kafka. Built with the
//! `kafka` feature only.

use crate::support;

use crm_core::testing::eventually;
use crm_proto::crm::iam::v1::RegisterRequest;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs KAFKA_BROKERS (Kafka) and python3 with confluent-kafka: run with --include-ignored"]
async fn a_registered_user_reaches_kafka_readable_by_a_stock_client() {
    let brokers = crm_core::testing::backend("KAFKA_BROKERS");
    let configured = brokers.clone();
    let server = support::spawn_with(move |config| config.kafka.brokers = Some(configured)).await;
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let email = format!("{}@kilang.example", uuid::Uuid::now_v7().simple());
    let registered = auth
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Kilang Kafka".into(),
            email: email.clone(),
            password: "batik canting motif".into(),
            display_name: "Siti".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let user_id = registered.user.unwrap().id;

    // The reader reads the topic from the start; the relay publishes within a poll interval,
    // so read until our record shows up.
    let what = format!("a UserCreated record for {user_id} on crm.iam.events.v1");
    let record = eventually(&what, async || {
        topic_records(&brokers, "crm.iam.events.v1")
            .await
            .into_iter()
            .find(|record| record["key"] == user_id.as_str())
    })
    .await;
    let header = |name: &str| record["headers"][name].as_str().map(str::to_owned);
    assert_eq!(
        header("ce_type").as_deref(),
        Some("crm.iam.events.v1.UserCreated")
    );
    assert_eq!(header("ce_source").as_deref(), Some("crm.iam"));
    assert_eq!(header("ce_specversion").as_deref(), Some("1.0"));
    assert_eq!(header("ce_subject").as_deref(), Some(user_id.as_str()));
    assert!(
        header("ce_id").is_some() && header("ce_time").is_some() && header("ce_tenant").is_some()
    );
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/protobuf")
    );
}

/// Every record of `topic` from its start, as `tests/fixtures/read_topic.py` prints them (the
/// reader a process of its own, awaited without holding up the test's runtime).
async fn topic_records(brokers: &str, topic: &str) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/read_topic.py");
    let output = Command::new("python3")
        .args([script, brokers, topic])
        .output()
        .await
        .expect("python3 runs (pip install confluent-kafka)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs KAFKA_BROKERS (Kafka): run with --include-ignored"]
async fn sales_in_a_process_of_its_own_seeds_a_new_tenants_pipeline_from_kafka() {
    use crm_core::config::Target;
    use crm_proto::crm::sales::v1::ListPipelinesRequest;
    use crm_proto::crm::sales::v1::pipeline_service_client::PipelineServiceClient;

    let brokers = crm_core::testing::backend("KAFKA_BROKERS");
    let for_iam = brokers.clone();
    let iam = support::spawn_with(move |config| {
        config.kafka.brokers = Some(for_iam);
        config.target = vec![Target::named("iam")];
    })
    .await;
    let sales = support::spawn_with(move |config| {
        config.kafka.brokers = Some(brokers);
        config.target = vec![Target::named("sales")];
    })
    .await;
    let registered = AuthServiceClient::new(iam.channel.clone())
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Kilang Kafka".into(),
            email: format!("{}@kilang.example", uuid::Uuid::now_v7().simple()),
            password: "batik canting motif".into(),
            display_name: "Siti".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let tenant = crm_core::TenantId::parse(&registered.tenant.unwrap().id).unwrap();
    let owner = crm_core::UserId::parse(&registered.user.unwrap().id).unwrap();
    // The sales process verifies the test key's tokens; IAM's `TenantCreated` reaches it only
    // through Kafka.
    let token = sales.token_claiming(tenant, owner, &["owner"], &["pipelines.read"]);
    let pipeline = crm_core::testing::eventually("sales seeds the pipeline from Kafka", || {
        let channel = sales.channel.clone();
        let token = token.clone();
        async move {
            PipelineServiceClient::new(channel)
                .list_pipelines(support::authorized(ListPipelinesRequest::default(), &token))
                .await
                .ok()?
                .into_inner()
                .pipelines
                .into_iter()
                .find(|p| p.default)
        }
    })
    .await;
    assert_eq!(pipeline.name, "Jualan", "in the workspace's language");
    assert_eq!(pipeline.tenant_id, tenant.to_string());

    // The sales process's /metrics shows its Kafka consumer's lag, from the brokers' offsets
    // and the positions in its store: caught up once it has handled what IAM published.
    let lag = crm_core::testing::eventually("sales' Kafka lag is on /metrics", || {
        let addr = sales.addr;
        async move {
            let text = support::scrape(addr).await;
            text.lines()
                .find(|l| {
                    l.starts_with("crm_consumer_lag{") && l.contains("topic=\"crm.iam.events.v1\"")
                })
                .map(str::to_owned)
        }
    })
    .await;
    assert!(lag.contains("consumer=\"sales"), "{lag}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs KAFKA_BROKERS (Kafka) and python3 with confluent-kafka: run with --include-ignored"]
async fn a_lead_converted_and_won_across_three_processes_puts_deal_won_on_kafka() {
    use crm_core::config::{Secret, Target};
    use crm_iam::config::IamConfig;
    use crm_iam::domain::service_account::{hash_secret, new_secret};
    use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
    use crm_proto::crm::sales::v1::opportunity_service_client::OpportunityServiceClient;
    use crm_proto::crm::sales::v1::*;
    use crm_sales::config::SalesConfig;

    let brokers = crm_core::testing::backend("KAFKA_BROKERS");
    let secret = new_secret().unwrap();
    let (for_iam, for_customer, for_sales) = (brokers.clone(), brokers.clone(), brokers.clone());
    let hash = hash_secret(&secret);
    let iam = support::spawn_with(move |config| {
        config.kafka.brokers = Some(for_iam);
        config.target = vec![Target::named("iam")];
        let mut iam = IamConfig::of(config).unwrap();
        iam.service_accounts.insert("sales".into(), hash);
        iam.set(config);
    })
    .await;
    // The customer and sales processes verify IAM's tokens with its public keys.
    let jwks = iam.data_dir.join("iam-jwks.json");
    let keys = AuthServiceClient::new(iam.channel.clone())
        .get_jwks(crm_proto::crm::iam::v1::GetJwksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .keys;
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            serde_json::json!({"kty": k.kty, "crv": k.crv, "x": k.x, "kid": k.kid, "alg": k.alg, "use": k.r#use})
        })
        .collect();
    std::fs::write(&jwks, serde_json::json!({ "keys": keys }).to_string()).unwrap();
    let customer_jwks = jwks.clone();
    let customer = support::spawn_with(move |config| {
        config.kafka.brokers = Some(for_customer);
        config.target = vec![Target::named("customer")];
        config.auth.jwks_file = Some(customer_jwks);
    })
    .await;
    let (iam_url, customer_url) = (
        format!("http://{}", iam.addr),
        format!("http://{}", customer.addr),
    );
    let sales = support::spawn_with(move |config| {
        config.kafka.brokers = Some(for_sales);
        config.target = vec![Target::named("sales")];
        config.auth.jwks_file = Some(jwks);
        SalesConfig {
            customer_endpoint: Some(customer_url),
            iam_endpoint: Some(iam_url),
            service_secret: Some(Secret::new(secret)),
            ..SalesConfig::default()
        }
        .set(config);
    })
    .await;

    let registered = AuthServiceClient::new(iam.channel.clone())
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Kilang Kafka".into(),
            email: format!("{}@kilang.example", uuid::Uuid::now_v7().simple()),
            password: "batik canting motif".into(),
            display_name: "Siti".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = registered.access_token.clone();
    // The default pipeline arrives through Kafka.
    crm_core::testing::eventually("sales seeds the pipeline from Kafka", || {
        let channel = sales.channel.clone();
        let token = token.clone();
        async move {
            crm_proto::crm::sales::v1::pipeline_service_client::PipelineServiceClient::new(channel)
                .list_pipelines(support::authorized(ListPipelinesRequest::default(), &token))
                .await
                .ok()?
                .into_inner()
                .pipelines
                .into_iter()
                .find(|p| p.default)
        }
    })
    .await;
    let mut leads = LeadServiceClient::new(sales.channel.clone());
    let lead = leads
        .create_lead(support::authorized(
            CreateLeadRequest {
                lead: Some(Lead {
                    contact_name: "Aisyah".into(),
                    company_name: "Hotel Seri Malaysia".into(),
                    email: "aisyah@hotel.example".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    leads
        .qualify_lead(support::authorized(
            QualifyLeadRequest {
                id: lead.id.clone(),
                qualified: true,
                score: 90,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();
    // Sales makes the customer in the customer process, over the network, as itself.
    let converted = leads
        .convert_lead(support::authorized(
            ConvertLeadRequest {
                id: lead.id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(converted.customer_created);
    let o = converted.opportunity.unwrap();
    let won = OpportunityServiceClient::new(sales.channel.clone())
        .win_opportunity(support::authorized(
            WinOpportunityRequest {
                id: o.id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let deal_id = won.deal.unwrap().id;

    let what = format!("a DealWon for {} on crm.sales.events.v1", o.id);
    let record = eventually(&what, async || {
        topic_records(&brokers, "crm.sales.events.v1")
            .await
            .into_iter()
            .find(|r| {
                r["key"] == o.id.as_str()
                    && r["headers"]["ce_type"] == "crm.sales.events.v1.DealWon"
            })
    })
    .await;
    assert_eq!(record["headers"]["ce_source"], "crm.sales");
    assert_eq!(record["headers"]["ce_subject"], o.id.as_str());
    assert!(!deal_id.is_empty());
}
