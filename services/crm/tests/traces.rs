//! One trace across services: `crm serve` exports its spans over OTLP/HTTP to a receiver in
//! this test. A lead conversion's trace holds the ConvertLead call, its database transaction
//! and outbox append, and sales' call to the customer service with that service's own call,
//! transaction and append under it; a new lead's trace holds the notification consumer that
//! handled its LeadCreated (the conversion's own events have no consumer in this process).

use crate::support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use crm_proto::crm::iam::v1::RegisterRequest;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use crm_proto::crm::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::crm::sales::v1::*;
use crm_proto::google::r#type::Money;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use support::authorized;

/// A span as the receiver got it.
#[derive(Clone, Debug)]
struct Span {
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    attributes: HashMap<String, String>,
}

/// An OTLP/HTTP receiver (protobuf on `POST /v1/traces`) keeping every span it is sent.
async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Span>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        let kept = kept.clone();
                        async move {
                            assert_eq!(request.uri().path(), "/v1/traces");
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let export = ExportTraceServiceRequest::decode(body).unwrap();
                            let mut kept = kept.lock().unwrap();
                            for resource in export.resource_spans {
                                for scope in resource.scope_spans {
                                    for span in scope.spans {
                                        let attributes = span
                                            .attributes
                                            .iter()
                                            .map(|kv| {
                                                let value = match kv
                                                    .value
                                                    .as_ref()
                                                    .and_then(|v| v.value.clone())
                                                {
                                                    Some(AnyValue::StringValue(s)) => s,
                                                    Some(other) => format!("{other:?}"),
                                                    None => String::new(),
                                                };
                                                (kv.key.clone(), value)
                                            })
                                            .collect();
                                        kept.push(Span {
                                            name: span.name,
                                            trace_id: span.trace_id,
                                            span_id: span.span_id,
                                            parent: span.parent_span_id,
                                            attributes,
                                        });
                                    }
                                }
                            }
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, spans)
}

fn spans_now(kept: &Arc<Mutex<Vec<Span>>>) -> Vec<Span> {
    kept.lock().unwrap().clone()
}

/// The spans of the trace `trace_id` under `root` (itself included).
fn tree<'a>(spans: &'a [Span], root: &'a Span) -> Vec<&'a Span> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let id = found[i].span_id.clone();
        found.extend(
            spans
                .iter()
                .filter(|s| s.trace_id == root.trace_id && s.parent == id),
        );
        i += 1;
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lead_conversion_is_one_trace_across_sales_the_customer_service_and_their_stores_and_events_join_their_calls_traces()
 {
    let (otlp, kept) = receiver().await;
    let spans = kept.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("KAFKA_BROKERS")
        .env_remove("MONGODB_URL")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}"))
        // Export every 100 ms instead of every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", "0")
        .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(" on ").next().unwrap().to_owned();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let token = AuthServiceClient::new(channel.clone())
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Kilang Jejak".into(),
            email: "owner@jejak.example".into(),
            password: "batik canting motif".into(),
            display_name: "Owner".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    // Sales seeds the tenant's pipeline from IAM's TenantCreated.
    crm_core::testing::eventually("the tenant's pipeline is seeded", || {
        let channel = channel.clone();
        let token = token.clone();
        async move {
            let pipelines = PipelineServiceClient::new(channel)
                .list_pipelines(authorized(ListPipelinesRequest::default(), &token))
                .await
                .ok()?
                .into_inner()
                .pipelines;
            pipelines.iter().any(|p| p.default).then_some(())
        }
    })
    .await;
    let mut leads = LeadServiceClient::new(channel.clone());
    let lead = leads
        .create_lead(authorized(
            CreateLeadRequest {
                lead: Some(Lead {
                    contact_name: "Aisyah binti Omar".into(),
                    company_name: "Hotel Seri Malaysia".into(),
                    email: "aisyah@hotel.example".into(),
                    estimated_value: Some(Money {
                        currency_code: "MYR".into(),
                        units: 25_000,
                        nanos: 0,
                    }),
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
        .qualify_lead(authorized(
            QualifyLeadRequest {
                id: lead.id.clone(),
                qualified: true,
                score: 80,
                reason: "needs them by March".into(),
                etag: String::new(),
            },
            &token,
        ))
        .await
        .unwrap();
    leads
        .convert_lead(authorized(
            ConvertLeadRequest {
                id: lead.id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();

    // Every part of the conversion's trace arrives: its own spans, and the customer service's.
    let method = |s: &Span, name: &str| {
        s.name == "rpc" && s.attributes.get("rpc.method").map(String::as_str) == Some(name)
    };
    let (root, spans) =
        crm_core::testing::eventually("the conversion's trace is exported whole", || {
            let spans = spans.lock().unwrap().clone();
            async move {
                let root = spans
                    .iter()
                    .find(|s| method(s, "/crm.sales.v1.LeadService/ConvertLead"))?;
                let under = tree(&spans, root);
                let whole = under
                    .iter()
                    .any(|s| method(s, "/crm.customer.v1.CustomerService/CreateCustomer"))
                    && under.iter().filter(|s| s.name == "db.transaction").count() >= 2
                    && under.iter().filter(|s| s.name == "outbox.append").count() >= 2;
                whole.then(|| (root.clone(), spans.clone()))
            }
        })
        .await;
    let under = tree(&spans, &root);
    assert!(root.parent.is_empty(), "the call is the root: {root:?}");

    // Sales' call to the customer service, in the same trace, under ConvertLead.
    let create = under
        .iter()
        .find(|s| method(s, "/crm.customer.v1.CustomerService/CreateCustomer"))
        .unwrap_or_else(|| panic!("the customer service's span under ConvertLead: {under:#?}"));
    assert_eq!(create.trace_id, root.trace_id);
    // Each service's database transaction and outbox append, under its own call.
    for call in [&root, *create] {
        let own = tree(&spans, call);
        assert!(
            own.iter().any(|s| s.name == "db.transaction"
                && s.attributes.get("db.system").map(String::as_str) == Some("sqlite")),
            "a database transaction under {}: {own:#?}",
            call.attributes["rpc.method"]
        );
        assert!(
            own.iter().any(|s| s.name == "outbox.append"),
            "an outbox append under {}: {own:#?}",
            call.attributes["rpc.method"]
        );
    }
    // The customer service's own spans are not also under ConvertLead directly: the tree nests.
    let customers_own = tree(&spans, create);
    assert!(customers_own.len() >= 3, "{customers_own:#?}");

    // The events a call causes are handled in its trace: the new lead's LeadCreated, by the
    // notification context's consumer (which tells the sales managers) and the activity
    // context's (the lead's timeline), under CreateLead.
    let handled =
        crm_core::testing::eventually("LeadCreated is handled in CreateLead's trace", || {
            let spans = spans_now(&kept);
            async move {
                let call = spans
                    .iter()
                    .find(|s| method(s, "/crm.sales.v1.LeadService/CreateLead"))?;
                let consumers: std::collections::BTreeSet<String> = tree(&spans, call)
                    .iter()
                    .filter(|s| {
                        s.name == "event"
                            && s.attributes.get("event_type").map(String::as_str)
                                == Some("crm.sales.events.v1.LeadCreated")
                    })
                    .map(|s| s.attributes["consumer"].clone())
                    .collect();
                (consumers.len() == 2).then_some(consumers)
            }
        })
        .await;
    assert_eq!(
        handled,
        ["activity-sales".to_owned(), "notification-sales".to_owned()].into()
    );

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
