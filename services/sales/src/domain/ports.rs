//! What the sales use cases need from the outside: a store (SQLite and PostgreSQL in one SQL
//! adapter, one contract suite) and the customer directory (the customer context, reached
//! through its API).

use async_trait::async_trait;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::Millis;
use super::analytics::{Analytics, ForecastMonth, OpenSums, OwnerSums, Period};
use super::conversion::{Conversion, Step};
use super::lead::{Lead, LeadStatus};
use super::opportunity::{ApprovalState, Deal, Opportunity, OpportunityStatus};
pub use super::opportunity_order::{OpportunityCursor, OpportunityOrder};
use super::pipeline::Pipeline;

pub use crm_events::OutboxEvent;

/// A user of the tenant as sales knows them (from IAM's events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesUser {
    /// Their roles.
    pub roles: Vec<String>,
    /// Whether they may be handed work (not deactivated or deleted).
    pub active: bool,
}

/// Filters of ListLeads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFilter {
    /// Only this status.
    pub status: Option<LeadStatus>,
    /// Only this owner's.
    pub owner_id: Option<UserId>,
    /// Only this source number.
    pub source: Option<i32>,
    /// Only those whose words hold this `like` pattern ([`super::search::pattern`]).
    pub query: Option<String>,
}

/// The tenant settings sales follows (from IAM's `TenantSettingsChanged`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantPolicy {
    /// Winning above this many whole units needs `deals.approve_large`; 0 = no limit.
    pub deal_approval_threshold_units: i64,
    /// The tenant's default currency, the threshold's ('' when not known).
    pub currency_code: String,
    /// IANA time zone: forecast months are the tenant's calendar months.
    pub time_zone: String,
}

impl Default for TenantPolicy {
    /// IAM's defaults for a new tenant.
    fn default() -> Self {
        TenantPolicy {
            deal_approval_threshold_units: 0,
            currency_code: super::pipeline::SEED_CURRENCY.into(),
            time_zone: "Asia/Kuala_Lumpur".into(),
        }
    }
}

/// Filters of ListOpportunities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpportunityFilter {
    /// Only this pipeline.
    pub pipeline_id: Option<Uuid>,
    /// Only this stage.
    pub stage_id: Option<Uuid>,
    /// Only this owner's.
    pub owner_id: Option<UserId>,
    /// Only this status.
    pub status: Option<OpportunityStatus>,
    /// Only this customer's.
    pub customer_id: Option<Uuid>,
    /// Only those expected to close at or after this time.
    pub close_from: Option<Millis>,
    /// Only those expected to close before this time.
    pub close_before: Option<Millis>,
    /// Only those whose request to win above the threshold stands so.
    pub approval: Option<ApprovalState>,
    /// Only those whose name holds this `like` pattern ([`super::search::pattern`]).
    pub query: Option<String>,
}

/// Filters of ListDeals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DealFilter {
    /// Only this owner's.
    pub owner_id: Option<UserId>,
    /// Only this customer's.
    pub customer_id: Option<Uuid>,
    /// Closed at or after.
    pub from: Option<Millis>,
    /// Closed before.
    pub before: Option<Millis>,
}

/// Where a page of deals (newest first) continues: after this close time and id.
pub type DealCursor = (Millis, Uuid);

/// What a change to an opportunity writes with it: the deal it became (when won) and the
/// events it causes.
#[derive(Debug, Default)]
pub struct OpportunityWrite {
    /// The deal, when the change won the opportunity.
    pub deal: Option<Deal>,
    /// Its events.
    pub events: Vec<OutboxEvent>,
}

/// A change to an opportunity, decided on the state read under the write lock (the etag, the
/// permission and the rules checked on that state): what to write with it, or `None` when
/// nothing changed and nothing is saved.
pub type OpportunityChange<'a> =
    Box<dyn FnMut(&mut Opportunity) -> Result<Option<OpportunityWrite>> + Send + 'a>;

/// A change to a lead, decided on the state read under the write lock: the events it causes,
/// or `None` when nothing changed and nothing is saved.
pub type LeadChange<'a> = Box<dyn FnMut(&mut Lead) -> Result<Option<Vec<OutboxEvent>>> + Send + 'a>;

