//! UserService: invite, list, read, change, delete users; grant and revoke roles.

use super::*;
use crate::domain::invitation::Invitation;

#[tonic::async_trait]
impl pb::user_service_server::UserService for IamGrpc {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Reply<pb::CreateUserResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let u = r.user.clone().unwrap_or_default();
        bounded("user.email", &u.email, MAX_TEXT)?;
        bounded("user.display_name", &u.display_name, MAX_TEXT)?;
        bounded("user.team", &u.team, MAX_TEXT)?;
        bounded("password", &r.password, MAX_PASSWORD)?;
        api::bounded_list("user.roles", &u.roles, MAX_GRANTS, api::MAX_ID_LEN)?;
        // The password is not part of what makes a retry "the same request": its hash must not
        // sit in the idempotency table beside the request.
        let fingerprint = pb::CreateUserRequest {
            password: String::new(),
            ..r.clone()
        };
        let response = self
            .iam
            .idempotency()
            .once(
                &caller.principal,
                "users.manage",
                "CreateUser",
                &r.request_id,
                &fingerprint,
                || async {
                    let user = self
                        .iam
                        .create_user(
                            &caller,
                            &u.email,
                            &u.display_name,
                            &r.password,
                            u.roles.clone(),
                            &u.team,
                        )
                        .await?;
                    Ok(pb::CreateUserResponse {
                        user: Some(user_pb(&user)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn invite_user(
        &self,
        request: Request<pb::InviteUserRequest>,
    ) -> Reply<pb::InviteUserResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let u = r.user.clone().unwrap_or_default();
        bounded("user.email", &u.email, MAX_TEXT)?;
        bounded("user.display_name", &u.display_name, MAX_TEXT)?;
        bounded("user.team", &u.team, MAX_TEXT)?;
        api::bounded_list("user.roles", &u.roles, MAX_GRANTS, api::MAX_ID_LEN)?;
        let response = self
            .iam
            .idempotency()
            .once(
                &caller.principal,
                "users.manage",
                "InviteUser",
                &r.request_id,
                &r,
                || async {
                    let user = self
                        .iam
                        .invite_user(&caller, &u.email, &u.display_name, u.roles.clone(), &u.team)
                        .await?;
                    Ok(pb::InviteUserResponse {
                        user: Some(self.shown(&caller, &user).await?),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn resend_invitation(
        &self,
        request: Request<pb::ResendInvitationRequest>,
    ) -> Reply<pb::ResendInvitationResponse> {
        let caller = caller(&request)?;
        let id = user_id("user_id", &request.get_ref().user_id)?;
        let user = self.iam.resend_invitation(&caller, id).await?;
        Ok(Response::new(pb::ResendInvitationResponse {
            user: Some(self.shown(&caller, &user).await?),
        }))
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Reply<pb::RevokeInvitationResponse> {
        let caller = caller(&request)?;
        let id = user_id("user_id", &request.get_ref().user_id)?;
        self.iam.revoke_invitation(&caller, id).await?;
        Ok(Response::new(pb::RevokeInvitationResponse {}))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Reply<pb::ListUsersResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let status = match api::enum_filter::<pb::UserStatus>("status", r.status)? {
            None | Some(pb::UserStatus::Unspecified) => None,
            Some(pb::UserStatus::Active) => Some(UserStatus::Active),
            Some(pb::UserStatus::Deactivated) => Some(UserStatus::Deactivated),
            Some(pb::UserStatus::Deleted) => Some(UserStatus::Deleted),
            Some(pb::UserStatus::Invited) => Some(UserStatus::Invited),
        };
        let role = if r.role.is_empty() {
            None
        } else {
            Some(api::id("role", &r.role)?)
        };
        let filter = UserFilter { status, role };
        let page = api::page("users", r.page_size, &r.page_token)?;
        let after = api::uuid_cursor(&page)?.map(UserId::from);
        let page = self
            .iam
            .list_users(&caller, filter, page.size, after)
            .await?;
        let invitations = self.iam.invitations_of(&caller, &page.users).await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page
                .users
                .iter()
                .map(|u| with_invitation(user_pb(u), &invitations))
                .collect(),
            next_page_token: page
                .next_after
                .map(|id| api::page_token("users", &id.to_string()))
                .unwrap_or_default(),
        }))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Reply<pb::GetUserResponse> {
        let caller = caller(&request)?;
        let id = user_id("id", &request.get_ref().id)?;
        let user = self.iam.get_user(&caller, id).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(self.shown(&caller, &user).await?),
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Reply<pb::UpdateUserResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let u = r
            .user
            .ok_or_else(|| Error::invalid_field("user", "is required"))?;
        let id = user_id("user.id", &u.id)?;
        bounded("user.email", &u.email, MAX_TEXT)?;
        bounded("user.display_name", &u.display_name, MAX_TEXT)?;
        bounded("user.team", &u.team, MAX_TEXT)?;
        bounded("user.locale", &u.locale, MAX_ETAG)?;
        let set = [
            ("email", !u.email.is_empty()),
            ("display_name", !u.display_name.is_empty()),
            ("status", u.status != 0),
            ("team", !u.team.is_empty()),
            ("locale", !u.locale.is_empty()),
        ];
        let paths = mask_paths(
            r.update_mask,
            &set,
            &["email", "display_name", "status", "team", "locale"],
        )?;
        let mut changes = UserPatch::default();
        for path in &paths {
            match path.as_str() {
                "email" => changes.email = Some(u.email.clone()),
                "display_name" => changes.display_name = Some(u.display_name.clone()),
                "team" => changes.team = Some(u.team.clone()),
                "locale" => changes.locale = Some(u.locale.clone()),
                "status" => {
                    changes.status = Some(
                        match api::enum_filter::<pb::UserStatus>("user.status", u.status)? {
                            Some(pb::UserStatus::Active) => UserStatus::Active,
                            Some(pb::UserStatus::Deactivated) => UserStatus::Deactivated,
                            Some(pb::UserStatus::Deleted) => UserStatus::Deleted,
                            Some(pb::UserStatus::Invited) => UserStatus::Invited,
                            None | Some(pb::UserStatus::Unspecified) => {
                                return Err(Error::invalid_field(
                                    "user.status",
                                    "must be ACTIVE or DEACTIVATED",
                                )
                                .into());
                            }
                        },
                    )
                }
                _ => unreachable!("mask_paths checked the paths"),
            }
        }
        let etag = bounded("user.etag", &u.etag, MAX_ETAG)?;
        let user = self.iam.update_user(&caller, id, etag, changes).await?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(user_pb(&user)),
        }))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Reply<pb::DeleteUserResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        self.iam
            .delete_user(
                &caller,
                user_id("id", &r.id)?,
                bounded("etag", &r.etag, MAX_ETAG)?,
            )
            .await?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn assign_role(
        &self,
        request: Request<pb::AssignRoleRequest>,
    ) -> Reply<pb::AssignRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let user = self
            .iam
            .assign_role(
                &caller,
                user_id("user_id", &r.user_id)?,
                &api::id("role", &r.role)?,
            )
            .await?;
        Ok(Response::new(pb::AssignRoleResponse {
            user: Some(user_pb(&user)),
        }))
    }

    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Reply<pb::RevokeRoleResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let user = self
            .iam
            .revoke_role(
                &caller,
                user_id("user_id", &r.user_id)?,
                &api::id("role", &r.role)?,
            )
            .await?;
        Ok(Response::new(pb::RevokeRoleResponse {
            user: Some(user_pb(&user)),
        }))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Reply<pb::ListSessionsResponse> {
        let caller = caller(&request)?;
        let user = user_id("user_id", &request.get_ref().user_id)?;
        let sessions = self.iam.list_sessions(&caller, user).await?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: sessions
                .iter()
                .map(|s| pb::UserSession {
                    id: s.family_id.to_string(),
                    user_id: s.user_id.to_string(),
                    start_time: ts(s.session_start()),
                    last_active_time: ts(s.issued_at),
                    expire_time: ts(s.expires_at),
                })
                .collect(),
        }))
    }

    async fn revoke_session(
        &self,
        request: Request<pb::RevokeSessionRequest>,
    ) -> Reply<pb::RevokeSessionResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let user = user_id("user_id", &r.user_id)?;
        let session = api::uuid("session_id", &r.session_id, "a session id")?;
        self.iam.revoke_session(&caller, user, session).await?;
        Ok(Response::new(pb::RevokeSessionResponse {}))
    }
}

impl IamGrpc {
    /// `user` as the API shows it, with its invitation when it is invited.
    async fn shown(&self, caller: &Caller, user: &User) -> Result<pb::User, Error> {
        let invitations = self
            .iam
            .invitations_of(caller, std::slice::from_ref(user))
            .await?;
        Ok(with_invitation(user_pb(user), &invitations))
    }
}

/// `shown` with its invitation among `invitations`, if it has one.
fn with_invitation(mut shown: pb::User, invitations: &[Invitation]) -> pb::User {
    shown.invitation = invitations
        .iter()
        .find(|i| i.user_id.to_string() == shown.id)
        .map(|i| pb::Invitation {
            inviter_user_id: i.invited_by.to_string(),
            send_time: ts(i.sent_at),
            expire_time: ts(i.expires_at),
            send_count: i.send_count,
        });
    shown
}
