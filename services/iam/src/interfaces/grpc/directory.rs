//! DirectoryService: users as the CRM's other services see them (internal).

use super::*;

#[tonic::async_trait]
impl pb::directory_service_server::DirectoryService for IamGrpc {
    async fn lookup_users(
        &self,
        request: Request<pb::LookupUsersRequest>,
    ) -> Reply<pb::LookupUsersResponse> {
        let caller = caller(&request)?;
        let ids = request
            .get_ref()
            .user_ids
            .iter()
            .map(|id| user_id("user_ids", id))
            .collect::<Result<Vec<_>, _>>()?;
        let users = self.iam.lookup_users(&caller, &ids).await?;
        Ok(Response::new(pb::LookupUsersResponse {
            users: users
                .iter()
                .map(|u| {
                    let full = user_pb(u);
                    pb::DirectoryUser {
                        id: full.id,
                        email: full.email,
                        display_name: full.display_name,
                        status: full.status,
                    }
                })
                .collect(),
        }))
    }
}
