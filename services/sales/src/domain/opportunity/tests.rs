use super::*;

fn pipeline() -> Pipeline {
    Pipeline::seed(TenantId::new(), "MYR", 1_000)
}

fn opportunity(p: &Pipeline) -> Opportunity {
    let placement = Placement {
        pipeline: p,
        stage_id: None,
        customer_id: Uuid::now_v7(),
        lead_id: None,
        owner_id: Some(UserId::new()),
        by: UserId::new(),
    };
    let input = OpportunityInput {
        name: "Hotel Primula: 200 uniforms".into(),
        amount: Some(("MYR".into(), 12_000, 500_000_000)),
        ..OpportunityInput::default()
    };
    Opportunity::new(p.tenant_id, &placement, &input, 2_000).unwrap()
}

#[test]
fn a_new_opportunity_starts_in_the_first_stage_with_its_probability() {
    let p = pipeline();
    let o = opportunity(&p);
    assert_eq!(o.stage_id, p.stages[0].id);
    assert_eq!(o.probability, 10);
    assert!(!o.probability_set);
    assert_eq!(o.stage_history.len(), 1);
    assert_eq!(o.stage_history[0].from_stage_id, None);
    assert_eq!(o.amount.total_nanos(), 12_000_500_000_000);
}

#[test]
fn money_must_be_in_the_pipelines_currency_and_probability_in_bounds() {
    let p = pipeline();
    let placement = Placement {
        pipeline: &p,
        stage_id: Some(Uuid::now_v7()),
        customer_id: Uuid::now_v7(),
        lead_id: None,
        owner_id: None,
        by: UserId::new(),
    };
    let input = OpportunityInput {
        name: " ".into(),
        amount: Some(("USD".into(), 1, 0)),
        probability: Some(101),
        ..OpportunityInput::default()
    };
    let problems = Opportunity::new(p.tenant_id, &placement, &input, 1).unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["stage_id", "name", "amount", "probability"]);
    assert!(problems[2].1.contains("MYR"), "{problems:?}");
    let negative = OpportunityInput {
        name: "x".into(),
        amount: Some(("MYR".into(), -1, 0)),
        probability: Some(-1),
        ..OpportunityInput::default()
    };
    let placement = Placement {
        stage_id: None,
        ..placement
    };
    let problems = Opportunity::new(p.tenant_id, &placement, &negative, 1).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn moves_record_history_and_follow_the_stage_probability_unless_set() {
    let p = pipeline();
    let mut o = opportunity(&p);
    let by = UserId::new();
    assert!(o.move_to(&p, p.stages[2].id, by, 3_000).unwrap());
    assert_eq!(o.probability, 50);
    assert_eq!(o.stage_history.len(), 2);
    assert_eq!(o.stage_history[1].from_stage_id, Some(p.stages[0].id));
    assert_eq!(o.stage_history[1].changed_by, by);
    assert!(
        !o.move_to(&p, p.stages[2].id, by, 3_500).unwrap(),
        "same stage: no change"
    );
    assert_eq!(o.stage_history.len(), 2);
    let input = OpportunityInput {
        probability: Some(33),
        ..OpportunityInput::default()
    };
    o.update(&p, &input, None, &["probability".into()], 4_000)
        .unwrap();
    o.move_to(&p, p.stages[3].id, by, 5_000).unwrap();
    assert_eq!(o.probability, 33, "set by hand, it stays");
    let err = o.move_to(&p, Uuid::now_v7(), by, 6_000).unwrap_err();
    assert!(matches!(err, OpportunityChangeError::Invalid(_)));
}

