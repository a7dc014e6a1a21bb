//! `EdgeService.GetCustomerOverview`: a customer with its contacts, open opportunities, recent
//! deals and converted leads, fetched in parallel from the customer and sales services (in
//! this process through its own port, or the configured upstreams) with the caller's token, so
//! each service applies its own checks. Each call has a deadline; a part that fails is named in
//! `missing` and the rest still comes.

use std::sync::Arc;

use crm_proto::crm::customer::v1 as customer;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::edge::v1::{GetCustomerOverviewRequest, GetCustomerOverviewResponse};
use crm_proto::crm::sales::v1 as sales;
use crm_proto::crm::sales::v1::deal_service_client::DealServiceClient;
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use crm_proto::crm::sales::v1::opportunity_service_client::OpportunityServiceClient;
use tonic::{Request, Response, Status};

use crate::calls::{channel, forwarded, why};
use crate::gateway::Upstream;

/// The overview, over the customer and sales services.
#[derive(Clone)]
pub struct Overview {
    pub(crate) customers: Option<Arc<Upstream>>,
    pub(crate) sales: Option<Arc<Upstream>>,
}

impl Overview {
    /// An overview calling the customer service at `customers` and sales at `sales` (`None`:
    /// neither runs in this process nor is configured in `edge.upstreams`).
    pub fn new(customers: Option<Arc<Upstream>>, sales: Option<Arc<Upstream>>) -> Overview {
        Overview { customers, sales }
    }
}

impl Overview {
    /// `EdgeService.GetCustomerOverview`.
    pub(crate) async fn overview(
        &self,
        request: Request<GetCustomerOverviewRequest>,
    ) -> Result<Response<GetCustomerOverviewResponse>, Status> {
        let id = request.get_ref().id.clone();
        let customer_calls = channel(&self.customers, "customer");
        let sales_calls = channel(&self.sales, "sales");
        let (customer, contact_list, opportunity_list, deal_list) = tokio::join!(
            async {
                let mut client = CustomerServiceClient::new(customer_calls.clone()?);
                let call = forwarded(&request, customer::GetCustomerRequest { id: id.clone() });
                client.get_customer(call).await
            },
            async {
                let mut client = CustomerServiceClient::new(customer_calls.clone()?);
                let call = forwarded(
                    &request,
                    customer::ListContactsRequest {
                        customer_id: id.clone(),
                        page_size: 100,
                        ..Default::default()
                    },
                );
                client.list_contacts(call).await
            },
            async {
                let mut client = OpportunityServiceClient::new(sales_calls.clone()?);
                let call = forwarded(
                    &request,
                    sales::ListOpportunitiesRequest {
                        customer_id: id.clone(),
                        page_size: 100,
                        ..Default::default()
                    },
                );
                client.list_opportunities(call).await
            },
            async {
                let mut client = DealServiceClient::new(sales_calls.clone()?);
                let call = forwarded(
                    &request,
                    sales::ListDealsRequest {
                        customer_id: id.clone(),
                        page_size: 10,
                        ..Default::default()
                    },
                );
                client.list_deals(call).await
            },
        );
        let mut out = GetCustomerOverviewResponse::default();
        match customer {
            Ok(found) => out.customer = found.into_inner().customer,
            // The customer service's verdict on the request itself (a bad id, not there or not
            // the caller's, no token) is the overview's too; only an outage leaves it missing.
            Err(status) if refusal(&status) => return Err(status),
            Err(status) => out.missing.push(why("customer", "customer", &status)),
        }
        match contact_list {
            Ok(found) => out.contacts = found.into_inner().contacts,
            Err(status) => out.missing.push(why("contacts", "customer", &status)),
        }
        match deal_list {
            Ok(found) => out.recent_deals = found.into_inner().deals,
            Err(status) => out.missing.push(why("recent_deals", "sales", &status)),
        }
        match opportunity_list {
            Ok(found) => {
                let all = found.into_inner().opportunities;
                let lead_ids: Vec<String> = all
                    .iter()
                    .map(|o| o.lead_id.clone())
                    .filter(|l| !l.is_empty())
                    .collect();
                out.open_opportunities = all
                    .into_iter()
                    .filter(|o| o.status == sales::OpportunityStatus::Open as i32)
                    .collect();
                let sales_channel = sales_calls.clone()?;
                let leads = futures::future::join_all(lead_ids.into_iter().map(|lead| {
                    let mut client = LeadServiceClient::new(sales_channel.clone());
                    let call = forwarded(&request, sales::GetLeadRequest { id: lead });
                    async move { client.get_lead(call).await }
                }))
                .await;
                let mut failed = None;
                for lead in leads {
                    match lead {
                        Ok(found) => out.converted_leads.extend(found.into_inner().lead),
                        Err(status) => failed = Some(status),
                    }
                }
                if let Some(status) = failed {
                    out.missing.push(why("converted_leads", "sales", &status));
                }
            }
            Err(status) => {
                out.missing
                    .push(why("open_opportunities", "sales", &status));
                out.missing.push(why("converted_leads", "sales", &status));
            }
        }
        Ok(Response::new(out))
    }
}

/// Whether the answer is about the request (the caller must change it), not an outage.
fn refusal(status: &Status) -> bool {
    use tonic::Code::*;
    matches!(
        status.code(),
        InvalidArgument | NotFound | PermissionDenied | Unauthenticated | ResourceExhausted
    )
}
