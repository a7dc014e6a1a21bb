//! Pipelines through the generated client against a served CRM: a registered tenant gets its
//! default pipeline from the sales consumer of `TenantCreated`; pipelines are created, read,
//! listed and changed (stages keep their ids; one default); bad input is named by field; other
//! tenants' pipelines are `NOT_FOUND` on every RPC; reps read but do not manage; what is not
//! built yet says so.

use crate::support;

use crm_proto::crm::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::crm::sales::v1::*;
use prost_types::FieldMask;
use tonic::transport::Channel;
use tonic::{Code, Status};

use support::iam::{PASSWORD, fields, invite, login, register};
use support::{TestServer, authorized, spawn};

fn client(server: &TestServer) -> PipelineServiceClient<Channel> {
    PipelineServiceClient::new(server.channel.clone())
}

fn stage(name: &str, probability: i32) -> Stage {
    Stage {
        id: String::new(),
        name: name.into(),
        probability,
    }
}

async fn create(server: &TestServer, token: &str, p: Pipeline) -> Result<Pipeline, Status> {
    let request = CreatePipelineRequest {
        pipeline: Some(p),
        request_id: String::new(),
    };
    client(server)
        .create_pipeline(authorized(request, token))
        .await
        .map(|r| r.into_inner().pipeline.unwrap())
}

