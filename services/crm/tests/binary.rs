//! The `crm` binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn crm() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("KAFKA_BROKERS")
        .env_remove("MONGODB_URL");
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_until_sigterm_then_exits_cleanly() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = crm()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // The ready line is printed once the port is bound.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line.trim().rsplit(" on ").next().unwrap().to_owned();
    let serving = format!(
        "crm serving {}, edge on ",
        crm::Contexts::BUILT_IN.names().join(", ")
    );
    assert!(line.starts_with(&serving), "{line}");

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let status = health
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::Serving);
    // `crm health`, as a container's HEALTHCHECK runs it: exit 0 and SERVING.
    let probe = crm()
        .args(["health", "--server", &format!("http://{addr}")])
        .output()
        .unwrap();
    assert!(probe.status.success(), "{probe:?}");
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "SERVING");
    let unknown = crm()
        .args([
            "health",
            "--server",
            &format!("http://{addr}"),
            "--service",
            "crm.nope.v1.Nope",
        ])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("serves no service named `crm.nope.v1.Nope`"),
        "{unknown:?}"
    );
    for context in ["iam", "customer", "sales", "notification"] {
        assert!(
            data_dir.path().join(format!("{context}.db")).exists(),
            "{context}.db is created"
        );
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Wait off the runtime, so the open client connection can take the server's GOAWAY and
    // close, as a real client would; the server then exits without waiting out its grace period.
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "SIGTERM drains and exits 0, got {exit:?}");

    // Nothing serves there now: exit 1, saying so.
    let down = crm()
        .args([
            "health",
            "--server",
            &format!("http://{addr}"),
            "--timeout-seconds",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("is the CRM running there?"),
        "{down:?}"
    );
}

#[test]
fn the_configuration_guide_carries_the_reference_the_binary_prints() {
    let printed = crm_ok(&["config", "--reference"]);
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    let start = readme
        .find("<!-- config-reference:start -->\n")
        .expect("docs/configuration.md marks its configuration reference");
    let end = readme.find("<!-- config-reference:end -->").unwrap();
    let carried = &readme[start + "<!-- config-reference:start -->\n".len()..end];
    assert!(
        carried == printed,
        "docs/configuration.md's reference differs from `crm config --reference`; paste its output between the markers:\n{printed}"
    );
    for key in [
        "`listen`",
        "`edge.upstreams.<name>`",
        "`iam.lockout_seconds`",
        "`notification.smtp_url`",
    ] {
        assert!(printed.contains(key), "{key} in {printed}");
    }
}

#[test]
fn a_bad_configuration_value_fails_startup_naming_the_key() {
    let output = crm()
        .args(["serve"])
        .env("CRM_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`listen`"), "{stderr}");
    assert!(stderr.contains("CRM_LISTEN"), "{stderr}");
}

#[test]
fn a_bad_key_in_the_config_file_fails_startup_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crm.toml");
    std::fs::write(&file, "[log]\nformat = \"xml\"\n").unwrap();
    let output = crm()
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`log.format`"), "{stderr}");
    assert!(stderr.contains("crm.toml"), "names the file: {stderr}");
}

