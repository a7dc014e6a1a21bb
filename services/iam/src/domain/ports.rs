//! What the application needs from the outside: a store for IAM's aggregates (SQLite and
//! PostgreSQL adapters) and a login throttle (in memory and Redis).

use std::time::Duration;

use async_trait::async_trait;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::Millis;
use super::api_key::ApiKey;
use super::audit::{AuditEntry, AuditKind};
use super::email::Email;
use super::invitation::Invitation;
use super::mfa::Challenge;
use super::password::Password;
use super::role::CustomRole;
use super::saved_view::SavedView;
use super::session::Session;
use super::sso::{Flow, Identity, SsoProvider, SsoRefusal};
use super::tenant::Tenant;
use super::user::{User, UserStatus};

pub use crm_events::OutboxEvent;

/// What a write brings along, in the same transaction: events, audit entries, revocations.
#[derive(Debug, Default)]
pub struct Changes {
    /// Outbox events.
    pub events: Vec<OutboxEvent>,
    /// Audit entries.
    pub audit: Vec<AuditEntry>,
    /// Revoke every session of this user, stamped at this time.
    pub revoke_sessions_of: Option<(UserId, Millis)>,
    /// This change takes an active owner away: within its transaction, under a lock on the
    /// tenant, the store checks that another active owner remains, and refuses the change with
    /// `LAST_OWNER` otherwise. Two owners demoting each other at once cannot both succeed.
    pub keep_an_owner: bool,
    /// Replace this user's recovery codes with these hashes (none: remove them).
    pub recovery_codes: Option<(UserId, Vec<String>)>,
    /// Link a provider account (issuer, subject) to this user, at this time.
    pub link_identity: Option<(String, String, UserId, Millis)>,
    /// The custom roles this change hands out: within its transaction, under a lock on the
    /// tenant, each must still exist, or the change is refused (`ROLE_NOT_FOUND`). A role
    /// deleted at the same moment counts its holders under the same lock, so one of the two
    /// fails: nobody holds the name of a deleted role.
    pub custom_roles: Vec<String>,
    /// Store (or replace) an invited user's current link, or end the user's invitation.
    pub invitation: Option<InvitationWrite>,
}

/// What a change does to an invitation.
#[derive(Debug)]
pub enum InvitationWrite {
    /// The user's current link is this one (the earlier stops working).
    Put(Invitation),
    /// The user accepted the link whose token has this hash: its row goes, and the change is
    /// refused (`INVITATION_INVALID`) if that link is no longer the current one (used, resent
    /// or revoked in between).
    Spend(UserId, String),
    /// The user's invitation is withdrawn.
    End(UserId),
}

impl Changes {
    /// Only audit entries.
    pub fn audit(entry: AuditEntry) -> Changes {
        Changes {
            audit: vec![entry],
            ..Changes::default()
        }
    }
}

/// A change to one of IAM's aggregates, decided on the state read under the write lock (the
/// etag and the rules checked on that state): what to write with it, or `None` when nothing
/// changed and nothing is saved.
pub type Change<'a, T> = crm_core::storage::Change<'a, T, Changes>;

/// A second-factor code to spend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// A TOTP code good for this time step.
    Step(i64),
    /// A recovery code, by its hash.
    RecoveryCode(String),
}

/// Filters of ListUsers.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only this status (deleted users only when asked for).
    pub status: Option<UserStatus>,
    /// Only holders of this role.
    pub role: Option<String>,
}

/// Filters of ListAuditEvents.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only these kinds; all when empty.
    pub kinds: Vec<AuditKind>,
    /// At or after.
    pub since: Option<Millis>,
    /// Before.
    pub until: Option<Millis>,
    /// Only this actor.
    pub actor_id: Option<UserId>,
}

// IAM's storage, one port per aggregate: every method on tenant data takes the tenant, and none
// sees another tenant's rows. Writes with an `expected_version` fail with `ABORTED` (etag
// mismatch) when it is stale. The use cases hold the whole store ([`IamStore`]); a test fake
// or another adapter implements the ports it needs.

