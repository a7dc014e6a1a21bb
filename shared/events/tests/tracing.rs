//! Tracing across events, alone in its test binary: a subscriber set for one thread
//! (`set_default`) races with callsites that other tests' threads register at the same time.

use async_trait::async_trait;
use crm_core::config::Config;
use crm_core::storage::Database;
use crm_events::consumer::{Delivery, Handler, Inbox, Tx};
use crm_events::{Causation, Envelope};
use crm_proto::crm::iam::events::v1::UserRoleChanged;

/// A context's store (its event tables), as IAM's migrations make it.
/// A handler runs in the trace of the request that caused its event (the envelope's
/// `traceparent`), so one trace follows a change from the API call into every consumer.
#[tokio::test(flavor = "current_thread")]
async fn a_handler_runs_in_the_trace_of_the_request_that_caused_the_event() {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    struct TraceOf(std::sync::Mutex<Option<String>>);
    #[async_trait]
    impl Handler for TraceOf {
        fn wants(&self, _: &str) -> bool {
            true
        }
        async fn handle(&self, _: &Envelope, _: &mut Tx) -> anyhow::Result<()> {
            let context = tracing::Span::current().context();
            *self.0.lock().unwrap() = Some(context.span().span_context().trace_id().to_string());
            Ok(())
        }
    }

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let db = Database::open(&config, "consumer").await.unwrap();
    db.migrate_shared("consumer", &crm_events::TABLES)
        .await
        .unwrap();
    let handler = TraceOf(Default::default());
    let event = Envelope::new(
        "crm.test",
        "tenant-1",
        "user-1",
        &UserRoleChanged::default(),
        &Causation {
            correlation_id: Some("req-1".into()),
            causation_id: None,
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        },
    );
    let inbox = Inbox::new(db);
    assert_eq!(
        inbox.process("tracer", &handler, &event).await.unwrap(),
        Delivery::Handled
    );
    assert_eq!(
        handler.0.lock().unwrap().as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
}
