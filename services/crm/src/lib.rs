//! The `crm` launcher: composes the enabled targets onto one tonic server (gRPC, grpc-web,
//! health, reflection v1 and v1alpha) and runs it until told to stop. The operator commands
//! (`crm migrate`, `crm events ...`, `crm tenant|user create`, `crm keys rotate`) are in `ops`.

mod backing;
pub mod cli;
pub mod compression;
mod console;
mod contexts;
pub mod customers;
pub mod datadir;
mod edge;
mod exposition;
pub mod health;
mod loopback;
mod ops;
mod reflection;
mod shutdown;
mod tls;
mod watch;

pub use ops::{
    create_tenant, create_user, dlq_list, dlq_redrive, events_status, fetch_jwks, migrate, replay,
    rotate_keys,
};
pub mod metrics;
pub use contexts::Contexts;
pub use shutdown::shutdown_signal;

use backing::{Store, event_bus, open_stores, revocations, stores_answer};
use crm_core::supervise::{Policy, Task, supervise};
use shutdown::{announce_shutdown, run_supervised};
use watch::breaker_health;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::health::Statuses as HealthReporter;
use anyhow::Context as _;
use crm_core::auth::TokenVerifier;
use crm_core::config::{Config, Target};
use crm_core::grpc::{DrainLayer, ServiceSet};
use crm_core::layer::RequestContextLayer;
use crm_core::revocation::Revocations;
use crm_events::bounded::{BoundedContext, Started, Startup};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

/// Every bounded context this binary can run. Adding a context is writing its crate (which
/// exports its `CONTEXT`) and one line here; see `docs/contributing.md`.
pub static CONTEXTS: [&BoundedContext; 5] = [
    &crm_iam::CONTEXT,
    &crm_customer::CONTEXT,
    &crm_sales::CONTEXT,
    &crm_notification::CONTEXT,
    &crm_activity::CONTEXT,
];

/// A CRM process, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    /// With TLS on: this process's own plain port on 127.0.0.1 (one context calling another).
    internal: Option<TcpListener>,
    config: Config,
    verifier: TokenVerifier,
    /// The contexts it runs.
    running: Vec<&'static BoundedContext>,
    /// Every context of the binary (where those it does not run are forwarded).
    contexts: Contexts,
    databases: Vec<Store>,
    started: Vec<Started>,
    bus: crm_events::EventBus,
    revocations: Revocations,
    /// Background work added by whoever embeds the application, run beside the contexts'.
    tasks: Vec<Task>,
    /// When stopped background tasks start again, and when the process gives up.
    supervision: Policy,
    _data_dir: Option<datadir::DataDirLock>,
}