/// Tenants: created with their first owner, changed with an expected version.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// A tenant by slug or id.
    async fn find_tenant(&self, slug_or_id: &str) -> Result<Option<Tenant>>;
    /// Whether a slug is taken.
    async fn slug_taken(&self, slug: &str) -> Result<bool>;
    /// The active tenants where `email` has an active account, by name, at most `limit`: how a
    /// sign-in by email finds its workspaces. Reads across tenants (before sign-in there is
    /// no tenant to scope to), and nothing but the tenants.
    async fn tenants_with_account(&self, email: &Email, limit: u32) -> Result<Vec<Tenant>>;
    /// Creates a tenant, with its first user when given.
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        owner: Option<&User>,
        changes: Changes,
    ) -> Result<()>;
    /// Reads the tenant under the write lock (`NOT_FOUND` when there is none), lets `change`
    /// decide on it, and saves it with the changes it gives, in that transaction. Answers the
    /// tenant as saved (as read, when nothing changed). Two changes at once run one after the
    /// other, the second on what the first left.
    async fn update_tenant(&self, id: TenantId, change: Change<'_, Tenant>) -> Result<Tenant>;
}

/// Users, their roles, and the sign-ins that stamp them.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// A user (deleted ones included) by id.
    async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>>;
    /// A user not deleted, by email.
    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> Result<Option<User>>;
    /// Users in id order after `after`, at most `limit`.
    async fn list_users(
        &self,
        tenant: TenantId,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>>;
    /// Active users holding `role`.
    async fn count_active_holders(&self, tenant: TenantId, role: &str) -> Result<i64>;
    /// Adds a user.
    async fn insert_user(&self, user: &User, changes: Changes) -> Result<()>;
    /// Reads the user under the write lock (`NOT_FOUND` when the tenant has none with that id),
    /// lets `change` decide on it, and saves it (roles included) with the changes it gives, in
    /// that transaction. Answers the user as saved (as read, when nothing changed).
    async fn update_user(
        &self,
        tenant: TenantId,
        id: UserId,
        change: Change<'_, User>,
    ) -> Result<User>;
    /// Stores the new session of a successful login and stamps the user's last login, in one
    /// transaction.
    async fn record_login(&self, session: &Session, changes: Changes) -> Result<()>;
}

/// Invited users' current links.
#[async_trait]
pub trait InvitationStore: Send + Sync + 'static {
    /// The invitation whose current link's token has this hash.
    async fn invitation_by_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> Result<Option<Invitation>>;
    /// The invitations of these users (those that have one).
    async fn invitations_of(&self, tenant: TenantId, users: &[UserId]) -> Result<Vec<Invitation>>;
}

/// A tenant's custom roles and who holds them.
#[async_trait]
pub trait RoleStore: Send + Sync + 'static {
    /// The tenant's custom roles, by name.
    async fn list_custom_roles(&self, tenant: TenantId) -> Result<Vec<CustomRole>>;
    /// Adds a custom role.
    async fn insert_role(&self, role: &CustomRole, changes: Changes) -> Result<()>;
    /// Reads the custom role under the write lock (`NOT_FOUND` when the tenant has none with
    /// that id), lets `change` decide on it, and saves it with the changes it gives, in that
    /// transaction. Answers the role as saved (as read, when nothing changed).
    async fn update_role(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_, CustomRole>,
    ) -> Result<CustomRole>;
    /// Deletes a custom role no user holds.
    async fn delete_role(&self, tenant: TenantId, id: Uuid, changes: Changes) -> Result<()>;
    /// Users (any status) holding `role`.
    async fn count_holders(&self, tenant: TenantId, role: &str) -> Result<i64>;
}

