//! The customer directory over gRPC: a client of `crm.customer.v1.CustomerService`, in-process
//! loopback when the customer context runs in this process, over the network otherwise
//! (`sales.customer_endpoint`). Every call carries sales' own service token for the tenant, a
//! deadline, retries with jittered backoff (every call here is idempotent: reads, a create with
//! a request id, a delete), and goes through a circuit breaker (`failsafe`): after repeated
//! outages it opens, and calls answer `UNAVAILABLE` with `RetryInfo` at once instead of waiting
//! on a peer that is down, until a probe gets through.

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use crm_core::breaker::BreakerWatch;
use crm_core::service_auth::ServiceTokens;
use crm_core::upstream::Balanced;
use crm_core::{Error, ErrorKind, Result, TenantId, UserId};
use crm_proto::crm::common::v1 as common;
use crm_proto::crm::customer::v1 as pb;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use failsafe::StateMachine;
use failsafe::backoff::EqualJittered;
use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::futures::CircuitBreaker as _;
use uuid::Uuid;

use crate::domain::ports::{CustomerDirectory, CustomerRef, NewCustomer};

/// The audience of sales' tokens towards the customer service.
pub const AUDIENCE: &str = "crm.customer";

/// How the client behaves.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Each attempt's deadline.
    pub deadline: Duration,
    /// Attempts after the first, for outages.
    pub retries: usize,
    /// Consecutive outages that open the breaker.
    pub open_after: u32,
    /// How long it stays open (at least; jittered up to twice).
    pub open_for: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            deadline: Duration::from_secs(3),
            retries: 2,
            open_after: 5,
            open_for: Duration::from_secs(5),
        }
    }
}

type Breaker = StateMachine<ConsecutiveFailures<EqualJittered>, BreakerWatch>;

/// The directory over a channel to the customer service.
pub struct GrpcCustomerDirectory {
    client: CustomerServiceClient<Balanced>,
    tokens: ServiceTokens,
    breaker: Breaker,
    watch: BreakerWatch,
    tuning: Tuning,
}

/// Whether a status means the peer could not answer (counted by the breaker, retried).
fn outage(status: &tonic::Status) -> bool {
    use tonic::Code::*;
    matches!(
        status.code(),
        Unavailable | DeadlineExceeded | Unknown | Internal | ResourceExhausted | Cancelled
    )
}

/// What one attempt ends with.
enum Attempt {
    /// The peer answered this.
    Status(tonic::Status),
    /// The breaker is open: not even tried.
    Open,
}

impl GrpcCustomerDirectory {
    /// A directory over `channel` (the customer service's processes, taken in turn; nothing is
    /// dialled until the first call), acting with `tokens`.
    pub fn new(channel: Balanced, tokens: ServiceTokens, tuning: Tuning) -> Self {
        let policy = failsafe::failure_policy::consecutive_failures(
            tuning.open_after,
            failsafe::backoff::equal_jittered(tuning.open_for, tuning.open_for * 2),
        );
        let watch = BreakerWatch::default();
        GrpcCustomerDirectory {
            client: CustomerServiceClient::new(channel),
            tokens,
            breaker: failsafe::Config::new()
                .failure_policy(policy)
                .instrument(watch.clone())
                .build(),
            watch,
            tuning,
        }
    }

    /// Its breaker's state.
    pub fn breaker(&self) -> BreakerWatch {
        self.watch.clone()
    }

    /// Sends `message` with `send`, as sales for `tenant`, with deadline, retries and breaker.
    async fn call<M, R, Fut>(
        &self,
        tenant: TenantId,
        message: M,
        send: impl Fn(CustomerServiceClient<Balanced>, tonic::Request<M>) -> Fut,
    ) -> std::result::Result<R, Error>
    where
        M: Clone,
        Fut: Future<Output = std::result::Result<tonic::Response<R>, tonic::Status>>,
    {
        let attempt = || async {
            if !self.breaker.is_call_permitted() {
                return Err(Attempt::Open);
            }
            let mut request = self
                .tokens
                .authorize(message.clone(), tenant, AUDIENCE)
                .await
                .map_err(Attempt::Status)?;
            request.set_timeout(self.tuning.deadline);
            match self
                .breaker
                .call_with(
                    // Only outages count against the customer service; a refusal is an answer.
                    |s: &tonic::Status| outage(s),
                    send(self.client.clone(), request),
                )
                .await
            {
                Ok(response) => Ok(response.into_inner()),
                Err(failsafe::Error::Inner(status)) => Err(Attempt::Status(status)),
                Err(failsafe::Error::Rejected) => Err(Attempt::Open),
            }
        };
        attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(50))
                    .with_max_delay(Duration::from_millis(500))
                    .with_max_times(self.tuning.retries)
                    .with_jitter(),
            )
            .when(|e| matches!(e, Attempt::Status(s) if outage(s)))
            .await
            .map_err(|e| self.error(e))
    }

    fn error(&self, e: Attempt) -> Error {
        match e {
            Attempt::Open => Error::new(
                ErrorKind::Unavailable,
                "the customer service is failing: calls to it are paused for a few seconds; retry after the delay given",
            )
            .with_reason("CUSTOMER_SERVICE_UNAVAILABLE")
            .with_retry_after(self.tuning.open_for),
            Attempt::Status(s) if outage(&s) => Error::new(
                ErrorKind::Unavailable,
                "the customer service did not answer; retry shortly",
            )
            .with_reason("CUSTOMER_SERVICE_UNAVAILABLE")
            .with_retry_after(Duration::from_secs(1))
            .with_source(anyhow::anyhow!("{}: {}", s.code(), s.message())),
            Attempt::Status(s) => {
                let kind = match s.code() {
                    tonic::Code::InvalidArgument => ErrorKind::InvalidArgument,
                    tonic::Code::NotFound => ErrorKind::NotFound,
                    tonic::Code::AlreadyExists => ErrorKind::AlreadyExists,
                    tonic::Code::PermissionDenied => ErrorKind::PermissionDenied,
                    tonic::Code::FailedPrecondition => ErrorKind::FailedPrecondition,
                    tonic::Code::Aborted => ErrorKind::Aborted,
                    _ => ErrorKind::Unavailable,
                };
                Error::new(kind, format!("the customer service refused: {}", s.message()))
            }
        }
    }
}

