//! The command line: `crm serve`, `crm migrate`, `crm config`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use crm_core::config::{LogFormat, LogOverrides, Overrides, Target};

/// Kilang CRM: customers, sales pipeline, identity and notifications as gRPC services.
///
/// One binary runs everything (`crm serve`, embedded SQLite, nothing else to install) or one
/// part per process (`crm serve --target iam` with PostgreSQL, Redis and Kafka configured).
///
/// Configuration comes from defaults < --config file < CRM_* environment variables (nested keys
/// with `__`, e.g. CRM_LOG__FORMAT=json; also DATABASE_URL, REDIS_URL, KAFKA_BROKERS,
/// MONGODB_URL, OTEL_EXPORTER_OTLP_ENDPOINT) < flags. `crm config` prints the result.
#[derive(Debug, Parser)]
#[command(name = "crm", version, max_term_width = 100)]
pub struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "CRM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve gRPC, grpc-web, health and reflection on one port until SIGTERM or ctrl-c.
    Serve(ServeArgs),
    /// Apply pending database migrations of the selected targets, then exit.
    Migrate(TargetArgs),
    /// Print the effective configuration as TOML (secrets redacted), then exit.
    Config(ConfigArgs),
    /// Tenants, for operators bootstrapping a server without the API.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Users, for operators bootstrapping a server without the API.
    #[command(subcommand)]
    User(UserCommand),
    /// Access-token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Domain events: backlog, replay, dead letters.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Customers: import and export files through the API of a running CRM.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Service accounts: the credentials the CRM's services get service tokens with.
    #[command(subcommand)]
    ServiceAccount(ServiceAccountCommand),
    /// Print the code an authenticator app holding SECRET shows now (TOTP, RFC 6238), for
    /// scripts and the README's walkthrough; `MfaService.StartMfaEnrollment` returns the secret.
    Totp {
        /// The base32 secret.
        secret: String,
    },
    /// Ask a running CRM whether it serves (gRPC health): prints SERVING or NOT_SERVING and exits
    /// 0 only when serving. For container health checks and probes; needs no other tool.
    Health {
        /// The CRM to ask [default: this configuration's `listen`, on 127.0.0.1 when it
        /// listens on every interface].
        #[arg(long, env = "KILANG_SERVER")]
        server: Option<String>,
        /// The service to ask about: "" (the default) is the process; e.g.
        /// `crm.customer.v1.CustomerService`, or `upstream:customer` at an edge.
        #[arg(long, default_value = "")]
        service: String,
        /// How long to wait for the answer, in seconds.
        #[arg(long, default_value_t = 3)]
        timeout_seconds: u64,
    },
    /// Write the encoded descriptor set of every contract (google.api.http annotations and
    /// comments kept), for proxies that transcode with it (Envoy's grpc_json_transcoder).
    Descriptors {
        /// The file to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

/// `crm service-account ...`.
#[derive(Debug, Subcommand)]
pub enum ServiceAccountCommand {
    /// Make a new secret for a service: prints the secret (for that service) and the line of
    /// IAM's configuration that accepts it (IAM keeps only its SHA-256).
    Secret {
        /// The service: sales, notification or customer.
        name: String,
        /// Print both as environment variables (`KEY=value` lines, for an untracked `.env`
        /// file such as docker compose reads).
        #[arg(long)]
        env: bool,
    },
}

/// `crm customers ...`.
#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Import customers from a CSV file (a header row naming the columns) or JSON Lines
    /// (`.jsonl`), with a progress bar; prints the report and writes rejected rows, with their
    /// reasons, to a CSV that can be fixed and imported again.
    ///
    /// Columns: type, display_name, given_name (first_name), family_name (last_name),
    /// legal_name (company), registration_number, tax_id, industry, website, status, owner_id,
    /// email, emails, phones (phone), tags (tag), street, city, state, postcode, country, notes,
    /// custom (a JSON object) or custom.<key>, contacts (a JSON array). Lists are ;-separated.
    Import {
        /// The file.
        file: PathBuf,
        /// Check and count every row; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// What to do with a row whose email another customer has.
        #[arg(long, value_enum, default_value = "skip")]
        on_duplicate: OnDuplicate,
        /// Sending the same import again with this id returns the first report.
        #[arg(long, default_value = "")]
        request_id: String,
        /// Where rejected rows go [default: <FILE>.rejected.csv].
        #[arg(long, value_name = "FILE")]
        rejects: Option<PathBuf>,
        /// The CRM to call.
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Export every customer (contacts included) as CSV or JSON Lines.
    Export {
        /// The format.
        #[arg(long, value_enum, default_value = "csv")]
        format: crate::customers::Format,
        /// The file [default: standard output].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The CRM to call.
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
}

/// Duplicate policies of an import.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum OnDuplicate {
    /// Leave the stored customer alone.
    Skip,
    /// Apply the row's columns to the stored customer.
    Update,
    /// Reject the row.
    Fail,
}

/// Which CRM a client command calls, and as whom.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// The CRM's address.
    #[arg(long, env = "KILANG_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// An access token (the accessToken of AuthService/Login).
    #[arg(long, env = "KILANG_TOKEN", hide_env_values = true)]
    pub token: String,
}

