//! The operator commands: `crm migrate`, `crm events status|replay|dlq`, `crm tenant create`,
//! `crm user create`, `crm keys rotate`. They open the stores the way the server does, run once
//! and exit; none needs the server to be running, and all may run while it does.

use anyhow::Context as _;
use crm_core::config::Config;
use crm_core::storage::Database;

use crate::Contexts;
use crate::backing::{Store, open_stores, outboxes, revocations, with_tables};

/// The stores of the contexts `config` runs, opened.
async fn stores(config: &Config) -> anyhow::Result<Vec<Store>> {
    open_stores(config, &Contexts::BUILT_IN.running(config)).await
}

/// `crm events status`: each outbox's backlog and each consumer's dead letters.
pub async fn events_status(config: &Config) -> anyhow::Result<()> {
    let databases = stores(config).await?;
    for log in outboxes(&databases) {
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
        for topic in Contexts::BUILT_IN.topics() {
            for (_, db) in with_tables(&databases) {
                let inbox = crm_events::Inbox::new(db.clone());
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
    for (target, db) in with_tables(&databases) {
        let inbox = crm_events::Inbox::new(db.clone());
        let letters = inbox.dead_letters(None).await?;
        let waiting = letters.iter().filter(|l| l.redriven_at.is_none()).count();
        println!(
            "{:<28} dead letters {:>5}   (not redriven {waiting})",
            target.name,
            letters.len()
        );
    }
    Ok(())
}

/// `crm events dlq list`.
pub async fn dlq_list(config: &Config, group: Option<&str>) -> anyhow::Result<()> {
    let databases = stores(config).await?;
    let mut any = false;
    for (target, db) in with_tables(&databases) {
        let inbox = crm_events::Inbox::new(db.clone());
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
                target.name,
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
    let databases = stores(config).await?;
    let mut total = 0;
    for (_, db) in with_tables(&databases) {
        total += crm_events::Inbox::new(db.clone())
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
        Contexts::BUILT_IN
            .topics()
            .iter()
            .map(|t| t.to_string())
            .collect()
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
            let databases = stores(config).await?;
            for topic in &topics {
                let offsets = kafka.offsets_at(group, topic, from).await?;
                let mut moved = false;
                for (_, db) in with_tables(&databases) {
                    moved |= crm_events::Inbox::new(db.clone())
                        .set_offsets(group, topic, &offsets)
                        .await?;
                }
                if moved {
                    println!("{group}: {topic} moves to {offsets:?}");
                }
            }
        }
        None => {
            let databases = stores(config).await?;
            for log in outboxes(&databases)
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
    let databases = stores(config).await?;
    let mut groups = std::collections::BTreeSet::new();
    if config.kafka.brokers.is_some() {
        for (_, db) in with_tables(&databases) {
            let inbox = crm_events::Inbox::new(db.clone());
            for topic in topics {
                groups.extend(inbox.groups_on(topic).await?);
            }
        }
    } else {
        for log in outboxes(&databases)
            .into_iter()
            .filter(|l| topics.iter().any(|t| t == l.topic()))
        {
            groups.extend(log.consumer_lag().await?.into_iter().map(|l| l.consumer));
        }
    }
    Ok(groups.into_iter().collect())
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
    for target in Contexts::BUILT_IN
        .running(config)
        .into_iter()
        .filter(|c| c.has_store)
    {
        let db = Database::open(config, target.name).await?;
        match target.migrations {
            Some(migrations) => {
                crate::backing::migrate_store(&db, target.name, migrations).await?;
                println!("{}: migrated", target.name);
            }
            None => println!("{}: no migrations yet", target.name),
        }
        db.close().await;
    }
    Ok(())
}

/// The IAM service on its (migrated) store, for the operator commands.
async fn iam_for_operators(
    config: &Config,
) -> anyhow::Result<(crm_iam::application::Iam, Database)> {
    let mut config = config.clone();
    let iam = &crm_iam::CONTEXT;
    config.target = vec![iam.target()];
    let mut stores = open_stores(&config, &[iam]).await?;
    let (_, db) = stores.pop().expect("the iam store");
    let revocations = revocations(&config).await?;
    let catalog = crm_iam::domain::role::Catalog::new(Contexts::BUILT_IN.permissions());
    let iam = crm_iam::build(&config, &db, revocations).await?;
    Ok((iam.with_permissions(catalog), db))
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
pub fn rotate_keys(config: &Config, if_none: bool) -> anyhow::Result<()> {
    let dir = crm_iam::config::IamConfig::of(config)?.signing_keys_dir(config);
    if if_none && crm_iam::infrastructure::keys::SigningKeys::load(&dir).is_ok() {
        println!(
            "{} holds a signing key already; nothing added",
            dir.display()
        );
        if crm_iam::infrastructure::secrets::SecretBox::create(&dir)? {
            println!(
                "added the key that seals stored secrets ({}); keep it with the signing keys and back it up",
                crm_iam::infrastructure::secrets::FILE
            );
        }
        return Ok(());
    }
    let kid = crm_iam::infrastructure::keys::SigningKeys::rotate(&dir)?;
    println!(
        "added signing key {kid} in {}; restart IAM to sign with it (older keys keep verifying)",
        dir.display()
    );
    if crm_iam::infrastructure::secrets::SecretBox::create(&dir)? {
        println!(
            "added the key that seals stored secrets ({}); keep it with the signing keys and back it up",
            crm_iam::infrastructure::secrets::FILE
        );
    }
    Ok(())
}

fn operator_error(err: crm_core::Error) -> anyhow::Error {
    let mut message = err.message().to_owned();
    for (field, problem) in err.field_violations() {
        message.push_str(&format!("\n  {field}: {problem}"));
    }
    anyhow::anyhow!(message)
}

/// Fetches IAM's public keys from `server` (waiting up to `wait` for it to answer) and writes
/// them to `out` as a JWK Set.
pub async fn fetch_jwks(
    server: &str,
    out: &std::path::Path,
    wait: std::time::Duration,
) -> anyhow::Result<()> {
    use backon::{ConstantBuilder, Retryable};
    use crm_proto::crm::iam::v1::GetJwksRequest;
    use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
    let endpoint = tonic::transport::Endpoint::from_shared(server.to_owned())
        .with_context(|| format!("`{server}` is not an address: write http://host:port"))?
        .connect_timeout(std::time::Duration::from_secs(2))
        .timeout(std::time::Duration::from_secs(5));
    let every = std::time::Duration::from_secs(2);
    let attempts = (wait.as_secs() / every.as_secs()).max(1) as usize;
    let keys = (|| async {
        let channel = endpoint.connect().await?;
        let keys = AuthServiceClient::new(channel)
            .get_jwks(GetJwksRequest {})
            .await?
            .into_inner()
            .keys;
        anyhow::Ok(keys)
    })
    .retry(
        ConstantBuilder::default()
            .with_delay(every)
            .with_max_times(attempts),
    )
    .notify(|e, _| eprintln!("IAM at {server} does not answer yet ({e}); retrying"))
    .await
    .with_context(|| format!("IAM at {server} did not answer within {} s", wait.as_secs()))?;
    anyhow::ensure!(!keys.is_empty(), "IAM at {server} has no signing keys");
    let set = serde_json::json!({
        "keys": keys
            .iter()
            .map(|k| serde_json::json!({"kty": k.kty, "crv": k.crv, "x": k.x, "kid": k.kid, "alg": k.alg, "use": k.r#use}))
            .collect::<Vec<_>>()
    });
    std::fs::write(out, set.to_string())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} key(s) of IAM at {server} to {}",
        keys.len(),
        out.display()
    );
    Ok(())
}
