//! The lead-conversion saga, crashed at every step: a crash leaves exactly the saga's saved
//! state behind, so each test saves the state a crash after that step leaves (or makes the
//! customer service lose its answer), then lets the recovery task resume it. Every one ends
//! done or undone, never a customer without its opportunity or a converted lead without one,
//! and a customer the saga did not create is never deleted. The customer service is a fake
//! that keeps the request-id promise of the real one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use crm_core::config::Config;
use crm_core::idempotency::Idempotency;
use crm_core::storage::Database;
use crm_core::{Error, ErrorKind, Principal, TenantId, UserId};
use crm_sales::application::conversions::ConvertRequest;
use crm_sales::application::{Caller, Sales};
use crm_sales::domain::conversion::{Conversion, Step};
use crm_sales::domain::lead::{Lead, LeadInput, LeadStatus};
use crm_sales::domain::pipeline::Pipeline;
use crm_sales::domain::ports::{
    ConversionStore, CustomerDirectory, CustomerRef, LeadStore, NewCustomer, OpportunityStore,
    PipelineStore,
};
use crm_sales::infrastructure::sql::SqlSalesStore;
use uuid::Uuid;

/// The customer service as sales sees it, in memory: a request id gives its first customer,
/// and a primary email belongs to one customer.
#[derive(Default)]
struct FakeCustomers {
    /// id → customer.
    customers: Mutex<HashMap<Uuid, CustomerRef>>,
    /// request id → customer id: a retry gets the first.
    requests: Mutex<HashMap<String, Uuid>>,
    /// Creates to answer UNAVAILABLE after creating (the answer is lost on the way back).
    lose_answers: AtomicUsize,
    deletes: AtomicUsize,
}

#[async_trait]
impl CustomerDirectory for FakeCustomers {
    async fn get(&self, _: TenantId, id: Uuid) -> crm_core::Result<Option<CustomerRef>> {
        Ok(self.customers.lock().unwrap().get(&id).cloned())
    }

    async fn find_by_email(
        &self,
        _: TenantId,
        email: &str,
    ) -> crm_core::Result<Option<CustomerRef>> {
        Ok(self
            .customers
            .lock()
            .unwrap()
            .values()
            .find(|c| c.email.as_deref() == Some(email))
            .cloned())
    }

    async fn create(
        &self,
        _: TenantId,
        request_id: &str,
        customer: &NewCustomer,
    ) -> crm_core::Result<CustomerRef> {
        let first = self.requests.lock().unwrap().get(request_id).copied();
        if first.is_none()
            && customer.email.is_some()
            && self
                .customers
                .lock()
                .unwrap()
                .values()
                .any(|c| c.email == customer.email)
        {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "a customer with this email already exists",
            ));
        }
        let id = *self
            .requests
            .lock()
            .unwrap()
            .entry(request_id.to_owned())
            .or_insert_with(Uuid::now_v7);
        let made = CustomerRef {
            id,
            display_name: customer.company_name.clone(),
            email: customer.email.clone(),
            mobile: None,
            owner_id: customer.owner_id,
        };
        self.customers.lock().unwrap().insert(id, made.clone());
        if self
            .lose_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::new(ErrorKind::Unavailable, "the answer was lost"));
        }
        Ok(made)
    }

    async fn delete(&self, _: TenantId, id: Uuid) -> crm_core::Result<()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.customers.lock().unwrap().remove(&id);
        Ok(())
    }
}

struct World {
    sales: Sales,
    store: Arc<SqlSalesStore>,
    customers: Arc<FakeCustomers>,
    caller: Caller,
    pipeline: Pipeline,
    _dir: tempfile::TempDir,
}

const PERMISSIONS: &[&str] = &[
    "leads.read",
    "leads.write",
    "leads.convert",
    "customers.read",
    "customers.write",
    "pipelines.read",
    "opportunities.read",
    "opportunities.write",
];

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let db = Database::open(&config, "sales").await.unwrap();
    db.migrate("sales", &crm_sales::MIGRATIONS).await.unwrap();
    db.migrate_shared("sales", &crm_events::TABLES)
        .await
        .unwrap();
    let store = Arc::new(SqlSalesStore::new(db.clone()));
    let customers = Arc::new(FakeCustomers::default());
    let sales = Sales::new(
        store.clone(),
        customers.clone(),
        Arc::new(crm_core::clock::SystemClock),
        Idempotency::new(db),
    );
    let tenant = TenantId::new();
    let pipeline = Pipeline::seed(tenant, "MYR", 1);
    store.insert_pipeline(&pipeline).await.unwrap();
    let caller = Caller {
        principal: Principal {
            tenant_id: tenant,
            user_id: UserId::new(),
            roles: vec!["sales_manager".into()],
            permissions: PERMISSIONS.iter().map(|p| p.to_string()).collect(),
            team: None,
            token_id: String::new(),
            issued_at: 0,
            expires_at: None,
            api_key_id: None,
            service: None,
        },
        causation: crm_events::Causation::default(),
    };
    World {
        sales,
        store,
        customers,
        caller,
        pipeline,
        _dir: dir,
    }
}

