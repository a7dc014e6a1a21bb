//! Notifications through the generated clients against a served CRM: registering sends a real
//! welcome email to a real SMTP server (started in the test: `support::smtp`); a new lead reaches every
//! watching stream of the sales manager live; the caller's notifications are listed, read and
//! marked read, and another user's or tenant's are `NOT_FOUND`; templates are managed with
//! etags, and a template that does not parse, names a variable its event does not give or
//! renders too much is `INVALID_ARGUMENT` naming the line, column and what is wrong.

use crate::support;

use std::process::Stdio;
use std::time::Duration;

use crm_core::testing::eventually;
use crm_notification::config::NotificationConfig;
use crm_proto::crm::notification::v1::notification_service_client::NotificationServiceClient;
use crm_proto::crm::notification::v1::template_service_client::TemplateServiceClient;
use crm_proto::crm::notification::v1::*;
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use crm_proto::crm::sales::v1::{CreateLeadRequest, Lead};
use futures::StreamExt;
use prost_types::FieldMask;
use tonic::Code;
use tonic::transport::Channel;

use support::iam::{PASSWORD, fields, invite, login, register};
use support::smtp::{SmtpSink, free_port};
use support::{TestServer, authorized, spawn, spawn_with};

fn notifications(server: &TestServer) -> NotificationServiceClient<Channel> {
    NotificationServiceClient::new(server.channel.clone())
}

