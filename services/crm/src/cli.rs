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
    Config(TargetArgs),
}

/// Which parts of the CRM a command is about.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Parts to run, comma-separated: all, iam, customer, sales, notification, edge.
    #[arg(long, value_delimiter = ',', value_parser = parse_target, value_name = "TARGET[,TARGET...]")]
    pub target: Option<Vec<Target>>,

    /// Where embedded SQLite databases and generated keys live.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `crm serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Targets and data directory.
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Address to listen on (port 0 picks a free one) [default: 127.0.0.1:50051].
    #[arg(long, value_name = "ADDR")]
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

fn parse_target(name: &str) -> Result<Target, String> {
    Target::parse(name).ok_or_else(|| {
        format!("unknown target `{name}`; use all, iam, customer, sales, notification or edge")
    })
}
