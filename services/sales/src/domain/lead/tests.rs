use super::*;
use LeadStatus::*;

fn input() -> LeadInput {
    LeadInput {
        contact_name: "Aisyah binti Omar".into(),
        company_name: "Hotel Seri Malaysia".into(),
        email: "Aisyah@Hotel.Example".into(),
        phone: "012-345 6789".into(),
        source: 3,
        estimated_value: Some(("myr".into(), 25_000, 500_000_000)),
        interest: "batik sarongs for 200 rooms".into(),
        notes: String::new(),
        tags: vec!["Hotel".into(), "hotel".into(), "bulk".into()],
    }
}

#[test]
fn a_lead_is_normalised_and_every_bad_field_named() {
    let lead = Lead::new(TenantId::new(), &input(), None, 1).unwrap();
    assert_eq!(lead.email.as_deref(), Some("aisyah@hotel.example"));
    assert_eq!(lead.phone.as_deref(), Some("+60123456789"));
    assert_eq!(lead.tags, ["hotel", "bulk"]);
    assert_eq!(lead.status, New);
    assert_eq!(lead.estimated_value.unwrap().currency_code(), "MYR");
    let bad = LeadInput {
        contact_name: " ".into(),
        company_name: String::new(),
        email: "not an email".into(),
        phone: "12".into(),
        source: 42,
        estimated_value: Some(("XYZ".into(), 1, 0)),
        notes: "x".repeat(5001),
        ..input()
    };
    let fields: Vec<String> = Lead::new(TenantId::new(), &bad, None, 1)
        .unwrap_err()
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(
        fields,
        [
            "contact_name",
            "email",
            "phone",
            "source",
            "estimated_value",
            "notes"
        ]
    );
}

#[test]
fn the_status_machine_allows_only_its_moves() {
    let all = [New, Contacted, Qualified, Disqualified, Converted];
    let allowed = [
        (New, Contacted),
        (New, Qualified),
        (New, Disqualified),
        (Contacted, Qualified),
        (Contacted, Disqualified),
        (Qualified, Qualified),
        (Qualified, Disqualified),
        (Qualified, Converted),
    ];
    for from in all {
        for to in all {
            assert_eq!(
                from.may_move_to(to),
                allowed.contains(&(from, to)),
                "{from:?} → {to:?}"
            );
        }
    }
}

#[test]
fn qualifying_scores_and_a_disqualified_lead_stays_so() {
    let mut lead = Lead::new(TenantId::new(), &input(), None, 1).unwrap();
    assert!(matches!(
        lead.qualify(true, 101, 2),
        Err(LeadChangeError::Invalid(_))
    ));
    lead.qualify(true, 80, 2).unwrap();
    assert_eq!((lead.status, lead.score, lead.version), (Qualified, 80, 2));
    lead.qualify(false, 10, 3).unwrap();
    assert_eq!(lead.status, Disqualified);
    assert_eq!(
        lead.qualify(true, 90, 4),
        Err(LeadChangeError::Illegal(IllegalMove {
            from: Disqualified,
            to: Qualified
        }))
    );
}

#[test]
fn updates_change_only_the_masked_fields_and_status_only_to_contacted() {
    let mut lead = Lead::new(TenantId::new(), &input(), None, 1).unwrap();
    let change = LeadInput {
        notes: "called on Monday".into(),
        email: "broken".into(),
        ..input()
    };
    lead.update(
        &change,
        Some(Contacted),
        &["notes".into(), "status".into()],
        2,
    )
    .unwrap();
    assert_eq!(lead.notes, "called on Monday");
    assert_eq!(
        lead.email.as_deref(),
        Some("aisyah@hotel.example"),
        "not in the mask"
    );
    assert_eq!(lead.status, Contacted);
    let err = lead
        .update(&change, None, &["email".into()], 3)
        .unwrap_err();
    let LeadChangeError::Invalid(problems) = err else {
        panic!("a bad email is invalid input");
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "email");
    assert!(matches!(
        lead.update(&input(), Some(Qualified), &["status".into()], 3),
        Err(LeadChangeError::Illegal(_))
    ));
    let cleared = LeadInput {
        contact_name: String::new(),
        company_name: String::new(),
        ..input()
    };
    assert!(matches!(
        lead.update(
            &cleared,
            None,
            &["contact_name".into(), "company_name".into()],
            3
        ),
        Err(LeadChangeError::Invalid(_))
    ));
    lead.status = Converted;
    assert_eq!(
        lead.update(&input(), None, &["notes".into()], 4),
        Err(LeadChangeError::Converted)
    );
    assert_eq!(
        lead.assign(UserId::new(), 4),
        Err(LeadChangeError::Converted)
    );
}