fn templates(server: &TestServer) -> TemplateServiceClient<Channel> {
    TemplateServiceClient::new(server.channel.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn registering_sends_a_real_welcome_email() {
    let smtp = SmtpSink::start().await;
    let port = smtp.port;
    let server = spawn_with(move |config| {
        NotificationConfig {
            smtp_url: Some(crm_core::config::Secret::new(format!(
                "smtp://127.0.0.1:{port}"
            ))),
            email_from: Some("Kilang CRM <crm@kilangbatik.my>".into()),
            ..NotificationConfig::default()
        }
        .set(config)
    })
    .await;
    let owner = register(&server, "Kilang Desa Murni Batik", "siti@kilangbatik.my").await;
    let mail = smtp.received("siti@kilangbatik.my").await;
    assert!(mail.contains("To: siti@kilangbatik.my"), "{mail}");
    assert!(
        mail.contains("Subject: Selamat datang ke Kilang CRM"),
        "{mail}"
    );
    // Nobody has confirmed the address: no word the caller chose goes into the mail.
    for chosen in ["Kilang Desa Murni", "Siti Aminah", "kilang-desa-murni"] {
        assert!(!mail.contains(chosen), "{chosen:?} in {mail}");
    }
    assert!(mail.contains("text/html"), "an HTML part too: {mail}");

    // The notification is stored as sent, with the SMTP server's answer in its log.
    let mut client = notifications(&server);
    let sent = eventually("the welcome is recorded as sent", async || {
        client
            .list_notifications(authorized(
                ListNotificationsRequest::default(),
                &owner.access,
            ))
            .await
            .unwrap()
            .into_inner()
            .notifications
            .into_iter()
            .find(|n| n.status == DeliveryStatus::Sent as i32)
    })
    .await;
    assert_eq!(sent.channel, Channel_::Email as i32);
    assert_eq!(sent.attempts, 1);
    assert!(sent.send_time.is_some());
}

use crm_proto::crm::notification::v1::Channel as Channel_;

#[tokio::test(flavor = "multi_thread")]
async fn a_new_lead_reaches_every_watching_stream_of_the_sales_manager() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    invite(&server, &owner, "aminah@kilang.example", &["sales_manager"]).await;
    let manager = login(
        &server,
        &owner.tenant.slug,
        "aminah@kilang.example",
        PASSWORD,
    )
    .await
    .unwrap();
    let mut watchers = Vec::new();
    for _ in 0..2 {
        let stream = notifications(&server)
            .watch_notifications(authorized(
                WatchNotificationsRequest {
                    include_unread: true,
                },
                &manager.access_token,
            ))
            .await
            .unwrap()
            .into_inner();
        watchers.push(stream);
    }
    // Notification's view of users is built from IAM's events, sales' events come on another
    // topic: the lead is created once the manager's welcome shows notification knows them.
    let mut client = notifications(&server);
    eventually("the manager's welcome is stored", async || {
        client
            .list_notifications(authorized(
                ListNotificationsRequest::default(),
                &owner.access,
            ))
            .await
            .unwrap()
            .into_inner()
            .notifications
            .iter()
            .any(|n| n.recipient_address == "aminah@kilang.example")
            .then_some(())
    })
    .await;
    // A browser's watcher too: grpc-web over HTTP/1.1.
    let mut browser = GrpcWebWatch::open(server.addr, &manager.access_token).await;
    let mut leads = LeadServiceClient::new(server.channel.clone());
    let lead = leads
        .create_lead(authorized(
            CreateLeadRequest {
                lead: Some(Lead {
                    contact_name: "Encik Rahman".into(),
                    company_name: "Hotel Seri Malaysia".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    for stream in &mut watchers {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the lead reaches the stream")
            .unwrap()
            .unwrap();
        let n = next.notification.unwrap();
        assert!(!next.resync);
        assert_eq!(n.channel, Channel_::InApp as i32);
        assert_eq!(
            n.subject,
            "Prospek baharu: Encik Rahman (Hotel Seri Malaysia)"
        );
        assert_eq!(n.status, DeliveryStatus::Sent as i32);
        assert_eq!(n.trigger_event_type, "crm.sales.events.v1.LeadCreated");
        assert!(!lead.id.is_empty());
    }
    let seen = browser.next().await;
    assert_eq!(
        seen.notification.unwrap().subject,
        "Prospek baharu: Encik Rahman (Hotel Seri Malaysia)",
        "the browser's stream has it too"
    );

    // Listed as unread, marked read once, then no longer unread.
    let unread = client
        .list_notifications(authorized(
            ListNotificationsRequest {
                unread_only: true,
                ..Default::default()
            },
            &manager.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(unread.len(), 1);
    let id = unread[0].id.clone();
    let read = client
        .mark_notification_read(authorized(
            MarkNotificationReadRequest { id: id.clone() },
            &manager.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .notification
        .unwrap();
    assert_eq!(read.status, DeliveryStatus::Read as i32);
    assert!(read.read_time.is_some());
    let again = client
        .mark_notification_read(authorized(
            MarkNotificationReadRequest { id: id.clone() },
            &manager.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .notification
        .unwrap();
    assert_eq!(
        again.read_time, read.read_time,
        "reading twice changes nothing"
    );

    // Another user of the tenant without `notifications.read_all` (a rep) and another
    // tenant: NOT_FOUND, to read and to mark. The owner (read_all) reads it, but marks only
    // their own.
    invite(&server, &owner, "farid@kilang.example", &["sales_rep"]).await;
    let rep = login(
        &server,
        &owner.tenant.slug,
        "farid@kilang.example",
        PASSWORD,
    )
    .await
    .unwrap()
    .access_token;
    let stranger = register(&server, "Other", "other@other.example").await;
    for token in [&rep, &stranger.access, &owner.access] {
        let get = client
            .get_notification(authorized(GetNotificationRequest { id: id.clone() }, token))
            .await
            .map(drop);
        let mark = client
            .mark_notification_read(authorized(
                MarkNotificationReadRequest { id: id.clone() },
                token,
            ))
            .await
            .map(drop);
        if token == &owner.access {
            assert!(get.is_ok(), "{get:?}");
        } else {
            assert_eq!(get.unwrap_err().code(), Code::NotFound);
        }
        assert_eq!(mark.unwrap_err().code(), Code::NotFound);
    }
    // The owner reads the tenant's notifications: read_all.
    let tenants = client
        .list_notifications(authorized(
            ListNotificationsRequest {
                channel: Channel_::InApp as i32,
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert!(tenants.iter().any(|n| n.id == id));
    let strangers = client
        .list_notifications(authorized(
            ListNotificationsRequest::default(),
            &stranger.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert!(strangers.iter().all(|n| n.id != id));
}

fn template(subject: &str, body: &str) -> Template {
    Template {
        name: "deal won (en-GB)".into(),
        channel: Channel_::Email as i32,
        event_type: "crm.sales.events.v1.DealWon".into(),
        locale: "en-GB".into(),
        subject_template: subject.into(),
        body_template: body.into(),
        enabled: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_checked_managed_with_etags_and_private_to_their_tenant() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let mut client = templates(&server);
    // The built-in templates arrive with IAM's TenantCreated, handled in the background.
    eventually(
        "the 12 built-in templates (six flows in English and Malay)",
        async || {
            let seeded = client
                .list_templates(authorized(ListTemplatesRequest::default(), &owner.access))
                .await
                .unwrap()
                .into_inner()
                .templates
                .len();
            (seeded == 12).then_some(())
        },
    )
    .await;
    let create = async |client: &mut TemplateServiceClient<Channel>, t: Template| {
        client
            .create_template(authorized(
                CreateTemplateRequest {
                    template: Some(t),
                    request_id: String::new(),
                },
                &owner.access,
            ))
            .await
    };

    // Bad syntax, an unknown variable, too much output: INVALID_ARGUMENT by field, saying where.
    let bad = create(&mut client, template("Thanks", "Dear {{ customer_name }\n")).await;
    let status = bad.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["template.body_template"]);
    assert!(
        status.message().contains("line 1, column"),
        "{}",
        status.message()
    );
    let unknown = create(&mut client, template("Thanks {{ user_name }}", "ok")).await;
    let status = unknown.unwrap_err();
    assert_eq!(fields(&status), ["template.subject_template"]);
    assert!(
        status
            .message()
            .contains("`user_name` is not a variable of crm.sales.events.v1.DealWon")
            && status.message().contains("customer_name, customer_email"),
        "{}",
        status.message()
    );
    let huge = create(
        &mut client,
        template(
            "Thanks",
            "{% for i in range(600) %}{{ customer_name }}{% endfor %}",
        ),
    )
    .await;
    let status = huge.unwrap_err();
    assert_eq!(fields(&status), ["template.body_template"]);
    assert!(status.message().contains("at most"), "{}", status.message());

    // A good one; its name is unique in the tenant.
    let made = create(
        &mut client,
        template(
            "Thank you, {{ customer_name }}",
            "Your order of {{ amount }}.",
        ),
    )
    .await
    .unwrap()
    .into_inner()
    .template
    .unwrap();
    assert_eq!(made.locale, "en-GB");
    let twice = create(&mut client, template("Again", "again")).await;
    assert_eq!(twice.unwrap_err().code(), Code::AlreadyExists);

    // Changed by mask with the current etag; a stale etag is refused.
    let changed = client
        .update_template(authorized(
            UpdateTemplateRequest {
                template: Some(Template {
                    id: made.id.clone(),
                    enabled: false,
                    etag: made.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["enabled".into()],
                }),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert!(!changed.enabled);
    assert_ne!(changed.etag, made.etag);
    let stale = client
        .update_template(authorized(
            UpdateTemplateRequest {
                template: Some(Template {
                    id: made.id.clone(),
                    name: "renamed".into(),
                    etag: made.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["name".into()],
                }),
            },
            &owner.access,
        ))
        .await;
    assert_eq!(stale.unwrap_err().code(), Code::Aborted);

    // Listed among the built-in ones, filtered by event.
    let listed = client
        .list_templates(authorized(
            ListTemplatesRequest {
                event_type: "crm.sales.events.v1.DealWon".into(),
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .templates;
    let mut locales: Vec<&str> = listed.iter().map(|t| t.locale.as_str()).collect();
    locales.sort();
    assert_eq!(locales, ["en", "en-GB", "ms"]);

    // Another tenant: NOT_FOUND on every RPC that names it.
    let stranger = register(&server, "Other", "other@other.example").await;
    let id = made.id.clone();
    let get = client
        .get_template(authorized(
            GetTemplateRequest { id: id.clone() },
            &stranger.access,
        ))
        .await
        .map(drop);
    let update = client
        .update_template(authorized(
            UpdateTemplateRequest {
                template: Some(Template {
                    id: id.clone(),
                    name: "mine".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["name".into()],
                }),
            },
            &stranger.access,
        ))
        .await
        .map(drop);
    let delete = client
        .delete_template(authorized(
            DeleteTemplateRequest { id: id.clone() },
            &stranger.access,
        ))
        .await
        .map(drop);
    for result in [get, update, delete] {
        assert_eq!(result.unwrap_err().code(), Code::NotFound);
    }
    let theirs = client
        .list_templates(authorized(
            ListTemplatesRequest::default(),
            &stranger.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .templates;
    assert!(theirs.iter().all(|t| t.id != id));

    // Deleted by its tenant, then gone.
    client
        .delete_template(authorized(
            DeleteTemplateRequest { id: id.clone() },
            &owner.access,
        ))
        .await
        .unwrap();
    let gone = client
        .get_template(authorized(GetTemplateRequest { id }, &owner.access))
        .await;
    assert_eq!(gone.unwrap_err().code(), Code::NotFound);

    // A bad id is named.
    let bad_id = client
        .get_template(authorized(
            GetTemplateRequest { id: "nope".into() },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_id.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad_id), ["id"]);
}

/// `crm serve` as a process on `dir`, with `env` set, and its address once it is ready.
fn serve(dir: &std::path::Path, env: &[(&str, String)]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("KAFKA_BROKERS")
        .env_remove("MONGODB_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("crm serving "), "ready line: {line:?}");
    let addr = line.trim().rsplit(" on ").next().unwrap().to_owned();
    (child, addr)
}

/// A served CRM stopped (SIGTERM) when dropped, so a failing test leaves no server behind.
struct Running(Option<std::process::Child>);

impl Running {
    /// Kills it hard (SIGKILL), as a crash would.
    fn kill(mut self) {
        let mut child = self.0.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

/// The health of `service` on the CRM at `addr`.
async fn health(addr: &str, service: &str) -> i32 {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// The welcome's status and attempts, read from the stopped or running server's store.
async fn welcome_state(dir: &std::path::Path, email: &str) -> Option<(String, i64)> {
    let store = crm_core::storage::open_sqlite(&dir.join("notification.db"))
        .await
        .unwrap();
    let row: Option<(String, i64)> = sqlx::query_as(
        "select status, (select count(*) from delivery_log l where l.notification_id = n.id) \
         from notifications n where recipient_address = $1",
    )
    .bind(email)
    .fetch_optional(store.pool())
    .await
    .unwrap();
    store.close().await;
    row
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_delivers_its_retrying_mail_once_after_restart_and_shows_the_breaker() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let dir = tempfile::tempdir().unwrap();
    // The SMTP server is down: each attempt fails, the welcome is RETRYING, and after two
    // failures in a row the email breaker opens.
    let port = free_port();
    let env = [
        (
            "CRM_NOTIFICATION__SMTP_URL",
            format!("smtp://127.0.0.1:{port}"),
        ),
        ("CRM_NOTIFICATION__RETRY_MIN_MILLIS", "100".into()),
        ("CRM_NOTIFICATION__RETRY_MAX_MILLIS", "400".into()),
        ("CRM_NOTIFICATION__MAX_ATTEMPTS", "1000".into()),
        ("CRM_NOTIFICATION__BREAKER_FAILURES", "2".into()),
        ("CRM_NOTIFICATION__BREAKER_OPEN_MILLIS", "2000".into()),
        ("CRM_NOTIFICATION__POLL_MILLIS", "100".into()),
    ];
    let (server, addr) = serve(dir.path(), &env);
    let server = Running(Some(server));
    assert_eq!(
        health(&addr, "breaker:notification.email").await,
        ServingStatus::Serving as i32,
        "closed at first"
    );
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let email = "siti@kilangbatik.my";
    crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient::new(channel)
        .register(crm_proto::crm::iam::v1::RegisterRequest {
            locale: String::new(),
            tenant_name: "Kilang Desa Murni Batik".into(),
            email: email.into(),
            password: PASSWORD.into(),
            display_name: "Siti Aminah".into(),
        })
        .await
        .unwrap();
    let attempts = eventually("the welcome is retrying", || async {
        match welcome_state(dir.path(), email).await {
            Some((status, attempts)) if status == "retrying" && attempts >= 2 => Some(attempts),
            _ => None,
        }
    })
    .await;
    assert!(attempts >= 2);
    // The breaker is open: in health (the process itself still serves) and on /metrics.
    eventually("health shows the open breaker", || async {
        (health(&addr, "breaker:notification.email").await == ServingStatus::NotServing as i32)
            .then_some(())
    })
    .await;
    assert_eq!(health(&addr, "").await, ServingStatus::Serving as i32);
    let text = support::scrape(&addr).await;
    for (state, value) in [("open", 1), ("closed", 0), ("half_open", 0)] {
        let line = format!(
            "crm_circuit_breaker_state{{breaker=\"notification.email\",state=\"{state}\"}} {value}\n"
        );
        assert!(text.contains(&line), "{line} in {text}");
    }
    assert!(
        text.contains(
            "crm_circuit_breaker_state{breaker=\"notification.sms\",state=\"closed\"} 1\n"
        ),
        "{text}"
    );

    // Killed hard while retrying; the SMTP server comes up; a new server on the same data
    // sends the welcome exactly once.
    server.kill();
    let (status, _) = welcome_state(dir.path(), email).await.unwrap();
    assert_eq!(status, "retrying", "nothing was lost with the process");
    let smtp = SmtpSink::start_on(port).await;
    let (server, addr) = serve(dir.path(), &env);
    let _server = Running(Some(server));
    let mail = smtp.received(email).await;
    assert!(
        mail.contains("Subject: Selamat datang ke Kilang CRM"),
        "{mail}"
    );
    let sent = eventually("the welcome is recorded as sent", || async {
        match welcome_state(dir.path(), email).await {
            Some((status, attempts)) if status == "sent" => Some(attempts),
            _ => None,
        }
    })
    .await;
    assert!(
        sent > attempts,
        "every attempt is in the log: {sent} after {attempts}"
    );
    assert_eq!(smtp.messages(), 1, "sent once: {}", smtp.everything());
    assert_eq!(
        health(&addr, "breaker:notification.email").await,
        ServingStatus::Serving as i32
    );
}

/// `WatchNotifications` as a browser calls it: grpc-web over HTTP/1.1, the response read frame
/// by frame as it streams.
struct GrpcWebWatch {
    _sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    body: hyper::body::Incoming,
    buffer: Vec<u8>,
}

impl GrpcWebWatch {
    async fn open(addr: std::net::SocketAddr, token: &str) -> GrpcWebWatch {
        use prost::Message;
        let mut sender = support::http1_connection(addr).await;
        let payload = WatchNotificationsRequest {
            include_unread: false,
        }
        .encode_to_vec();
        let mut frame = vec![0u8];
        frame.extend((payload.len() as u32).to_be_bytes());
        frame.extend(payload);
        let request = http::Request::post(format!(
            "http://{addr}/crm.notification.v1.NotificationService/WatchNotifications"
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::from(frame)))
        .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/grpc-web+proto"
        );
        GrpcWebWatch {
            _sender: sender,
            body: response.into_body(),
            buffer: Vec::new(),
        }
    }

    /// The next message of the stream (30 s at most).
    async fn next(&mut self) -> WatchNotificationsResponse {
        use http_body_util::BodyExt;
        use prost::Message;
        loop {
            if self.buffer.len() >= 5 {
                let len = u32::from_be_bytes(self.buffer[1..5].try_into().unwrap()) as usize;
                if self.buffer.len() >= 5 + len {
                    assert_eq!(self.buffer[0], 0, "a message, not the trailers");
                    let message = WatchNotificationsResponse::decode(&self.buffer[5..5 + len])
                        .expect("a WatchNotificationsResponse");
                    self.buffer.drain(..5 + len);
                    return message;
                }
            }
            let frame = tokio::time::timeout(Duration::from_secs(30), self.body.frame())
                .await
                .expect("the stream sends within 30 s")
                .expect("the stream is still open")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }
}

/// Issue 29, item 10: an open `WatchNotifications` ends with UNAUTHENTICATED once its token is
/// revoked (here: the watcher's role is taken away), instead of delivering on.
#[tokio::test(flavor = "multi_thread")]
async fn an_open_watch_ends_when_its_token_is_revoked() {
    use crm_proto::crm::iam::v1::RevokeRoleRequest;
    use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
    let server = spawn().await;
    let owner = register(&server, "Kilang Tonton", "owner@kilang.example").await;
    let manager_user = invite(&server, &owner, "aminah@kilang.example", &["sales_manager"]).await;
    let manager = login(
        &server,
        &owner.tenant.slug,
        "aminah@kilang.example",
        PASSWORD,
    )
    .await
    .unwrap();
    let mut stream = notifications(&server)
        .watch_notifications(authorized(
            WatchNotificationsRequest {
                include_unread: false,
            },
            &manager.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    UserServiceClient::new(server.channel.clone())
        .revoke_role(authorized(
            RevokeRoleRequest {
                user_id: manager_user.id.clone(),
                role: "sales_manager".into(),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .expect("the stream ends, it does not hang on");
    let status = ended.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{status:?}");
}