impl World {
    async fn qualified_lead(&self, email: &str) -> Lead {
        let input = LeadInput {
            contact_name: "Aisyah".into(),
            company_name: "Hotel Seri Malaysia".into(),
            email: email.into(),
            estimated_value: Some(("MYR".into(), 25_000, 0)),
            ..LeadInput::default()
        };
        let lead = self
            .sales
            .create_lead(&self.caller, &input, None)
            .await
            .unwrap();
        self.sales
            .qualify_lead(&self.caller, lead.id, "", true, 70, "")
            .await
            .unwrap()
    }

    /// The state a crash leaves right after the saga saved `step` (for CustomerEnsured and
    /// Compensating, with `customer`).
    async fn crashed_at(
        &self,
        lead: &Lead,
        step: Step,
        customer: Option<(Uuid, bool)>,
    ) -> Conversion {
        let conversion = Conversion::start(
            self.caller.principal.tenant_id,
            lead.id,
            &format!("req-{}", lead.id),
            self.caller.principal.user_id,
            1,
        );
        let mut saved = self.store.start_conversion(&conversion).await.unwrap();
        if let Some((id, created)) = customer {
            saved.customer_ensured(id, created, 2);
        }
        saved.step = step;
        assert!(
            self.store
                .save_conversion(&saved, Step::Started)
                .await
                .unwrap()
        );
        saved
    }

    async fn recover(&self) -> usize {
        self.sales
            .recover_conversions(Duration::ZERO)
            .await
            .unwrap()
    }

    async fn lead(&self, id: Uuid) -> Lead {
        self.store
            .get_lead(self.caller.principal.tenant_id, id)
            .await
            .unwrap()
            .unwrap()
    }

    async fn opportunities(&self) -> usize {
        self.store
            .list_opportunities(
                self.caller.principal.tenant_id,
                &Default::default(),
                Default::default(),
                None,
                100,
            )
            .await
            .unwrap()
            .len()
    }

    fn customer_count(&self) -> usize {
        self.customers.customers.lock().unwrap().len()
    }

    /// Done: one customer, one opportunity, the lead converted into both.
    async fn assert_converted(&self, lead: Uuid) {
        let lead = self.lead(lead).await;
        assert_eq!(lead.status, LeadStatus::Converted);
        let customer = lead.converted_customer_id.expect("its customer");
        assert!(
            self.customers
                .customers
                .lock()
                .unwrap()
                .contains_key(&customer)
        );
        let opportunity = self
            .store
            .get_opportunity(
                self.caller.principal.tenant_id,
                lead.converted_opportunity_id.expect("its opportunity"),
            )
            .await
            .unwrap()
            .expect("the opportunity exists");
        assert_eq!(opportunity.customer_id, customer);
        assert_eq!(opportunity.lead_id, Some(lead.id));
        assert_eq!(opportunity.stage_id, self.pipeline.stages[0].id);
        assert_eq!(self.opportunities().await, 1);
        assert_eq!(self.customer_count(), 1);
    }
}

/// A customer as the conversion would make it.
fn customer(company: &str, email: Option<&str>) -> NewCustomer {
    NewCustomer {
        contact_name: "Aisyah".into(),
        company_name: company.into(),
        email: email.map(str::to_owned),
        phone: None,
        owner_id: None,
        tags: Vec::new(),
        notes: String::new(),
    }
}

fn request(lead: &Lead) -> ConvertRequest {
    ConvertRequest {
        lead_id: lead.id,
        request_id: format!("req-{}", lead.id),
        ..ConvertRequest::default()
    }
}

#[tokio::test]
async fn without_a_crash_it_converts_and_the_same_request_id_gives_the_same_result() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    let first = w
        .sales
        .convert_lead(&w.caller, &request(&lead))
        .await
        .unwrap();
    assert!(first.customer_created);
    let again = w
        .sales
        .convert_lead(&w.caller, &request(&lead))
        .await
        .unwrap();
    assert_eq!(again.opportunity.id, first.opportunity.id);
    assert_eq!(again.customer_id, first.customer_id);
    w.assert_converted(lead.id).await;
}

/// Two runners of one saga (a double click on Convert, or a call and the recovery task): the
/// one still holding the saga as it was when both started never sets it back. Before saves
/// were conditional, the late runner saved "customer made" over "done", was then refused
/// (the lead is converted) and undid the conversion by deleting its customer.
#[tokio::test]
async fn a_runner_holding_an_older_state_never_sets_the_saga_back() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    let started = w.crashed_at(&lead, Step::Started, None).await;
    let first = w.sales.drive(started.clone()).await.unwrap();
    assert_eq!(first.step, Step::Done);
    let late = w.sales.drive(started).await.unwrap();
    assert_eq!(
        late.step,
        Step::Done,
        "the late runner takes the saga as stored"
    );
    assert_eq!(late.opportunity_id, first.opportunity_id);
    assert_eq!(w.customers.deletes.load(Ordering::SeqCst), 0);
    w.assert_converted(lead.id).await;
}

