//! Large deals through the served CRM: a rep refused a win above the threshold asks a sales
//! manager, who is notified, approves or declines with a reason; the rep is notified and, once
//! approved, wins at up to the amount approved. Who may ask and decide, bad input, another
//! tenant's opportunity, and the trail on the opportunity's timeline.

use crate::conversions::{limit_deals, myr, opened, opportunities, seeded, win};
use crate::support;

use crm_core::testing::eventually;
use crm_proto::crm::activity::v1 as act;
use crm_proto::crm::notification::v1::ListNotificationsRequest;
use crm_proto::crm::notification::v1::notification_service_client::NotificationServiceClient;
use crm_proto::crm::sales::v1::*;
use tonic::Code;

use support::iam::{Session, fields, member, reason, register};
use support::{TestServer, authorized, spawn};

/// Deals above MYR 10,000 need a manager; notices in English.
async fn threshold(server: &TestServer, owner: &Session) {
    limit_deals(server, owner, |s| s.locale = "en-GB".into()).await;
}

async fn ask(
    server: &TestServer,
    token: &str,
    id: &str,
    note: &str,
) -> Result<Opportunity, tonic::Status> {
    opportunities(server)
        .request_approval(authorized(
            RequestApprovalRequest {
                id: id.into(),
                amount: None,
                note: note.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().opportunity.unwrap())
}

async fn answer(
    server: &TestServer,
    token: &str,
    id: &str,
    approve: bool,
    why: &str,
) -> Result<Opportunity, tonic::Status> {
    opportunities(server)
        .decide_approval(authorized(
            DecideApprovalRequest {
                id: id.into(),
                approve,
                reason: why.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().opportunity.unwrap())
}

/// The subjects of `token`'s in-app notices, once one containing `needle` has arrived.
async fn notice(server: &TestServer, token: &str, needle: &str) -> String {
    let mut client = NotificationServiceClient::new(server.channel.clone());
    eventually("the notice arrives", async || {
        client
            .list_notifications(authorized(ListNotificationsRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .notifications
            .into_iter()
            .find(|n| n.subject.contains(needle))
            .map(|n| format!("{} | {} | {}", n.subject, n.body, n.link))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rep_asks_a_manager_who_approves_and_the_rep_wins_within_the_amount() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    seeded(&server, &owner.access).await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let manager = member(&server, &owner, "mei@kilang.example", &["sales_manager"]).await;
    let other_rep = member(&server, &owner, "abu@kilang.example", &["sales_rep"]).await;
    threshold(&server, &owner).await;
    let big = opened(&server, &rep, "hotel@primula.example", myr(25_000)).await;
    eventually("the threshold reached sales", || async {
        let err = win(&server, &rep, &big.id).await.err()?;
        (reason(&err) == "LARGE_DEAL_APPROVAL").then_some(())
    })
    .await;

    // Nothing waits yet: nothing to decide. A manager needs no approval; nor does a small deal.
    let err = answer(&server, &manager, &big.id, true, "")
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "NO_APPROVAL_WAITING", "{err:?}");
    let err = ask(&server, &manager, &big.id, "").await.unwrap_err();
    assert_eq!(reason(&err), "NO_APPROVAL_NEEDED", "{err:?}");
    let small = opened(&server, &rep, "kedai@kecil.example", myr(500)).await;
    let err = ask(&server, &rep, &small.id, "").await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "NO_APPROVAL_NEEDED")
    );
    // Another rep may not ask for Ali's opportunity; a note too long is named.
    let err = ask(&server, &other_rep, &big.id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = ask(&server, &rep, &big.id, &"x".repeat(2_001))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["note"]);

    let asked = ask(&server, &rep, &big.id, "Hotel Primula pays half upfront")
        .await
        .unwrap();
    let approval = asked.approval.clone().unwrap();
    assert_eq!(approval.state, ApprovalState::Pending as i32);
    assert_eq!(approval.amount, myr(25_000));
    let err = ask(&server, &rep, &big.id, "again").await.unwrap_err();
    assert_eq!(reason(&err), "APPROVAL_WAITING", "{err:?}");
    // Still refused until approved; the rep may not decide.
    assert_eq!(
        reason(&win(&server, &rep, &big.id).await.unwrap_err()),
        "LARGE_DEAL_APPROVAL"
    );
    let err = answer(&server, &rep, &big.id, true, "").await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // The manager and the owner hear of it, with a link to the opportunity; the rep does not.
    for token in [&manager, &owner.access] {
        let seen = notice(&server, token, "Approval asked").await;
        assert!(seen.contains("MYR 25,000.00"), "{seen}");
        assert!(seen.contains("Hotel Primula pays half upfront"), "{seen}");
        assert!(seen.ends_with(&format!("pipeline/{}", big.id)), "{seen}");
    }

    // The managers' list of what waits for them: this one, not the small deal.
    let waiting = |token: String| {
        let server = &server;
        async move {
            opportunities(server)
                .list_opportunities(authorized(
                    ListOpportunitiesRequest {
                        approval_state: ApprovalState::Pending as i32,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .opportunities
                .into_iter()
                .map(|o| o.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(waiting(manager.clone()).await, [big.id.as_str()]);
    let err = opportunities(&server)
        .list_opportunities(authorized(
            ListOpportunitiesRequest {
                approval_state: 9,
                ..Default::default()
            },
            &manager,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["approval_state"]);

    let approved = answer(&server, &manager, &big.id, true, "").await.unwrap();
    assert!(
        waiting(manager.clone()).await.is_empty(),
        "decided: no longer waiting"
    );
    assert_eq!(
        approved.approval.unwrap().state,
        ApprovalState::Approved as i32
    );
    let seen = notice(&server, &rep, "approved").await;
    assert!(
        seen.contains("You may win it at up to MYR 25,000.00"),
        "{seen}"
    );

    // Above the approved amount: refused again; at it: won, by the rep.
    let above = opportunities(&server)
        .win_opportunity(authorized(
            WinOpportunityRequest {
                id: big.id.clone(),
                amount: myr(26_000),
                ..Default::default()
            },
            &rep,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&above), "LARGE_DEAL_APPROVAL");
    let won = win(&server, &rep, &big.id).await.unwrap();
    assert_eq!(won.deal.unwrap().amount, myr(25_000));

    // The trail on the opportunity's timeline.
    eventually(
        "the timeline holds the request and the answer",
        async || {
            let said = support::timeline_summaries(
                &server,
                &manager,
                act::RecordType::Opportunity,
                &big.id,
            )
            .await;
            (said.iter().any(|s| s.starts_with("Approval asked to win"))
                && said.iter().any(|s| s.ends_with("MYR 25,000.00 approved")))
            .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decline_needs_a_reason_the_rep_reads_and_may_ask_again() {
    let server = spawn().await;
    let owner = register(&server, "Kilang", "owner@kilang.example").await;
    seeded(&server, &owner.access).await;
    let rep = member(&server, &owner, "ali@kilang.example", &["sales_rep"]).await;
    let manager = member(&server, &owner, "mei@kilang.example", &["sales_manager"]).await;
    threshold(&server, &owner).await;
    let big = opened(&server, &rep, "hotel@primula.example", myr(25_000)).await;
    eventually("the threshold reached sales", || async {
        let err = ask(&server, &rep, &big.id, "").await.err();
        match err {
            Some(e) if reason(&e) == "NO_APPROVAL_NEEDED" => None,
            Some(e) => panic!("{e:?}"),
            None => Some(()),
        }
    })
    .await;
    let err = answer(&server, &manager, &big.id, false, "  ")
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["reason"]);
    let declined = answer(
        &server,
        &manager,
        &big.id,
        false,
        "Ask for 50% upfront first",
    )
    .await
    .unwrap();
    let approval = declined.approval.unwrap();
    assert_eq!(
        (approval.state, approval.reason.as_str()),
        (ApprovalState::Declined as i32, "Ask for 50% upfront first")
    );
    let seen = notice(&server, &rep, "declined").await;
    assert!(seen.contains("Ask for 50% upfront first"), "{seen}");
    assert_eq!(
        reason(&win(&server, &rep, &big.id).await.unwrap_err()),
        "LARGE_DEAL_APPROVAL"
    );
    // Asked again twice at once, and answered twice at once, many rounds: one request waits,
    // one answer is given; the other of each is refused in words.
    for round in 0..8 {
        let (one, two) = tokio::join!(
            ask(&server, &rep, &big.id, "They agreed to 50%"),
            ask(&server, &rep, &big.id, "They agreed to 50%")
        );
        let refused: Vec<_> = [&one, &two]
            .into_iter()
            .filter_map(|r| r.as_ref().err())
            .collect();
        assert_eq!(refused.len(), 1, "round {round}: {one:?} {two:?}");
        assert_eq!(reason(refused[0]), "APPROVAL_WAITING", "round {round}");
        let (yes, no) = tokio::join!(
            answer(&server, &manager, &big.id, true, ""),
            answer(&server, &manager, &big.id, false, "Not this month")
        );
        let refused: Vec<_> = [&yes, &no]
            .into_iter()
            .filter_map(|r| r.as_ref().err())
            .collect();
        assert_eq!(refused.len(), 1, "round {round}: {yes:?} {no:?}");
        assert_eq!(reason(refused[0]), "NO_APPROVAL_WAITING", "round {round}");
    }

    // Another workspace sees none of it.
    let stranger = register(&server, "Lain", "owner@lain.example").await;
    for err in [
        ask(&server, &stranger.access, &big.id, "")
            .await
            .unwrap_err(),
        answer(&server, &stranger.access, &big.id, true, "")
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    let err = ask(&server, &rep, "not-an-id", "").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}
