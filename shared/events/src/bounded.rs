//! What a bounded context tells the launcher about itself: one [`BoundedContext`] per context
//! crate, and the launcher's list of them is the one place a context is added (see
//! `docs/contributing.md`). The launcher opens and migrates each enabled context's store, starts
//! it, registers its services, publishes its topic and relays its outbox, all by looping over
//! the list.
//!
//! It lives beside the events because a context hands the launcher its outboxes and consumers,
//! which are this crate's types; every context crate already depends on it, and the edge, which
//! runs no context, does not need it.

use futures::future::BoxFuture;

use crm_core::authz::Permission;
use crm_core::config::{Config, Secret, Section, Target};
use crm_core::grpc::ServiceSet;
use crm_core::revocation::Revocations;
use crm_core::storage::{Database, Migrations};
use crm_core::supervise::Task;

use crate::{Consumer, OutboxLog};

/// What a context gets to start with.
pub struct Startup<'a> {
    /// The process configuration.
    pub config: &'a Config,
    /// Its store, opened and migrated (`None` for a context without one).
    pub db: Option<&'a Database>,
    /// Where access-token revocations are marked and checked (shared with the auth layer).
    pub revocations: &'a Revocations,
    /// The permissions every context of the binary declares (what IAM hands out).
    pub permissions: &'a [Permission],
    /// The topics of the binary's contexts that send notices ([`BoundedContext::sends_notices`]):
    /// what the notification context reads them from.
    pub notice_topics: &'a [&'static str],
}

/// A started context: how to serve it, and what it adds to the process.
pub struct Started {
    /// Adds its gRPC services (and opens the methods that need no token).
    pub register: Box<dyn FnOnce(&mut ServiceSet) + Send>,
    /// The public keys of the access tokens it signs (IAM's), for the process's verifier.
    pub token_keys: Option<jsonwebtoken::jwk::JwkSet>,
    /// Where its events wait when its store is not its SQL database (customers on MongoDB):
    /// the launcher relays these too, and reports their backlog. Empty when its outbox is in its
    /// SQL store (the launcher relays that one by itself).
    pub outboxes: Vec<OutboxLog>,
    /// The API keys it authenticates (IAM's): the process's request layer then accepts them
    /// besides access tokens.
    pub api_keys: Option<std::sync::Arc<dyn crm_core::layer::ApiKeys>>,
    /// The event consumers it runs, each with the topic it reads (another context's). The
    /// launcher feeds each from the producer's outbox when the producer runs in this process,
    /// else from Kafka.
    pub consumers: Vec<(&'static str, Consumer)>,
    /// Background work it runs while the process serves (e.g. sales' recovery of unfinished
    /// conversions): the launcher supervises each (started again if it stops; the process goes
    /// out if one keeps stopping) and stops them at shutdown.
    pub tasks: Vec<Task>,
    /// Its circuit breakers, shown on `/metrics` and in health.
    pub breakers: Vec<crm_core::breaker::NamedBreaker>,
}

/// A context that registers nothing and adds nothing: a context fills only what it has
/// (`Started { register, ..Started::default() }`).
impl Default for Started {
    fn default() -> Self {
        Started {
            register: Box::new(|_: &mut ServiceSet| {}),
            token_keys: None,
            outboxes: Vec::new(),
            api_keys: None,
            consumers: Vec::new(),
            tasks: Vec::new(),
            breakers: Vec::new(),
        }
    }
}

/// Starts a context on its store.
pub type Start = for<'a> fn(Startup<'a>) -> BoxFuture<'a, anyhow::Result<Started>>;

