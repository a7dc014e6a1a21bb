use std::process::ExitCode;

use clap::Parser;
use crm::cli::{
    Cli, Command, CustomersCommand, DlqCommand, EventsCommand, KeysCommand, OnDuplicate,
    ServiceAccountCommand, TenantCommand, UserCommand,
};
use crm_core::Config;

fn main() -> ExitCode {
    // One TLS provider for the process: the HTTP clients (OTLP export, SMS, OpenID discovery)
    // are built without one of their own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Command::Config(args) = &cli.command
        && args.reference
    {
        print!("{}", crm::Contexts::BUILT_IN.reference());
        return ExitCode::SUCCESS;
    }
    let overrides = cli.command.overrides();
    let config = match crm::Contexts::BUILT_IN.load_config(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Config(_) => {
            print!("{}", config.to_redacted_toml());
            ExitCode::SUCCESS
        }
        Command::Serve(_) => run(config, |config| async move {
            let app = crm::Application::build(config).await?;
            app.run_until(crm::shutdown_signal()).await
        }),
        Command::Migrate(_) => run(config, |config| async move { crm::migrate(&config).await }),
        Command::Tenant(TenantCommand::Create { name, slug, .. }) => {
            run(config, |config| async move {
                crm::create_tenant(&config, &name, slug.as_deref()).await
            })
        }
        Command::User(UserCommand::Create {
            tenant,
            email,
            name,
            roles,
            ..
        }) => {
            let password = match read_password() {
                Ok(password) => password,
                Err(e) => {
                    eprintln!("error: cannot read the password: {e}");
                    return ExitCode::FAILURE;
                }
            };
            run(config, |config| async move {
                crm::create_user(&config, &tenant, &email, &name, roles, &password).await
            })
        }
        Command::Events(EventsCommand::Status(_)) => {
            run(
                config,
                |config| async move { crm::events_status(&config).await },
            )
        }
        Command::Events(EventsCommand::Replay {
            group,
            from,
            topics,
            create,
            ..
        }) => run(config, |config| async move {
            crm::replay(&config, &group, &topics, from, create).await
        }),
        Command::Events(EventsCommand::Dlq(DlqCommand::List { group, .. })) => {
            run(config, |config| async move {
                crm::dlq_list(&config, group.as_deref()).await
            })
        }
        Command::Events(EventsCommand::Dlq(DlqCommand::Redrive { group, .. })) => {
            run(config, |config| async move {
                crm::dlq_redrive(&config, group.as_deref()).await
            })
        }
        Command::Customers(CustomersCommand::Import {
            file,
            dry_run,
            on_duplicate,
            request_id,
            rejects,
            endpoint,
        }) => {
            use crm_proto::crm::customer::v1::DuplicatePolicy;
            let args = crm::customers::ImportArgs {
                file,
                duplicates: match on_duplicate {
                    OnDuplicate::Skip => DuplicatePolicy::Skip,
                    OnDuplicate::Update => DuplicatePolicy::Update,
                    OnDuplicate::Fail => DuplicatePolicy::Fail,
                },
                dry_run,
                request_id,
                rejects,
            };
            run(config, |_| async move {
                crm::customers::import(&endpoint.endpoint(), args).await
            })
        }
        Command::Customers(CustomersCommand::Export {
            format,
            out,
            endpoint,
        }) => run(config, |_| async move {
            crm::customers::export(&endpoint.endpoint(), format, out).await
        }),
        Command::ServiceAccount(ServiceAccountCommand::Secret { name, env }) => {
            use crm_iam::domain::service_account::{
                SERVICE_ACCOUNTS, account, hash_secret, new_secret,
            };
            if account(&name).is_none() {
                let known: Vec<_> = SERVICE_ACCOUNTS.iter().map(|a| a.name).collect();
                eprintln!(
                    "error: {name:?} has no service account; the services that call others are {}",
                    known.join(", ")
                );
                return ExitCode::FAILURE;
            }
            match new_secret() {
                Ok(secret) if env => {
                    let upper = name.to_uppercase();
                    println!("CRM_{upper}__SERVICE_SECRET={secret}");
                    println!(
                        "CRM_IAM__SERVICE_ACCOUNTS__{upper}={}",
                        hash_secret(&secret)
                    );
                    ExitCode::SUCCESS
                }
                Ok(secret) => {
                    println!("# the {name} service's secret (keep it secret):");
                    println!("{secret}");
                    println!("# IAM's configuration (crm.toml):");
                    println!("[iam.service_accounts]");
                    println!("{name} = \"{}\"", hash_secret(&secret));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: no randomness for a secret: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Health {
            server,
            service,
            timeout_seconds,
        } => {
            let server = server.unwrap_or_else(|| crm::health::local_server(config.listen));
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let timeout = std::time::Duration::from_secs(timeout_seconds);
            match runtime.block_on(crm::health::check(&server, &service, timeout)) {
                Ok(status) => {
                    println!("{}", status.as_str_name());
                    if status == crm::health::Serving::Serving {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Descriptors { out } => {
            match std::fs::write(&out, crm_proto::FILE_DESCRIPTOR_SET) {
                Ok(()) => {
                    println!(
                        "wrote {} ({} bytes)",
                        out.display(),
                        crm_proto::FILE_DESCRIPTOR_SET.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", out.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Totp { secret } => match crm_iam::domain::mfa::current_code(&secret) {
            Some(code) => {
                println!("{code}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "error: not a base32 TOTP secret of at least 128 bits (the `secret` StartMfaEnrollment returned)"
                );
                ExitCode::FAILURE
            }
        },
        Command::Keys(KeysCommand::Jwks {
            server,
            out,
            wait_seconds,
        }) => run(config, |_| async move {
            crm::fetch_jwks(&server, &out, std::time::Duration::from_secs(wait_seconds)).await
        }),
        Command::Keys(KeysCommand::Rotate { if_none, .. }) => {
            match crm::rotate_keys(&config, if_none) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// From a prompt (twice, to catch typos) on a terminal; else the first line of standard input.
fn read_password() -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            return Err(std::io::Error::other("the passwords differ"));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// Starts logging (before the runtime: the OTLP exporter owns a runtime of its own), then runs
/// `work` on a multi-threaded runtime and reports its error with the whole chain.
fn run<F, Fut>(config: Config, work: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let json_logs = config.log.format == crm_core::config::LogFormat::Json;
    let _telemetry = match crm_core::telemetry::init(&config.log, &config.telemetry, "crm") {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: cannot start logging: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work(config)) {
        Ok(()) => ExitCode::SUCCESS,
        // Once: a log line for JSON logs (collected by machines), a plain line for people.
        Err(e) if json_logs => {
            tracing::error!(error = %format!("{e:#}"), "exiting");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