impl EndpointArgs {
    /// The endpoint.
    pub fn endpoint(&self) -> crate::customers::Endpoint {
        crate::customers::Endpoint {
            server: self.server.clone(),
            token: self.token.clone(),
        }
    }
}

/// `crm events ...`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Each outbox's unpublished backlog and oldest unpublished event; how far behind each
    /// consumer group is; dead letters per context.
    Status(TargetArgs),
    /// Move a consumer group back (Kafka: its committed offsets; embedded: its cursor). Stop
    /// the group's consumers first.
    Replay {
        /// The consumer group.
        #[arg(long)]
        group: String,
        /// An RFC 3339 time (e.g. 2026-11-01T00:00:00Z) or an offset / outbox position.
        #[arg(long, value_parser = parse_replay_from)]
        from: crm_events::kafka::ReplayFrom,
        /// Topics to move (repeatable); every context's topic when omitted.
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// Start a group that has no position yet (embedded bus), instead of refusing an unknown
        /// name (a typo would otherwise leave a phantom group behind).
        #[arg(long)]
        create: bool,
        /// Targets and data directory.
        #[command(flatten)]
        targets: TargetArgs,
    },
    /// Parked events.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

/// `crm events dlq ...`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List parked events with their errors and attempts.
    List {
        /// Only this consumer group's.
        #[arg(long)]
        group: Option<String>,
        /// Targets and data directory.
        #[command(flatten)]
        targets: TargetArgs,
    },
    /// Deliver parked events again (the running consumers pick them up).
    Redrive {
        /// Only this consumer group's.
        #[arg(long)]
        group: Option<String>,
        /// Targets and data directory.
        #[command(flatten)]
        targets: TargetArgs,
    },
}

fn parse_replay_from(raw: &str) -> Result<crm_events::kafka::ReplayFrom, String> {
    use crm_events::kafka::ReplayFrom;
    if let Ok(offset) = raw.parse::<i64>() {
        return Ok(ReplayFrom::Offset(offset));
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| ReplayFrom::Time(t.timestamp_millis()))
        .map_err(|_| {
            format!("{raw:?} is neither an RFC 3339 time (2026-11-01T00:00:00Z) nor an offset")
        })
}