/// A change to a pipeline, decided on the state read under the write lock: the stages it removes
/// (each must hold no open opportunity), or `None` when nothing changed and nothing is saved.
pub type PipelineUpdate<'a> = crm_core::storage::Change<'a, Pipeline, Vec<Uuid>>;

// Sales data of every tenant, one port per aggregate: every method is scoped to one tenant
// and never sees another's. The use cases hold the whole store ([`SalesStore`]).

/// Pipelines and their stages.
#[async_trait]
pub trait PipelineStore: Send + Sync + 'static {
    /// Adds a pipeline with its stages. If it is the default, the tenant's other pipelines stop
    /// being it, in the same transaction.
    async fn insert_pipeline(&self, pipeline: &Pipeline) -> Result<()>;
    /// A pipeline with its current stages, in order.
    async fn get_pipeline(&self, tenant: TenantId, id: Uuid) -> Result<Option<Pipeline>>;
    /// The tenant's default pipeline.
    async fn default_pipeline(&self, tenant: TenantId) -> Result<Option<Pipeline>>;
    /// Pipelines in id order after `after`, at most `limit`.
    async fn list_pipelines(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Pipeline>>;
    /// Reads the pipeline under the write lock (`NOT_FOUND` when the tenant has none with that
    /// id), lets `change` decide on it, and saves it in that transaction: stages it no longer
    /// lists are marked removed, and becoming the default takes it from the others. The stages
    /// the change removes must hold no open opportunity, checked in the same transaction, so a
    /// move into one of them at the same moment either is seen here or is refused itself
    /// ([`OpportunityStore::update_opportunity`]): when some hold any, nothing is saved and the
    /// answer says how many each holds; empty means saved. Answers the pipeline as decided.
    async fn update_pipeline(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: PipelineUpdate<'_>,
    ) -> Result<(Pipeline, Vec<(Uuid, i64)>)>;
}

