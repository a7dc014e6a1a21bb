//! IAM over gRPC, as its users call it: sign up, log in, invite, deny, rotate and revoke sessions,
//! read the audit trail; and another tenant's ids answering NOT_FOUND on every read and write.

use crate::support;

use crm_proto::crm::iam::v1::audit_service_client::AuditServiceClient;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::authorization_service_client::AuthorizationServiceClient;
use crm_proto::crm::iam::v1::role_service_client::RoleServiceClient;
use crm_proto::crm::iam::v1::tenant_service_client::TenantServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::*;
use prost::Message;
use prost_types::FieldMask;
use support::iam::{PASSWORD, Session, invite, login, reason, refresh, register};
use support::{TestServer, authorized, spawn};
use tonic::{Code, Status};
use tonic_types::StatusExt;

pub(crate) async fn audit_kinds(server: &TestServer, owner: &Session) -> Vec<AuditEventKind> {
    let mut audit = AuditServiceClient::new(server.channel.clone());
    let page = audit
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                page_size: 100,
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap();
    page.into_inner()
        .audit_events
        .iter()
        .map(|e| e.kind())
        .collect()
}

#[tokio::test]
async fn register_creates_a_tenant_and_its_owner_signed_in() {
    let server = spawn().await;
    let owner = register(&server, "Kilang Desa Murni Batik", "Siti@Kilang.Example").await;
    assert_eq!(owner.tenant.slug, "kilang-desa-murni-batik");
    assert_eq!(
        owner.user.email, "siti@kilang.example",
        "emails are normalised"
    );
    assert_eq!(owner.user.roles, ["owner"]);
    let mut users = UserServiceClient::new(server.channel.clone());
    let me = users
        .get_user(authorized(
            GetUserRequest {
                id: owner.user.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user.unwrap().id, owner.user.id);

    let again = register(&server, "Kilang Desa Murni Batik", "other@kilang.example").await;
    assert_eq!(
        again.tenant.slug, "kilang-desa-murni-batik-2",
        "slugs stay unique"
    );
}

#[tokio::test]
async fn register_rejects_bad_input_field_by_field() {
    let server = spawn().await;
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let err = auth
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "K".into(),
            email: "not-an-email".into(),
            password: "short".into(),
            display_name: "Siti".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["tenant_name", "email", "password"]);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_are_refused_alike() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let wrong_password = login(
        &server,
        &owner.tenant.slug,
        "siti@kilang.example",
        "not the password",
    )
    .await
    .unwrap_err();
    let unknown_email = login(
        &server,
        &owner.tenant.slug,
        "nobody@kilang.example",
        PASSWORD,
    )
    .await
    .unwrap_err();
    let unknown_tenant = login(&server, "no-such-tenant", "siti@kilang.example", PASSWORD)
        .await
        .unwrap_err();
    for err in [&wrong_password, &unknown_email, &unknown_tenant] {
        assert_eq!(err.code(), Code::Unauthenticated);
        assert_eq!(err.message(), wrong_password.message());
        assert_eq!(reason(err), "INVALID_CREDENTIALS");
    }
    let ok = login(&server, &owner.tenant.id, "SITI@kilang.example", PASSWORD)
        .await
        .expect("tenant id and any email case work");
    assert_eq!(ok.user.unwrap().id, owner.user.id);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_out_with_retry_info() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let mut last = None;
    for _ in 0..5 {
        last = Some(
            login(
                &server,
                &owner.tenant.slug,
                "siti@kilang.example",
                "wrong password!",
            )
            .await
            .unwrap_err(),
        );
    }
    let locked = last.unwrap();
    assert_eq!(locked.code(), Code::ResourceExhausted);
    assert_eq!(reason(&locked), "LOGIN_LOCKED_OUT");
    assert!(
        locked
            .get_error_details()
            .retry_info()
            .unwrap()
            .retry_delay
            .unwrap()
            .as_secs()
            > 0
    );
    let even_right = login(&server, &owner.tenant.slug, "siti@kilang.example", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        even_right.code(),
        Code::ResourceExhausted,
        "the right password waits out the lockout too"
    );
    let kinds = audit_kinds(&server, &owner).await;
    assert!(kinds.contains(&AuditEventKind::Lockout), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditEventKind::LoginFailed)
            .count(),
        5
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let first = login(&server, &owner.tenant.slug, "siti@kilang.example", PASSWORD)
        .await
        .unwrap();
    let second = refresh(&server, &first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    let mut users = UserServiceClient::new(server.channel.clone());
    users
        .get_user(authorized(
            GetUserRequest {
                id: owner.user.id.clone(),
            },
            &second.access_token,
        ))
        .await
        .expect("the new access token works");

    let replay = refresh(&server, &first.refresh_token).await.unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated);
    let descendant = refresh(&server, &second.refresh_token).await.unwrap_err();
    assert_eq!(
        descendant.code(),
        Code::Unauthenticated,
        "reuse revokes every token of the family"
    );
    refresh(&server, &owner.refresh)
        .await
        .expect("another login's family is untouched");
    assert!(
        audit_kinds(&server, &owner)
            .await
            .contains(&AuditEventKind::RefreshTokenReused)
    );

    let garbage = refresh(&server, "rt_not_a_token").await.unwrap_err();
    assert_eq!(garbage.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let mut auth = AuthServiceClient::new(server.channel.clone());
    auth.logout(authorized(
        LogoutRequest {
            refresh_token: owner.refresh.clone(),
        },
        &owner.access,
    ))
    .await
    .unwrap();
    assert_eq!(
        refresh(&server, &owner.refresh).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert!(
        audit_kinds(&server, &owner)
            .await
            .contains(&AuditEventKind::Logout)
    );
    let unauthenticated = auth
        .logout(LogoutRequest {
            refresh_token: owner.refresh.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        unauthenticated.code(),
        Code::Unauthenticated,
        "Logout needs an access token"
    );
}

#[tokio::test]
async fn an_invited_colleague_is_denied_what_the_role_forbids() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let ali = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let mut users = UserServiceClient::new(server.channel.clone());

    let listed = users
        .list_users(authorized(ListUsersRequest::default(), &ali.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.users.len(), 2, "sales reps may read users");
    let user = User {
        email: "x@kilang.example".into(),
        display_name: "X".into(),
        ..Default::default()
    };
    let denied = users
        .create_user(authorized(
            CreateUserRequest {
                user: Some(user),
                password: PASSWORD.into(),
                request_id: String::new(),
            },
            &ali.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        denied.get_error_details().error_info().unwrap().metadata["permission"],
        "users.manage"
    );
    let mut audit = AuditServiceClient::new(server.channel.clone());
    let denied = audit
        .list_audit_events(authorized(
            ListAuditEventsRequest::default(),
            &ali.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions_and_logins() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let ali = invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let ali_session = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let mut users = UserServiceClient::new(server.channel.clone());
    let change = User {
        id: ali.id.clone(),
        status: UserStatus::Deactivated as i32,
        etag: ali.etag.clone(),
        ..Default::default()
    };
    let mask = FieldMask {
        paths: vec!["status".into()],
    };
    let updated = users
        .update_user(authorized(
            UpdateUserRequest {
                user: Some(change),
                update_mask: Some(mask),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    assert_eq!(
        updated.into_inner().user.unwrap().status(),
        UserStatus::Deactivated
    );
    assert_eq!(
        refresh(&server, &ali_session.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn updates_need_the_current_etag() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let ali = invite(&server, &owner, "ali@kilang.example", &["viewer"]).await;
    let mut users = UserServiceClient::new(server.channel.clone());
    let rename = |name: &str, etag: &str| UpdateUserRequest {
        user: Some(User {
            id: ali.id.clone(),
            display_name: name.into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["display_name".into()],
        }),
    };
    let renamed = users
        .update_user(authorized(rename("Ali bin Abu", &ali.etag), &owner.access))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(renamed.display_name, "Ali bin Abu");
    assert_ne!(renamed.etag, ali.etag);
    let stale = users
        .update_user(authorized(rename("Lost update", &ali.etag), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    let bad_mask = UpdateUserRequest {
        update_mask: Some(FieldMask {
            paths: vec!["password_hash".into()],
        }),
        ..rename("x", "")
    };
    let err = users
        .update_user(authorized(bad_mask, &owner.access))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn emails_are_unique_within_a_tenant() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    invite(&server, &owner, "ali@kilang.example", &[]).await;
    let mut users = UserServiceClient::new(server.channel.clone());
    let dup = User {
        email: "ALI@kilang.example".into(),
        display_name: "Ali 2".into(),
        ..Default::default()
    };
    let err = users
        .create_user(authorized(
            CreateUserRequest {
                user: Some(dup),
                password: PASSWORD.into(),
                request_id: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(
        err.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "user.email"
    );
    let other = register(&server, "Batik Lain", "owner@lain.example").await;
    invite(&server, &other, "ali@kilang.example", &[]).await;
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted_deactivated_or_deleted() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let mut users = UserServiceClient::new(server.channel.clone());
    let revoke = RevokeRoleRequest {
        user_id: owner.user.id.clone(),
        role: "owner".into(),
    };
    let err = users
        .revoke_role(authorized(revoke.clone(), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "LAST_OWNER");
    let err = users
        .delete_user(authorized(
            DeleteUserRequest {
                id: owner.user.id.clone(),
                etag: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let deactivate = UpdateUserRequest {
        user: Some(User {
            id: owner.user.id.clone(),
            status: UserStatus::Deactivated as i32,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["status".into()],
        }),
    };
    let err = users
        .update_user(authorized(deactivate, &owner.access))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "the last owner cannot be deactivated"
    );

    let second = invite(&server, &owner, "ali@kilang.example", &["owner"]).await;
    let demoted = users
        .revoke_role(authorized(revoke, &owner.access))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(
        demoted.roles.is_empty(),
        "with another owner, the first may step down"
    );
    let err = users
        .delete_user(authorized(
            DeleteUserRequest {
                id: second.id.clone(),
                etag: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::Unauthenticated, "TOKEN_REVOKED"),
        "the step-down cut the first owner's token"
    );
    let second_access = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap()
        .access_token;
    let err = users
        .delete_user(authorized(
            DeleteUserRequest {
                id: second.id.clone(),
                etag: String::new(),
            },
            &second_access,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        "LAST_OWNER",
        "now the second is the last owner"
    );
}

#[tokio::test]
async fn roles_built_in_and_custom() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let ali = invite(&server, &owner, "ali@kilang.example", &["viewer"]).await;
    let mut roles = RoleServiceClient::new(server.channel.clone());
    let mut users = UserServiceClient::new(server.channel.clone());

    let listed = roles
        .list_roles(authorized(ListRolesRequest::default(), &owner.access))
        .await
        .unwrap()
        .into_inner()
        .roles;
    let names: Vec<&str> = listed.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["owner", "admin", "sales_manager", "sales_rep", "viewer"]
    );
    assert!(listed.iter().all(|r| r.built_in));

    let bad = Role {
        name: "exporter".into(),
        permissions: vec!["rockets.launch".into()],
        ..Default::default()
    };
    let err = roles
        .create_role(authorized(
            CreateRoleRequest {
                role: Some(bad),
                request_id: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let role = Role {
        name: "exporter".into(),
        description: "exports customers".into(),
        permissions: vec!["customers.export".into()],
        ..Default::default()
    };
    let created = roles
        .create_role(authorized(
            CreateRoleRequest {
                role: Some(role),
                request_id: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    assert!(!created.built_in);
    users
        .assign_role(authorized(
            AssignRoleRequest {
                user_id: ali.id.clone(),
                role: "exporter".into(),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    let err = users
        .assign_role(authorized(
            AssignRoleRequest {
                user_id: ali.id.clone(),
                role: "astronaut".into(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let ali_tokens = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let mut authz = AuthorizationServiceClient::new(server.channel.clone());
    let check = authz
        .check_permission(authorized(
            CheckPermissionRequest {
                permission: "customers.export".into(),
                ..Default::default()
            },
            &ali_tokens.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        check.allowed,
        "the custom role's grant reaches the token: {check:?}"
    );

    let held = roles
        .delete_role(authorized(
            DeleteRoleRequest {
                id: created.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(held.code(), Code::FailedPrecondition);
    users
        .revoke_role(authorized(
            RevokeRoleRequest {
                user_id: ali.id.clone(),
                role: "exporter".into(),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    roles
        .delete_role(authorized(
            DeleteRoleRequest {
                id: created.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    let builtin = roles
        .delete_role(authorized(
            DeleteRoleRequest {
                id: "viewer".into(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(builtin.code(), Code::FailedPrecondition);
    let perms = roles
        .list_permissions(authorized(ListPermissionsRequest {}, &owner.access))
        .await
        .unwrap()
        .into_inner();
    assert!(perms.permissions.iter().any(|p| p.name == "leads.convert"));
}

#[tokio::test]
async fn the_policy_engine_decides_with_rbac_and_abac() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let rep = invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let rep_tokens = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let mut tenants = TenantServiceClient::new(server.channel.clone());
    let settings = TenantSettings {
        default_currency_code: "MYR".into(),
        time_zone: "Asia/Kuala_Lumpur".into(),
        locale: "ms-MY".into(),
        deal_approval_threshold_units: 50_000,
        ..Default::default()
    };
    let tenant = Tenant {
        id: owner.tenant.id.clone(),
        settings: Some(settings),
        etag: owner.tenant.etag.clone(),
        ..Default::default()
    };
    tenants
        .update_tenant(authorized(
            UpdateTenantRequest {
                tenant: Some(tenant),
                update_mask: Some(FieldMask {
                    paths: vec!["settings".into()],
                }),
            },
            &owner.access,
        ))
        .await
        .unwrap();

    let mut authz = AuthorizationServiceClient::new(server.channel.clone());
    let check = |permission: &str, owner_id: &str, amount: i64, token: &str, subject: &str| {
        let resource = ResourceAttributes {
            r#type: "opportunity".into(),
            owner_id: owner_id.into(),
            amount: (amount > 0).then(|| crm_proto::google::r#type::Money {
                currency_code: "MYR".into(),
                units: amount,
                nanos: 0,
            }),
            ..Default::default()
        };
        let request = authorized(
            CheckPermissionRequest {
                permission: permission.into(),
                resource: Some(resource),
                subject_user_id: subject.into(),
            },
            token,
        );
        let mut authz = authz.clone();
        async move { authz.check_permission(request).await }
    };
    let own = check(
        "opportunities.write",
        &rep.id,
        0,
        &rep_tokens.access_token,
        "",
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!((own.allowed, own.decided_by.as_str()), (true, "abac:owner"));
    let theirs = check(
        "opportunities.write",
        &owner.user.id,
        0,
        &rep_tokens.access_token,
        "",
    )
    .await
    .unwrap()
    .into_inner();
    assert!(!theirs.allowed);
    let big = check(
        "opportunities.close",
        &rep.id,
        80_000,
        &rep_tokens.access_token,
        "",
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(
        (big.allowed, big.decided_by.as_str()),
        (false, "abac:large-deal-approval")
    );
    let for_rep = check(
        "opportunities.close",
        &rep.id,
        10_000,
        &owner.access,
        &rep.id,
    )
    .await
    .unwrap()
    .into_inner();
    assert!(for_rep.allowed, "owners may ask about others: {for_rep:?}");
    let not_allowed = check(
        "customers.read",
        "",
        0,
        &rep_tokens.access_token,
        &owner.user.id,
    )
    .await
    .unwrap_err();
    assert_eq!(not_allowed.code(), Code::PermissionDenied);
    let _ = &mut authz;
}

#[tokio::test]
async fn tenants_are_read_by_their_users_and_changed_by_owners() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    invite(&server, &owner, "ali@kilang.example", &["admin"]).await;
    let admin = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let mut tenants = TenantServiceClient::new(server.channel.clone());
    let got = tenants
        .get_tenant(authorized(
            GetTenantRequest {
                id: owner.tenant.id.clone(),
            },
            &admin.access_token,
        ))
        .await
        .unwrap();
    assert_eq!(got.into_inner().tenant.unwrap().slug, owner.tenant.slug);

    let rename = |etag: &str| UpdateTenantRequest {
        tenant: Some(Tenant {
            id: owner.tenant.id.clone(),
            name: "Kilang Batik Terengganu".into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: None,
    };
    let err = tenants
        .update_tenant(authorized(rename(""), &admin.access_token))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "admins lack tenant.manage"
    );
    let renamed = tenants
        .update_tenant(authorized(rename(&owner.tenant.etag), &owner.access))
        .await
        .unwrap()
        .into_inner()
        .tenant
        .unwrap();
    assert_eq!(renamed.name, "Kilang Batik Terengganu");
    let create = tenants
        .create_tenant(authorized(CreateTenantRequest::default(), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(create.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn the_import_columns_are_remembered_for_the_workspace_and_only_changed_on_their_own() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let rep = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let other = register(&server, "Other Shop", "owner@other.example").await;
    let mut tenants = TenantServiceClient::new(server.channel.clone());
    let columns = |pairs: &[(&str, &str)]| UpdateTenantRequest {
        tenant: Some(Tenant {
            id: owner.tenant.id.clone(),
            settings: Some(TenantSettings {
                import_columns: pairs
                    .iter()
                    .map(|(h, f)| ((*h).to_owned(), (*f).to_owned()))
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["settings.import_columns".into()],
        }),
    };
    let remembered = [("Nama Syarikat", "legal_name"), ("Catatan", "")];

    // A rep may import, but the workspace's settings are the owner's.
    let denied = tenants
        .update_tenant(authorized(columns(&remembered), &rep.access_token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad = tenants
        .update_tenant(authorized(columns(&[("E-mel", "E-mail!")]), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        support::iam::fields(&bad),
        ["tenant.settings.import_columns"]
    );

    let saved = tenants
        .update_tenant(authorized(columns(&remembered), &owner.access))
        .await
        .unwrap()
        .into_inner()
        .tenant
        .unwrap();
    let expected: std::collections::BTreeMap<String, String> = [
        ("nama syarikat".to_owned(), "legal_name".to_owned()),
        ("catatan".to_owned(), String::new()),
    ]
    .into();
    assert_eq!(saved.settings.as_ref().unwrap().import_columns, expected);
    assert_eq!(
        saved.settings.as_ref().unwrap().time_zone,
        "Asia/Kuala_Lumpur",
        "the other settings are left as they were"
    );

    // The settings page's save (mask `settings`, no columns in it) leaves them.
    let mut settings = saved.settings.clone().unwrap();
    settings.import_columns.clear();
    settings.time_zone = "Asia/Kuching".into();
    tenants
        .update_tenant(authorized(
            UpdateTenantRequest {
                tenant: Some(Tenant {
                    id: owner.tenant.id.clone(),
                    settings: Some(settings),
                    etag: saved.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["settings".into()],
                }),
            },
            &owner.access,
        ))
        .await
        .unwrap();
    // The workspace's settings as `token` reads them.
    let (reader, workspace) = (tenants.clone(), owner.tenant.id.clone());
    let settings_as = move |token: String| {
        let (mut tenants, id) = (reader.clone(), workspace.clone());
        async move {
            let answer = tenants.get_tenant(authorized(GetTenantRequest { id }, &token));
            answer
                .await
                .unwrap()
                .into_inner()
                .tenant
                .unwrap()
                .settings
                .unwrap()
        }
    };
    let read = settings_as(rep.access_token.clone()).await;
    assert_eq!(
        (read.time_zone.as_str(), &read.import_columns),
        ("Asia/Kuching", &expected),
        "everyone in the workspace reads them; the settings' save kept them"
    );

    // Another workspace's owner reaches neither.
    let mut theirs = columns(&[("x", "email")]);
    let err = tenants
        .update_tenant(authorized(theirs.clone(), &other.access))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    theirs.tenant.as_mut().unwrap().id = other.tenant.id.clone();
    let own = tenants
        .update_tenant(authorized(theirs, &other.access))
        .await
        .unwrap()
        .into_inner()
        .tenant
        .unwrap();
    assert_eq!(own.settings.unwrap().import_columns.len(), 1);
    let ours = settings_as(owner.access.clone()).await;
    assert_eq!(ours.import_columns, expected);
}

#[tokio::test]
async fn users_are_listed_in_pages() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    for n in 0..3 {
        invite(&server, &owner, &format!("user{n}@kilang.example"), &[]).await;
    }
    let mut users = UserServiceClient::new(server.channel.clone());
    let first = users
        .list_users(authorized(
            ListUsersRequest {
                page_size: 3,
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.users.len(), 3);
    assert!(!first.next_page_token.is_empty());
    let second = users
        .list_users(authorized(
            ListUsersRequest {
                page_size: 3,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.users.len(), 1);
    assert!(second.next_page_token.is_empty());
    let viewers = users
        .list_users(authorized(
            ListUsersRequest {
                role: "viewer".into(),
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap();
    assert_eq!(viewers.into_inner().users.len(), 3);
    let bad = users
        .list_users(authorized(
            ListUsersRequest {
                page_token: "garbage".into(),
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn get_jwks_publishes_the_key_that_signs_tokens() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let jwks = auth.get_jwks(GetJwksRequest {}).await.unwrap().into_inner();
    let kid = jsonwebtoken::decode_header(&owner.access)
        .unwrap()
        .kid
        .unwrap();
    let key = jwks
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .expect("the signing key is published");
    assert_eq!(
        (key.kty.as_str(), key.crv.as_str(), key.alg.as_str()),
        ("OKP", "Ed25519", "EdDSA")
    );
}

#[tokio::test]
async fn another_tenants_ids_are_not_found_on_every_read_and_write() {
    let server = spawn().await;
    let a = register(&server, "Kilang", "siti@kilang.example").await;
    let a_user = invite(&server, &a, "ali@kilang.example", &["viewer"]).await;
    let mut roles = RoleServiceClient::new(server.channel.clone());
    let role = Role {
        name: "exporter".into(),
        permissions: vec!["customers.export".into()],
        ..Default::default()
    };
    let a_role = roles
        .create_role(authorized(
            CreateRoleRequest {
                role: Some(role),
                request_id: String::new(),
            },
            &a.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    let b = register(&server, "Batik Lain", "owner@lain.example").await;
    let t = &b.access;
    let (mut users, mut tenants, mut auth, mut authz) = (
        UserServiceClient::new(server.channel.clone()),
        TenantServiceClient::new(server.channel.clone()),
        AuthServiceClient::new(server.channel.clone()),
        AuthorizationServiceClient::new(server.channel.clone()),
    );
    let user_change = User {
        id: a_user.id.clone(),
        display_name: "Hijacked".into(),
        ..Default::default()
    };
    let results: Vec<(&str, Status)> = vec![
        (
            "GetUser",
            users
                .get_user(authorized(
                    GetUserRequest {
                        id: a_user.id.clone(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "UpdateUser",
            users
                .update_user(authorized(
                    UpdateUserRequest {
                        user: Some(user_change),
                        update_mask: None,
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "DeleteUser",
            users
                .delete_user(authorized(
                    DeleteUserRequest {
                        id: a_user.id.clone(),
                        etag: String::new(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "AssignRole",
            users
                .assign_role(authorized(
                    AssignRoleRequest {
                        user_id: a_user.id.clone(),
                        role: "viewer".into(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "RevokeRole",
            users
                .revoke_role(authorized(
                    RevokeRoleRequest {
                        user_id: a_user.id.clone(),
                        role: "viewer".into(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "GetTenant",
            tenants
                .get_tenant(authorized(
                    GetTenantRequest {
                        id: a.tenant.id.clone(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "UpdateTenant",
            tenants
                .update_tenant(authorized(
                    UpdateTenantRequest {
                        tenant: Some(Tenant {
                            id: a.tenant.id.clone(),
                            name: "Mine".into(),
                            ..Default::default()
                        }),
                        update_mask: None,
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "GetRole",
            roles
                .get_role(authorized(
                    GetRoleRequest {
                        id: a_role.id.clone(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "UpdateRole",
            roles
                .update_role(authorized(
                    UpdateRoleRequest {
                        role: Some(Role {
                            id: a_role.id.clone(),
                            description: "x".into(),
                            ..Default::default()
                        }),
                        update_mask: None,
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "DeleteRole",
            roles
                .delete_role(authorized(
                    DeleteRoleRequest {
                        id: a_role.id.clone(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
        (
            "Logout",
            auth.logout(authorized(
                LogoutRequest {
                    refresh_token: a.refresh.clone(),
                },
                t,
            ))
            .await
            .unwrap_err(),
        ),
        (
            "CheckPermission",
            authz
                .check_permission(authorized(
                    CheckPermissionRequest {
                        permission: "customers.read".into(),
                        resource: None,
                        subject_user_id: a_user.id.clone(),
                    },
                    t,
                ))
                .await
                .unwrap_err(),
        ),
    ];
    for (rpc, err) in results {
        assert_eq!(err.code(), Code::NotFound, "{rpc}: {err:?}");
    }
    // Nothing of tenant A changed.
    let mut a_users = UserServiceClient::new(server.channel.clone());
    let still = a_users
        .get_user(authorized(
            GetUserRequest {
                id: a_user.id.clone(),
            },
            &a.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(
        (still.display_name.as_str(), still.roles.as_slice()),
        ("Ali", ["viewer".to_owned()].as_slice())
    );
    refresh(&server, &a.refresh)
        .await
        .expect("A's session survives B's logout attempt");
}

#[tokio::test]
async fn changes_write_their_events_to_the_outbox_in_the_same_store() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "siti@kilang.example").await;
    // A traced request: its events carry the caller's traceparent and correlation id.
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ali = invite(&server, &owner, "ali@kilang.example", &["viewer"]).await;
    let mut users = UserServiceClient::new(server.channel.clone());
    let mut traced = authorized(
        AssignRoleRequest {
            user_id: ali.id.clone(),
            role: "sales_rep".into(),
        },
        &owner.access,
    );
    traced
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    traced
        .metadata_mut()
        .insert("x-correlation-id", "batik-trace-1".parse().unwrap());
    users.assign_role(traced).await.unwrap();

    let db = crm_core::storage::open_sqlite(&server.data_dir.join("iam.db"))
        .await
        .unwrap();
    let rows: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("select event_type, aggregate_id, payload from outbox order by seq")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let types: Vec<&str> = rows.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "crm.iam.events.v1.TenantCreated",
            "crm.iam.events.v1.UserCreated",
            "crm.iam.events.v1.UserCreated",
            "crm.iam.events.v1.UserRoleChanged"
        ]
    );
    let invited =
        crm_proto::crm::iam::events::v1::UserCreated::decode(rows[2].2.as_slice()).unwrap();
    assert_eq!(
        (
            invited.email.as_str(),
            invited.invited_by_user_id.as_str(),
            invited.tenant_name.as_str()
        ),
        ("ali@kilang.example", owner.user.id.as_str(), "Kilang")
    );
    let changed =
        crm_proto::crm::iam::events::v1::UserRoleChanged::decode(rows[3].2.as_slice()).unwrap();
    assert_eq!(changed.roles_added, ["sales_rep"]);
    assert_eq!(changed.roles, ["sales_rep", "viewer"]);
    assert_eq!(rows[3].1, ali.id, "keyed by the aggregate");
    let (trace, correlation): (Option<String>, Option<String>) =
        sqlx::query_as("select traceparent, correlation_id from outbox order by seq desc limit 1")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(trace.as_deref(), Some(traceparent));
    assert_eq!(correlation.as_deref(), Some("batik-trace-1"));
}

/// The same journey against PostgreSQL + Redis with keys from configuration, when both URLs are
/// set (as in CI): `crm migrate` first, as an operator would.
#[tokio::test]
#[ignore = "needs DATABASE_URL and REDIS_URL: run with --include-ignored"]
async fn microservices_mode_runs_on_postgres_and_redis() {
    let database = crm_core::testing::backend("DATABASE_URL");
    let redis = crm_core::testing::backend("REDIS_URL");
    let keys = tempfile::tempdir().unwrap();
    crm_iam::infrastructure::keys::SigningKeys::rotate(keys.path()).unwrap();
    let configure = |config: &mut crm_core::Config| {
        config.target = vec![crm_core::config::Target::named("iam")];
        config.database.url = Some(crm_core::config::Secret::new(database.clone()));
        config.redis.url = Some(crm_core::config::Secret::new(redis.clone()));
        crm_iam::config::IamConfig {
            signing_keys_dir: Some(keys.path().to_owned()),
            // Redis outlives a test run: a prefix of its own keeps earlier runs' counters away.
            throttle_key_prefix: format!("crm:test:{}:", uuid::Uuid::now_v7().simple()),
            // The rest as the test server has it (sign-ups unthrottled).
            ..crm_iam::config::IamConfig::of(config).unwrap()
        }
        .set(config);
    };
    let mut config = crm_core::Config::default();
    configure(&mut config);
    crm::migrate(&config).await.expect("crm migrate");
    let server = support::spawn_with(configure).await;

    let name = format!("Kilang {}", uuid::Uuid::now_v7().simple());
    let owner = register(&server, &name, "siti@kilang.example").await;
    invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let ali = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap();
    let next = refresh(&server, &ali.refresh_token).await.unwrap();
    assert_eq!(
        refresh(&server, &ali.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        refresh(&server, &next.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    for _ in 0..5 {
        let _ = login(
            &server,
            &owner.tenant.slug,
            "ali@kilang.example",
            "wrong password!",
        )
        .await;
    }
    let locked = login(&server, &owner.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        locked.code(),
        Code::ResourceExhausted,
        "the lockout lives in Redis"
    );
    let kinds = audit_kinds(&server, &owner).await;
    for kind in [
        AuditEventKind::RefreshTokenReused,
        AuditEventKind::Lockout,
        AuditEventKind::UserCreated,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
}
