//! A context added in one place: `notes`, a tiny context written here (the shape of
//! `docs/contributing.md`'s "Adding a context"), served by the launcher from a list that is the
//! binary's own plus it. Nothing of the launcher names it: its store is opened and migrated, its
//! section read, its target accepted, its service registered (with health and the auth layer),
//! its calls to IAM looped back with a service secret, its outbox relayed to its topic and its
//! consumer fed; an edge in another process forwards its calls to `edge.upstreams.notes`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use crm::Contexts;
use crm_core::RequestContext;
use crm_core::authz::Permission;
use crm_core::config::{Config, Section, Target};
use crm_core::storage::{Database, Migrations};
use crm_events::bounded::{Access, BoundedContext, Call, Provides, Started, Startup};
use crm_events::consumer::{Handler, Tx};
use crm_events::{Causation, Consumer, Envelope, Inbox, OutboxEvent};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::support::{self, TestServer, iam};

// ---- the context, as its crate would write it ---------------------------------------------

/// Its section, `[notes]`: a greeting, and what the launcher fills in one process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NotesConfig {
    greeting: String,
    /// IAM, which it calls (the launcher points it at the process when IAM runs there).
    iam_endpoint: Option<String>,
    /// Its service-account secret (the launcher gets one from IAM when IAM runs there).
    service_secret: Option<String>,
}

/// Its defaults: what a key not given is (the section's `defaults` are these, for `crm config`).
impl Default for NotesConfig {
    fn default() -> Self {
        NotesConfig {
            greeting: "Selamat datang".into(),
            iam_endpoint: None,
            service_secret: None,
        }
    }
}

static SECTION: Section = Section {
    name: "notes",
    defaults: || {
        figment::value::Value::serialize(NotesConfig::default()).expect("the defaults serialise")
    },
    check: |config| match config.section::<NotesConfig>("notes") {
        Ok(notes) if notes.greeting.is_empty() => {
            vec!["`notes.greeting`: must not be empty".into()]
        }
        Ok(_) => Vec::new(),
        Err(e) => e.problems,
    },
};

static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("tests/fixtures/notes/sqlite"),
    postgres: sqlx::migrate!("tests/fixtures/notes/postgres"),
};

const SERVICE: &str = "crm.notes.v1.NotesService";
const TOPIC: &str = "crm.notes.events.v1";

/// The context's descriptor: all the launcher knows of it.
static NOTES: BoundedContext = BoundedContext {
    name: "notes",
    has_store: true,
    topic: Some(TOPIC),
    migrations: Some(&MIGRATIONS),
    config: Some(&SECTION),
    services: &[SERVICE],
    access: Access::PEOPLE,
    calls: &[Call {
        context: "iam",
        endpoint: "iam_endpoint",
    }],
    service_secret: Some("service_secret"),
    provides: Provides::NOTHING,
    // What IAM hands out for it: owners and admins hold both, the roles named here as given.
    permissions: &[
        Permission {
            name: "notes.read",
            allows: "read notes",
            held_by: &["sales_manager", "sales_rep", "viewer"],
        },
        Permission {
            name: "notes.write",
            allows: "write notes",
            held_by: &["sales_manager", "sales_rep:own"],
        },
    ],
    sends_notices: false,
    start,
};

/// The binary's contexts and the example: what a `crm` built with it would hold.
static WITH_NOTES: [&BoundedContext; 6] = [
    &crm_iam::CONTEXT,
    &crm_customer::CONTEXT,
    &crm_sales::CONTEXT,
    &crm_notification::CONTEXT,
    &crm_activity::CONTEXT,
    &NOTES,
];

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup.db.cloned().expect("a store: has_store is set");
        let settings: NotesConfig = startup.config.section("notes")?;
        let server = NotesServer {
            db: db.clone(),
            settings: Arc::new(settings),
        };
        Ok(Started {
            register: Box::new(move |services| {
                services.add(server);
                NOTES.access.apply(services);
            }),
            consumers: vec![(
                TOPIC,
                Consumer::new("notes-counter", Counter, Inbox::new(db)),
            )],
            ..Started::default()
        })
    })
}

/// Its event (a contract message, written by hand here instead of generated).
#[derive(Clone, PartialEq, prost::Message)]
struct NoteAdded {
    #[prost(string, tag = "1")]
    note_id: String,
}

impl prost::Name for NoteAdded {
    const NAME: &'static str = "NoteAdded";
    const PACKAGE: &'static str = TOPIC;
}