#[test]
fn crm_config_prints_the_effective_configuration_with_secrets_redacted() {
    let output = crm()
        .args(["config", "--target", "iam,sales"])
        .env(
            "DATABASE_URL",
            "postgres://crm:hunter2@db.internal:5432/crm",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("target = [\n    \"iam\",\n    \"sales\",\n]")
            || stdout.contains("target = [\"iam\", \"sales\"]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("postgres://crm:****@db.internal:5432/crm"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[test]
fn operators_bootstrap_a_tenant_and_its_owner_from_the_command_line() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let tenant = crm()
        .args([
            "tenant",
            "create",
            "--name",
            "Kilang Desa Murni Batik",
            "--data-dir",
            dir,
        ])
        .output()
        .unwrap();
    assert!(
        tenant.status.success(),
        "{}",
        String::from_utf8_lossy(&tenant.stderr)
    );
    assert!(String::from_utf8_lossy(&tenant.stdout).contains("(kilang-desa-murni-batik)"));

    let user = create_user(
        dir,
        "siti@kilang.example",
        &["--role", "owner"],
        "batik canting motif",
    );
    assert!(
        user.status.success(),
        "{}",
        String::from_utf8_lossy(&user.stderr)
    );
    assert!(String::from_utf8_lossy(&user.stdout).contains("with roles owner"));

    let refused = create_user(dir, "ali@kilang.example", &[], "short");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("password: must be at least 12 characters")
    );

    let before = std::fs::read_dir(data_dir.path().join("keys"))
        .unwrap()
        .count();
    let rotate = crm()
        .args(["keys", "rotate", "--data-dir", dir])
        .output()
        .unwrap();
    assert!(rotate.status.success());
    assert_eq!(
        std::fs::read_dir(data_dir.path().join("keys"))
            .unwrap()
            .count(),
        before + 1
    );
}

/// `crm user create` in tenant `kilang-desa-murni-batik`, the password on standard input.
fn create_user(
    data_dir: &str,
    email: &str,
    extra: &[&str],
    password: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = crm()
        .args([
            "user",
            "create",
            "--tenant",
            "kilang-desa-murni-batik",
            "--email",
            email,
            "--name",
            "Siti",
        ])
        .args(extra)
        .args(["--data-dir", data_dir])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `crm` with `args`, expecting success; returns what it printed.
fn crm_ok(args: &[&str]) -> String {
    let out = crm().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "crm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `crm events <args> --target iam --data-dir <dir>`, expecting success.
fn events(dir: &str, args: &[&str]) -> String {
    let mut all = vec!["events"];
    all.extend(args);
    all.extend(["--target", "iam", "--data-dir", dir]);
    crm_ok(&all)
}

/// The number after `label` on the first line starting with `line_start`.
fn figure(text: &str, line_start: &str, label: &str) -> i64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(line_start))
        .unwrap_or_else(|| panic!("no line starting with {line_start:?} in:\n{text}"));
    let mut words = line.split_whitespace().skip_while(|w| *w != label);
    words
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure after {label:?} in {line:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_see_replay_and_redrive_events_from_the_command_line() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    // A tenant and its owner: their events wait in IAM's outbox (nothing is serving).
    crm_ok(&[
        "tenant",
        "create",
        "--name",
        "Kilang Desa Murni Batik",
        "--data-dir",
        dir,
    ]);
    let user = create_user(
        dir,
        "siti@kilang.example",
        &["--role", "owner"],
        "batik canting motif",
    );
    assert!(user.status.success());
    let status = events(dir, &["status"]);
    let unpublished = figure(&status, "crm.iam.events.v1", "unpublished");
    assert!(
        unpublished >= 2,
        "TenantCreated and UserCreated at least:\n{status}"
    );

    // An unknown group is refused (a typo must not leave a phantom group behind)...
    let args = [
        "events",
        "replay",
        "--group",
        "notification",
        "--from",
        "0",
        "--topic",
        "crm.iam.events.v1",
        "--target",
        "iam",
        "--data-dir",
        dir,
    ];
    let refused = crm().args(args).output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("no consumer group \"notification\"") && stderr.contains("--create"),
        "{stderr}"
    );
    assert!(!events(dir, &["status"]).contains("consumer notification"));
    // ... unless told to create it: a group replayed from the start has every event ahead of it.
    let replay = events(
        dir,
        &[
            "replay",
            "--group",
            "notification",
            "--from",
            "0",
            "--topic",
            "crm.iam.events.v1",
            "--create",
        ],
    );
    assert!(
        replay.contains("notification: crm.iam.events.v1 moves to after position 0"),
        "{replay}"
    );
    let status = events(dir, &["status"]);
    assert_eq!(
        figure(&status, "consumer notification", "behind"),
        unpublished,
        "{status}"
    );

    // A parked event (as a consumer in this store would leave it) is listed, then redriven.
    assert!(events(dir, &["dlq", "list"]).contains("no dead letters"));
    let config = crm_core::config::Config {
        data_dir: data_dir.path().to_owned(),
        ..Default::default()
    };
    let db = crm_core::storage::Database::open(&config, "iam")
        .await
        .unwrap();
    let event = crm_events::Envelope::new(
        "crm.iam",
        "tenant-1",
        "user-1",
        &crm_proto::crm::iam::events::v1::UserCreated::default(),
        &crm_events::Causation::default(),
    );
    crm_events::Inbox::new(db.clone())
        .park(
            "notification",
            "crm.iam.events.v1",
            &event,
            "smtp: 550 mailbox unavailable",
            5,
            None,
        )
        .await
        .unwrap();
    db.close().await;
    let list = events(dir, &["dlq", "list"]);
    assert!(
        list.contains(&format!("event={}", event.id))
            && list.contains("consumer=notification")
            && list.contains("attempts=5")
            && list.contains("[parked]")
            && list.contains("smtp: 550 mailbox unavailable"),
        "{list}"
    );
    let status = events(dir, &["status"]);
    assert_eq!(figure(&status, "iam", "letters"), 1, "{status}");
    let redrive = events(dir, &["dlq", "redrive", "--group", "notification"]);
    assert!(
        redrive.contains("asked to redrive 1 parked event"),
        "{redrive}"
    );
    let list = events(dir, &["dlq", "list"]);
    assert!(list.contains("[redrive asked]"), "{list}");
    let again = events(dir, &["dlq", "redrive"]);
    assert!(
        again.contains("asked to redrive 0 parked event"),
        "asked once: {again}"
    );
}

/// Starts `crm serve` on `dir` and returns it with its address, once the ready line is out.
fn serve(dir: &std::path::Path, listen: &str) -> (std::process::Child, String) {
    let mut child = crm()
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("crm serving "), "ready line: {line:?}");
    let addr = line.trim().rsplit(" on ").next().unwrap().to_owned();
    (child, addr)
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_naming_the_holder() {
    let data_dir = tempfile::tempdir().unwrap();
    let (first, _) = serve(data_dir.path(), "127.0.0.1:0");
    let second = crm()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        stderr.contains(&format!("pid {}", first.id()))
            && stderr.contains(data_dir.path().to_str().unwrap()),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "the error is printed once: {stderr}"
    );
    stop(first);
    // Once the first is gone, the directory is free.
    let (again, _) = serve(data_dir.path(), "127.0.0.1:0");
    stop(again);
}

