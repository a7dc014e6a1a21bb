//! AuthorizationService: the policy engine over gRPC.

use super::*;

#[tonic::async_trait]
impl pb::authorization_service_server::AuthorizationService for IamGrpc {
    async fn check_permission(
        &self,
        request: Request<pb::CheckPermissionRequest>,
    ) -> Reply<pb::CheckPermissionResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let res = r.resource.unwrap_or_default();
        let owner_id =
            api::optional_uuid("resource.owner_id", &res.owner_id, "a user id")?.map(UserId::from);
        bounded("resource.team", &res.team, MAX_TEXT)?;
        bounded("permission", &r.permission, api::MAX_ID_LEN)?;
        if let Some(m) = &res.amount {
            bounded("resource.amount.currency_code", &m.currency_code, 3)?;
        }
        // An amount without a currency is in the tenant's (filled in by the use case).
        let resource = Resource {
            owner_id,
            team: (!res.team.is_empty()).then_some(res.team.as_str()),
            amount: res.amount.as_ref().map(|m| crm_core::authz::Amount {
                currency: m.currency_code.trim(),
                units: m.units,
                nanos: m.nanos,
            }),
        };
        let subject = api::optional_uuid("subject_user_id", &r.subject_user_id, "a user id")?
            .map(UserId::from);
        let decision = self
            .iam
            .check_permission(&caller, r.permission.trim(), &resource, subject)
            .await?;
        Ok(Response::new(pb::CheckPermissionResponse {
            allowed: decision.allowed,
            decided_by: decision.decided_by,
            reason: decision.reason,
        }))
    }
}