impl Application {
    /// Opens the stores of the enabled targets, loads the token keys and binds the listener
    /// (port 0 picks a free port; see [`Application::local_addr`]).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with(config, Contexts::BUILT_IN).await
    }

    /// As [`Application::build`], with `contexts` instead of the binary's own list (a test that
    /// serves a context of its own).
    pub async fn build_with(mut config: Config, contexts: Contexts) -> anyhow::Result<Application> {
        // Embedded storage: one serving process per data directory.
        let data_dir = if config.database.url.is_none() {
            Some(datadir::DataDirLock::acquire(&config.data_dir)?)
        } else {
            None
        };
        if let Some(unknown) = config
            .edge
            .upstreams
            .keys()
            .find(|key| contexts.named(key).is_none())
        {
            let names = contexts.names();
            anyhow::bail!(
                "edge.upstreams.{unknown}: there is no context `{unknown}`; the contexts are {}",
                names.join(", ")
            );
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!(bind_error(config.listen, &e)))?;
        // With TLS on the served port, this process's own calls (sales to customer and IAM)
        // go to a plain port of its own on 127.0.0.1, serving the same stack.
        let internal = if config.tls.cert_file.is_some() {
            Some(
                TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
                    .await
                    .context("binding this process's loopback port")?,
            )
        } else {
            None
        };
        let own = match &internal {
            Some(internal) => internal.local_addr()?,
            None => listener.local_addr()?,
        };
        let running = contexts.running(&config);
        loopback::wire(&mut config, &running, own)?;
        let databases = open_stores(&config, &running).await?;
        let bus = event_bus(&config, contexts).await?;
        let revocations = revocations(&config).await?;
        let permissions = contexts.permissions();
        // Refusals say what a missing permission allows, in words.
        crm_core::authz::describe(permissions.iter().map(|p| (p.name, p.allows)));
        let notice_topics = contexts.notice_topics();
        let mut started = Vec::new();
        for &context in &running {
            let db = databases
                .iter()
                .find(|(c, _)| c.name == context.name)
                .map(|(_, db)| db);
            let startup = Startup {
                config: &config,
                db,
                revocations: &revocations,
                permissions: &permissions,
                notice_topics: &notice_topics,
            };
            started.push(
                (context.start)(startup)
                    .await
                    .with_context(|| format!("cannot start the {} context", context.name))?,
            );
        }

        let mut verifier = match &config.auth.jwks_file {
            Some(path) => {
                TokenVerifier::from_jwks_file(path, &config.auth.issuer, &config.auth.audience)
                    .with_context(|| "cannot load `auth.jwks_file`")?
            }
            None => TokenVerifier::without_keys(&config.auth.issuer, &config.auth.audience),
        };
        for keys in started.iter().filter_map(|s| s.token_keys.as_ref()) {
            verifier
                .add_jwks(keys)
                .context("loading the keys of the tokens this process signs")?;
        }
        if verifier.key_count() == 0 {
            tracing::warn!(
                "no access-token keys: set auth.jwks_file to IAM's public keys (GetJwks); protected methods refuse every call"
            );
        }

        Ok(Application {
            listener,
            internal,
            config,
            verifier,
            running,
            contexts,
            databases,
            started,
            bus,
            revocations,
            tasks: Vec::new(),
            supervision: Policy::default(),
            _data_dir: data_dir,
        })
    }

    /// Runs `task` beside the contexts' background work, supervised alike: started again
    /// when it stops, and the process taken out when it keeps stopping.
    pub fn with_task(mut self, task: Task) -> Application {
        self.tasks.push(task);
        self
    }

    /// Supervises the background tasks with `policy` instead of the default (1 s doubling to
    /// 30 s between restarts; out after five stops in a row).
    pub fn with_supervision(mut self, policy: Policy) -> Application {
        self.supervision = policy;
        self
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
            internal,
            config,
            verifier,
            running,
            contexts,
            databases,
            started,
            bus,
            revocations,
            tasks: added,
            supervision,
            _data_dir,
        } = self;
        // Every context with an outbox gets its relay; consumers subscribe as contexts need them.
        // The same logs feed /metrics.
        let backing::Events {
            logs,
            mut tasks,
            groups,
        } = backing::events(&bus, &databases, &started)?;
        tasks.extend(added);
        let edge = config.runs(Target::EDGE.name());
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);

        let mut services = ServiceSet::default();
        let mut api_keys = None;
        let mut breakers = Vec::new();
        for mut context in started {
            tasks.append(&mut context.tasks);
            breakers.append(&mut context.breakers);
            api_keys = api_keys.or(context.api_keys);
            (context.register)(&mut services);
        }
        // The edge forwards the calls of every context this process does not run to its
        // upstream (`edge.upstreams.<context>`), and composes its own views from them.
        let edge::Wired {
            remote,
            unconfigured,
        } = if edge {
            // The contexts this process runs are reached on its own port (the loopback one
            // with TLS on).
            let own = match &internal {
                Some(internal) => internal.local_addr()?,
                None => loopback::reachable(listener.local_addr()?),
            };
            edge::wire(
                &config,
                contexts,
                &running,
                own,
                &mut services,
                &mut breakers,
            )?
        } else {
            edge::Wired::default()
        };
        let crm_services: Vec<&'static str> = services.names().to_vec();

        let forwarded: Vec<&'static str> = remote
            .iter()
            .flat_map(|(_, services)| services.iter().copied())
            .chain(unconfigured.iter().copied())
            .collect();
        let health = HealthReporter::default();
        let health_service = health.service();
        let (routes, open_access) = services.into_routes();
        let routes = routes
            .add_service(health_service)
            .add_service(
                reflection::builder(&crm_services)
                    .build_v1()
                    .context("building reflection v1")?,
            )
            .add_service(
                reflection::builder(&crm_services)
                    .build_v1alpha()
                    .context("building reflection v1alpha")?,
            );

        let serving = if stores_answer(&databases).await {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in crm_services.iter().copied().chain(reflection::ALWAYS) {
            health.set_service_status(name, serving).await;
        }
        health.set_service_status("", serving).await;
        // Forwarded services are as healthy as their upstream (checked every 2 s); a context
        // with none configured cannot be served.
        for service in &unconfigured {
            health
                .set_service_status(service, ServingStatus::NotServing)
                .await;
        }
        for (upstream, upstream_services) in remote {
            tasks.push(
                watch::upstream(upstream, upstream_services).task(health.clone(), stop_rx.clone()),
            );
        }
        // Breakers: `breaker:<name>` is NOT_SERVING while open; the process serves regardless.
        for breaker in &breakers {
            health
                .set_service_status(breaker.health_name(), breaker_health(breaker.watch.state()))
                .await;
            tasks.push(watch::breaker(breaker.clone()).task(health.clone(), stop_rx.clone()));
        }

        // Cross-origin calls only from the origins configured (none by default: same origin).
        // Checked when the configuration loaded.
        let proxies = crm_core::client::TrustedProxies::parse(&config.trusted_proxies)
            .map_err(|e| anyhow::anyhow!(e))?;
        let cors = (edge && !config.cors.allowed_origins.is_empty())
            .then(|| crm_edge::cors_layer(&config.cors));
        // REST/JSON from the contracts' `google.api.http` annotations, into the same stack.
        // Quotas per tenant and caller, at the edge: in Redis when it is configured (replicas
        // share them), else in memory.
        let rate_limit = if edge {
            Some(edge::rate_limit(&config).await?)
        } else {
            None
        };
        let rest = if edge {
            let routes = crm_edge::rest::Routes::from_descriptors(crm_proto::FILE_DESCRIPTOR_SET)
                .map_err(|e| anyhow::anyhow!("the REST routes: {e}"))?;
            Some(crm_edge::rest::RestLayer::new(routes, |path| {
                open_access.is_open(path)
            }))
        } else {
            None
        };
        let counted: Vec<&str> = crm_services
            .iter()
            .copied()
            .chain(reflection::ALWAYS)
            .collect();
        let metrics = metrics::Metrics::new(
            &counted,
            groups,
            bus.kafka_connection(),
            databases.clone(),
            logs,
            breakers,
        );
        // Readiness follows the stores: NOT_SERVING while one does not answer.
        let own: Vec<&'static str> = crm_services
            .iter()
            .copied()
            .filter(|s| !forwarded.contains(s))
            .collect();
        tasks.push(
            watch::stores(databases.clone(), bus.kafka_connection(), own, serving)
                .task(health.clone(), stop_rx.clone()),
        );
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            // Outermost: every answer carries the request's correlation id, whoever answers.
            .layer(crm_core::layer::CorrelationIdLayer)
            .layer(tower::util::option_layer(cors))
            // Before grpc-web, which refuses plain HTTP/1.1 requests.
            .layer(metrics::MetricsLayer::new(metrics.clone()))
            // The web console's page and assets, at `/` of a process with the edge.
            .layer(tower::util::option_layer(
                edge.then_some(console::ConsoleLayer),
            ))
            // grpc-web and REST answers gzipped for the clients that accept it (not streams).
            .layer(compression::AnswerCompressionLayer::new(
                crm_proto::FILE_DESCRIPTOR_SET,
            )?)
            // Before grpc-web and auth: a REST call becomes a gRPC call that goes through both.
            .layer(tower::util::option_layer(rest))
            .layer(metrics::GrpcWebMarkLayer)
            .layer(tonic_web::GrpcWebLayer::new())
            // Every call of every protocol, refusals by the auth layer and quotas included.
            .layer(metrics.red_layer())
            .layer({
                let layer =
                    RequestContextLayer::with_revocations(verifier, open_access, revocations)
                        .with_trusted_proxies(proxies);
                match api_keys {
                    Some(keys) => layer.with_api_keys(keys),
                    None => layer,
                }
            })
            // Inside the auth layer, which names the caller whose quota a call counts against.
            .layer(tower::util::option_layer(rate_limit))
            // Innermost: open streams end at once on shutdown instead of holding it up.
            .layer(DrainLayer::new(stop_rx.clone()))
            .add_routes(routes);

        let addr = listener.local_addr()?;
        let tls = match (&config.tls.cert_file, &config.tls.key_file) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
            _ => None,
        };
        if tls.is_some() {
            tracing::info!(%addr, "TLS on the served port (HTTP/2 and HTTP/1.1 by ALPN)");
        }
        let names: Vec<&str> = running
            .iter()
            .map(|c| c.name)
            .chain(edge.then_some(Target::EDGE.name()))
            .collect();
        tracing::info!(%addr, targets = %names.join(","), "serving");
        println!("crm serving {} on {addr}", names.join(", "));

        // A background task that keeps stopping takes the process out as a signal would, so
        // whatever runs it starts a fresh one.
        let gave_up = std::sync::Arc::new(tokio::sync::Notify::new());
        tokio::spawn(announce_shutdown(
            {
                let gave_up = gave_up.clone();
                async move {
                    tokio::select! {
                        () = shutdown => {}
                        () = gave_up.notified() => {}
                    }
                }
            },
            health.clone(),
            stop_tx,
        ));
        let mut stopped = stop_rx.clone();
        // TCP_NODELAY: without it a small response waits for the client's delayed ACK (about
        // 40 ms) whenever a call's frames go out in more than one write.
        let until_stopped = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let serve: std::pin::Pin<
            Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>,
        > = match tls {
            Some(acceptor) => Box::pin(server.serve_with_incoming_shutdown(
                tls::incoming(listener, acceptor, internal.expect("bound with TLS on")),
                until_stopped,
            )),
            None => {
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                Box::pin(server.serve_with_incoming_shutdown(incoming, until_stopped))
            }
        };
        let grace = Duration::from_secs(config.shutdown_grace_seconds);
        let drained = async {
            let _ = stop_rx.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await
        };
        // Relays, consumers, workers and watchers run until the server has drained.
        let supervised = supervise(tasks, supervision);
        let (served, failed) = run_supervised(serve, drained, supervised, &health, &gave_up).await;
        for (_, db) in &databases {
            db.close().await;
        }
        served?;
        if let Some(failed) = failed {
            anyhow::bail!(
                "{failed}; this process stopped so that it is started again (see the log above for why it stopped)"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Why the listener could not be bound, and what to do about it.
fn bind_error(addr: SocketAddr, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: another process is using that port; stop it, or choose another port with --listen"
        ),
        ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr}: permission denied (ports below 1024 need privileges); choose a port from 1024 up with --listen"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "cannot listen on {addr}: that is not an address of this machine; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface) with --listen"
        ),
        _ => format!("cannot listen on {addr}: {e}; choose another address with --listen"),
    }
}
