//! The sales day through the generated clients against a served CRM (embedded: sales calls the
//! customer service over the process's own listener, with its service identity): a lead is
//! qualified and converted into a customer and an opportunity in one call (the same request id
//! gives the same result; concurrent conversions make one opportunity), the opportunity moves
//! through the stages (history, events), is won (a deal, `DealWon`) or lost (a reason), and
//! analytics and the forecast show it. Scopes, the large-deal rule, stage removal, bad input
//! and other tenants are tried on every RPC.

use crate::support;

use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::{GetCustomerRequest, SearchCustomersRequest};
use crm_proto::crm::iam::v1::tenant_service_client::TenantServiceClient;
use crm_proto::crm::iam::v1::{Tenant, TenantSettings, UpdateTenantRequest};
use crm_proto::crm::notification::v1::notification_service_client::NotificationServiceClient;
use crm_proto::crm::notification::v1::{DeliveryStatus, ListNotificationsRequest};
use crm_proto::crm::sales::v1::deal_service_client::DealServiceClient;
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use crm_proto::crm::sales::v1::opportunity_service_client::OpportunityServiceClient;
use crm_proto::crm::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::crm::sales::v1::*;
use crm_proto::google::r#type::Money;
use prost_types::FieldMask;
use tonic::Code;

use support::iam::{PASSWORD, fields, invite, login, member, reason, register};
use support::{TestServer, authorized, spawn};

pub(crate) fn myr(units: i64) -> Option<Money> {
    Some(Money {
        currency_code: "MYR".into(),
        units,
        nanos: 0,
    })
}

