//! TLS on the served port, with a self-signed certificate made here (`rcgen`): gRPC over
//! HTTP/2 and REST over HTTP/1.1 on the same port, each agreed by ALPN; a client that does not
//! speak TLS gets nothing.

use crate::support;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use support::authorized;

/// A connector trusting only `cert`, offering `alpn`.
fn connector(cert: &rcgen::Certificate, alpn: &[u8]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(config))
}

async fn tls(
    connector: &TlsConnector,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_and_rest_share_the_tls_port_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, made.cert.pem()).unwrap();
    std::fs::write(&key_file, made.signing_key.serialize_pem()).unwrap();
    let mut config = crm_core::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    config.tls.cert_file = Some(cert_file);
    config.tls.key_file = Some(key_file);
    let app = crm::Application::build(config).await.unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    // gRPC: HTTP/2, agreed by ALPN.
    let h2 = connector(&made.cert, b"h2");
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let h2 = h2.clone();
            async move {
                let stream = tls(&h2, addr).await;
                assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .unwrap();
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    // A lead converted over TLS: sales calls the customer service and IAM inside the process,
    // on its own loopback port (the served one speaks TLS only).
    use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
    use crm_proto::crm::sales::v1::*;
    let token =
        crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient::new(channel.clone())
            .register(crm_proto::crm::iam::v1::RegisterRequest {
                locale: String::new(),
                tenant_name: "Kilang Selamat".into(),
                email: "siti@selamat.example".into(),
                password: "batik canting motif".into(),
                display_name: "Siti".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_token;
    let mut leads = LeadServiceClient::new(channel);
    let lead = leads
        .create_lead(authorized(
            CreateLeadRequest {
                lead: Some(Lead {
                    contact_name: "Aisyah".into(),
                    company_name: "Hotel Seri".into(),
                    email: "aisyah@seri.example".into(),
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
                score: 70,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();
    // The tenant's pipeline is seeded from IAM's event: the first tries may come before it.
    let converted =
        crm_core::testing::eventually("converted once the pipeline is seeded", async || {
            let request = authorized(
                ConvertLeadRequest {
                    id: lead.id.clone(),
                    ..Default::default()
                },
                &token,
            );
            match leads.convert_lead(request).await {
                Ok(done) => Some(done.into_inner()),
                Err(e) if e.code() == tonic::Code::FailedPrecondition => None,
                Err(e) => panic!("conversion over TLS: {e:?}"),
            }
        })
        .await;
    assert!(!converted.customer_id.is_empty());
    assert!(converted.opportunity.is_some());

    // REST: HTTP/1.1 on the same port, agreed by ALPN.
    let stream = tls(&connector(&made.cert, b"http/1.1"), addr).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(
            http::Request::get("/.well-known/jwks.json")
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let jwks: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");

    // Plain HTTP/1.1 to the TLS port: no answer but a closed connection.
    let plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(plain))
        .await
        .unwrap();
    tokio::spawn(connection);
    let refused = sender
        .send_request(
            http::Request::get("/.well-known/jwks.json")
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let _ = stop.send(());
}

#[test]
fn a_certificate_without_its_key_is_refused_at_load() {
    let config = crm_core::Config {
        tls: crm_core::config::TlsConfig {
            cert_file: Some("cert.pem".into()),
            key_file: None,
        },
        ..Default::default()
    };
    let problems = config.validate().unwrap_err().problems;
    assert!(
        problems.iter().any(|p| p.contains("tls.cert_file")),
        "{problems:?}"
    );
}
