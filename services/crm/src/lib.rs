//! The `crm` launcher: composes the enabled targets onto one tonic server (gRPC, grpc-web,
//! health, reflection v1 and v1alpha) and runs it until told to stop.

pub mod cli;
pub mod datadir;
pub mod metrics;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use crm_core::auth::TokenVerifier;
use crm_core::config::{Config, Target};
use crm_core::grpc::{DrainLayer, ServiceSet};
use crm_core::layer::RequestContextLayer;
use crm_core::revocation::Revocations;
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
    iam: Option<crm_iam::application::Iam>,
    bus: crm_events::EventBus,
    revocations: Revocations,
    _data_dir: Option<datadir::DataDirLock>,
}

impl Application {
    /// Opens the stores of the enabled targets, loads the token keys and binds the listener
    /// (port 0 picks a free port; see [`Application::local_addr`]).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        // Embedded storage: one serving process per data directory.
        let data_dir = if config.database.url.is_none() {
            Some(datadir::DataDirLock::acquire(&config.data_dir)?)
        } else {
            None
        };
        let databases = open_stores(&config).await?;
        let bus = event_bus(&config).await?;
        let revocations = revocations(&config).await?;
        let iam = match databases.iter().find(|(t, _)| *t == Target::Iam) {
            Some((_, db)) => Some(crm_iam::build(&config, db, revocations.clone()).await?),
            None => None,
        };