#[derive(Clone, PartialEq, prost::Message)]
struct AddNoteRequest {
    #[prost(string, tag = "1")]
    body: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AddNoteResponse {
    #[prost(string, tag = "1")]
    note_id: String,
    #[prost(string, tag = "2")]
    greeting: String,
    /// Whether the launcher gave it IAM's address and a service secret.
    #[prost(bool, tag = "3")]
    wired: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CountNotesRequest {}

#[derive(Clone, PartialEq, prost::Message)]
struct CountNotesResponse {
    /// Notes its consumer has seen (from its own events).
    #[prost(int64, tag = "1")]
    seen: i64,
}

/// Its gRPC service, as tonic generates one (by hand: no contract is compiled for a test).
#[derive(Clone)]
struct NotesServer {
    db: Database,
    settings: Arc<NotesConfig>,
}

impl tonic::server::NamedService for NotesServer {
    const NAME: &'static str = SERVICE;
}

impl NotesServer {
    async fn add(
        &self,
        request: tonic::Request<AddNoteRequest>,
    ) -> Result<AddNoteResponse, tonic::Status> {
        let context = RequestContext::of(&request)?;
        let principal = context.principal()?;
        principal.require("notes.write")?;
        let tenant = principal.tenant_id;
        let causation = Causation::of_request(context);
        let body = request.get_ref().body.trim().to_owned();
        if body.is_empty() {
            return Err(crm_core::Error::invalid_field("body", "must not be empty").into());
        }
        let id = uuid::Uuid::now_v7().to_string();
        let event = OutboxEvent::new(
            "note",
            Envelope::new(
                "crm/notes",
                tenant,
                &id,
                &NoteAdded {
                    note_id: id.clone(),
                },
                &causation,
            ),
        );
        self.db
            .in_tenant_write(tenant, "adding a note", async |conn| {
                sqlx::query("insert into notes (tenant_id, id, body) values ($1, $2, $3)")
                    .bind(tenant.to_string())
                    .bind(&id)
                    .bind(&body)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| crm_core::storage::map_db_error(e, &[], "adding a note"))?;
                crm_events::outbox::append_events(conn, &[event]).await
            })
            .await?;
        Ok(AddNoteResponse {
            note_id: id,
            greeting: self.settings.greeting.clone(),
            wired: self.settings.iam_endpoint.is_some() && self.settings.service_secret.is_some(),
        })
    }

    async fn count(
        &self,
        request: tonic::Request<CountNotesRequest>,
    ) -> Result<CountNotesResponse, tonic::Status> {
        let principal = RequestContext::of(&request)?.principal()?;
        principal.require("notes.read")?;
        let tenant = principal.tenant_id;
        let seen = self
            .db
            .in_tenant(tenant, "counting notes", async |conn| {
                sqlx::query_scalar::<_, i64>("select seen from note_counts where tenant_id = $1")
                    .bind(tenant.to_string())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| crm_core::storage::map_db_error(e, &[], "counting notes"))
            })
            .await?;
        Ok(CountNotesResponse {
            seen: seen.unwrap_or(0),
        })
    }
}

/// The unary methods of [`NotesServer`], as tonic's generated code wraps each.
struct AddNote(NotesServer);
struct CountNotes(NotesServer);

impl tonic::server::UnaryService<AddNoteRequest> for AddNote {
    type Response = AddNoteResponse;
    type Future = BoxFuture<'static, Result<tonic::Response<AddNoteResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<AddNoteRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move { server.add(request).await.map(tonic::Response::new) })
    }
}