#[test]
fn a_closed_opportunity_neither_moves_nor_closes_again() {
    let p = pipeline();
    let mut won = opportunity(&p);
    let deal = won.win(&p, None, "paid 50% upfront", 9_000).unwrap();
    assert_eq!(won.status, OpportunityStatus::Won);
    assert_eq!(won.deal_id, Some(deal.id));
    assert_eq!(deal.amount, won.amount);
    assert_eq!(deal.closed_at, 9_000);
    let by = UserId::new();
    assert_eq!(
        won.move_to(&p, p.stages[1].id, by, 9_500),
        Err(OpportunityChangeError::Closed(OpportunityStatus::Won))
    );
    assert!(matches!(
        won.lose(1, "", 9_600),
        Err(OpportunityChangeError::Closed(_))
    ));
    assert!(matches!(
        won.win(&p, None, "", 9_700),
        Err(OpportunityChangeError::Closed(_))
    ));
    let rename = OpportunityInput {
        name: "new".into(),
        ..OpportunityInput::default()
    };
    assert!(matches!(
        won.update(&p, &rename, None, &["name".into()], 9_800),
        Err(OpportunityChangeError::Closed(_))
    ));
    won.update(
        &p,
        &OpportunityInput::default(),
        None,
        &["notes".into()],
        9_900,
    )
    .expect("notes stay writable");

    let mut lost = opportunity(&p);
    assert!(matches!(
        lost.lose(0, "", 1),
        Err(OpportunityChangeError::Invalid(_))
    ));
    assert!(matches!(
        lost.lose(8, "", 1),
        Err(OpportunityChangeError::Invalid(_))
    ));
    assert!(matches!(
        lost.lose(7, " ", 1),
        Err(OpportunityChangeError::Invalid(_))
    ));
    lost.lose(2, "Batik Jaya quoted 10% less", 10_000).unwrap();
    assert_eq!(lost.status, OpportunityStatus::Lost);
    assert_eq!(lost.probability, 0);
    assert_eq!(lost.closed_at, Some(10_000));
}

#[test]
fn a_win_at_another_amount_books_that_amount_in_the_pipelines_currency() {
    let p = pipeline();
    let mut o = opportunity(&p);
    assert!(matches!(
        o.win(&p, Some(&("SGD".into(), 5, 0)), "", 2),
        Err(OpportunityChangeError::Invalid(_))
    ));
    assert_eq!(
        o.status,
        OpportunityStatus::Open,
        "a refused win changes nothing"
    );
    let deal = o.win(&p, Some(&("MYR".into(), 11_000, 0)), "", 3).unwrap();
    assert_eq!(deal.amount.units, 11_000);
    assert_eq!(o.amount.units, 11_000);
}

#[test]
fn a_won_opportunity_reopens_in_its_stage_within_the_window_and_gives_back_its_deal() {
    let p = pipeline();
    let mut o = opportunity(&p);
    let by = UserId::new();
    o.move_to(&p, p.stages[2].id, by, 3_000).unwrap();
    o.update(
        &p,
        &OpportunityInput {
            probability: Some(55),
            ..OpportunityInput::default()
        },
        None,
        &["probability".into()],
        3_500,
    )
    .unwrap();
    assert_eq!(
        o.reopenable_until(),
        None,
        "an open one has nothing to undo"
    );
    assert_eq!(
        o.reopen(&p, by, 3_600),
        Err(OpportunityChangeError::NotClosed)
    );

    let deal = o.win(&p, None, "", 10_000).unwrap();
    assert_eq!(o.reopenable_until(), Some(10_000 + REOPEN_WINDOW));
    let version = o.version;
    assert_eq!(o.reopen(&p, by, 10_000 + REOPEN_WINDOW), Ok(Some(deal.id)));
    assert_eq!(o.status, OpportunityStatus::Open);
    assert_eq!(o.stage_id, p.stages[2].id, "back where it was won from");
    assert_eq!(o.probability, 55, "the probability set by hand comes back");
    assert!(o.probability_set);
    assert_eq!((o.deal_id, o.closed_at), (None, None));
    assert_eq!(o.version, version + 1);
    assert_eq!(o.stage_history.len(), 2, "reopening is not a move");

    // It can be won again, and moves again.
    o.win(&p, None, "", 20_000).unwrap();
    assert_eq!(o.status, OpportunityStatus::Won);
}