        let mut verifier = match &config.auth.jwks_file {
            Some(path) => {
                TokenVerifier::from_jwks_file(path, &config.auth.issuer, &config.auth.audience)
                    .with_context(|| "cannot load `auth.jwks_file`")?
            }
            None => TokenVerifier::without_keys(&config.auth.issuer, &config.auth.audience),
        };
        if let Some(iam) = &iam {
            verifier
                .add_jwks(&iam.keys().jwks())
                .context("loading IAM's own keys")?;
        }
        if verifier.key_count() == 0 {
            tracing::warn!(
                "no access-token keys: set auth.jwks_file to IAM's public keys (GetJwks); protected methods refuse every call"
            );
        }

        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!(bind_error(config.listen, &e)))?;
        Ok(Application {
            listener,
            config,
            verifier,
            databases,
            iam,
            bus,
            revocations,
            _data_dir: data_dir,
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
            iam,
            bus,
            revocations,
            _data_dir,
        } = self;
        // Every context with an outbox gets its relay; consumers subscribe as contexts need them.
        let relays: Vec<_> = outboxes(&config, &databases)
            .into_iter()
            .map(|log| bus.start_relay(log))
            .collect();
        let modules = config.modules();

        let mut services = ServiceSet::default();
        for module in &modules {
            match module {
                Target::Iam => crm_iam::register(
                    &mut services,
                    iam.clone().expect("IAM is built when its target runs"),
                ),
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
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(tower::util::option_layer(cors))
            // Before grpc-web, which refuses plain HTTP/1.1 requests.
            .layer(metrics::MetricsLayer::new(metrics::Metrics::new(outboxes(
                &config, &databases,
            ))))
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(RequestContextLayer::with_revocations(
                verifier,
                open_access,
                revocations,
            ))
            // Innermost: open streams end at once on shutdown instead of holding it up.
            .layer(DrainLayer::new(stop_rx.clone()))
            .add_routes(routes);

        let addr = listener.local_addr()?;
        let names: Vec<&str> = modules.iter().map(|m| m.name()).collect();
        tracing::info!(%addr, targets = %names.join(","), "serving");
        println!("crm serving {} on {addr}", names.join(", "));

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
        for relay in relays {
            relay.abort();
        }
        for (_, db) in &databases {
            db.close().await;
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

/// Where access-token revocations are marked and checked: Redis when `redis.url` is set (every
/// process of a deployment sees IAM's marks at once), else this process's memory.
async fn revocations(config: &Config) -> anyhow::Result<Revocations> {
    match &config.redis.url {
        Some(url) => Revocations::redis(url.expose(), "crm:auth:")
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {} (redis.url / REDIS_URL) for token revocations",
                    url.redacted()
                )
            }),
        None => Ok(Revocations::memory()),
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

/// The event transport: Kafka when `kafka.brokers` is set (topics created if missing), else the
/// embedded bus.
async fn event_bus(config: &Config) -> anyhow::Result<crm_events::EventBus> {
    let settings = crm_events::BusSettings {
        poll: Duration::from_millis(config.events.poll_millis),
        retention: Duration::from_secs(config.events.retention_hours * 3600),
    };
    match &config.kafka.brokers {
        Some(brokers) => crm_events::EventBus::kafka(
            brokers,
            config.kafka.partitions,
            config.kafka.replication_factor,
            settings,
        )
        .await
        .context("cannot start the Kafka transport (kafka.brokers / KAFKA_BROKERS)"),
        None => {
            if config.database.url.is_some() {
                // The embedded bus reads outboxes by position, which is commit order only with
                // SQLite's single writer; concurrent PostgreSQL commits can land out of order.
                tracing::warn!(
                    "PostgreSQL without Kafka: set kafka.brokers (KAFKA_BROKERS); the embedded bus is meant for SQLite"
                );
            }
            Ok(crm_events::EventBus::embedded(settings))
        }
    }
}

/// The topic each context publishes on.
fn context_topic(target: Target) -> Option<&'static str> {
    match target {
        Target::Iam => Some("crm.iam.events.v1"),
        Target::Customer => Some("crm.customer.events.v1"),
        Target::Sales => Some("crm.sales.events.v1"),
        Target::Notification => Some("crm.notification.events.v1"),
        Target::Edge | Target::All => None,
    }
}

/// The outbox of every open store that has one (a context with migrations).
fn outboxes(config: &Config, databases: &[(Target, Database)]) -> Vec<crm_events::OutboxLog> {
    databases
        .iter()
        .filter(|(t, _)| context_migrations(*t).is_some())
        .filter_map(|(t, db)| {
            context_topic(*t).map(|topic| {
                crm_events::OutboxLog::new(db.clone(), &config.database.app_role, topic)
            })
        })
        .collect()
}

/// `crm events status`: each outbox's backlog and each consumer's dead letters.
pub async fn events_status(config: &Config) -> anyhow::Result<()> {
    let databases = open_stores(config).await?;
    for log in outboxes(config, &databases) {
        let backlog = log.backlog().await?;
        let age = backlog
            .oldest
            .map(|t| {
                format!(
                    "{:.1} s",
                    (chrono::Utc::now().timestamp_millis() - t) as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<28} unpublished {:>6}   oldest unpublished {age}",
            log.topic(),
            backlog.pending
        );
        if config.kafka.brokers.is_none() {
            for lag in log.consumer_lag().await? {
                println!(
                    "  consumer {:<19} behind {:>6}   (handled up to position {})",
                    lag.consumer, lag.behind, lag.position
                );
            }
        }
    }
    if let Some(brokers) = &config.kafka.brokers {
        // Kafka consumers keep their positions in their own stores.
        let kafka = crm_events::kafka::Kafka::new(brokers)?;
        for topic in crm_events::TOPICS {
            for (_, db) in databases
                .iter()
                .filter(|(t, _)| context_migrations(*t).is_some())
            {
                let inbox = crm_events::Inbox::new(db.clone(), &config.database.app_role);
                for group in inbox.groups_on(topic).await? {
                    let next = inbox.offsets(&group, topic).await?;
                    println!(
                        "{topic:<28} consumer {group:<19} behind {:>6}",
                        kafka.lag(topic, &next)?
                    );
                }
            }
        }
    }
    for (target, db) in &databases {
        if context_migrations(*target).is_none() {
            continue;
        }
        let inbox = crm_events::Inbox::new(db.clone(), &config.database.app_role);
        let letters = inbox.dead_letters(None).await?;
        let waiting = letters.iter().filter(|l| l.redriven_at.is_none()).count();
        println!(
            "{:<28} dead letters {:>5}   (not redriven {waiting})",
            target.name(),
            letters.len()
        );
    }
    Ok(())
}

/// `crm events dlq list`.
pub async fn dlq_list(config: &Config, group: Option<&str>) -> anyhow::Result<()> {
    let databases = open_stores(config).await?;
    let mut any = false;
    for (target, db) in databases
        .iter()
        .filter(|(t, _)| context_migrations(*t).is_some())
    {
        let inbox = crm_events::Inbox::new(db.clone(), &config.database.app_role);
        for l in inbox.dead_letters(group).await? {
            any = true;
            let state = if l.redriven_at.is_some() {
                "redriven"
            } else if l.redrive_requested_at.is_some() {
                "redrive asked"
            } else {
                "parked"
            };
            println!(
                "{} {} consumer={} event={} type={} subject={} attempts={} [{state}] error: {}",
                target.name(),
                l.id,
                l.consumer,
                l.envelope.id,
                l.envelope.event_type,
                l.envelope.subject,
                l.attempts,
                l.error
            );
        }
    }
    if !any {
        println!("no dead letters");
    }
    Ok(())
}

/// `crm events dlq redrive`: asks the running consumers to deliver their parked events again.
pub async fn dlq_redrive(config: &Config, group: Option<&str>) -> anyhow::Result<()> {
    let databases = open_stores(config).await?;
    let mut total = 0;
    for (_, db) in databases
        .iter()
        .filter(|(t, _)| context_migrations(*t).is_some())
    {
        total += crm_events::Inbox::new(db.clone(), &config.database.app_role)
            .request_redrive(group)
            .await?;
    }
    println!(
        "asked to redrive {total} parked event(s); running consumers deliver them on their next round"
    );
    Ok(())
}

/// `crm events replay`: moves a consumer group back to a time or offset on its topics.
pub async fn replay(
    config: &Config,
    group: &str,
    topics: &[String],
    from: crm_events::kafka::ReplayFrom,
    create: bool,
) -> anyhow::Result<()> {
    use crm_events::kafka::ReplayFrom;
    let topics: Vec<String> = if topics.is_empty() {
        crm_events::TOPICS.iter().map(|t| t.to_string()).collect()
    } else {
        topics.to_vec()
    };
    let known = known_groups(config, &topics).await?;
    if !known.iter().any(|g| g == group) {
        let listed = if known.is_empty() {
            "none has a position yet".to_owned()
        } else {
            format!("known groups: {}", known.join(", "))
        };
        match (&config.kafka.brokers, create) {
            (None, true) => {}
            (Some(_), true) => anyhow::bail!(
                "consumer group {group:?} has no stored positions on {}; on Kafka a new group starts at the beginning of each topic by itself, so there is nothing to replay",
                topics.join(", ")
            ),
            (_, false) => anyhow::bail!(
                "no consumer group {group:?} on {} ({listed}; `crm events status` shows them). Check the name, or pass --create to start a new group at that position",
                topics.join(", ")
            ),
        }
    }
    match &config.kafka.brokers {
        Some(brokers) => {
            // Kafka consumers keep their positions in their own store: move them there.
            let kafka = crm_events::kafka::Kafka::new(brokers)?;
            let databases = open_stores(config).await?;
            for topic in &topics {
                let offsets = kafka.offsets_at(group, topic, from).await?;
                let mut moved = false;
                for (_, db) in databases
                    .iter()
                    .filter(|(t, _)| context_migrations(*t).is_some())
                {
                    moved |= crm_events::Inbox::new(db.clone(), &config.database.app_role)
                        .set_offsets(group, topic, &offsets)
                        .await?;
                }
                if moved {
                    println!("{group}: {topic} moves to {offsets:?}");
                }
            }
        }
        None => {
            let databases = open_stores(config).await?;
            for log in outboxes(config, &databases)
                .into_iter()
                .filter(|l| topics.iter().any(|t| t == l.topic()))
            {
                let seq = match from {
                    ReplayFrom::Offset(seq) => seq,
                    ReplayFrom::Time(ms) => log.seq_before(ms).await?,
                };
                log.set_cursor(group, seq).await?;
                println!("{group}: {} moves to after position {seq}", log.topic());
            }
        }
    }
    println!(
        "events already processed by {group} are skipped by their processed record; clear it to re-apply them"
    );
    Ok(())
}

/// The consumer groups with a position on any of `topics`: cursors in the outboxes (embedded
/// bus), or stored Kafka positions in the contexts' stores.
async fn known_groups(config: &Config, topics: &[String]) -> anyhow::Result<Vec<String>> {
    let databases = open_stores(config).await?;
    let mut groups = std::collections::BTreeSet::new();
    if config.kafka.brokers.is_some() {
        for (_, db) in databases
            .iter()
            .filter(|(t, _)| context_migrations(*t).is_some())
        {
            let inbox = crm_events::Inbox::new(db.clone(), &config.database.app_role);
            for topic in topics {
                groups.extend(inbox.groups_on(topic).await?);
            }
        }
    } else {
        for log in outboxes(config, &databases)
            .into_iter()
            .filter(|l| topics.iter().any(|t| t == l.topic()))
        {
            groups.extend(log.consumer_lag().await?.into_iter().map(|l| l.consumer));
        }
    }
    Ok(groups.into_iter().collect())
}

/// Opens the store of every enabled context: embedded SQLite is migrated here; PostgreSQL must
/// already be (by `crm migrate`), so replicas never race on the schema.
async fn open_stores(config: &Config) -> anyhow::Result<Vec<(Target, Database)>> {
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
    for target in modules.into_iter().filter(|m| STORED_CONTEXTS.contains(m)) {
        let db = Database::open(config, target.name()).await?;
        if let Some(migrations) = context_migrations(target) {
            match &db {
                Database::Sqlite(_) => db.migrate(target.name(), migrations).await?,
                Database::Postgres(_) => db.ensure_migrated(target.name(), migrations).await?,
            }
        }
        databases.push((target, db));
    }
    Ok(databases)
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
        Target::Iam => Some(&crm_iam::MIGRATIONS),
        Target::Customer | Target::Sales | Target::Notification | Target::Edge | Target::All => {
            None
        }
    }
}

/// The IAM service on its (migrated) store, for the operator commands.
async fn iam_for_operators(
    config: &Config,
) -> anyhow::Result<(crm_iam::application::Iam, Database)> {
    let mut config = config.clone();
    config.target = vec![Target::Iam];
    let mut stores = open_stores(&config).await?;
    let (_, db) = stores.pop().expect("the iam store");
    let revocations = revocations(&config).await?;
    Ok((crm_iam::build(&config, &db, revocations).await?, db))
}

/// `crm tenant create`.
pub async fn create_tenant(config: &Config, name: &str, slug: Option<&str>) -> anyhow::Result<()> {
    let (iam, db) = iam_for_operators(config).await?;
    let tenant = iam
        .create_tenant_as_operator(name, slug)
        .await
        .map_err(operator_error)?;
    println!(
        "created tenant {} ({}) with id {}",
        tenant.name, tenant.slug, tenant.id
    );
    println!(
        "next: crm user create --tenant {} --email <owner email> --name <name> --role owner",
        tenant.slug
    );
    db.close().await;
    Ok(())
}

/// `crm user create`.
pub async fn create_user(
    config: &Config,
    tenant: &str,
    email: &str,
    name: &str,
    roles: Vec<String>,
    password: &str,
) -> anyhow::Result<()> {
    let (iam, db) = iam_for_operators(config).await?;
    let user = iam
        .create_user_as_operator(tenant, email, name, password, roles)
        .await
        .map_err(operator_error)?;
    println!(
        "created user {} ({}) with roles {}",
        user.email,
        user.id,
        user.roles.join(", ")
    );
    db.close().await;
    Ok(())
}

/// `crm keys rotate`.
pub fn rotate_keys(config: &Config) -> anyhow::Result<()> {
    let dir = config.signing_keys_dir();
    let kid = crm_iam::infrastructure::keys::SigningKeys::rotate(&dir)?;
    println!(
        "added signing key {kid} in {}; restart IAM to sign with it (older keys keep verifying)",
        dir.display()
    );
    Ok(())
}

fn operator_error(err: crm_core::Error) -> anyhow::Error {
    let mut message = err.message().to_owned();
    for (field, problem) in err.field_violations() {
        message.push_str(&format!("\n  {field}: {problem}"));
    }
    anyhow::anyhow!(message)
}
