//! Leads through the generated client against a served CRM: created (owned by their creator or
//! given to a rep), read, listed with filters and pages, changed by mask and etag, qualified and
//! disqualified by the status machine, assigned only to the tenant's sales reps and managers (as
//! sales learned them from IAM's events); bad input by field; other tenants `NOT_FOUND` on every
//! RPC; viewers only read. Conversion is in `conversions.rs`.

use crate::support;

use crm_proto::crm::common::v1::PhoneNumber;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::{UpdateUserRequest, User, UserStatus};
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use crm_proto::crm::sales::v1::*;
use crm_proto::google::r#type::Money;
use prost_types::FieldMask;
use tonic::transport::Channel;
use tonic::{Code, Status};

use support::iam::{PASSWORD, Session, fields, invite, login, reason, register};
use support::{TestServer, authorized, spawn};

pub(crate) fn client(server: &TestServer) -> LeadServiceClient<Channel> {
    LeadServiceClient::new(server.channel.clone())
}

pub(crate) fn aisyah() -> Lead {
    Lead {
        contact_name: "Aisyah binti Omar".into(),
        company_name: "Hotel Seri Malaysia".into(),
        email: "Aisyah@Hotel.Example".into(),
        phone: Some(PhoneNumber {
            e164_number: "012-345 6789".into(),
            ..Default::default()
        }),
        source: LeadSource::TradeShow as i32,
        estimated_value: Some(Money {
            currency_code: "MYR".into(),
            units: 25_000,
            nanos: 0,
        }),
        interest: "batik sarongs for 200 rooms".into(),
        tags: vec!["Hotel".into()],
        ..Default::default()
    }
}