/// Deals above MYR 10,000 need a manager (once the setting has reached sales), with the other
/// settings `adjust` changes.
pub(crate) async fn limit_deals(
    server: &TestServer,
    owner: &support::iam::Session,
    adjust: impl FnOnce(&mut TenantSettings),
) {
    let mut settings = TenantSettings {
        deal_approval_threshold_units: 10_000,
        ..owner.tenant.settings.clone().unwrap()
    };
    adjust(&mut settings);
    TenantServiceClient::new(server.channel.clone())
        .update_tenant(authorized(
            UpdateTenantRequest {
                tenant: Some(Tenant {
                    id: owner.tenant.id.clone(),
                    settings: Some(settings),
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
}

pub(crate) async fn seeded(server: &TestServer, token: &str) -> Pipeline {
    crm_core::testing::eventually("the default pipeline is seeded", || async {
        PipelineServiceClient::new(server.channel.clone())
            .list_pipelines(authorized(ListPipelinesRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .pipelines
            .into_iter()
            .find(|p| p.default)
    })
    .await
}

/// A qualified lead owned by the caller.
pub(crate) async fn qualified_lead(server: &TestServer, token: &str, email: &str) -> Lead {
    let mut leads = LeadServiceClient::new(server.channel.clone());
    let lead = leads
        .create_lead(authorized(
            CreateLeadRequest {
                lead: Some(Lead {
                    contact_name: "Aisyah binti Omar".into(),
                    company_name: "Hotel Seri Malaysia".into(),
                    email: email.into(),
                    phone: Some(crm_proto::crm::common::v1::PhoneNumber {
                        e164_number: "+60123456789".into(),
                        ..Default::default()
                    }),
                    estimated_value: myr(25_000),
                    interest: "batik sarongs for 200 rooms".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    leads
        .qualify_lead(authorized(
            QualifyLeadRequest {
                id: lead.id,
                qualified: true,
                score: 80,
                reason: "needs them by March".into(),
                etag: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap()
}

pub(crate) async fn convert(
    server: &TestServer,
    token: &str,
    request: ConvertLeadRequest,
) -> Result<ConvertLeadResponse, tonic::Status> {
    LeadServiceClient::new(server.channel.clone())
        .convert_lead(authorized(request, token))
        .await
        .map(|r| r.into_inner())
}

/// A qualified lead of the caller's converted at `amount`: its opportunity.
pub(crate) async fn opened(
    server: &TestServer,
    token: &str,
    email: &str,
    amount: Option<Money>,
) -> Opportunity {
    let lead = qualified_lead(server, token, email).await;
    convert(
        server,
        token,
        ConvertLeadRequest {
            id: lead.id,
            amount,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .opportunity
    .unwrap()
}

pub(crate) fn opportunities(
    server: &TestServer,
) -> OpportunityServiceClient<tonic::transport::Channel> {
    OpportunityServiceClient::new(server.channel.clone())
}

async fn move_to(
    server: &TestServer,
    token: &str,
    id: &str,
    stage: &str,
) -> Result<Opportunity, tonic::Status> {
    opportunities(server)
        .move_opportunity_stage(authorized(
            MoveOpportunityStageRequest {
                id: id.into(),
                stage_id: stage.into(),
                etag: String::new(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().opportunity.unwrap())
}

pub(crate) async fn win(
    server: &TestServer,
    token: &str,
    id: &str,
) -> Result<WinOpportunityResponse, tonic::Status> {
    opportunities(server)
        .win_opportunity(authorized(
            WinOpportunityRequest {
                id: id.into(),
                notes: "50% upfront".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn reopen(
    server: &TestServer,
    token: &str,
    id: &str,
    etag: &str,
) -> Result<Opportunity, tonic::Status> {
    opportunities(server)
        .reopen_opportunity(authorized(
            ReopenOpportunityRequest {
                id: id.into(),
                etag: etag.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().opportunity.unwrap())
}

async fn analytics(server: &TestServer, token: &str, id: &str) -> GetPipelineAnalyticsResponse {
    PipelineServiceClient::new(server.channel.clone())
        .get_pipeline_analytics(authorized(
            GetPipelineAnalyticsRequest {
                id: id.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_tenant_converts_a_lead_moves_it_wins_it_and_sees_it_in_analytics() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let pipeline = seeded(&server, &owner.access).await;
    let lead = qualified_lead(&server, &owner.access, "aisyah@hotel.example").await;

    let request = ConvertLeadRequest {
        id: lead.id.clone(),
        request_id: "convert-aisyah-1".into(),
        expected_close_time: Some(prost_types::Timestamp {
            seconds: chrono_now() + 20 * 86_400,
            nanos: 0,
        }),
        ..Default::default()
    };
    let converted = convert(&server, &owner.access, request.clone())
        .await
        .unwrap();
    assert!(converted.customer_created);
    let lead_after = converted.lead.clone().unwrap();
    assert_eq!(lead_after.status, LeadStatus::Converted as i32);
    let o = converted.opportunity.clone().unwrap();
    assert_eq!(lead_after.converted_customer_id, converted.customer_id);
    assert_eq!(lead_after.converted_opportunity_id, o.id);
    assert_eq!(o.lead_id, lead.id);
    assert_eq!(o.pipeline_id, pipeline.id);
    assert_eq!(o.stage_id, pipeline.stages[0].id, "the first stage");
    assert_eq!(o.amount, myr(25_000), "the lead's estimate");
    assert_eq!(o.probability, 10);
    assert_eq!(o.name, "Hotel Seri Malaysia: batik sarongs for 200 rooms");

    // The customer exists in the customer service, made from the lead, owned by its owner.
    let customer = CustomerServiceClient::new(server.channel.clone())
        .get_customer(authorized(
            GetCustomerRequest {
                id: converted.customer_id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(customer.display_name, "Hotel Seri Malaysia");
    assert_eq!(customer.email, "aisyah@hotel.example");
    assert_eq!(customer.owner_id, owner.user.id);

    // The same request id gives the first result, and nothing twice.
    let again = convert(&server, &owner.access, request).await.unwrap();
    assert_eq!(again.opportunity.unwrap().id, o.id);
    assert_eq!(again.customer_id, converted.customer_id);
    let found = CustomerServiceClient::new(server.channel.clone())
        .search_customers(authorized(
            SearchCustomersRequest {
                query: "aisyah@hotel.example".into(),
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert_eq!(found.len(), 1, "one customer");
    // A converted lead does not convert again.
    let err = convert(
        &server,
        &owner.access,
        ConvertLeadRequest {
            id: lead.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "LEAD_NOT_CONVERTIBLE".to_owned())
    );

    // Through the stages: each move is history.
    let moved = move_to(&server, &owner.access, &o.id, &pipeline.stages[2].id)
        .await
        .unwrap();
    assert_eq!(moved.probability, 50);
    let moved = move_to(&server, &owner.access, &o.id, &pipeline.stages[3].id)
        .await
        .unwrap();
    let history: Vec<(&str, &str)> = moved
        .stage_history
        .iter()
        .map(|c| (c.from_stage_id.as_str(), c.to_stage_id.as_str()))
        .collect();
    assert_eq!(
        history,
        [
            ("", pipeline.stages[0].id.as_str()),
            (
                pipeline.stages[0].id.as_str(),
                pipeline.stages[2].id.as_str()
            ),
            (
                pipeline.stages[2].id.as_str(),
                pipeline.stages[3].id.as_str()
            ),
        ]
    );
    let mid = analytics(&server, &owner.access, &pipeline.id).await;
    assert_eq!(mid.stages[3].open_count, 1);
    assert_eq!(mid.stages[3].open_value, myr(25_000));
    assert_eq!(mid.stages[0].conversion_rate, 1.0, "it went on from New");

    // A stage holding it cannot be removed.
    let without_proposal = Pipeline {
        id: pipeline.id.clone(),
        stages: pipeline
            .stages
            .iter()
            .filter(|s| s.id != pipeline.stages[3].id)
            .cloned()
            .collect(),
        ..Default::default()
    };
    let err = PipelineServiceClient::new(server.channel.clone())
        .update_pipeline(authorized(
            UpdatePipelineRequest {
                pipeline: Some(without_proposal),
                update_mask: Some(FieldMask {
                    paths: vec!["stages".into()],
                }),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "STAGE_NOT_EMPTY".to_owned())
    );
    assert!(
        err.message().contains("holds 1 open opportunity"),
        "{}",
        err.message()
    );

    // Won: a deal, listed; a closed opportunity moves no more.
    let won = win(&server, &owner.access, &o.id).await.unwrap();
    let deal = won.deal.unwrap();
    assert_eq!(deal.amount, myr(25_000));
    assert_eq!(deal.customer_id, converted.customer_id);
    assert_eq!(
        won.opportunity.unwrap().status,
        OpportunityStatus::Won as i32
    );
    let err = move_to(&server, &owner.access, &o.id, &pipeline.stages[1].id)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "OPPORTUNITY_CLOSED".to_owned())
    );
    let deals = DealServiceClient::new(server.channel.clone())
        .list_deals(authorized(ListDealsRequest::default(), &owner.access))
        .await
        .unwrap()
        .into_inner()
        .deals;
    assert_eq!(deals.iter().map(|d| &d.id).collect::<Vec<_>>(), [&deal.id]);

    let after = analytics(&server, &owner.access, &pipeline.id).await;
    assert_eq!(after.won_count, 1);
    assert_eq!(after.win_rate, 1.0);
    assert_eq!(after.won_value, myr(25_000));
    assert_eq!(after.average_deal_value, myr(25_000));
    assert!(after.stages.iter().all(|s| s.open_count == 0));
    // As it stood before the win: the point-in-time view.
    let then = PipelineServiceClient::new(server.channel.clone())
        .get_pipeline_analytics(authorized(
            GetPipelineAnalyticsRequest {
                id: pipeline.id.clone(),
                as_of: mid.as_of,
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.won_count, 0);
    assert_eq!(then.stages[3].open_count, 1);

    let forecast_now = async || {
        PipelineServiceClient::new(server.channel.clone())
            .get_revenue_forecast(authorized(
                GetRevenueForecastRequest {
                    id: pipeline.id.clone(),
                    months: 2,
                    ..Default::default()
                },
                &owner.access,
            ))
            .await
            .unwrap()
            .into_inner()
    };
    let forecast = forecast_now().await;
    assert_eq!(forecast.periods.len(), 2);
    assert_eq!(forecast.periods[0].committed, myr(25_000), "won this month");
    let outside = |f: &GetRevenueForecastResponse| {
        let count = |p: &Option<ForecastPeriod>| p.as_ref().unwrap().open_count;
        (count(&f.overdue), count(&f.undated))
    };
    assert_eq!(outside(&forecast), (0, 0));

    // Open ones no month counts: one without a close date, one past its date.
    let day = 86_400;
    let open = async |name: &str, expected: Option<i64>| {
        opportunities(&server)
            .create_opportunity(authorized(
                CreateOpportunityRequest {
                    opportunity: Some(Opportunity {
                        name: name.into(),
                        pipeline_id: pipeline.id.clone(),
                        customer_id: converted.customer_id.clone(),
                        amount: myr(4_000),
                        expected_close_time: expected
                            .map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &owner.access,
            ))
            .await
            .unwrap();
    };
    let start = forecast.periods[0].start_time.unwrap().seconds;
    open("Hotel: cushions", None).await;
    open("Hotel: curtains", Some(start - 40 * day)).await;
    let forecast = forecast_now().await;
    assert_eq!(outside(&forecast), (1, 1));
    let (overdue, undated) = (
        forecast.overdue.clone().unwrap(),
        forecast.undated.clone().unwrap(),
    );
    assert_eq!(overdue.end_time, forecast.periods[0].start_time);
    assert_eq!(overdue.best_case, myr(4_000));
    assert_eq!(undated.best_case, myr(4_000));
    assert_eq!((undated.start_time, undated.end_time), (None, None));
    assert_eq!(
        forecast.periods.iter().map(|p| p.open_count).sum::<i64>(),
        0,
        "no month counts them"
    );
    // The owner's row of the team: every one of them is theirs; their own forecast is the
    // pipeline's.
    let team = PipelineServiceClient::new(server.channel.clone())
        .get_team_analytics(authorized(
            GetTeamAnalyticsRequest {
                id: pipeline.id.clone(),
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<_> = team
        .owners
        .iter()
        .map(|o| {
            let counts = (o.open_count, o.won_count, o.lost_count);
            (
                o.owner_id.as_str(),
                counts,
                o.overdue_count,
                o.undated_count,
            )
        })
        .collect();
    assert_eq!(rows, [(owner.user.id.as_str(), (2, 1, 0), 1, 1)]);
    assert_eq!(team.owners[0].won_value, myr(25_000));
    assert_eq!(team.owners[0].open_value, myr(8_000));
    let theirs = PipelineServiceClient::new(server.channel.clone())
        .get_revenue_forecast(authorized(
            GetRevenueForecastRequest {
                id: pipeline.id.clone(),
                months: 2,
                owner_id: owner.user.id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs, forecast);

    // On the bus (sales' outbox, which the relay publishes): the lead's events, then the moves,
    // then DealWon with the deal and the customer's name, email and number.
    let config = crm_core::config::Config {
        data_dir: server.data_dir.clone(),
        ..Default::default()
    };
    let sales_db = crm_core::storage::Database::open(&config, "sales")
        .await
        .unwrap();
    let events: Vec<(String, Vec<u8>)> =
        sqlx::query_as("select event_type, payload from outbox where tenant_id = $1 order by seq")
            .bind(&owner.tenant.id)
            .fetch_all(sales_db.pool())
            .await
            .unwrap();
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "crm.sales.events.v1.LeadCreated",
            "crm.sales.events.v1.LeadQualified",
            "crm.sales.events.v1.LeadConverted",
            "crm.sales.events.v1.OpportunityStageChanged",
            "crm.sales.events.v1.OpportunityStageChanged",
            "crm.sales.events.v1.DealWon",
            // The two opened for the forecast.
            "crm.sales.events.v1.OpportunityCreated",
            "crm.sales.events.v1.OpportunityCreated",
        ]
    );
    let won: crm_proto::crm::sales::events::v1::DealWon =
        prost::Message::decode(events[5].1.as_slice()).unwrap();
    assert_eq!(won.deal.unwrap().id, deal.id);
    assert_eq!(won.customer_name, "Hotel Seri Malaysia");
    assert_eq!(won.customer_email, "aisyah@hotel.example");
    assert_eq!(
        won.customer_mobile, "+60123456789",
        "the lead's phone, for an SMS"
    );
    assert_eq!(won.won_by_user_id, owner.user.id);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_conversions_of_one_lead_make_one_opportunity_and_one_customer() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    seeded(&server, &owner.access).await;
    let lead = qualified_lead(&server, &owner.access, "rush@hotel.example").await;
    let calls = (0..6).map(|_| {
        let server = &server;
        let token = owner.access.clone();
        let id = lead.id.clone();
        async move {
            convert(
                server,
                &token,
                ConvertLeadRequest {
                    id,
                    ..Default::default()
                },
            )
            .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let ids: std::collections::BTreeSet<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.opportunity.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "one opportunity: {results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e.code(), Code::FailedPrecondition | Code::Aborted),
                "the others are told it is converted: {e:?}"
            );
        }
    }
    let all = opportunities(&server)
        .list_opportunities(authorized(
            ListOpportunitiesRequest::default(),
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunities;
    assert_eq!(all.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reps_close_their_own_and_large_deals_need_a_manager() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let pipeline = seeded(&server, &owner.access).await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let manager = member(&server, &owner, "mei@kilang.example", &["sales_manager"]).await;
    // Deals above MYR 10,000 need a manager.
    limit_deals(&server, &owner, |_| ()).await;

    // The rep converts their own lead; the owner's is not theirs to move.
    let lead = qualified_lead(&server, &rep, "big@hotel.example").await;
    let mine = convert(
        &server,
        &rep,
        ConvertLeadRequest {
            id: lead.id,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .opportunity
    .unwrap();
    let theirs = opened(&server, &owner.access, "other@hotel.example", myr(500)).await;
    assert_eq!(theirs.amount, myr(500));
    let err = move_to(&server, &rep, &theirs.id, &pipeline.stages[1].id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    move_to(&server, &rep, &mine.id, &pipeline.stages[1].id)
        .await
        .unwrap();

    // MYR 25,000 is above the threshold: the rep may not win it, the manager may, once the
    // settings have reached sales.
    crm_core::testing::eventually("the threshold reached sales", || async {
        let err = win(&server, &rep, &mine.id).await.err()?;
        (reason(&err) == "LARGE_DEAL_APPROVAL").then_some(())
    })
    .await;
    let won = win(&server, &manager, &mine.id).await.unwrap();
    assert_eq!(
        won.deal.unwrap().owner_id,
        mine.owner_id,
        "credited to the rep"
    );

    // Losing needs a reason; OTHER needs words.
    let lose = |reason: LossReason, detail: &str| LoseOpportunityRequest {
        id: theirs.id.clone(),
        reason: reason as i32,
        detail: detail.into(),
        etag: String::new(),
    };
    let err = opportunities(&server)
        .lose_opportunity(authorized(lose(LossReason::Unspecified, ""), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["reason"]);
    let err = opportunities(&server)
        .lose_opportunity(authorized(lose(LossReason::Other, " "), &owner.access))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["detail"]);
    let lost = opportunities(&server)
        .lose_opportunity(authorized(
            lose(LossReason::Competitor, "Batik Jaya quoted 10% less"),
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(lost.status, OpportunityStatus::Lost as i32);
    let figures = analytics(&server, &owner.access, &pipeline.id).await;
    assert_eq!((figures.won_count, figures.lost_count), (1, 1));
    assert_eq!(figures.win_rate, 0.5);
    assert_eq!(figures.loss_reasons.get("LOSS_REASON_COMPETITOR"), Some(&1));
}

/// Won and Lost have an undo: ReopenOpportunity, for whoever may close the opportunity, within
/// the reopen window. A reopened win's deal is withdrawn and the figures follow; the refusals
/// say why in words.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_opportunity_is_reopened_by_whoever_may_close_it_and_its_deal_withdrawn() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let pipeline = seeded(&server, &owner.access).await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let viewer = member(&server, &owner, "lim@kilang.example", &["viewer"]).await;
    let mine = opened(&server, &rep, "mine@hotel.example", myr(2_000)).await;
    let theirs = opened(&server, &owner.access, "theirs@hotel.example", myr(2_000)).await;
    let moved = move_to(&server, &rep, &mine.id, &pipeline.stages[2].id)
        .await
        .unwrap();

    // An open one has nothing to undo.
    let err = reopen(&server, &rep, &mine.id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "OPPORTUNITY_OPEN");
    assert!(err.message().contains("only a won or lost one"), "{err:?}");

    // Won by mistake: the rep reopens their own, and the deal is withdrawn.
    let won = win(&server, &rep, &mine.id).await.unwrap();
    let (won_o, deal) = (won.opportunity.unwrap(), won.deal.unwrap());
    let until = won_o
        .reopenable_until
        .expect("a closed one says until when");
    let closed = won_o.close_time.unwrap();
    assert_eq!(until.seconds - closed.seconds, 7 * 24 * 3600);
    assert_eq!(
        analytics(&server, &owner.access, &pipeline.id)
            .await
            .won_count,
        1
    );
    // Not with a stale etag, not by a viewer, not another rep's.
    let err = reopen(&server, &rep, &mine.id, &moved.etag)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let err = reopen(&server, &viewer, &mine.id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let reopened = reopen(&server, &rep, &mine.id, &won_o.etag).await.unwrap();
    assert_eq!(reopened.status, OpportunityStatus::Open as i32);
    assert_eq!(reopened.stage_id, pipeline.stages[2].id);
    assert_eq!(reopened.probability, pipeline.stages[2].probability);
    assert!(reopened.deal_id.is_empty());
    assert!(reopened.close_time.is_none() && reopened.reopenable_until.is_none());
    let err = DealServiceClient::new(server.channel.clone())
        .get_deal(authorized(GetDealRequest { id: deal.id }, &owner.access))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "the deal is withdrawn");
    let figures = analytics(&server, &owner.access, &pipeline.id).await;
    assert_eq!((figures.won_count, figures.lost_count), (0, 0));
    // The customer's thank-you was held back for the grace period: the reopen cancelled it,
    // and nothing was sent.
    let to_customer = |status: DeliveryStatus| {
        let (server, token) = (&server, owner.access.clone());
        async move {
            NotificationServiceClient::new(server.channel.clone())
                .list_notifications(authorized(
                    ListNotificationsRequest {
                        status: status as i32,
                        page_size: 100,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .notifications
                .into_iter()
                .filter(|n| n.recipient_address == "mine@hotel.example")
                .count()
        }
    };
    crm_core::testing::eventually("the held thank-you is cancelled", || async {
        (to_customer(DeliveryStatus::Cancelled).await == 1).then_some(())
    })
    .await;
    assert_eq!(to_customer(DeliveryStatus::Sent).await, 0);
    // Reopening twice: it is open now.
    let err = reopen(&server, &rep, &mine.id, "").await.unwrap_err();
    assert_eq!(reason(&err), "OPPORTUNITY_OPEN");

    // The owner's loss is not the rep's to undo; the owner undoes it.
    let lost = opportunities(&server)
        .lose_opportunity(authorized(
            LoseOpportunityRequest {
                id: theirs.id.clone(),
                reason: LossReason::Timing as i32,
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(lost.status, OpportunityStatus::Lost as i32);
    let err = reopen(&server, &rep, &theirs.id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let back = reopen(&server, &owner.access, &theirs.id, "")
        .await
        .unwrap();
    assert_eq!(
        (back.status, back.loss_reason),
        (
            OpportunityStatus::Open as i32,
            LossReason::Unspecified as i32
        )
    );
    // It is won again like any open one.
    win(&server, &rep, &mine.id).await.unwrap();
    assert_eq!(
        analytics(&server, &owner.access, &pipeline.id)
            .await
            .won_count,
        1
    );
}

/// A customer with an open opportunity is not deleted by mistake: the refusal counts them, in
/// words; deleting it closing them as lost takes the deal off the board and out of the
/// forecast (sales loses it on `CustomerDeleted`).
#[tokio::test(flavor = "multi_thread")]
async fn a_customer_with_an_open_opportunity_is_deleted_only_by_closing_it_as_lost() {
    use crm_proto::crm::customer::v1::DeleteCustomerRequest;
    use tonic_types::StatusExt;
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    let pipeline = seeded(&server, &owner.access).await;
    let viewer = member(&server, &owner, "lim@kilang.example", &["viewer"]).await;
    let o = opened(&server, &owner.access, "hotel@seri.example", myr(15_000)).await;
    let open_now = async || {
        analytics(&server, &owner.access, &pipeline.id)
            .await
            .stages
            .iter()
            .map(|s| s.open_count)
            .sum::<i64>()
    };
    assert_eq!(open_now().await, 1);
    let delete = |token: &str, etag: &str, close: bool| {
        let (server, token) = (&server, token.to_owned());
        let request = DeleteCustomerRequest {
            id: o.customer_id.clone(),
            etag: etag.into(),
            close_open_opportunities: close,
        };
        async move {
            CustomerServiceClient::new(server.channel.clone())
                .delete_customer(authorized(request, &token))
                .await
        }
    };
    // The customer context learns of the opportunity from sales' events: asked with a stale
    // etag until it refuses for the opportunity rather than for the etag.
    let refused =
        crm_core::testing::eventually("the customer knows its open opportunity", || async {
            let err = delete(&owner.access, "0", false).await.unwrap_err();
            (reason(&err) == "OPEN_OPPORTUNITIES").then_some(err)
        })
        .await;
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused
            .message()
            .starts_with("Hotel Seri Malaysia has 1 open opportunity:"),
        "{refused:?}"
    );
    let err = delete(&owner.access, "", false).await.unwrap_err();
    assert_eq!(reason(&err), "OPEN_OPPORTUNITIES");
    // A repeat order opened directly counts too; once won, it no longer does.
    let counted = async |n: &str| {
        crm_core::testing::eventually("the count follows sales' events", || async {
            let err = delete(&owner.access, "0", false).await.unwrap_err();
            let count = err
                .get_error_details()
                .error_info()
                .and_then(|i| i.metadata.get("count").cloned());
            (count.as_deref() == Some(n)).then_some(())
        })
        .await
    };
    let repeat = opportunities(&server)
        .create_opportunity(authorized(
            CreateOpportunityRequest {
                opportunity: Some(Opportunity {
                    name: "Hotel Seri Malaysia: repeat order".into(),
                    pipeline_id: pipeline.id.clone(),
                    customer_id: o.customer_id.clone(),
                    amount: myr(4_000),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    counted("2").await;
    win(&server, &owner.access, &repeat.id).await.unwrap();
    counted("1").await;
    let err = delete(&viewer, "", true).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(open_now().await, 1, "nothing changed");

    delete(&owner.access, "", true).await.unwrap();
    let err = CustomerServiceClient::new(server.channel.clone())
        .get_customer(authorized(
            GetCustomerRequest {
                id: o.customer_id.clone(),
            },
            &owner.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let lost = crm_core::testing::eventually("sales lost the opportunity", || async {
        let read = opportunities(&server)
            .get_opportunity(authorized(
                GetOpportunityRequest { id: o.id.clone() },
                &owner.access,
            ))
            .await
            .unwrap()
            .into_inner()
            .opportunity
            .unwrap();
        (read.status == OpportunityStatus::Lost as i32).then_some(read)
    })
    .await;
    assert_eq!(
        (lost.loss_reason, lost.loss_detail.as_str()),
        (LossReason::Other as i32, "the customer was deleted")
    );
    assert_eq!(open_now().await, 0, "off the board and out of the forecast");
    let figures = analytics(&server, &owner.access, &pipeline.id).await;
    assert_eq!(figures.loss_reasons.get("LOSS_REASON_OTHER"), Some(&1));
    // Not reopened onto a customer that no longer exists.
    let err = reopen(&server, &owner.access, &o.id, "").await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "CUSTOMER_DELETED")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_named_and_other_tenants_opportunities_and_deals_are_not_found() {
    let server = spawn().await;
    let a = register(&server, "Kilang", "owner@kilang.example").await;
    let b = register(&server, "Other", "owner@other.example").await;
    let pipeline = seeded(&server, &a.access).await;
    seeded(&server, &b.access).await;
    let lead = qualified_lead(&server, &a.access, "x@hotel.example").await;
    let converted = convert(
        &server,
        &a.access,
        ConvertLeadRequest {
            id: lead.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let o = converted.opportunity.unwrap();
    let deal = win(&server, &a.access, &o.id).await.unwrap().deal.unwrap();

    // Another currency, a bad probability, no name: each named.
    let err = opportunities(&server)
        .create_opportunity(authorized(
            CreateOpportunityRequest {
                opportunity: Some(Opportunity {
                    name: " ".into(),
                    pipeline_id: pipeline.id.clone(),
                    customer_id: converted.customer_id.clone(),
                    amount: Some(Money {
                        currency_code: "USD".into(),
                        units: 5,
                        nanos: 0,
                    }),
                    probability: 150,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &a.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        [
            "opportunity.name",
            "opportunity.amount",
            "opportunity.probability"
        ]
    );
    let err = opportunities(&server)
        .create_opportunity(authorized(
            CreateOpportunityRequest {
                opportunity: Some(Opportunity {
                    name: "Sarongs".into(),
                    pipeline_id: pipeline.id.clone(),
                    customer_id: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &a.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["opportunity.customer_id"]);
    let err = move_to(&server, &a.access, "nope", &pipeline.stages[1].id)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["id"]);

    // Tenant B sees none of A's: NOT_FOUND on every RPC.
    let token = &b.access;
    let mut o_client = opportunities(&server);
    let errs = vec![
        o_client
            .get_opportunity(authorized(
                GetOpportunityRequest { id: o.id.clone() },
                token,
            ))
            .await
            .unwrap_err(),
        o_client
            .update_opportunity(authorized(
                UpdateOpportunityRequest {
                    opportunity: Some(Opportunity {
                        id: o.id.clone(),
                        notes: "mine now".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["notes".into()],
                    }),
                },
                token,
            ))
            .await
            .unwrap_err(),
        move_to(&server, token, &o.id, &pipeline.stages[1].id)
            .await
            .unwrap_err(),
        win(&server, token, &o.id).await.unwrap_err(),
        o_client
            .lose_opportunity(authorized(
                LoseOpportunityRequest {
                    id: o.id.clone(),
                    reason: LossReason::Price as i32,
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap_err(),
        reopen(&server, token, &o.id, "").await.unwrap_err(),
        DealServiceClient::new(server.channel.clone())
            .get_deal(authorized(
                GetDealRequest {
                    id: deal.id.clone(),
                },
                token,
            ))
            .await
            .unwrap_err(),
        convert(
            &server,
            token,
            ConvertLeadRequest {
                id: lead.id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
    ];
    for err in errs {
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    let listed = o_client
        .list_opportunities(authorized(ListOpportunitiesRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .opportunities;
    assert!(listed.is_empty());
    let deals = DealServiceClient::new(server.channel.clone())
        .list_deals(authorized(ListDealsRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .deals;
    assert!(deals.is_empty());
    // Converting into another tenant's customer: not a customer here.
    let b_lead = qualified_lead(&server, token, "y@hotel.example").await;
    let err = convert(
        &server,
        token,
        ConvertLeadRequest {
            id: b_lead.id,
            existing_customer_id: converted.customer_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&err), ["existing_customer_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_service_that_is_down_opens_the_breaker_which_answers_unavailable_with_retry_info()
 {
    use crm_core::config::{Secret, Target};
    use crm_iam::config::IamConfig;
    use crm_iam::domain::service_account::{hash_secret, new_secret};
    use crm_sales::domain::ports::CustomerDirectory;
    use crm_sales::infrastructure::directory::{GrpcCustomerDirectory, Tuning};
    use tonic_types::StatusExt;

    let secret = new_secret().unwrap();
    let hash = hash_secret(&secret);
    let iam = support::spawn_with(move |config| {
        config.target = vec![Target::named("iam")];
        let mut iam = IamConfig::of(config).unwrap();
        iam.service_accounts.insert("sales".into(), hash);
        iam.set(config);
    })
    .await;
    let owner = register(&iam, "Kilang", "owner@kilang.example").await;
    let tenant = crm_core::TenantId::parse(&owner.tenant.id).unwrap();
    // Nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let customers = crm_core::upstream::Balanced::connect(
        "sales",
        "customer",
        "sales.customer_endpoint",
        &format!("http://{dead_addr}"),
    )
    .unwrap();
    let tokens = crm_core::service_auth::ServiceTokens::new(
        crm_core::upstream::Balanced::connect(
            "sales",
            "iam",
            "sales.iam_endpoint",
            &format!("http://{}", iam.addr),
        )
        .unwrap(),
        "sales",
        Secret::new(secret),
        std::sync::Arc::new(crm_core::clock::SystemClock),
    );
    let tuning = Tuning {
        deadline: std::time::Duration::from_millis(500),
        retries: 1,
        open_after: 4,
        open_for: std::time::Duration::from_secs(30),
    };
    let directory = GrpcCustomerDirectory::new(customers, tokens, tuning);
    let id = uuid::Uuid::now_v7();

    // Outages, retried once each: the first two calls make four failures, and the breaker opens.
    for _ in 0..2 {
        let err = directory.get(tenant, id).await.unwrap_err();
        assert_eq!(err.kind(), crm_core::ErrorKind::Unavailable);
        assert!(
            err.message().contains("did not answer"),
            "{}",
            err.message()
        );
    }
    // Open: refused at once, saying when to come back.
    let err = directory.get(tenant, id).await.unwrap_err();
    assert_eq!(err.reason(), Some("CUSTOMER_SERVICE_UNAVAILABLE"));
    assert!(err.message().contains("paused"), "{}", err.message());
    let status: tonic::Status = err.into();
    assert_eq!(status.code(), Code::Unavailable);
    let retry = status
        .get_error_details()
        .retry_info()
        .expect("RetryInfo")
        .retry_delay
        .expect("a delay");
    assert_eq!(retry.as_secs(), 30);
}

/// A rep (`customers.write:own`) converting their own lead whose email is another rep's
/// customer's is refused (`CUSTOMER_NOT_YOURS`, the customer unnamed): nothing is attached to
/// that customer, no opportunity is made, the lead stays qualified. A manager's conversion of
/// the same lead reuses the customer; a rep's lead with their own customer's email reuses it.
#[tokio::test(flavor = "multi_thread")]
async fn a_rep_never_converts_onto_another_reps_customer_found_by_email() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    seeded(&server, &owner.access).await;
    invite(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    invite(&server, &owner, "bala@kilang.example", &["sales_rep"]).await;
    invite(&server, &owner, "mei@kilang.example", &["sales_manager"]).await;
    let slug = &owner.tenant.slug;
    let mut tokens = Vec::new();
    for email in [
        "ali@kilang.example",
        "bala@kilang.example",
        "mei@kilang.example",
    ] {
        tokens.push(
            login(&server, slug, email, PASSWORD)
                .await
                .unwrap()
                .access_token,
        );
    }
    let [ali, bala, mei] = <[String; 3]>::try_from(tokens).unwrap();

    // Ali's customer, made by converting his lead.
    let first = qualified_lead(&server, &ali, "buyer@hotel.example").await;
    let made = convert(
        &server,
        &ali,
        ConvertLeadRequest {
            id: first.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(made.customer_created);
    let alis_customer = made.customer_id.clone();

    // Bala's lead with the same email.
    let balas = qualified_lead(&server, &bala, "buyer@hotel.example").await;
    let err = convert(
        &server,
        &bala,
        ConvertLeadRequest {
            id: balas.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "CUSTOMER_NOT_YOURS".to_owned()),
        "{err:?}"
    );
    assert!(!err.message().contains(&alis_customer), "{}", err.message());
    let lead = LeadServiceClient::new(server.channel.clone())
        .get_lead(authorized(
            GetLeadRequest {
                id: balas.id.clone(),
            },
            &bala,
        ))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(lead.status, LeadStatus::Qualified as i32, "not converted");
    let on_alis = opportunities(&server)
        .list_opportunities(authorized(
            ListOpportunitiesRequest {
                customer_id: alis_customer.clone(),
                ..Default::default()
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunities;
    assert_eq!(
        on_alis.len(),
        1,
        "only Ali's own opportunity is on his customer"
    );

    // A manager may: the customer is reused.
    let reused = convert(
        &server,
        &mei,
        ConvertLeadRequest {
            id: balas.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (reused.customer_id.as_str(), reused.customer_created),
        (alis_customer.as_str(), false)
    );
    // Ali's second lead with his own customer's email reuses it.
    let again = qualified_lead(&server, &ali, "buyer@hotel.example").await;
    let mine = convert(
        &server,
        &ali,
        ConvertLeadRequest {
            id: again.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(mine.customer_id, alis_customer);
}

/// The large-deal threshold is in the tenant's currency and weighs fractions: MYR 10,000.50 is
/// over MYR 10,000, and a deal in another currency (no exchange rate is kept) needs a manager
/// whatever its number, so KWD 9,000 (about MYR 130,000) is never won unapproved.
#[tokio::test(flavor = "multi_thread")]
async fn the_large_deal_threshold_weighs_fractions_and_never_guesses_a_currency() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    seeded(&server, &owner.access).await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let manager = member(&server, &owner, "mei@kilang.example", &["sales_manager"]).await;
    limit_deals(&server, &owner, |_| ()).await;
    let kuwait = PipelineServiceClient::new(server.channel.clone())
        .create_pipeline(authorized(
            CreatePipelineRequest {
                pipeline: Some(Pipeline {
                    name: "Kuwait".into(),
                    currency_code: "KWD".into(),
                    stages: vec![Stage {
                        name: "Enquiry".into(),
                        probability: 10,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &owner.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    let money = |currency: &str, units: i64, nanos: i32| Money {
        currency_code: currency.into(),
        units,
        nanos,
    };
    let mut opened = Vec::new();
    for (email, pipeline, amount) in [
        (
            "cents@hotel.example",
            String::new(),
            money("MYR", 10_000, 500_000_000),
        ),
        (
            "kuwait@hotel.example",
            kuwait.id.clone(),
            money("KWD", 9_000, 0),
        ),
        (
            "small@hotel.example",
            String::new(),
            money("MYR", 9_999, 990_000_000),
        ),
    ] {
        let lead = qualified_lead(&server, &rep, email).await;
        let converted = convert(
            &server,
            &rep,
            ConvertLeadRequest {
                id: lead.id,
                pipeline_id: pipeline,
                amount: Some(amount),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        opened.push(converted.opportunity.unwrap().id);
    }
    let [cents, kwd, small] = <[String; 3]>::try_from(opened).unwrap();

    // Once the threshold has reached sales: over by fifty sen, refused.
    crm_core::testing::eventually("the threshold reached sales", || async {
        let err = win(&server, &rep, &cents).await.err()?;
        (reason(&err) == "LARGE_DEAL_APPROVAL").then_some(())
    })
    .await;
    let err = win(&server, &rep, &kwd).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::PermissionDenied, "LARGE_DEAL_APPROVAL".to_owned())
    );
    assert!(err.message().contains("KWD"), "{}", err.message());
    win(&server, &rep, &small).await.unwrap();
    win(&server, &manager, &kwd).await.unwrap();
    win(&server, &manager, &cents).await.unwrap();
}
