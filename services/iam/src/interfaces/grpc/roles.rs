//! RoleService: built-in and custom roles, the permission catalog.

use super::*;

#[tonic::async_trait]
impl pb::role_service_server::RoleService for IamGrpc {
    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Reply<pb::ListRolesResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        // Every tenant has a handful of roles: one page holds them all, and no token is issued.
        api::page("roles", r.page_size, &r.page_token)?;
        let roles = self.iam.list_roles(&caller).await?;
        // Every tenant has a handful of roles: one page holds them all.
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.iter().map(role_pb).collect(),
            next_page_token: String::new(),
        }))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Reply<pb::CreateRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let role = r
            .role
            .clone()
            .ok_or_else(|| Error::invalid_field("role", "is required"))?;
        bounded("role.name", &role.name, MAX_TEXT)?;
        bounded("role.description", &role.description, MAX_TEXT * 4)?;
        api::bounded_list(
            "role.permissions",
            &role.permissions,
            MAX_GRANTS,
            api::MAX_ID_LEN,
        )?;
        let response = self
            .iam
            .idempotency()
            .once(
                &caller.principal,
                "roles.manage",
                "CreateRole",
                &r.request_id,
                &r,
                || async {
                    let created = self
                        .iam
                        .create_role(&caller, &role.name, &role.description, &role.permissions)
                        .await?;
                    Ok(pb::CreateRoleResponse {
                        role: Some(role_pb(&RoleView {
                            role: created,
                            built_in: false,
                        })),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_role(&self, request: Request<pb::GetRoleRequest>) -> Reply<pb::GetRoleResponse> {
        let caller = caller(&request)?;
        let id = api::id("id", &request.get_ref().id)?;
        let role = self.iam.get_role(&caller, &id).await?;
        Ok(Response::new(pb::GetRoleResponse {
            role: Some(role_pb(&role)),
        }))
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Reply<pb::UpdateRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let role = r
            .role
            .ok_or_else(|| Error::invalid_field("role", "is required"))?;
        let id = api::id("role.id", &role.id)?;
        bounded("role.description", &role.description, MAX_TEXT * 4)?;
        api::bounded_list(
            "role.permissions",
            &role.permissions,
            MAX_GRANTS,
            api::MAX_ID_LEN,
        )?;
        let set = [
            ("description", !role.description.is_empty()),
            ("permissions", !role.permissions.is_empty()),
        ];
        let paths = mask_paths(r.update_mask, &set, &["description", "permissions"])?;
        let description = paths
            .iter()
            .any(|p| p == "description")
            .then_some(role.description.as_str());
        let permissions = paths
            .iter()
            .any(|p| p == "permissions")
            .then_some(role.permissions.as_slice());
        let updated = self
            .iam
            .update_role(
                &caller,
                &id,
                bounded("role.etag", &role.etag, MAX_ETAG)?,
                description,
                permissions,
            )
            .await?;
        Ok(Response::new(pb::UpdateRoleResponse {
            role: Some(role_pb(&RoleView {
                role: updated,
                built_in: false,
            })),
        }))
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Reply<pb::DeleteRoleResponse> {
        let caller = caller(&request)?;
        let id = api::id("id", &request.get_ref().id)?;
        self.iam.delete_role(&caller, &id).await?;
        Ok(Response::new(pb::DeleteRoleResponse {}))
    }

    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Reply<pb::ListPermissionsResponse> {
        caller(&request)?;
        let permissions = self
            .iam
            .list_permissions()
            .iter()
            .map(|p| pb::Permission {
                name: p.name.into(),
                description: p.allows.into(),
            })
            .collect();
        Ok(Response::new(pb::ListPermissionsResponse { permissions }))
    }
}
