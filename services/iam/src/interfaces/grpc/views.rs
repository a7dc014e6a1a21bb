//! SavedViewService: the lists' saved views.

use super::*;
use crate::domain::saved_view::{SavedView, ViewPatch, read_permission};

fn view_pb(view: &SavedView) -> pb::SavedView {
    pb::SavedView {
        id: view.id.to_string(),
        tenant_id: view.tenant_id.to_string(),
        list: view.list.clone(),
        name: view.name.clone(),
        query: view.query.clone(),
        shared: view.shared,
        owner_user_id: view.owner_id.to_string(),
        create_time: ts(view.created_at),
        update_time: ts(view.updated_at),
        etag: view.version.to_string(),
    }
}

fn view_id(field: &str, raw: &str) -> Result<uuid::Uuid, Error> {
    api::uuid(field, raw, "a saved view id")
}

#[tonic::async_trait]
impl pb::saved_view_service_server::SavedViewService for IamGrpc {
    async fn create_saved_view(
        &self,
        request: Request<pb::CreateSavedViewRequest>,
    ) -> Reply<pb::CreateSavedViewResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let v = r
            .saved_view
            .clone()
            .ok_or_else(|| Error::invalid_field("saved_view", "is required"))?;
        let list = bounded("saved_view.list", &v.list, 64)?;
        bounded("saved_view.name", &v.name, MAX_TEXT)?;
        bounded("saved_view.query", &v.query, 4 * MAX_TEXT)?;
        // Rights first, replays included: reading the list is what keeping its views takes.
        let permission = read_permission("saved_view.list", list)
            .map_err(|(field, problem)| Error::invalid_field(field, problem))?;
        let patch = ViewPatch {
            name: Some(v.name.clone()),
            query: Some(v.query.clone()),
            shared: Some(v.shared),
        };
        let response = self
            .iam
            .idempotency()
            .once(
                &caller.principal,
                permission,
                "CreateSavedView",
                &r.request_id,
                &r,
                || async {
                    let view = self.iam.create_saved_view(&caller, list, patch).await?;
                    Ok(pb::CreateSavedViewResponse {
                        saved_view: Some(view_pb(&view)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn list_saved_views(
        &self,
        request: Request<pb::ListSavedViewsRequest>,
    ) -> Reply<pb::ListSavedViewsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let list = bounded("list", &r.list, 64)?;
        let token_list = format!("saved_views:{list}");
        let page = api::page(&token_list, r.page_size, &r.page_token)?;
        let after = api::uuid_cursor(&page)?;
        let mut views = self
            .iam
            .list_saved_views(&caller, list, after, page.size + 1)
            .await?;
        let more = views.len() > page.size as usize;
        views.truncate(page.size as usize);
        let next_page_token = match views.last() {
            Some(last) if more => api::page_token(&token_list, &last.id.to_string()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListSavedViewsResponse {
            saved_views: views.iter().map(view_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_saved_view(
        &self,
        request: Request<pb::UpdateSavedViewRequest>,
    ) -> Reply<pb::UpdateSavedViewResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let v = r
            .saved_view
            .ok_or_else(|| Error::invalid_field("saved_view", "is required"))?;
        let id = view_id("saved_view.id", &v.id)?;
        bounded("saved_view.name", &v.name, MAX_TEXT)?;
        bounded("saved_view.query", &v.query, 4 * MAX_TEXT)?;
        let set = [
            ("name", !v.name.is_empty()),
            ("query", !v.query.is_empty()),
            ("shared", v.shared),
        ];
        let paths = mask_paths(r.update_mask, &set, &["name", "query", "shared"])?;
        let has = |path: &str| paths.iter().any(|p| p == path);
        let patch = ViewPatch {
            name: has("name").then(|| v.name.clone()),
            query: has("query").then(|| v.query.clone()),
            shared: has("shared").then_some(v.shared),
        };
        let etag = bounded("saved_view.etag", &v.etag, MAX_ETAG)?;
        let view = self.iam.update_saved_view(&caller, id, etag, patch).await?;
        Ok(Response::new(pb::UpdateSavedViewResponse {
            saved_view: Some(view_pb(&view)),
        }))
    }

    async fn delete_saved_view(
        &self,
        request: Request<pb::DeleteSavedViewRequest>,
    ) -> Reply<pb::DeleteSavedViewResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let id = view_id("id", &r.id)?;
        let etag = bounded("etag", &r.etag, MAX_ETAG)?;
        self.iam.delete_saved_view(&caller, id, etag).await?;
        Ok(Response::new(pb::DeleteSavedViewResponse {}))
    }
}