impl tonic::server::UnaryService<CountNotesRequest> for CountNotes {
    type Response = CountNotesResponse;
    type Future = BoxFuture<'static, Result<tonic::Response<CountNotesResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<CountNotesRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move { server.count(request).await.map(tonic::Response::new) })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for NotesServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move {
            // A codec per method: it is typed by the method's messages.
            Ok(match request.uri().path() {
                "/crm.notes.v1.NotesService/AddNote" => {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.unary(AddNote(server), request).await
                }
                "/crm.notes.v1.NotesService/CountNotes" => {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.unary(CountNotes(server), request).await
                }
                _ => tonic::Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

/// Its consumer: counts the notes of its own events, per tenant.
struct Counter;

#[async_trait]
impl Handler for Counter {
    fn wants(&self, event_type: &str) -> bool {
        event_type == <NoteAdded as prost::Name>::full_name()
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        sqlx::query(
            "insert into note_counts (tenant_id, seen) values ($1, 1)
             on conflict (tenant_id) do update set seen = note_counts.seen + 1",
        )
        .bind(&event.tenant_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

// ---- a client, as generated code would be -------------------------------------------------

async fn unary<Req, Res>(
    server: &TestServer,
    token: &str,
    method: &'static str,
    message: Req,
) -> Result<Res, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Res: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(message);
    if !token.is_empty() {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let path = http::uri::PathAndQuery::from_static(method);
    grpc.unary(request, path, tonic_prost::ProstCodec::default())
        .await
        .map(tonic::Response::into_inner)
}

async fn add_note(
    server: &TestServer,
    token: &str,
    body: &str,
) -> Result<AddNoteResponse, tonic::Status> {
    unary(
        server,
        token,
        "/crm.notes.v1.NotesService/AddNote",
        AddNoteRequest { body: body.into() },
    )
    .await
}

async fn seen(server: &TestServer, token: &str) -> i64 {
    unary::<_, CountNotesResponse>(
        server,
        token,
        "/crm.notes.v1.NotesService/CountNotes",
        CountNotesRequest {},
    )
    .await
    .expect("CountNotes answers")
    .seen
}

async fn health(server: &TestServer, service: &str) -> Result<i32, tonic::Status> {
    HealthClient::new(server.channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status)
}

/// A token of a new tenant's user holding the notes' permissions, signed by the test key (no
/// IAM runs where it is used).
fn writer(server: &TestServer) -> String {
    server.token_claiming(
        crm_core::TenantId::new(),
        crm_core::UserId::new(),
        &["writer"],
        &["notes.read", "notes.write"],
    )
}

// ---- the launcher serves it ----------------------------------------------------------------

#[tokio::test]
async fn a_context_in_the_launchers_list_is_served_with_its_store_section_calls_and_events() {
    let server = support::spawn_contexts(Contexts(&WITH_NOTES), |_| {}).await;
    // Tokens IAM issues: it hands out the permissions the context declares.
    let owner = iam::register(&server, "Kilang Desa Murni Batik", "siti@kilang.example").await;
    let token = owner.access.clone();
    let viewer = iam::invite(&server, &owner, "ali@kilang.example", &["viewer"]).await;
    let viewer = iam::login(&server, &owner.tenant.slug, &viewer.email, iam::PASSWORD)
        .await
        .unwrap()
        .access_token;

    // Served, behind the auth layer, with its section's default and its calls wired.
    let added = add_note(&server, &token, "Batik order from Kuala Terengganu")
        .await
        .unwrap();
    assert_eq!(added.greeting, "Selamat datang", "its section's default");
    assert!(
        added.wired,
        "IAM's address and a service secret, given by the launcher"
    );
    let refused = add_note(&server, "", "no token").await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let bad = add_note(&server, &token, "  ").await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    let denied = add_note(&server, &viewer, "a viewer's note")
        .await
        .unwrap_err();
    assert_eq!(
        denied.code(),
        Code::PermissionDenied,
        "viewers hold notes.read only: {denied:?}"
    );

    // Its event went through its outbox and the bus to its consumer, in its own store.
    crm_core::testing::eventually("the consumer counts the note", async || {
        (seen(&server, &token).await == 1).then_some(())
    })
    .await;
    assert_eq!(seen(&server, &viewer).await, 1, "a viewer reads them");
    let other = iam::register(&server, "Batik Lain", "awang@lain.example").await;
    assert_eq!(
        seen(&server, &other.access).await,
        0,
        "another tenant sees none of it"
    );

    // Health names it like every other service.
    assert_eq!(
        health(&server, SERVICE).await.unwrap(),
        ServingStatus::Serving as i32
    );
    // Its store is the launcher's: `<data-dir>/notes.db`.
    assert!(server.data_dir.join("notes.db").exists());
}

#[tokio::test]
async fn its_name_is_a_target_and_its_section_is_checked_like_every_other() {
    let with = Contexts(&WITH_NOTES);
    assert_eq!(
        with.parse_target(" Notes ").unwrap(),
        Target::named("notes")
    );
    let unknown = Contexts::BUILT_IN.parse_target("notes").unwrap_err();
    assert!(
        unknown.contains("iam, customer, sales, notification"),
        "the binary's own list names its targets: {unknown}"
    );
    assert!(
        with.reference().contains("notes.greeting"),
        "`crm config --reference` lists its keys"
    );

    // Only `notes` (and IAM, which it calls, elsewhere): no other context starts.
    let server = support::spawn_contexts(with, |config: &mut Config| {
        config.target = vec![Target::named("notes")];
        config.set_section_key("notes", "greeting", "Apa khabar");
    })
    .await;
    let token = writer(&server);
    let added = add_note(&server, &token, "a note").await.unwrap();
    assert_eq!(added.greeting, "Apa khabar", "the section as configured");
    assert!(
        !added.wired,
        "IAM does not run here: nothing is looped back"
    );
    let status = health(&server, crm_proto::services::IAM[0])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "IAM is not served here");
}

#[tokio::test]
async fn an_edge_in_another_process_forwards_its_calls_to_its_upstream() {
    let notes = support::spawn_contexts(Contexts(&WITH_NOTES), |config: &mut Config| {
        config.target = vec![Target::named("notes")];
    })
    .await;
    let upstream = format!("http://{}", notes.addr);
    let edge = support::spawn_contexts(Contexts(&WITH_NOTES), move |config: &mut Config| {
        config.target = vec![Target::EDGE, Target::named("iam")];
        config.edge.upstreams.insert("notes".into(), upstream);
    })
    .await;
    let token = writer(&edge);
    let added = add_note(&edge, &token, "through the edge").await.unwrap();
    assert_eq!(
        added.greeting, "Selamat datang",
        "answered by the notes process"
    );
    // The edge applies the context's access before forwarding.
    let refused = add_note(&edge, "", "no token").await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    crm_core::testing::eventually("the notes process counts it", async || {
        (seen(&notes, &token).await == 1).then_some(())
    })
    .await;
}

/// What the built-in roles held when IAM listed every context's permissions itself (the
/// contexts now declare them, and the roles must hold exactly the same), and what the activity
/// context added: the role matrix, pinned.
#[test]
fn the_built_in_roles_hold_what_the_contexts_declare_and_nothing_else() {
    let catalog = crm_iam::domain::role::Catalog::new(Contexts::BUILT_IN.permissions());
    let every: Vec<&str> = catalog.permissions().iter().map(|p| p.name).collect();
    assert_eq!(every, EVERY);
    let admin: Vec<&str> = EVERY
        .iter()
        .copied()
        .filter(|p| *p != "tenant.manage")
        .collect();
    for (role, expected) in [
        ("owner", EVERY),
        ("admin", admin.as_slice()),
        ("sales_manager", SALES_MANAGER),
        ("sales_rep", SALES_REP),
        ("viewer", VIEWER),
    ] {
        assert_eq!(catalog.built_in(role).unwrap(), expected, "{role}");
    }
    assert_eq!(catalog.built_in("batik_designer"), None, "not built in");
    // A service account's permissions are some context's (or the directory's, which no role
    // grants).
    for account in crm_iam::domain::service_account::SERVICE_ACCOUNTS {
        for p in account.permissions {
            assert!(
                *p == crm_iam::domain::service_account::DIRECTORY_READ || catalog.contains(p),
                "{}: {p} is no context's permission",
                account.name
            );
        }
    }
}

const EVERY: &[&str] = &[
    "activities.read",
    "activities.write",
    "api_keys.manage",
    "audit.read",
    "authorization.check_others",
    "custom_fields.manage",
    "customers.delete",
    "customers.export",
    "customers.import",
    "customers.read",
    "customers.write",
    "deals.approve_large",
    "deals.read",
    "leads.assign",
    "leads.convert",
    "leads.read",
    "leads.write",
    "notifications.read",
    "notifications.read_all",
    "opportunities.close",
    "opportunities.read",
    "opportunities.write",
    "pipelines.manage",
    "pipelines.read",
    "roles.manage",
    "tasks.read",
    "tasks.write",
    "templates.manage",
    "tenant.manage",
    "users.manage",
    "users.read",
    "views.share",
];
const SALES_MANAGER: &[&str] = &[
    "activities.read",
    "activities.write",
    "customers.delete",
    "customers.export",
    "customers.import",
    "customers.read",
    "customers.write",
    "deals.approve_large",
    "deals.read",
    "leads.assign",
    "leads.convert",
    "leads.read",
    "leads.write",
    "notifications.read",
    "opportunities.close",
    "opportunities.read",
    "opportunities.write",
    "pipelines.manage",
    "pipelines.read",
    "tasks.read",
    "tasks.write",
    "templates.manage",
    "users.read",
    "views.share",
];
const SALES_REP: &[&str] = &[
    "activities.read:own",
    "activities.write:own",
    "customers.read:own",
    "customers.write:own",
    "deals.read",
    "leads.convert:own",
    "leads.read",
    "leads.write:own",
    "notifications.read",
    "opportunities.close:own",
    "opportunities.read",
    "opportunities.write:own",
    "pipelines.read",
    "tasks.read:own",
    "tasks.write:own",
    "users.read",
];
const VIEWER: &[&str] = &[
    "activities.read",
    "customers.read",
    "deals.read",
    "leads.read",
    "notifications.read",
    "opportunities.read",
    "pipelines.read",
    "tasks.read",
    "users.read",
];