#[tokio::test]
async fn a_crash_before_the_customer_is_made_resumes_to_done() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    w.crashed_at(&lead, Step::Started, None).await;
    assert_eq!(w.recover().await, 1);
    w.assert_converted(lead.id).await;
}

#[tokio::test]
async fn a_customer_made_but_its_answer_lost_is_not_made_twice() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    w.customers.lose_answers.store(1, Ordering::SeqCst);
    let err = w
        .sales
        .convert_lead(&w.caller, &request(&lead))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(w.customer_count(), 1, "made, answer lost");
    assert_eq!(w.lead(lead.id).await.status, LeadStatus::Qualified);
    assert_eq!(w.opportunities().await, 0);
    // The caller's retry (the same request id) or the recovery task finishes it.
    assert_eq!(w.recover().await, 1);
    w.assert_converted(lead.id).await;
    let retried = w
        .sales
        .convert_lead(&w.caller, &request(&lead))
        .await
        .unwrap();
    assert!(retried.customer_created);
    assert_eq!(
        w.customer_count(),
        1,
        "the same request id made no second customer"
    );
}

#[tokio::test]
async fn a_crash_after_the_customer_is_made_resumes_to_done() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    let made = w
        .customers
        .create(
            w.caller.principal.tenant_id,
            "earlier",
            &customer("Hotel Seri Malaysia", Some("a@hotel.example")),
        )
        .await
        .unwrap();
    w.crashed_at(&lead, Step::CustomerEnsured, Some((made.id, true)))
        .await;
    assert_eq!(w.recover().await, 1);
    w.assert_converted(lead.id).await;
}

#[tokio::test]
async fn a_lead_disqualified_after_its_customer_was_made_is_undone_and_the_customer_deleted() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    let made = w
        .customers
        .create(
            w.caller.principal.tenant_id,
            "saga",
            &customer("Hotel", Some("a@hotel.example")),
        )
        .await
        .unwrap();
    let saga = w
        .crashed_at(&lead, Step::CustomerEnsured, Some((made.id, true)))
        .await;
    w.sales
        .qualify_lead(&w.caller, lead.id, "", false, 0, "bought elsewhere")
        .await
        .unwrap();
    assert_eq!(w.recover().await, 1);
    let undone = w
        .store
        .get_conversion(w.caller.principal.tenant_id, saga.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(undone.step, Step::Compensated);
    assert_eq!(undone.failure.unwrap().reason, "LEAD_NOT_CONVERTIBLE");
    assert_eq!(w.customer_count(), 0, "the customer it made is deleted");
    assert_eq!(w.opportunities().await, 0);
    assert_eq!(w.lead(lead.id).await.status, LeadStatus::Disqualified);
    // The caller asking again with the same request id hears why.
    let err = w
        .sales
        .convert_lead(&w.caller, &request(&lead))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
}

#[tokio::test]
async fn a_customer_the_saga_did_not_make_is_never_deleted() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    let existing = w
        .customers
        .create(
            w.caller.principal.tenant_id,
            "someone else's",
            &customer("Hotel", Some("a@hotel.example")),
        )
        .await
        .unwrap();
    // Converting finds the customer with the lead's email and reuses it.
    let converted = w
        .sales
        .convert_lead(&w.caller, &request(&lead))
        .await
        .unwrap();
    assert_eq!(converted.customer_id, existing.id);
    assert!(!converted.customer_created);
    w.assert_converted(lead.id).await;

    // A reused customer, then a refusal: the saga ends undone and the customer stays.
    let other = w.qualified_lead("b@hotel.example").await;
    w.crashed_at(&other, Step::CustomerEnsured, Some((existing.id, false)))
        .await;
    w.sales
        .qualify_lead(&w.caller, other.id, "", false, 0, "")
        .await
        .unwrap();
    assert_eq!(w.recover().await, 1);
    assert_eq!(w.customers.deletes.load(Ordering::SeqCst), 0);
    assert_eq!(w.customer_count(), 1);
}

#[tokio::test]
async fn a_crash_while_undoing_finishes_the_undoing() {
    let w = world().await;
    let lead = w.qualified_lead("a@hotel.example").await;
    let made = w
        .customers
        .create(
            w.caller.principal.tenant_id,
            "saga",
            &customer("Hotel", None),
        )
        .await
        .unwrap();
    w.crashed_at(&lead, Step::Compensating, Some((made.id, true)))
        .await;
    assert_eq!(w.recover().await, 1);
    assert_eq!(w.customer_count(), 0);
    assert_eq!(w.recover().await, 0, "nothing left to do");
}
