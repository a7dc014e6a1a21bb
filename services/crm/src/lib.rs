//! The `crm` launcher: composes the enabled targets onto one tonic server (gRPC, grpc-web,
//! health, reflection v1 and v1alpha) and runs it until told to stop.

pub mod cli;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use crm_core::auth::TokenVerifier;
use crm_core::config::{Config, Target};
use crm_core::grpc::ServiceSet;
use crm_core::layer::RequestContextLayer;
use crm_core::storage::Database;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The standard services every process serves besides its own.
const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// The contexts with a store of their own, by target.
const STORED_CONTEXTS: [Target; 4] = [
    Target::Iam,
    Target::Customer,
    Target::Sales,
    Target::Notification,
];

/// A CRM process, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    config: Config,
    verifier: TokenVerifier,
    databases: Vec<(Target, Database)>,
}

impl Application {
    /// Opens the stores of the enabled targets, loads the token keys and binds the listener
    /// (port 0 picks a free port; see [`Application::local_addr`]).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let verifier = match &config.auth.jwks_file {
            Some(path) => {
                TokenVerifier::from_jwks_file(path, &config.auth.issuer, &config.auth.audience)
                    .with_context(|| "cannot load `auth.jwks_file`")?
            }
            None => {
                tracing::warn!(
                    "no access-token keys configured (auth.jwks_file): protected methods refuse every call"
                );
                TokenVerifier::without_keys(&config.auth.issuer, &config.auth.audience)
            }
        };

        let modules = config.modules();
        if config.database.url.is_none() && modules.iter().any(|m| STORED_CONTEXTS.contains(m)) {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!(
                    "cannot create the data directory {}; choose another with --data-dir",
                    config.data_dir.display()
                )
            })?;
        }
        let mut databases = Vec::new();
        for target in modules
            .iter()
            .copied()
            .filter(|m| STORED_CONTEXTS.contains(m))
        {
            let db = Database::open(&config, target.name()).await?;
            // Embedded mode migrates at startup; with PostgreSQL an operator runs `crm migrate`
            // (a migration Job in the helm chart) so replicas never race on the schema.
            if let (Database::Sqlite(_), Some(migrations)) = (&db, context_migrations(target)) {
                db.migrate(target.name(), migrations).await?;
            }
            databases.push((target, db));
        }

        let listener = TcpListener::bind(config.listen).await.with_context(|| {
            format!(
                "cannot listen on {}; is another process using it? choose another with --listen",
                config.listen
            )
        })?;
        Ok(Application {
            listener,
            config,
            verifier,
            databases,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then stops taking calls, lets in-flight calls finish
    /// (for at most `shutdown_grace_seconds`) and closes the stores.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            config,
            verifier,
            databases,
        } = self;
        let modules = config.modules();

        let mut services = ServiceSet::default();
        for module in &modules {
            match module {
                Target::Iam => crm_iam::register(&mut services),
                Target::Customer => crm_customer::register(&mut services),
                Target::Sales => crm_sales::register(&mut services),
                Target::Notification => crm_notification::register(&mut services),
                Target::Edge | Target::All => {}
            }
        }
        let crm_services: Vec<&'static str> = services.names().to_vec();

        let (health, health_service) = tonic_health::server::health_reporter();
        let (routes, open_access) = services.into_routes();
        let routes = routes
            .add_service(health_service)
            .add_service(
                reflection_builder(&crm_services)
                    .build_v1()
                    .context("building reflection v1")?,
            )
            .add_service(
                reflection_builder(&crm_services)
                    .build_v1alpha()
                    .context("building reflection v1alpha")?,
            );

        let serving = if stores_answer(&databases).await {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in crm_services
            .iter()
            .copied()
            .chain([HEALTH, REFLECTION_V1, REFLECTION_V1ALPHA])
        {
            health.set_service_status(name, serving).await;
        }
        health.set_service_status("", serving).await;

        let cors = modules
            .contains(&Target::Edge)
            .then(|| crm_edge::cors_layer(&config.cors));
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(tower::util::option_layer(cors))
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(RequestContextLayer::new(verifier, open_access))
            .add_routes(routes);

        let addr = listener.local_addr()?;
        let names: Vec<&str> = modules.iter().map(|m| m.name()).collect();
        tracing::info!(%addr, targets = %names.join(","), "serving");
        println!("crm serving {} on {addr}", names.join(", "));

        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(announce_shutdown(shutdown, health.clone(), stop_tx));
        let mut stopped = stop_rx.clone();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let serve = server.serve_with_incoming_shutdown(incoming, async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        let grace = Duration::from_secs(config.shutdown_grace_seconds);
        tokio::select! {
            result = serve => result.context("the server failed")?,
            _ = async { let _ = stop_rx.wait_for(|s| *s).await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "calls still running after the grace period were dropped");
            }
        }
        for (_, db) in &databases {
            db.close().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Waits for `shutdown`, marks the process NOT_SERVING (so balancers stop sending calls) and
/// tells the server to drain.
async fn announce_shutdown(
    shutdown: impl Future<Output = ()>,
    health: HealthReporter,
    stop: tokio::sync::watch::Sender<bool>,
) {
    shutdown.await;
    tracing::info!("shutting down: draining in-flight calls");
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let _ = stop.send(true);
}

async fn stores_answer(databases: &[(Target, Database)]) -> bool {
    let mut all = true;
    for (target, db) in databases {
        if let Err(e) = db.ping().await {
            tracing::error!(target = target.name(), error = %e, "store does not answer");
            all = false;
        }
    }
    all
}

/// Reflection over the CRM contracts, health and reflection itself, listing only the services
/// this process serves.
fn reflection_builder(crm_services: &[&str]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(crm_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
    for name in crm_services
        .iter()
        .copied()
        .chain([HEALTH, REFLECTION_V1, REFLECTION_V1ALPHA])
    {
        builder = builder.with_service_name(name);
    }
    builder
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// `crm migrate`: applies the pending migrations of every enabled context with a store.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    for target in config
        .modules()
        .into_iter()
        .filter(|m| STORED_CONTEXTS.contains(m))
    {
        let db = Database::open(config, target.name()).await?;
        match context_migrations(target) {
            Some(migrations) => {
                db.migrate(target.name(), migrations).await?;
                println!("{}: migrated", target.name());
            }
            None => println!("{}: no migrations yet", target.name()),
        }
        db.close().await;
    }
    Ok(())
}

/// Each context's embedded migrations, once it has tables.
fn context_migrations(target: Target) -> Option<&'static crm_core::storage::Migrations> {
    match target {
        Target::Iam
        | Target::Customer
        | Target::Sales
        | Target::Notification
        | Target::Edge
        | Target::All => None,
    }
}