/// Refresh tokens: stored, rotated, revoked by family.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new refresh token.
    async fn insert_session(&self, session: &Session) -> Result<()>;
    /// A refresh token by hash.
    async fn session_by_hash(&self, tenant: TenantId, hash: &str) -> Result<Option<Session>>;
    /// Spends `old_hash` and stores `new`, atomically; false when `old_hash` was no longer
    /// valid (spent or revoked concurrently), and then nothing is stored.
    async fn rotate_session(
        &self,
        tenant: TenantId,
        old_hash: &str,
        new: &Session,
        now: Millis,
    ) -> Result<bool>;
    /// The tokens of `user` that can still refresh at `now`, one per live session.
    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Millis,
    ) -> Result<Vec<Session>>;
    /// Revokes every token of a family.
    async fn revoke_family(
        &self,
        tenant: TenantId,
        family: Uuid,
        now: Millis,
        changes: Changes,
    ) -> Result<()>;
}

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Adds an API key.
    async fn insert_api_key(&self, key: &ApiKey, changes: Changes) -> Result<()>;
    /// An API key by id.
    async fn get_api_key(&self, tenant: TenantId, id: Uuid) -> Result<Option<ApiKey>>;
    /// An API key by the hash of the key ([`crate::domain::api_key::hash_key`]).
    async fn api_key_by_hash(&self, tenant: TenantId, hash: &str) -> Result<Option<ApiKey>>;
    /// API keys newest first, before `before`, at most `limit`.
    async fn list_api_keys(
        &self,
        tenant: TenantId,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ApiKey>>;
    /// Reads the key under the write lock (`NOT_FOUND` when the tenant has none with that id),
    /// lets `change` decide on it, and saves it with the changes it gives, in that transaction.
    /// Answers the key as saved (as read, when nothing changed).
    async fn update_api_key(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_, ApiKey>,
    ) -> Result<ApiKey>;
    /// Records that a key was used at `at` (not a change: its version stays).
    async fn touch_api_key(&self, tenant: TenantId, id: Uuid, at: Millis) -> Result<()>;
}

/// Saved views of the lists.
#[async_trait]
pub trait SavedViewStore: Send + Sync + 'static {
    /// Adds a view unless its owner keeps `max` of its list already (`RESOURCE_EXHAUSTED`);
    /// the owner's views are counted under a lock on their user row, so two at once cannot
    /// both pass. A name the owner already gives a view of the list is `ALREADY_EXISTS`.
    async fn insert_saved_view(&self, view: &SavedView, max: i64) -> Result<()>;
    /// A view by id (whoever owns it; the caller decides who may see it).
    async fn get_saved_view(&self, tenant: TenantId, id: Uuid) -> Result<Option<SavedView>>;
    /// The views of `list` that `viewer` owns or that are shared (`viewer` `None`: the shared
    /// ones only), oldest first, after `after`, at most `limit`.
    async fn list_saved_views(
        &self,
        tenant: TenantId,
        list: &str,
        viewer: Option<UserId>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<SavedView>>;
    /// Reads the view under the write lock (`NOT_FOUND` when the tenant has none with that id),
    /// lets `change` decide on it, and saves it if it gives changes. Answers the view as saved.
    async fn update_saved_view(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_, SavedView>,
    ) -> Result<SavedView>;
    /// Reads the view under the write lock, lets `check` refuse, and deletes it
    /// (`NOT_FOUND` when the tenant has none with that id).
    async fn delete_saved_view(
        &self,
        tenant: TenantId,
        id: Uuid,
        check: ViewCheck<'_>,
    ) -> Result<()>;
}

/// What decides on a view before it is deleted: an error refuses.
pub type ViewCheck<'a> = Box<dyn FnOnce(&SavedView) -> Result<()> + Send + 'a>;

/// Second factors: codes spent once, sign-in challenges.
#[async_trait]
pub trait SecondFactorStore: Send + Sync + 'static {
    /// Spends a second-factor code of `user`: false (and nothing changes) when that TOTP step,
    /// or a later one, was accepted already, or the recovery code is unknown or used.
    async fn spend_second_factor(
        &self,
        tenant: TenantId,
        user: UserId,
        factor: &SecondFactor,
        now: Millis,
    ) -> Result<bool>;
    /// Stores a sign-in's challenge.
    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()>;
    /// A challenge by its token's hash.
    async fn challenge(&self, tenant: TenantId, hash: &str) -> Result<Option<Challenge>>;
    /// Spends an open challenge: false when it was spent or had expired.
    async fn spend_challenge(&self, tenant: TenantId, hash: &str, now: Millis) -> Result<bool>;
}