pub(crate) async fn create(server: &TestServer, token: &str, lead: Lead) -> Result<Lead, Status> {
    client(server)
        .create_lead(authorized(
            CreateLeadRequest {
                lead: Some(lead),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().lead.unwrap())
}

pub(crate) async fn get(server: &TestServer, token: &str, id: &str) -> Result<Lead, Status> {
    client(server)
        .get_lead(authorized(GetLeadRequest { id: id.into() }, token))
        .await
        .map(|r| r.into_inner().lead.unwrap())
}

pub(crate) async fn qualify(
    server: &TestServer,
    token: &str,
    id: &str,
    qualified: bool,
    score: i32,
) -> Result<Lead, Status> {
    let request = QualifyLeadRequest {
        id: id.into(),
        qualified,
        score,
        reason: "needs 200 sarongs by March".into(),
        etag: String::new(),
    };
    client(server)
        .qualify_lead(authorized(request, token))
        .await
        .map(|r| r.into_inner().lead.unwrap())
}

async fn assign(server: &TestServer, token: &str, id: &str, owner: &str) -> Result<Lead, Status> {
    let request = AssignLeadRequest {
        id: id.into(),
        owner_id: owner.into(),
        etag: String::new(),
    };
    client(server)
        .assign_lead(authorized(request, token))
        .await
        .map(|r| r.into_inner().lead.unwrap())
}

async fn update(
    server: &TestServer,
    token: &str,
    lead: Lead,
    paths: &[&str],
) -> Result<Lead, Status> {
    let request = UpdateLeadRequest {
        lead: Some(lead),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    client(server)
        .update_lead(authorized(request, token))
        .await
        .map(|r| r.into_inner().lead.unwrap())
}

async fn list(server: &TestServer, token: &str, request: ListLeadsRequest) -> Vec<Lead> {
    client(server)
        .list_leads(authorized(request, token))
        .await
        .unwrap()
        .into_inner()
        .leads
}

/// A sales rep of `owner`'s tenant, once sales has heard of them from IAM's events.
async fn rep(
    server: &TestServer,
    owner: &Session,
    email: &str,
    roles: &[&str],
) -> (String, String) {
    let user = invite(server, owner, email, roles).await;
    let token = login(server, &owner.tenant.slug, email, PASSWORD)
        .await
        .unwrap()
        .access_token;
    (user.id, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lead_is_created_worked_qualified_and_assigned() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let (ali, ali_token) = rep(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;

    let lead = create(&server, &ali_token, aisyah()).await.unwrap();
    assert_eq!(lead.email, "aisyah@hotel.example");
    assert_eq!(lead.phone.as_ref().unwrap().e164_number, "+60123456789");
    assert_eq!(
        lead.phone.as_ref().unwrap().display_number,
        "+60 12-345 6789"
    );
    assert_eq!(lead.tags, ["hotel"]);
    assert_eq!(lead.status, LeadStatus::New as i32);
    assert_eq!(lead.owner_id, ali, "its creator owns it");
    assert_eq!(get(&server, &owner.access, &lead.id).await.unwrap(), lead);

    // Worked: contacted, notes added; the mask decides what changes.
    let change = Lead {
        id: lead.id.clone(),
        notes: "called on Monday".into(),
        email: "not-an-email".into(),
        status: LeadStatus::Contacted as i32,
        etag: lead.etag.clone(),
        ..Default::default()
    };
    let worked = update(&server, &ali_token, change.clone(), &["notes", "status"])
        .await
        .unwrap();
    assert_eq!(worked.status, LeadStatus::Contacted as i32);
    assert_eq!(worked.notes, "called on Monday");
    assert_eq!(worked.email, "aisyah@hotel.example");
    let err = update(&server, &ali_token, change, &["notes"])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "a stale etag");
    let to_converted = Lead {
        id: lead.id.clone(),
        status: LeadStatus::Converted as i32,
        ..Default::default()
    };
    let err = update(&server, &ali_token, to_converted, &["status"])
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "ILLEGAL_LEAD_STATUS".to_owned())
    );

    // Qualified with a score; a disqualified lead cannot be qualified again.
    let err = qualify(&server, &ali_token, &lead.id, true, 101)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["score"]);
    let qualified = qualify(&server, &ali_token, &lead.id, true, 80)
        .await
        .unwrap();
    assert_eq!(
        (qualified.status, qualified.score),
        (LeadStatus::Qualified as i32, 80)
    );
    let other = create(
        &server,
        &ali_token,
        Lead {
            contact_name: "Tan".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    qualify(&server, &ali_token, &other.id, false, 5)
        .await
        .unwrap();
    let err = qualify(&server, &ali_token, &other.id, true, 90)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // Assigned to a sales manager; not to a viewer, nor to someone of no tenant here.
    let (mei, _) = rep(&server, &owner, "mei@kilang.example", &["sales_manager"]).await;
    let (viewer, viewer_token) = rep(&server, &owner, "v@kilang.example", &["viewer"]).await;
    let assigned = crm_core::testing::eventually("sales hears of the manager", || async {
        assign(&server, &owner.access, &lead.id, &mei).await.ok()
    })
    .await;
    assert_eq!(assigned.owner_id, mei);
    crm_core::testing::eventually("sales hears of the viewer", || async {
        let err = assign(&server, &owner.access, &lead.id, &viewer)
            .await
            .unwrap_err();
        err.message().contains("holds no sales role").then_some(())
    })
    .await;
    let err = assign(
        &server,
        &owner.access,
        &lead.id,
        &uuid::Uuid::now_v7().to_string(),
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&err), ["owner_id"]);
    let err = assign(&server, &ali_token, &lead.id, &ali)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "reps do not hand out leads"
    );
    // Deactivated in IAM: sales hears of it and hands them nothing more.
    let deactivate = UpdateUserRequest {
        user: Some(User {
            id: mei.clone(),
            status: UserStatus::Deactivated as i32,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["status".into()],
        }),
    };
    UserServiceClient::new(server.channel.clone())
        .update_user(authorized(deactivate, &owner.access))
        .await
        .unwrap();
    // (Until it does, assigning her the lead she already owns changes nobody's leads.)
    crm_core::testing::eventually("sales hears of the deactivation", || async {
        match assign(&server, &owner.access, &lead.id, &mei).await {
            Err(err) if err.message().contains("is deactivated") => Some(()),
            _ => None,
        }
    })
    .await;

    // Viewers read but do not write.
    assert_eq!(
        get(&server, &viewer_token, &lead.id).await.unwrap().id,
        lead.id
    );
    assert_eq!(
        create(&server, &viewer_token, aisyah())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // Filters and pages.
    let by_status = list(
        &server,
        &owner.access,
        ListLeadsRequest {
            status: LeadStatus::Qualified as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_status.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        [lead.id.as_str()]
    );
    let by_owner = list(
        &server,
        &owner.access,
        ListLeadsRequest {
            owner_id: ali.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_owner.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        [other.id.as_str()]
    );
    let by_source = list(
        &server,
        &owner.access,
        ListLeadsRequest {
            source: LeadSource::TradeShow as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_source.len(), 1);
    let page = client(&server)
        .list_leads(authorized(
            ListLeadsRequest {
                page_size: 1,
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.leads.len(), 1);
    let next = list(
        &server,
        &owner.access,
        ListLeadsRequest {
            page_size: 1,
            page_token: page.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].id, page.leads[0].id);

    // The first page counts every lead the filters take; the pages after it count nothing.
    let all = list(&server, &owner.access, ListLeadsRequest::default()).await;
    assert!(all.len() >= 2, "{all:?}");
    assert_eq!(page.total_size as usize, all.len());
    let counted = |request: ListLeadsRequest| {
        let server = &server;
        let token = owner.access.clone();
        async move {
            client(server)
                .list_leads(authorized(request, &token))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let second = counted(ListLeadsRequest {
        page_size: 1,
        page_token: page.next_page_token.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(second.total_size, 0);
    let alis = counted(ListLeadsRequest {
        owner_id: ali.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!((alis.leads.len(), alis.total_size), (1, 1));
    // Another tenant counts none of them.
    let stranger = register(&server, "Other", "owner@other.example").await;
    let theirs = client(&server)
        .list_leads(authorized(ListLeadsRequest::default(), &stranger.access))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((theirs.leads.len(), theirs.total_size), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_named_by_field_and_other_tenants_leads_are_not_found() {
    let server = spawn().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let b = register(&server, "Other", "owner@other.example").await;
    let bad = Lead {
        contact_name: " ".into(),
        email: "nope".into(),
        phone: Some(PhoneNumber {
            e164_number: "12".into(),
            ..Default::default()
        }),
        source: 42,
        estimated_value: Some(Money {
            currency_code: "XYZ".into(),
            units: -1,
            nanos: 0,
        }),
        ..Default::default()
    };
    let err = create(&server, &a.access, bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        [
            "lead.contact_name",
            "lead.email",
            "lead.phone",
            "lead.source",
            "lead.estimated_value"
        ]
    );
    let huge = Lead {
        notes: "x".repeat(30_000),
        ..aisyah()
    };
    assert_eq!(
        fields(&create(&server, &a.access, huge).await.unwrap_err()),
        ["lead.notes"]
    );
    for request in [
        ListLeadsRequest {
            status: 9,
            ..Default::default()
        },
        ListLeadsRequest {
            source: 99,
            ..Default::default()
        },
        ListLeadsRequest {
            owner_id: "nope".into(),
            ..Default::default()
        },
    ] {
        let err = client(&server)
            .list_leads(authorized(request, &a.access))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    let lead = create(&server, &a.access, aisyah()).await.unwrap();
    let not_found = |r: Result<Lead, Status>| r.unwrap_err().code();
    assert_eq!(
        not_found(get(&server, &b.access, &lead.id).await),
        Code::NotFound
    );
    let change = Lead {
        id: lead.id.clone(),
        notes: "mine".into(),
        ..Default::default()
    };
    assert_eq!(
        not_found(update(&server, &b.access, change, &["notes"]).await),
        Code::NotFound
    );
    assert_eq!(
        not_found(qualify(&server, &b.access, &lead.id, true, 50).await),
        Code::NotFound
    );
    assert_eq!(
        not_found(assign(&server, &b.access, &lead.id, &b.user.id).await),
        Code::NotFound
    );
    assert!(
        list(&server, &b.access, ListLeadsRequest::default())
            .await
            .is_empty()
    );
    assert_eq!(
        not_found(get(&server, &a.access, "not-a-uuid").await),
        Code::InvalidArgument
    );
    // Nothing of it reached A's lead.
    assert_eq!(get(&server, &a.access, &lead.id).await.unwrap(), lead);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_create_with_its_request_id_makes_one_lead() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let request = || CreateLeadRequest {
        lead: Some(aisyah()),
        request_id: "0b6f3c1e-9d2a-4c8e-8f1a-5e2d7c9b1a30".into(),
    };
    let first = client(&server)
        .create_lead(authorized(request(), &owner.access))
        .await
        .unwrap()
        .into_inner();
    let again = client(&server)
        .create_lead(authorized(request(), &owner.access))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(
        list(&server, &owner.access, ListLeadsRequest::default())
            .await
            .len(),
        1
    );
}

/// Leads follow `:own` like customers and opportunities: a rep reads every lead but changes,
/// qualifies and converts only their own; a manager (unscoped) changes anyone's; a
/// `leads.assign:own` grant hands out only leads it reaches.
#[tokio::test(flavor = "multi_thread")]
async fn reps_change_only_their_own_leads_and_managers_anyones() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let (_ali, ali_token) = rep(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let (bala, bala_token) = rep(&server, &owner, "bala@kilang.example", &["sales_rep"]).await;
    let (_mgr, mgr_token) = rep(&server, &owner, "mgr@kilang.example", &["sales_manager"]).await;

    let alis = create(&server, &ali_token, aisyah()).await.unwrap();
    // Bala sees it (the board is shared) but cannot work it.
    assert_eq!(
        get(&server, &bala_token, &alis.id).await.unwrap().id,
        alis.id
    );
    let note = Lead {
        id: alis.id.clone(),
        notes: "mine now".into(),
        ..Default::default()
    };
    for (what, err) in [
        (
            "update",
            update(&server, &bala_token, note.clone(), &["notes"])
                .await
                .unwrap_err(),
        ),
        (
            "disqualify",
            qualify(&server, &bala_token, &alis.id, false, 0)
                .await
                .unwrap_err(),
        ),
        (
            "assign to himself",
            assign(&server, &bala_token, &alis.id, &bala)
                .await
                .unwrap_err(),
        ),
    ] {
        assert_eq!(err.code(), Code::PermissionDenied, "{what}: {err:?}");
    }
    let unchanged = get(&server, &owner.access, &alis.id).await.unwrap();
    assert_eq!(unchanged, alis, "nothing Bala tried changed Ali's lead");

    // Bala works his own; the manager works anyone's.
    let balas = create(&server, &bala_token, aisyah()).await.unwrap();
    assert_eq!(balas.owner_id, bala);
    qualify(&server, &bala_token, &balas.id, true, 70)
        .await
        .unwrap();
    let noted = update(&server, &mgr_token, note, &["notes"]).await.unwrap();
    assert_eq!(noted.notes, "mine now");
    qualify(&server, &mgr_token, &alis.id, false, 0)
        .await
        .unwrap();
    assign(&server, &mgr_token, &balas.id, &bala).await.unwrap();
}