/// A bounded context, as the launcher sees it.
pub struct BoundedContext {
    /// Its name: the target that runs it (`--target iam`), its store (`<data-dir>/iam.db`, or
    /// schema `iam` in PostgreSQL), its section of the configuration and its upstream at the
    /// edge (`edge.upstreams.iam`).
    pub name: &'static str,
    /// Whether it keeps a store (`<data-dir>/<name>.db`, or schema `<name>` in PostgreSQL).
    pub has_store: bool,
    /// The topic its events go to (`crm.<name>.events.v1`), if it publishes any: its outbox
    /// is relayed there, and Kafka creates it at startup.
    pub topic: Option<&'static str>,
    /// Its migrations per engine, once it has tables (which include its outbox).
    pub migrations: Option<&'static Migrations>,
    /// Its own section of the configuration (`[iam]`), if it has one.
    pub config: Option<&'static Section>,
    /// Its gRPC services (`crm_proto::services::IAM`): what an edge forwards to its upstream
    /// when it runs elsewhere.
    pub services: &'static [&'static str],
    /// Which of its methods need no token, or take service tokens: what its process's request
    /// layer applies, and an edge proxying to it applies the same before forwarding.
    pub access: Access,
    /// The contexts it calls. In a process that runs both, the launcher points the call at
    /// the process itself, unless the configuration says where.
    pub calls: &'static [Call],
    /// The key of its section that holds its service-account secret, when it calls other
    /// contexts for itself (not for a user). In a process that also runs a context that issues
    /// service tokens, the launcher gives it a secret made for this process, unless the
    /// configuration sets one.
    pub service_secret: Option<&'static str>,
    /// What it does for the other contexts of the process, if anything (IAM: service secrets,
    /// API keys).
    pub provides: Provides,
    /// Its permissions, with what each allows and which built-in roles hold it: IAM hands out
    /// those of every context (roles, tokens, `ListPermissions`).
    pub permissions: &'static [Permission],
    /// Whether it asks the notification context to tell users something: it publishes
    /// `crm.notification.v1.NoticeRequested` on its topic (a task's reminder), which the
    /// notification context reads from every such context's topic.
    pub sends_notices: bool,
    /// Builds it on its store.
    pub start: Start,
}

/// A call from one context to another.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// The context called (`customer`).
    pub context: &'static str,
    /// The key of the caller's section that holds the callee's address (`customer_endpoint`).
    pub endpoint: &'static str,
}

/// Issues a secret for the service account of `service` that this process only knows: records
/// what it needs in the configuration (IAM keeps the hash in `iam.service_accounts`) and returns
/// the secret, or `None` when the configuration already gives that service an account (the
/// operator's secret is then the one to use).
pub type IssueSecret = fn(&mut Config, service: &str) -> anyhow::Result<Option<Secret>>;

/// What a context does for the other contexts of the process.
#[derive(Clone, Copy, Debug)]
pub struct Provides {
    /// It issues service tokens (IAM): the secrets of the other contexts' accounts come from it.
    pub service_secrets: Option<IssueSecret>,
    /// The shape of the API keys it authenticates (IAM): an edge in a process without it
    /// forwards credentials of that shape to it instead of checking them as access tokens.
    pub api_keys: Option<fn(&str) -> bool>,
}

impl Provides {
    /// Nothing: what most contexts provide.
    pub const NOTHING: Provides = Provides {
        service_secrets: None,
        api_keys: None,
    };
}

/// The methods of a context that differ from the rule (people with an access token or API key):
/// full paths, `/crm.iam.v1.AuthService/Login`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Access {
    /// Callable without a token (how a caller gets one).
    pub open: &'static [&'static str],
    /// Callable by service tokens as well as people.
    pub for_services: &'static [&'static str],
    /// Callable by service tokens only.
    pub internal: &'static [&'static str],
}

impl Access {
    /// Only people, on every method.
    pub const PEOPLE: Access = Access {
        open: &[],
        for_services: &[],
        internal: &[],
    };

    /// Applies these to `services`.
    pub fn apply(&self, services: &mut ServiceSet) {
        for method in self.open {
            services.open_method(method);
        }
        for method in self.for_services {
            services.service_method(method);
        }
        for method in self.internal {
            services.internal_method(method);
        }
    }
}

impl BoundedContext {
    /// The target that runs it.
    pub fn target(&self) -> Target {
        Target::named(self.name)
    }
}

/// A context whose services are not built yet: every method answers `UNIMPLEMENTED`, naming
/// `capability` (see [`ServiceSet::add_unavailable`]).
pub fn placeholder(services: &'static [&'static str], capability: &'static str) -> Started {
    Started {
        register: Box::new(move |set: &mut ServiceSet| {
            for name in services {
                set.add_unavailable(name, capability);
            }
        }),
        ..Started::default()
    }
}