/// Leads.
#[async_trait]
pub trait LeadStore: Send + Sync + 'static {
    /// Adds a lead with its events.
    async fn insert_lead(&self, lead: &Lead, events: Vec<OutboxEvent>) -> Result<()>;
    /// A lead by id.
    async fn get_lead(&self, tenant: TenantId, id: Uuid) -> Result<Option<Lead>>;
    /// Leads in id order after `after`, filtered, at most `limit`.
    async fn list_leads(
        &self,
        tenant: TenantId,
        filter: &LeadFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Lead>>;
    /// How many leads `filter` takes.
    async fn count_leads(&self, tenant: TenantId, filter: &LeadFilter) -> Result<i64>;
    /// Reads the lead under the write lock (`NOT_FOUND` when the tenant has none with that
    /// id), lets `change` decide on it, and saves it with the events it gives in that
    /// transaction. Answers the lead as saved (as read, when nothing changed). Two changes at
    /// once run one after the other, the second on what the first left.
    async fn update_lead(&self, tenant: TenantId, id: Uuid, change: LeadChange<'_>)
    -> Result<Lead>;
    /// The tenant's deleted leads (`owner`: only theirs), most recently deleted first, after
    /// `after` (a deletion time and id), at most `limit`.
    async fn list_deleted_leads(
        &self,
        tenant: TenantId,
        owner: Option<UserId>,
        after: Option<(Millis, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Lead>>;
    /// [`Self::update_lead`] on a deleted lead (`NOT_FOUND` unless the tenant has one deleted
    /// with that id): the restore.
    async fn restore_lead(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: LeadChange<'_>,
    ) -> Result<Lead>;
    /// Removes up to `limit` leads deleted before `before`, of every tenant, each with the
    /// event `purged` makes of it, in one transaction; returns how many.
    async fn purge_leads(&self, before: Millis, limit: u32, purged: &LeadPurged) -> Result<u32>;
}

/// The event of a purged lead.
pub type LeadPurged = dyn Fn(&Lead) -> OutboxEvent + Send + Sync;

/// The tenant's users and settings as sales knows them, from IAM's events.
#[async_trait]
pub trait TeamStore: Send + Sync + 'static {
    /// Records a user's email and roles (sales' view of IAM's users); an older record never
    /// overwrites a newer one.
    async fn record_user(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        roles: &[String],
        at: Millis,
    ) -> Result<()>;
    /// Records that a user may (or may no longer) be handed work; an older record never
    /// overwrites a newer one.
    async fn record_user_status(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        active: bool,
        at: Millis,
    ) -> Result<()>;
    /// A user as sales knows them; `None` for a user it has not heard of.
    async fn sales_user(&self, tenant: TenantId, user: UserId) -> Result<Option<SalesUser>>;
    /// The tenant's settings sales follows, as IAM's events last said (IAM's defaults before
    /// any change).
    async fn tenant_policy(&self, tenant: TenantId) -> Result<TenantPolicy>;
}

/// Opportunities, their stage history, and the deals they close into.
#[async_trait]
pub trait OpportunityStore: Send + Sync + 'static {
    /// Adds an opportunity, its first stage entry and its events. Its stage must still be a
    /// stage of its pipeline when the transaction writes (`FAILED_PRECONDITION`
    /// `STAGE_REMOVED` otherwise: removed at the same moment).
    async fn insert_opportunity(
        &self,
        opportunity: &Opportunity,
        events: Vec<OutboxEvent>,
    ) -> Result<()>;
    /// An opportunity by id.
    async fn get_opportunity(&self, tenant: TenantId, id: Uuid) -> Result<Option<Opportunity>>;
    /// Opportunities in `order` after `after`, filtered, at most `limit`.
    async fn list_opportunities(
        &self,
        tenant: TenantId,
        filter: &OpportunityFilter,
        order: OpportunityOrder,
        after: Option<OpportunityCursor>,
        limit: u32,
    ) -> Result<Vec<Opportunity>>;
    /// How many opportunities `filter` matches.
    async fn count_opportunities(
        &self,
        tenant: TenantId,
        filter: &OpportunityFilter,
    ) -> Result<i64>;
    /// Reads the opportunity under the write lock (`NOT_FOUND` when the tenant has none with
    /// that id), lets `change` decide on it, and saves it (and the stage it entered, if it
    /// moved) with the deal and events the change gives, in that transaction. An open
    /// opportunity that moved must have moved into a stage its pipeline still has when the
    /// transaction writes (`FAILED_PRECONDITION` `STAGE_REMOVED` otherwise). Answers the
    /// opportunity as saved (as read, when nothing changed). Two changes at once run one after
    /// the other, the second on what the first left.
    async fn update_opportunity(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: OpportunityChange<'_>,
    ) -> Result<Opportunity>;
    /// How many open opportunities are in each of `stages` of `pipeline` (stages without any
    /// are left out).
    async fn open_in_stages(
        &self,
        tenant: TenantId,
        pipeline: Uuid,
        stages: &[Uuid],
    ) -> Result<Vec<(Uuid, i64)>>;
    /// A deal by id.
    async fn get_deal(&self, tenant: TenantId, id: Uuid) -> Result<Option<Deal>>;
    /// Deals newest first after `after`, filtered, at most `limit`.
    async fn list_deals(
        &self,
        tenant: TenantId,
        filter: &DealFilter,
        after: Option<DealCursor>,
        limit: u32,
    ) -> Result<Vec<Deal>>;
}

/// Lead conversions: the saga's state.
#[async_trait]
pub trait ConversionStore: Send + Sync + 'static {
    /// Starts a conversion saga; if the lead already has one under way (or the request id was
    /// used), that one is returned instead and nothing is written.
    async fn start_conversion(&self, conversion: &Conversion) -> Result<Conversion>;
    /// A conversion by id.
    async fn get_conversion(&self, tenant: TenantId, id: Uuid) -> Result<Option<Conversion>>;
    /// A conversion by the request id that started it.
    async fn conversion_by_request(
        &self,
        tenant: TenantId,
        request_id: &str,
    ) -> Result<Option<Conversion>>;
    /// Saves a conversion's progress if it is still at step `from` as stored, and answers
    /// whether it was: another runner of the same saga (a concurrent call, the recovery task)
    /// may have moved it on meanwhile, and its state then stands rather than being overwritten
    /// by an older one.
    async fn save_conversion(&self, conversion: &Conversion, from: Step) -> Result<bool>;
    /// Steps 2 and 3 in one transaction: adds the opportunity, saves the converted lead (if it
    /// is still at `expected_lead_version`), the events, and the saga as done. The
    /// opportunity's stage must still be one of its pipeline's (`STAGE_REMOVED` otherwise).
    async fn finish_conversion(
        &self,
        conversion: &Conversion,
        opportunity: &Opportunity,
        lead: &Lead,
        expected_lead_version: i64,
        events: Vec<OutboxEvent>,
    ) -> Result<()>;
    /// Unfinished conversions of every tenant last saved at or before `before`, oldest first.
    async fn unfinished_conversions(&self, before: Millis, limit: u32) -> Result<Vec<Conversion>>;
}

