//! AuditService: the audit trail.

use super::*;

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for IamGrpc {
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut kinds = Vec::new();
        if r.kinds.len() > 64 {
            return Err(Error::invalid_field("kinds", "must have at most 64 items").into());
        }
        for k in &r.kinds {
            kinds.push(AuditKind::from_i32(*k).ok_or_else(|| {
                Error::invalid_field("kinds", format!("{k} is not an audit event kind"))
            })?);
        }
        let actor_id = api::optional_uuid("actor_id", &r.actor_id, "a user id")?.map(UserId::from);
        let filter = AuditFilter {
            kinds,
            since: r.start_time.as_ref().map(api::millis),
            until: r.end_time.as_ref().map(api::millis),
            actor_id,
        };
        let page = api::page("audit_events", r.page_size, &r.page_token)?;
        let before = api::uuid_cursor(&page)?;
        let (entries, next) = self
            .iam
            .list_audit(&caller, filter, page.size, before)
            .await?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            audit_events: entries.iter().map(audit_pb).collect(),
            next_page_token: next
                .map(|id| api::page_token("audit_events", &id.to_string()))
                .unwrap_or_default(),
        }))
    }
}