#[test]
fn listen_errors_say_the_real_cause_and_localhost_is_accepted() {
    let data_dir = tempfile::tempdir().unwrap();
    let (first, addr) = serve(data_dir.path(), "localhost:0");
    assert!(addr.starts_with("127.0.0.1:"), "localhost resolves: {addr}");
    let other = tempfile::tempdir().unwrap();
    let taken = crm()
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(other.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&taken.stderr);
    assert!(
        stderr.contains("another process is using that port"),
        "{stderr}"
    );
    stop(first);
    let foreign = crm()
        .args(["serve", "--listen", "192.0.2.1:50051", "--data-dir"])
        .arg(other.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&foreign.stderr);
    assert!(
        stderr.contains("not an address of this machine"),
        "{stderr}"
    );
}

#[test]
fn config_file_errors_name_the_file_and_the_key_plainly() {
    let missing = crm()
        .args(["--config", "nope.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("`--config nope.toml`: cannot read the configuration file: no such file"),
        "{stderr}"
    );
    assert!(!stderr.contains("(top level)"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crm.toml");
    std::fs::write(&file, "[log]\nformatt = \"json\"\n").unwrap();
    let unknown = crm()
        .arg("--config")
        .arg(&file)
        .arg("config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("`log.formatt`")
            && stderr.contains("unknown key")
            && stderr.contains("format, level"),
        "{stderr}"
    );
    assert!(!stderr.contains("``"), "no garbled backticks: {stderr}");
}

/// A served CRM stopped when dropped, so a failing test leaves no server behind.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            stop(child);
        }
    }
}

/// A new tenant's owner token from the served CRM at `addr`.
async fn owner_token(addr: &str, tenant: &str) -> String {
    use crm_proto::crm::iam::v1::RegisterRequest;
    use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
    let mut auth = AuthServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    auth.register(RegisterRequest {
        locale: String::new(),
        tenant_name: tenant.into(),
        email: "owner@kilang.example".into(),
        password: "batik canting motif".into(),
        display_name: "Owner".into(),
    })
    .await
    .unwrap()
    .into_inner()
    .access_token
}