/// The pipeline's analytics and forecast.
#[async_trait]
pub trait AnalyticsStore: Send + Sync + 'static {
    /// A pipeline's figures for opportunities created in `period`, now (from running sums kept
    /// with every change: no history is read for whole days).
    async fn analytics_now(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        now: Millis,
    ) -> Result<Analytics>;
    /// A pipeline's figures for opportunities created in `period`, as they stood at `as_of`
    /// (rebuilt from the stage history).
    async fn analytics(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        as_of: Millis,
    ) -> Result<Analytics>;
    /// Per month from `months[0]` (each a `[start, end)` range): won amounts closed in it, and
    /// open amounts (weighted and not) expected to close in it.
    async fn forecast(
        &self,
        pipeline: &Pipeline,
        months: &[(Millis, Millis)],
    ) -> Result<Vec<ForecastMonth>>;
    /// Open opportunities the months of a forecast leave out: those expected to close before
    /// `before` (overdue), and those with no expected close date.
    async fn late_and_undated(
        &self,
        pipeline: &Pipeline,
        before: Millis,
    ) -> Result<(OpenSums, OpenSums)>;
    /// [`Self::analytics`] for the opportunities `owner` owns now, rebuilt from their history.
    async fn owner_analytics(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        as_of: Millis,
        owner: UserId,
    ) -> Result<Analytics>;
    /// [`Self::forecast`] and [`Self::late_and_undated`] for what `owner` owns (and won),
    /// summed from the opportunities and deals.
    async fn owner_forecast(
        &self,
        pipeline: &Pipeline,
        months: &[(Millis, Millis)],
        owner: UserId,
    ) -> Result<(Vec<ForecastMonth>, OpenSums, OpenSums)>;
    /// Per owner (`only`: just this one), the opportunities created in `period`: open (overdue
    /// when expected before `now`), won and lost.
    async fn team(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        now: Millis,
        only: Option<UserId>,
    ) -> Result<Vec<OwnerSums>>;
}

/// Every port of sales' storage: what the use cases hold.
pub trait SalesStore:
    PipelineStore + LeadStore + TeamStore + OpportunityStore + ConversionStore + AnalyticsStore
{
}

impl<T> SalesStore for T where
    T: PipelineStore + LeadStore + TeamStore + OpportunityStore + ConversionStore + AnalyticsStore
{
}

/// A customer as sales needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerRef {
    /// Its id.
    pub id: Uuid,
    /// Its display name.
    pub display_name: String,
    /// Its primary email, if any.
    pub email: Option<String>,
    /// Its number for an SMS (E.164): a mobile, else one of no stated kind; if any.
    pub mobile: Option<String>,
    /// Its owner, if any.
    pub owner_id: Option<UserId>,
}

/// A customer to create from a lead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCustomer {
    /// The person.
    pub contact_name: String,
    /// Their company (a business customer when set, else an individual).
    pub company_name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// The owner.
    pub owner_id: Option<UserId>,
    /// Tags.
    pub tags: Vec<String>,
    /// Notes.
    pub notes: String,
}

/// The customer context, as sales uses it: implemented by a gRPC client of
/// `crm.customer.v1.CustomerService` (in-process loopback or over the network), acting with
/// sales' own service identity for the tenant.
#[async_trait]
pub trait CustomerDirectory: Send + Sync + 'static {
    /// A customer of the tenant; `None` when there is none with that id.
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<CustomerRef>>;
    /// The tenant's customer whose primary email is `email`, if any.
    async fn find_by_email(&self, tenant: TenantId, email: &str) -> Result<Option<CustomerRef>>;
    /// Creates a customer; the same `request_id` returns the first one, never a second.
    async fn create(
        &self,
        tenant: TenantId,
        request_id: &str,
        customer: &NewCustomer,
    ) -> Result<CustomerRef>;
    /// Deletes a customer; one already gone counts as deleted.
    async fn delete(&self, tenant: TenantId, id: Uuid) -> Result<()>;
}