fn customer_ref(c: pb::Customer) -> Option<CustomerRef> {
    Some(CustomerRef {
        id: Uuid::parse_str(&c.id).ok()?,
        display_name: c.display_name,
        email: (!c.email.is_empty()).then_some(c.email),
        mobile: mobile(&c.phones),
        owner_id: UserId::parse(&c.owner_id).ok(),
    })
}

/// The customer's number for an SMS: a mobile (the primary one first), else a number of no
/// stated kind (a lead's phone becomes one); never a work or home line.
fn mobile(phones: &[crm_proto::crm::common::v1::PhoneNumber]) -> Option<String> {
    use crm_proto::crm::common::v1::PhoneKind;
    [PhoneKind::Mobile, PhoneKind::Unspecified]
        .into_iter()
        .find_map(|kind| {
            let of_kind = || {
                phones
                    .iter()
                    .filter(move |p| p.kind == kind as i32 && !p.e164_number.is_empty())
            };
            of_kind().find(|p| p.primary).or_else(|| of_kind().next())
        })
        .map(|p| p.e164_number.clone())
}

fn answered(c: Option<pb::Customer>) -> Result<CustomerRef> {
    c.and_then(customer_ref).ok_or_else(|| {
        Error::new(
            ErrorKind::Unavailable,
            "the customer service answered without the customer; retry shortly",
        )
    })
}

#[async_trait]
impl CustomerDirectory for GrpcCustomerDirectory {
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<CustomerRef>> {
        let request = pb::GetCustomerRequest { id: id.to_string() };
        match self
            .call(tenant, request, |mut c, r| async move {
                c.get_customer(r).await
            })
            .await
        {
            Ok(found) => answered(found.customer).map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn find_by_email(&self, tenant: TenantId, email: &str) -> Result<Option<CustomerRef>> {
        let request = pb::SearchCustomersRequest {
            query: email.to_owned(),
            page_size: 20,
            ..Default::default()
        };
        let found = self
            .call(tenant, request, |mut c, r| async move {
                c.search_customers(r).await
            })
            .await?;
        Ok(found
            .customers
            .into_iter()
            .find(|c| c.email.eq_ignore_ascii_case(email))
            .and_then(customer_ref))
    }

    async fn create(
        &self,
        tenant: TenantId,
        request_id: &str,
        customer: &NewCustomer,
    ) -> Result<CustomerRef> {
        let business = !customer.company_name.is_empty();
        let request = pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                r#type: if business {
                    pb::CustomerType::Business
                } else {
                    pb::CustomerType::Individual
                } as i32,
                business: business.then(|| pb::BusinessDetails {
                    legal_name: customer.company_name.clone(),
                    ..Default::default()
                }),
                individual: (!business).then(|| pb::IndividualDetails {
                    given_name: customer.contact_name.clone(),
                    family_name: String::new(),
                }),
                email: customer.email.clone().unwrap_or_default(),
                phones: customer
                    .phone
                    .iter()
                    .map(|p| common::PhoneNumber {
                        e164_number: p.clone(),
                        primary: true,
                        ..Default::default()
                    })
                    .collect(),
                owner_id: customer.owner_id.map(|o| o.to_string()).unwrap_or_default(),
                tags: customer.tags.clone(),
                notes: customer.notes.clone(),
                ..Default::default()
            }),
            request_id: request_id.to_owned(),
        };
        let created = self
            .call(tenant, request, |mut c, r| async move {
                c.create_customer(r).await
            })
            .await?;
        answered(created.customer)
    }

    async fn delete(&self, tenant: TenantId, id: Uuid) -> Result<()> {
        // The saga undoing the customer it made: the opportunity was never opened.
        let request = pb::DeleteCustomerRequest {
            id: id.to_string(),
            etag: String::new(),
            close_open_opportunities: false,
        };
        match self
            .call(tenant, request, |mut c, r| async move {
                c.delete_customer(r).await
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}