async fn update(
    server: &TestServer,
    token: &str,
    p: Pipeline,
    paths: &[&str],
) -> Result<Pipeline, Status> {
    let request = UpdatePipelineRequest {
        pipeline: Some(p),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    client(server)
        .update_pipeline(authorized(request, token))
        .await
        .map(|r| r.into_inner().pipeline.unwrap())
}

async fn list(server: &TestServer, token: &str) -> Vec<Pipeline> {
    client(server)
        .list_pipelines(authorized(ListPipelinesRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .pipelines
}

/// The tenant's pipelines once its default has been seeded (asynchronously, by the consumer).
async fn seeded(server: &TestServer, token: &str) -> Pipeline {
    crm_core::testing::eventually("the default pipeline is seeded", || async {
        list(server, token).await.into_iter().find(|p| p.default)
    })
    .await
}

fn wholesale() -> Pipeline {
    Pipeline {
        name: "Wholesale".into(),
        currency_code: "usd".into(),
        stages: vec![stage("Enquiry", 5), stage("Sample", 40), stage("Order", 95)],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_tenant_has_its_default_pipeline_and_makes_more() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    // Registered without a language, the workspace speaks Malay: so does its first pipeline.
    let default = seeded(&server, &owner.access).await;
    assert_eq!(default.name, "Jualan");
    assert_eq!(default.currency_code, "MYR");
    let stages: Vec<(&str, i32)> = default
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.probability))
        .collect();
    assert_eq!(
        stages,
        [
            ("Baharu", 10),
            ("Layak", 25),
            ("Sampel dihantar", 50),
            ("Sebut harga", 70),
            ("Rundingan", 90)
        ]
    );

    let made = create(&server, &owner.access, wholesale()).await.unwrap();
    assert_eq!(made.currency_code, "USD");
    assert!(!made.default);
    assert_eq!(made.etag, "1");
    let got = client(&server)
        .get_pipeline(authorized(
            GetPipelineRequest {
                id: made.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    assert_eq!(got, made);

    // Reorder, rename, add and remove: kept stages keep their ids.
    let (enquiry, order) = (made.stages[0].clone(), made.stages[2].clone());
    let change = Pipeline {
        id: made.id.clone(),
        name: "Wholesale export".into(),
        stages: vec![
            Stage {
                name: "Confirmed order".into(),
                ..order.clone()
            },
            enquiry.clone(),
            stage("Trade fair", 15),
        ],
        etag: made.etag.clone(),
        ..Default::default()
    };
    let changed = update(&server, &owner.access, change.clone(), &["name", "stages"])
        .await
        .unwrap();
    assert_eq!(changed.name, "Wholesale export");
    assert_eq!(changed.stages[0].id, order.id);
    assert_eq!(changed.stages[0].name, "Confirmed order");
    assert_eq!(changed.stages[1].id, enquiry.id);
    assert_eq!(changed.stages.len(), 3);
    assert_eq!(changed.currency_code, "USD", "not in the mask: unchanged");
    let err = update(&server, &owner.access, change, &["name"])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "the etag was 1");

    // Making it the default takes the default from the seeded one.
    let promote = Pipeline {
        id: made.id.clone(),
        default: true,
        ..Default::default()
    };
    assert!(
        update(&server, &owner.access, promote, &["default"])
            .await
            .unwrap()
            .default
    );
    let all = list(&server, &owner.access).await;
    assert_eq!(all.len(), 2);
    assert_eq!(
        all.iter()
            .filter(|p| p.default)
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        [made.id.as_str()]
    );
    let demote = Pipeline {
        id: made.id.clone(),
        default: false,
        ..Default::default()
    };
    let err = update(&server, &owner.access, demote, &["default"])
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["pipeline.default"]);

    // Paging.
    let first = client(&server)
        .list_pipelines(authorized(
            ListPipelinesRequest {
                page_size: 1,
                page_token: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.pipelines.len(), 1);
    let second = client(&server)
        .list_pipelines(authorized(
            ListPipelinesRequest {
                page_size: 1,
                page_token: first.next_page_token,
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.pipelines.len(), 1);
    assert_ne!(second.pipelines[0].id, first.pipelines[0].id);
    assert!(second.next_page_token.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_named_by_field_and_nothing_is_half_saved() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let bad = Pipeline {
        name: " ".into(),
        currency_code: "XYZ".into(),
        stages: vec![stage("New", 10), stage("new", 101), stage("", 1)],
        ..Default::default()
    };
    let err = create(&server, &owner.access, bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        [
            "pipeline.name",
            "pipeline.currency_code",
            "pipeline.stages[1].name",
            "pipeline.stages[1].probability",
            "pipeline.stages[2].name",
        ]
    );
    let none = Pipeline {
        stages: vec![],
        ..wholesale()
    };
    assert_eq!(
        fields(&create(&server, &owner.access, none).await.unwrap_err()),
        ["pipeline.stages"]
    );
    let with_id = Pipeline {
        stages: vec![Stage {
            id: uuid::Uuid::now_v7().to_string(),
            ..stage("New", 1)
        }],
        ..wholesale()
    };
    assert_eq!(
        fields(&create(&server, &owner.access, with_id).await.unwrap_err()),
        ["pipeline.stages"]
    );
    let huge = Pipeline {
        name: "x".repeat(5000),
        ..wholesale()
    };
    assert_eq!(
        fields(&create(&server, &owner.access, huge).await.unwrap_err()),
        ["pipeline.name"]
    );

    let made = create(&server, &owner.access, wholesale()).await.unwrap();
    let foreign_stage = Pipeline {
        id: made.id.clone(),
        stages: vec![Stage {
            id: uuid::Uuid::now_v7().to_string(),
            ..stage("X", 1)
        }],
        ..Default::default()
    };
    let err = update(&server, &owner.access, foreign_stage, &["stages"])
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["pipeline.stages[0].id"]);
    let err = update(
        &server,
        &owner.access,
        Pipeline {
            id: made.id.clone(),
            ..Default::default()
        },
        &["colour"],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = update(
        &server,
        &owner.access,
        Pipeline {
            id: "nope".into(),
            ..Default::default()
        },
        &["name"],
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&err), ["pipeline.id"]);
    // Nothing of the refused changes was saved.
    let read = client(&server)
        .get_pipeline(authorized(
            GetPipelineRequest {
                id: made.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    assert_eq!(read, made);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_tenants_pipelines_are_not_found_and_reps_only_read() {
    let server = spawn().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let b = register(&server, "Other", "owner@other.example").await;
    let mine = create(&server, &a.access, wholesale()).await.unwrap();
    seeded(&server, &b.access).await;

    let err = client(&server)
        .get_pipeline(authorized(
            GetPipelineRequest {
                id: mine.id.clone(),
            },
            &b.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let rename = Pipeline {
        id: mine.id.clone(),
        name: "Taken".into(),
        ..Default::default()
    };
    let err = update(&server, &b.access, rename, &["name"])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        list(&server, &b.access)
            .await
            .iter()
            .all(|p| p.id != mine.id)
    );
    for err in [
        client(&server)
            .get_pipeline_analytics(authorized(
                GetPipelineAnalyticsRequest {
                    id: mine.id.clone(),
                    ..Default::default()
                },
                &b.access,
            ))
            .await
            .unwrap_err(),
        client(&server)
            .get_revenue_forecast(authorized(
                GetRevenueForecastRequest {
                    id: mine.id.clone(),
                    months: 3,
                    ..Default::default()
                },
                &b.access,
            ))
            .await
            .unwrap_err(),
        client(&server)
            .get_team_analytics(authorized(
                GetTeamAnalyticsRequest {
                    id: mine.id.clone(),
                    ..Default::default()
                },
                &b.access,
            ))
            .await
            .unwrap_err(),
        // One's own figures of another tenant's pipeline: the pipeline is still not found.
        client(&server)
            .get_pipeline_analytics(authorized(
                GetPipelineAnalyticsRequest {
                    id: mine.id.clone(),
                    owner_id: b.user.id.clone(),
                    ..Default::default()
                },
                &b.access,
            ))
            .await
            .unwrap_err(),
        client(&server)
            .get_revenue_forecast(authorized(
                GetRevenueForecastRequest {
                    id: mine.id.clone(),
                    owner_id: b.user.id.clone(),
                    ..Default::default()
                },
                &b.access,
            ))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(
            err.code(),
            Code::NotFound,
            "another tenant's pipeline: {err:?}"
        );
    }

    // A sales rep reads pipelines but does not manage them.
    invite(&server, &a, "ali@kilang.example", &["sales_rep"]).await;
    let rep = login(&server, &a.tenant.slug, "ali@kilang.example", PASSWORD)
        .await
        .unwrap()
        .access_token;
    assert!(list(&server, &rep).await.iter().any(|p| p.id == mine.id));
    let err = create(&server, &rep, wholesale()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let rename = Pipeline {
        id: mine.id.clone(),
        name: "Mine now".into(),
        ..Default::default()
    };
    assert_eq!(
        update(&server, &rep, rename, &["name"])
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // A rep reads the team's figures and anyone's pipeline (reps read every opportunity).
    let team = client(&server)
        .get_team_analytics(authorized(
            GetTeamAnalyticsRequest {
                id: mine.id.clone(),
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(team.pipeline_id, mine.id);
    assert!(team.owners.is_empty(), "no deal in the new pipeline yet");
    let owners = client(&server)
        .get_pipeline_analytics(authorized(
            GetPipelineAnalyticsRequest {
                id: mine.id.clone(),
                owner_id: a.user.id.clone(),
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(owners.stages.len(), mine.stages.len());
    // An owner id that is not one is named.
    let err = client(&server)
        .get_revenue_forecast(authorized(
            GetRevenueForecastRequest {
                id: mine.id.clone(),
                owner_id: "Siti".into(),
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["owner_id"]);
    // No token at all.
    let err = client(&server)
        .list_pipelines(ListPipelinesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_create_with_its_request_id_makes_one_pipeline() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    seeded(&server, &owner.access).await;
    let request = || CreatePipelineRequest {
        pipeline: Some(wholesale()),
        request_id: "3f1c2a9e-1b7e-4d0c-9d6a-2f0f4c1e8b11".into(),
    };
    let first = client(&server)
        .create_pipeline(authorized(request(), &owner.access))
        .await
        .unwrap()
        .into_inner();
    let again = client(&server)
        .create_pipeline(authorized(request(), &owner.access))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(
        list(&server, &owner.access).await.len(),
        2,
        "the seeded one and this one"
    );
}