/// Single sign-on: the tenant's provider, flows in flight, linked accounts.
#[async_trait]
pub trait SsoStore: Send + Sync + 'static {
    /// The tenant's OpenID provider, if it has one.
    async fn sso_provider(&self, tenant: TenantId) -> Result<Option<SsoProvider>>;
    /// Reads the tenant's provider (none yet, or the one it has) under the write lock, lets
    /// `change` decide on it, and stores what it leaves (a first one, or the change) with the
    /// changes it gives, in that transaction. Answers the provider as stored.
    async fn update_sso_provider(
        &self,
        tenant: TenantId,
        change: Change<'_, Option<SsoProvider>>,
    ) -> Result<Option<SsoProvider>>;
    /// Stores a sign-in in flight (dropping the tenant's expired ones).
    async fn insert_sso_flow(&self, flow: &Flow) -> Result<()>;
    /// Spends the open flow of this state and returns it; `None` when unknown, spent or expired.
    async fn take_sso_flow(
        &self,
        tenant: TenantId,
        state_hash: &str,
        now: Millis,
    ) -> Result<Option<Flow>>;
    /// The user a provider account is linked to.
    async fn identity_user(
        &self,
        tenant: TenantId,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends audit entries (with nothing else to write).
    async fn append_audit(&self, tenant: TenantId, changes: Changes) -> Result<()>;
    /// Audit entries newest first, before `before`, at most `limit`.
    async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
}

/// Every port of IAM's storage: what the use cases hold.
pub trait IamStore:
    TenantStore
    + UserStore
    + InvitationStore
    + RoleStore
    + SessionStore
    + ApiKeyStore
    + SecondFactorStore
    + SsoStore
    + AuditStore
    + SavedViewStore
{
}

impl<T> IamStore for T where
    T: TenantStore
        + UserStore
        + InvitationStore
        + RoleStore
        + SessionStore
        + ApiKeyStore
        + SecondFactorStore
        + SsoStore
        + AuditStore
        + SavedViewStore
{
}

/// Hashes and checks passwords: argon2id on worker threads in production
/// (`infrastructure::hasher`), a fake in use-case tests.
#[async_trait]
pub trait PasswordHashing: Send + Sync + 'static {
    /// The PHC string of a password.
    async fn hash(&self, password: &Password) -> Result<String>;
    /// Whether `password` matches `phc`; with no hash, spends the same time and says no (so an
    /// unknown email takes as long as a wrong password).
    async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool>;
}

/// Signs access tokens and publishes the keys that verify them (`infrastructure::keys`).
pub trait TokenSigning: Send + Sync + 'static {
    /// A signed access token for `claims`.
    fn sign(&self, claims: &crm_core::auth::AccessClaims) -> Result<String>;
    /// `(kid, x)` of every public (Ed25519) key, oldest first.
    fn public_keys(&self) -> Vec<(String, String)>;
    /// The public keys as an RFC 7517 JWK Set.
    fn jwks(&self) -> jsonwebtoken::jwk::JwkSet;
}

/// Counts failed logins per key and locks a key out after too many.
#[async_trait]
pub trait LoginThrottle: Send + Sync + 'static {
    /// How long `key` is still locked out, if it is.
    async fn locked_for(&self, key: &str) -> Result<Option<Duration>>;
    /// Counts a failure; returns the lockout it caused, if this failure crossed `limit`.
    async fn record_failure(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        lockout: Duration,
    ) -> Result<Option<Duration>>;
    /// Forgets the failures of `key` (after a success).
    async fn reset(&self, key: &str) -> Result<()>;
}

/// Where to send a browser to sign in at a provider, and what to keep until it comes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The provider's authorization URL, with the state, nonce and PKCE challenge.
    pub url: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier the code exchange sends.
    pub pkce_verifier: String,
}

/// A tenant's OpenID Connect provider, as the relying party talks to it: discovery, the
/// authorization URL, the code exchange with the ID token's checks.
#[async_trait]
pub trait OpenIdProvider: Send + Sync {
    /// Reads the provider's discovery document: whether the issuer is a working provider.
    async fn check_issuer(&self, issuer: &str) -> std::result::Result<(), SsoRefusal>;
    /// Where to send the browser for `state`, with the nonce and PKCE verifier to keep.
    async fn authorization_url(
        &self,
        provider: &SsoProvider,
        state: &str,
    ) -> std::result::Result<AuthorizationRequest, SsoRefusal>;
    /// Exchanges `code` (with the flow's PKCE verifier) and verifies the ID token against the
    /// flow's nonce: who signed in.
    async fn identity(
        &self,
        provider: &SsoProvider,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> std::result::Result<Identity, SsoRefusal>;
}
