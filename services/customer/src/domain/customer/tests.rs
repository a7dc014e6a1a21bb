use super::*;

fn siti() -> CustomerInput {
    CustomerInput {
        customer_type: Some(CustomerType::Individual),
        individual: Individual {
            given_name: "Siti".into(),
            family_name: "Aminah".into(),
        },
        email: " Siti@Kilang.Example ".into(),
        phones: vec![Phone {
            number: "012-345 6789".into(),
            primary: true,
            ..Phone::default()
        }],
        tags: vec!["Batik".into()],
        ..CustomerInput::default()
    }
}

fn fields(problems: &[Violation]) -> Vec<&str> {
    problems.iter().map(|(f, _)| f.as_str()).collect()
}

#[test]
fn a_new_customer_is_normalised_and_owned_by_its_creator() {
    let creator = UserId::new();
    let c = Customer::create(TenantId::new(), siti(), creator, 1_000).unwrap();
    assert_eq!(c.display_name, "Siti Aminah");
    assert_eq!(c.email.as_deref(), Some("siti@kilang.example"));
    assert_eq!(c.emails.len(), 1);
    assert!(c.emails[0].primary);
    assert_eq!(c.phones[0].number, "+60123456789");
    assert_eq!(c.tags, ["batik"]);
    assert_eq!(c.owner_id, Some(creator));
    assert_eq!(c.status, Status::Prospect);
    assert_eq!((c.version, c.created_at, c.updated_at), (1, 1_000, 1_000));
    assert!(c.search_text().contains("0123456789"));
}

#[test]
fn every_bad_field_is_named_at_once() {
    let input = CustomerInput {
        customer_type: None,
        email: "not-an-email".into(),
        phones: vec![Phone {
            number: "12".into(),
            ..Phone::default()
        }],
        addresses: vec![Address {
            region_code: "XX".into(),
            ..Address::default()
        }],
        ..CustomerInput::default()
    };
    let problems = Customer::create(TenantId::new(), input, UserId::new(), 1).unwrap_err();
    assert_eq!(
        fields(&problems),
        [
            "type",
            "individual",
            "email",
            "phones[0].e164_number",
            "addresses[0].region_code"
        ]
    );
}

#[test]
fn a_business_needs_its_legal_name_and_a_web_url() {
    let input = CustomerInput {
        customer_type: Some(CustomerType::Business),
        business: Business {
            website: "kilang.example".into(),
            ..Business::default()
        },
        ..CustomerInput::default()
    };
    let problems = Customer::create(TenantId::new(), input, UserId::new(), 1).unwrap_err();
    assert_eq!(
        fields(&problems),
        ["business.website", "business.legal_name"]
    );
}

#[test]
fn updates_change_only_the_named_fields_and_report_what_changed() {
    let mut c = Customer::create(TenantId::new(), siti(), UserId::new(), 1_000).unwrap();
    let input = CustomerInput {
        notes: "prefers parang motifs".into(),
        tags: vec!["ignored".into()],
        ..CustomerInput::default()
    };
    let changed = c.apply(input, &["notes".into()], 2_000).unwrap();
    assert_eq!(changed, ["notes"]);
    assert_eq!(c.tags, ["batik"], "not named, not changed");
    assert_eq!((c.version, c.updated_at), (2, 2_000));

    let same = c
        .apply(c.input(), &["notes".into(), "tags".into()], 3_000)
        .unwrap();
    assert!(same.is_empty());
    assert_eq!(c.version, 2, "no change, no new version");

    let before = c.clone();
    let bad = CustomerInput {
        email: "nope".into(),
        ..CustomerInput::default()
    };
    assert!(c.apply(bad, &["email".into()], 4_000).is_err());
    assert_eq!(c, before, "a failed rule changes nothing");
    assert!(
        c.apply(CustomerInput::default(), &["id".into()], 4_000)
            .is_err()
    );
}

#[test]
fn contacts_keep_one_primary_and_their_own_versions() {
    let mut c = Customer::create(TenantId::new(), siti(), UserId::new(), 1_000).unwrap();
    let a = c
        .add_contact(
            ContactInput {
                given_name: "Ahmad".into(),
                ..ContactInput::default()
            },
            2_000,
        )
        .unwrap()
        .id;
    let b = c
        .add_contact(
            ContactInput {
                given_name: "Mei Ling".into(),
                ..ContactInput::default()
            },
            3_000,
        )
        .unwrap()
        .id;
    assert!(c.set_primary_contact(a, 4_000));
    assert!(c.set_primary_contact(b, 5_000));
    assert_eq!(c.primary_contact_id, Some(b), "one primary at most");
    assert!(!c.set_primary_contact(Uuid::now_v7(), 6_000));

    let changed = c
        .update_contact(
            b,
            ContactInput {
                job_title: "Buyer".into(),
                ..ContactInput::default()
            },
            &["job_title".into()],
            7_000,
        )
        .unwrap()
        .unwrap();
    assert_eq!(changed, ["job_title"]);
    assert_eq!(c.contact(b).unwrap().version, 2);
    assert_eq!(c.contact(a).unwrap().version, 1);
    assert!(
        c.update_contact(Uuid::now_v7(), ContactInput::default(), &[], 1)
            .is_none()
    );

    assert!(c.remove_contact(b, 8_000));
    assert_eq!(c.primary_contact_id, None, "removing the primary clears it");
    assert!(!c.remove_contact(b, 9_000));
    let nameless = c.add_contact(ContactInput::default(), 10_000).unwrap_err();
    assert_eq!(fields(&nameless), ["contact.given_name"]);
}

#[test]
fn contacts_can_come_with_a_new_customer() {
    let input = CustomerInput {
        contacts: vec![
            ContactInput {
                given_name: "Ahmad".into(),
                ..ContactInput::default()
            },
            ContactInput {
                emails: vec![EmailAddress {
                    address: "bad".into(),
                    ..EmailAddress::default()
                }],
                ..ContactInput::default()
            },
        ],
        ..siti()
    };
    let problems = Customer::create(TenantId::new(), input.clone(), UserId::new(), 1).unwrap_err();
    assert_eq!(
        fields(&problems),
        ["contacts[1].given_name", "contacts[1].emails[0].address"]
    );
    let mut fine = input;
    fine.contacts.truncate(1);
    let c = Customer::create(TenantId::new(), fine, UserId::new(), 1).unwrap();
    assert_eq!(c.contacts[0].given_name, "Ahmad");
    assert_eq!(
        c.version, 1,
        "a new customer is at version 1, contacts and all"
    );
}