#[test]
fn a_lost_opportunity_forgets_its_loss_when_reopened_and_not_after_the_window() {
    let p = pipeline();
    let mut o = opportunity(&p);
    let by = UserId::new();
    o.lose(7, "the order went to Johor", 10_000).unwrap();
    let late = o.clone();
    assert_eq!(o.reopen(&p, by, 10_500), Ok(None));
    assert_eq!(o.status, OpportunityStatus::Open);
    assert_eq!((o.loss_reason, o.loss_detail.as_str()), (0, ""));
    assert_eq!(o.probability, p.stages[0].probability);

    let mut late = late;
    assert_eq!(
        late.reopen(&p, by, 10_000 + REOPEN_WINDOW + 1),
        Err(OpportunityChangeError::TooLateToReopen(10_000))
    );
    assert_eq!(
        late.status,
        OpportunityStatus::Lost,
        "a refusal changes nothing"
    );
}

#[test]
fn an_opportunity_whose_stage_was_removed_reopens_in_the_first_stage() {
    let p = pipeline();
    let mut o = opportunity(&p);
    let by = UserId::new();
    o.move_to(&p, p.stages[3].id, by, 3_000).unwrap();
    o.lose(1, "", 4_000).unwrap();
    let mut smaller = p.clone();
    smaller.stages.remove(3);
    o.reopen(&smaller, by, 5_000).unwrap();
    assert_eq!(o.stage_id, smaller.stages[0].id);
    let last = o.stage_history.last().unwrap();
    assert_eq!(
        (last.from_stage_id, last.to_stage_id, last.changed_by),
        (Some(p.stages[3].id), smaller.stages[0].id, by)
    );
}

#[test]
fn an_approval_covers_up_to_its_amount_in_its_currency_once_decided() {
    let p = pipeline();
    let mut o = opportunity(&p);
    let rep = UserId::new();
    let manager = UserId::new();
    let at = |units: i64| Money::parse("MYR", units, 0).unwrap();
    assert!(!o.approved_for(&o.amount), "nothing asked");
    // A bad amount or too long a note is named; nothing is asked.
    let Err(OpportunityChangeError::Invalid(problems)) = o.request_approval(
        &p,
        Some(&("USD".into(), 5, 0)),
        &"x".repeat(2_001),
        rep,
        3_000,
    ) else {
        panic!("refused");
    };
    let fields: Vec<_> = problems.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["amount", "note"]);
    assert!(o.approval.is_none());
    o.request_approval(
        &p,
        Some(&("MYR".into(), 20_000, 0)),
        " half upfront ",
        rep,
        3_000,
    )
    .unwrap();
    let asked = o.approval.clone().unwrap();
    assert_eq!(
        (asked.state, asked.note.as_str()),
        (ApprovalState::Pending, "half upfront")
    );
    assert!(matches!(
        o.request_approval(&p, None, "", rep, 3_001),
        Err(OpportunityChangeError::ApprovalWaiting(3_000))
    ));
    assert!(!o.approved_for(&at(20_000)), "waiting is not approved");
    // Declining needs a reason.
    assert!(matches!(
        o.decide_approval(false, " ", manager, 4_000),
        Err(OpportunityChangeError::Invalid(_))
    ));
    o.decide_approval(true, "", manager, 4_000).unwrap();
    assert!(o.approved_for(&at(20_000)));
    assert!(o.approved_for(&at(19_999)));
    assert!(!o.approved_for(&at(20_001)), "above the amount approved");
    assert!(
        !o.approved_for(&Money::parse("SGD", 1, 0).unwrap()),
        "another currency"
    );
    assert!(matches!(
        o.decide_approval(false, "changed my mind", manager, 5_000),
        Err(OpportunityChangeError::NoApprovalWaiting)
    ));
    // A closed opportunity is asked nothing.
    o.lose(2, "", 6_000).unwrap();
    assert!(matches!(
        o.request_approval(&p, None, "", rep, 7_000),
        Err(OpportunityChangeError::Closed(_))
    ));
}