/// `crm tenant ...`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (then `crm user create ... --role owner` gives it an owner).
    Create {
        /// Display name, e.g. "Kilang Desa Murni Batik".
        #[arg(long)]
        name: String,
        /// Slug users sign in with; derived from the name when omitted.
        #[arg(long)]
        slug: Option<String>,
        /// Data directory (embedded mode).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// `crm user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in a tenant. The password is read from a prompt, or from the first line of
    /// standard input when it is not a terminal.
    Create {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The user's email.
        #[arg(long)]
        email: String,
        /// The user's display name.
        #[arg(long)]
        name: String,
        /// Roles, comma-separated or repeated: owner, admin, sales_manager, sales_rep, viewer
        /// or a custom role.
        #[arg(long = "role", value_delimiter = ',', default_value = "viewer")]
        roles: Vec<String>,
        /// Data directory (embedded mode).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// `crm keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key: new tokens use it once IAM restarts; tokens of older keys keep
    /// verifying until their key file is removed.
    Rotate {
        /// Data directory (embedded mode; keys live in <DIR>/keys unless iam.signing_keys_dir says).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Only when there is no signing key yet (for init containers: safe to run every start).
        #[arg(long)]
        if_none: bool,
    },
    /// Fetch IAM's public keys (GetJwks) from a running IAM and write them as a JWK Set, for
    /// `auth.jwks_file` of the services that do not run IAM (an init container's job). Waits for
    /// IAM to answer.
    Jwks {
        /// IAM's address.
        #[arg(long, env = "KILANG_SERVER", default_value = "http://127.0.0.1:50051")]
        server: String,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// How long to wait for IAM to answer, in seconds.
        #[arg(long, default_value_t = 120)]
        wait_seconds: u64,
    },
}

impl Command {
    /// The flags of any subcommand as configuration overrides.
    pub fn overrides(&self) -> Overrides {
        let data_dir = |dir: &Option<PathBuf>| Overrides {
            data_dir: dir.clone(),
            ..Overrides::default()
        };
        match self {
            Command::Serve(args) => args.overrides(),
            Command::Migrate(args) => args.overrides(),
            Command::Config(args) => args.targets.overrides(),
            Command::Tenant(TenantCommand::Create { data_dir: dir, .. }) => data_dir(dir),
            Command::User(UserCommand::Create { data_dir: dir, .. }) => data_dir(dir),
            Command::Keys(KeysCommand::Rotate { data_dir: dir, .. }) => data_dir(dir),
            Command::Keys(KeysCommand::Jwks { .. }) => Overrides::default(),
            Command::Events(EventsCommand::Status(args))
            | Command::Events(EventsCommand::Replay { targets: args, .. })
            | Command::Events(EventsCommand::Dlq(DlqCommand::List { targets: args, .. }))
            | Command::Events(EventsCommand::Dlq(DlqCommand::Redrive { targets: args, .. })) => {
                args.overrides()
            }
            Command::Customers(_)
            | Command::Totp { .. }
            | Command::ServiceAccount(_)
            | Command::Health { .. }
            | Command::Descriptors { .. } => Overrides::default(),
        }
    }
}

/// Which parts of the CRM a command is about.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Parts to run, comma-separated (the help lists them).
    #[arg(long, value_delimiter = ',', value_parser = parse_target, value_name = "TARGET[,TARGET...]", help = target_help())]
    pub target: Option<Vec<Target>>,

    /// Where embedded SQLite databases and generated keys live.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `crm config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Targets and data directory.
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print every key with its environment variable and default (a Markdown table) instead.
    #[arg(long)]
    pub reference: bool,
}

/// `crm serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Targets and data directory.
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Address to listen on: IP:PORT or localhost:PORT (port 0 picks a free one) [default: 127.0.0.1:50051].
    #[arg(long, value_name = "ADDR", value_parser = crm_core::config::parse_listen)]
    pub listen: Option<SocketAddr>,

    /// Log format [default: pretty].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

impl TargetArgs {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            target: self.target.clone(),
            data_dir: self.data_dir.clone(),
            ..Overrides::default()
        }
    }
}

impl ServeArgs {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen,
            log: self.log_format.map(|format| LogOverrides { format }),
            ..self.targets.overrides()
        }
    }
}

/// The targets, from the binary's contexts.
fn target_help() -> String {
    format!(
        "Parts to run, comma-separated: all, {}, edge",
        crate::Contexts::BUILT_IN.names().join(", ")
    )
}

fn parse_target(name: &str) -> Result<Target, String> {
    crate::Contexts::BUILT_IN.parse_target(name)
}
