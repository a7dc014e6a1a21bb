//! `crm.edge.v1.EdgeService`: the views the edge composes from several contexts.

use crm_proto::crm::edge::v1::edge_service_server::EdgeService;
use crm_proto::crm::edge::v1::{
    GetCustomerOverviewRequest, GetCustomerOverviewResponse, SearchRequest, SearchResponse,
};
use tonic::{Request, Response, Status};

use crate::overview::Overview;

#[tonic::async_trait]
impl EdgeService for Overview {
    async fn get_customer_overview(
        &self,
        request: Request<GetCustomerOverviewRequest>,
    ) -> Result<Response<GetCustomerOverviewResponse>, Status> {
        self.overview(request).await
    }

    async fn search(
        &self,
        request: Request<SearchRequest>,
    ) -> Result<Response<SearchResponse>, Status> {
        crate::search::search(&self.customers, &self.sales, request)
            .await
            .map(Response::new)
    }
}