fn customers(addr: &str, token: &str, args: &[&str]) -> std::process::Output {
    crm()
        .arg("customers")
        .args(args)
        .args(["--server", &format!("http://{addr}")])
        .env("KILANG_TOKEN", token)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_are_imported_from_csv_and_exported_back_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = serve(dir.path(), "127.0.0.1:0");
    let server = Running(Some(server));
    let token = owner_token(&addr, "Kilang CLI").await;
    let csv = dir.path().join("customers.csv");
    let mut text =
        String::from("company,first_name,last_name,email,phone,tags,city,country,custom.since\n");
    for n in 1..=1000 {
        if n % 100 == 0 {
            text.push_str(&format!(",Bad,Row{n},bad{n}-at-nowhere,12,,,,\n"));
        } else if n % 2 == 0 {
            text.push_str(&format!("Kedai {n} Sdn Bhd,,,k{n}@kedai.example,+6012345{n:04},wholesale;batik,Ipoh,MY,2024-01-31\n"));
        } else {
            text.push_str(&format!(
                ",Siti,Pelanggan {n},s{n}@kilang.example,012-345 {n:04},retail,Kuantan,my,\n"
            ));
        }
    }
    text.push_str("too,few,cells\n");
    std::fs::write(&csv, text).unwrap();

    let out = customers(&addr, &token, &["import", csv.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1001 rows: 990 created, 0 updated, 0 skipped (duplicates), 11 rejected"),
        "{stdout}"
    );
    let rejects = std::fs::read_to_string(dir.path().join("customers.csv.rejected.csv")).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 12, "a header and 11 rows: {rejects}");
    assert!(
        lines[0].starts_with("row,field,reason,company,first_name"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("100,customer.email; customer.phones[0].e164_number,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[11].starts_with("1001,row,has 3 cells"),
        "{}",
        lines[11]
    );

    // Again: everything is a duplicate by email.
    let again = customers(
        &addr,
        &token,
        &["import", csv.to_str().unwrap(), "--dry-run"],
    );
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("0 would be created, 0 would be updated, 990 skipped")
    );

    // Export, then import the export into another tenant: the same customers.
    let exported = dir.path().join("export.csv");
    let out = customers(
        &addr,
        &token,
        &["export", "--out", exported.to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("exported 990 customers"));
    // Its owners are the first tenant's users: every row is refused for that, by field.
    let other = owner_token(&addr, "Kilang CLI Two").await;
    let out = customers(&addr, &other, &["import", exported.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("990 rows: 0 created, 0 updated, 0 skipped (duplicates), 990 rejected"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rejected = std::fs::read_to_string(dir.path().join("export.csv.rejected.csv")).unwrap();
    assert!(
        rejected.lines().nth(1).is_some_and(
            |l| l.contains("customer.owner_id") && l.contains("is not a user of this tenant")
        ),
        "{rejected}"
    );
    // Without the owner column (each row then belongs to whoever imports it): the same customers.
    let mut reader = csv::Reader::from_path(&exported).unwrap();
    let headers = reader.headers().unwrap().clone();
    let keep: Vec<usize> = (0..headers.len())
        .filter(|i| &headers[*i] != "owner_id")
        .collect();
    let ownerless = dir.path().join("ownerless.csv");
    let mut writer = csv::Writer::from_path(&ownerless).unwrap();
    writer
        .write_record(keep.iter().map(|i| &headers[*i]))
        .unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        writer
            .write_record(keep.iter().map(|i| &record[*i]))
            .unwrap();
    }
    writer.flush().unwrap();
    let out = customers(&addr, &other, &["import", ownerless.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("990 rows: 990 created, 0 updated, 0 skipped (duplicates), 0 rejected"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let twice = dir.path().join("twice.jsonl");
    let out = customers(
        &addr,
        &other,
        &[
            "export",
            "--format",
            "jsonl",
            "--out",
            twice.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let first: Vec<serde_json::Value> = std::fs::read_to_string(&twice)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(first.len(), 990);
    let kedai = first
        .iter()
        .find(|r| r["email"] == "k2@kedai.example")
        .unwrap();
    assert_eq!(kedai["legal_name"], "Kedai 2 Sdn Bhd");
    assert_eq!(kedai["phones"][0], "+60123450002");
    assert_eq!(kedai["tags"], serde_json::json!(["wholesale", "batik"]));
    assert_eq!(kedai["custom"]["since"], "2024-01-31");
    assert_eq!(kedai["country"], "MY");

    // Errors say what to do next.
    let out = customers(&addr, "not-a-token", &["export"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token or KILANG_TOKEN"));
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "company,fax\nA,1\n").unwrap();
    let out = customers(&addr, &token, &["import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown column \"fax\""));
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_import_keeps_its_committed_batches_and_nothing_half_written() {
    use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
    use crm_proto::crm::customer::v1::*;
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = serve(dir.path(), "127.0.0.1:0");
    let token = owner_token(&addr, "Kilang Crash").await;
    let mut client = CustomerServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let call = tokio::spawn(async move { client.import_customers(request).await });
    tx.send(ImportCustomersRequest {
        item: Some(import_customers_request::Item::Options(
            ImportOptions::default(),
        )),
    })
    .await
    .unwrap();
    // 1,250 rows: two whole batches of 500, then 250 pending when the server dies.
    for n in 0..1250 {
        let c = Customer {
            r#type: CustomerType::Individual as i32,
            individual: Some(IndividualDetails {
                given_name: format!("Row {n}"),
                family_name: String::new(),
            }),
            email: format!("row{n}@kilang.example"),
            ..Default::default()
        };
        tx.send(ImportCustomersRequest {
            item: Some(import_customers_request::Item::Customer(c)),
        })
        .await
        .unwrap();
    }
    // Wait until both batches are committed, then kill it hard.
    let db = dir.path().join("customer.db");
    let count = || {
        let db = db.clone();
        async move {
            let store = crm_core::storage::open_sqlite(&db).await.unwrap();
            let n: i64 = sqlx::query_scalar("select count(*) from customers")
                .fetch_one(store.pool())
                .await
                .unwrap();
            store.close().await;
            n
        }
    };
    crm_core::testing::eventually("two batches are committed", || async {
        (count().await == 1000).then_some(())
    })
    .await;
    let mut server = server;
    server.kill().unwrap();
    server.wait().unwrap();
    // (Killed on purpose above; the restarted one below is stopped when dropped.)
    drop(tx);
    assert!(
        call.await.unwrap().is_err(),
        "the client sees the import fail"
    );

    // After a restart: exactly the committed batches, each customer whole, each with its event.
    let (server, addr) = serve(dir.path(), "127.0.0.1:0");
    let server = Running(Some(server));
    assert_eq!(count().await, 1000);
    let store = crm_core::storage::open_sqlite(&db).await.unwrap();
    let events: i64 =
        sqlx::query_scalar("select count(*) from outbox where event_type like '%CustomerCreated'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let indexed: i64 = sqlx::query_scalar("select count(*) from customer_search")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!((events, indexed), (1000, 1000));
    store.close().await;
    let mut client = CustomerServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut request = tonic::Request::new(SearchCustomersRequest {
        query: "row".into(),
        page_size: 5,
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let found = client.search_customers(request).await.unwrap().into_inner();
    assert_eq!(found.customers.len(), 5);
    drop(server);
}

#[test]
fn crm_descriptors_writes_the_descriptor_set_proxies_transcode_with() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crm.pb");
    let done = crm()
        .args(["descriptors", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(done.status.success(), "{done:?}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes, crm_proto::FILE_DESCRIPTOR_SET);
    // What a transcoding proxy reads from it: every annotated route.
    let routes = crm_edge::rest::Routes::from_descriptors(&bytes).unwrap();
    assert!(
        routes
            .all()
            .iter()
            .any(|r| r.describe() == "GET /api/v1/customers/{id}")
    );
}

/// A build without the production adapters (the README's `cargo run`) refuses a configuration
/// that needs one, before it serves, saying how to get a build that has it.
#[cfg(not(feature = "kafka"))]
#[test]
fn a_build_without_kafka_refuses_kafka_brokers_saying_how_to_build_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = crm()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("KAFKA_BROKERS", "127.0.0.1:9092")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "never ready: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("built without Kafka"), "{stderr}");
    assert!(stderr.contains("--features kafka"), "{stderr}");
}

#[cfg(not(feature = "mongodb"))]
#[test]
fn a_build_without_mongodb_refuses_the_mongodb_store_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = crm()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CRM_CUSTOMER__STORE", "mongodb")
        .env("MONGODB_URL", "mongodb://127.0.0.1:27017/?replicaSet=rs0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a configuration error: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`customer.store` is `mongodb`, but this crm was built without MongoDB"),
        "{stderr}"
    );
    assert!(stderr.contains("--features mongodb"), "{stderr}");
}

/// `crm service-account secret` makes a fresh secret each time, with the hash IAM checks it by;
/// `--env` writes both as the lines of a `.env` (what `deploy/compose/init-env.sh` keeps).
#[test]
fn service_account_secrets_are_fresh_and_come_with_their_hash() {
    let pair = |args: &[&str]| {
        let out = crm().args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let first = pair(&["service-account", "secret", "sales", "--env"]);
    let second = pair(&["service-account", "secret", "sales", "--env"]);
    assert_ne!(first, second, "a new secret each time");
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 2, "{first}");
    let secret = lines[0]
        .strip_prefix("CRM_SALES__SERVICE_SECRET=")
        .unwrap_or_else(|| panic!("{first}"));
    let hash = lines[1]
        .strip_prefix("CRM_IAM__SERVICE_ACCOUNTS__SALES=")
        .unwrap_or_else(|| panic!("{first}"));
    assert!(secret.starts_with("ksvc_") && secret.len() > 40, "{secret}");
    assert_eq!(hash, crm_iam::domain::service_account::hash_secret(secret));
    assert!(
        crm_iam::domain::service_account::secret_matches(secret, hash),
        "IAM accepts the pair"
    );
    let toml = pair(&["service-account", "secret", "sales"]);
    assert!(toml.contains("[iam.service_accounts]"), "{toml}");
}
