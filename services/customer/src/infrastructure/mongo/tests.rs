use std::collections::HashSet;

use mongodb::bson;

use super::documents::escape;
use super::*;
use crate::domain::customer::{
    Business, ContactInput, CustomerInput, CustomerType, Individual, Phone, Status,
};
use crate::domain::values::CustomValue;
use crm_core::UserId;

fn kilang(tenant: TenantId) -> Customer {
    let input = CustomerInput {
        customer_type: Some(CustomerType::Business),
        business: Business {
            legal_name: "Kilang Desa Murni Batik".into(),
            ..Business::default()
        },
        email: "Sales@Kilang.Example".into(),
        tags: vec!["wholesale".into(), "batik".into()],
        status: Some(Status::Active),
        ..CustomerInput::default()
    };
    let mut c = Customer::create(tenant, input, UserId::new(), 1_000).unwrap();
    c.phones.push(Phone {
        number: "+60123456789".into(),
        ..Phone::default()
    });
    for (key, value) in [
        ("since", CustomValue::Date("2019-05-01".into())),
        ("credit", CustomValue::Number(2500.5)),
        ("vip", CustomValue::Bool(true)),
        ("region", CustomValue::Text("Kelantan".into())),
    ] {
        c.custom_fields.insert(key.into(), value);
    }
    c.add_contact(
        ContactInput {
            given_name: "Ahmad".into(),
            family_name: "Fauzi".into(),
            ..ContactInput::default()
        },
        1_000,
    )
    .unwrap();
    c
}

#[test]
fn a_customer_survives_its_document_as_bson_bytes() {
    // What MongoDB stores and sends back is the encoded document.
    let c = kilang(TenantId::new());
    let d = document(&c).unwrap();
    let bytes = bson::to_vec(&d).unwrap();
    let back: Document = bson::from_slice(&bytes).unwrap();
    assert_eq!(customer_from(&back).unwrap(), c);
    assert_eq!(d.get_str("_id").unwrap(), c.id.to_string());
    assert_eq!(d.get_str("tenant_id").unwrap(), c.tenant_id.to_string());
    assert_eq!(d.get_str("email_key").unwrap(), "sales@kilang.example");
    assert_eq!(d.get_str("sort_name").unwrap(), "kilang desa murni batik");
    assert_eq!(d.get_i64("version").unwrap(), c.version);
    assert!(matches!(d.get("deleted_at"), Some(Bson::Null)));
}

#[test]
fn the_search_words_hold_names_contacts_tags_emails_and_phone_digits_once_each() {
    let d = document(&kilang(TenantId::new())).unwrap();
    let words: Vec<&str> = d
        .get_array("words")
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for w in [
        "kilang",
        "batik",
        "fauzi",
        "wholesale",
        "sales",
        "example",
        "60123456789",
    ] {
        assert!(words.contains(&w), "{w} missing from {words:?}");
    }
    let unique: HashSet<&&str> = words.iter().collect();
    assert_eq!(unique.len(), words.len(), "duplicates in {words:?}");
}

#[test]
fn a_customer_without_email_has_no_email_key_and_a_deleted_one_loses_it() {
    let mut c = kilang(TenantId::new());
    c.email = None;
    assert!(document(&c).unwrap().get("email_key").is_none());
    let mut gone = kilang(TenantId::new());
    gone.delete(2_000);
    let stored = document(&gone).unwrap();
    assert!(stored.get("email_key").is_none(), "its email is free");
    assert_eq!(stored.get_array("words").unwrap().len(), 0, "out of search");
    assert_eq!(stored.get_i64("deleted_at"), Ok(2_000));
    assert_eq!(customer_from(&stored).unwrap(), gone, "read back whole");
    // A live one keeps its key and words, and no deletion time.
    let live = document(&kilang(TenantId::new())).unwrap();
    assert!(live.get_str("email_key").is_ok());
    assert!(!live.get_array("words").unwrap().is_empty());
    assert_eq!(live.get("deleted_at"), Some(&Bson::Null));
}

#[test]
fn every_filter_is_scoped_to_the_tenant_and_hides_the_deleted() {
    let tenant = TenantId::new();
    let owner = UserId::new();
    let d = filter_document(
        tenant,
        &Filter {
            customer_type: Some(CustomerType::Individual),
            status: Some(Status::Active),
            tags: vec!["vip".into(), "batik".into()],
            owner_id: Some(owner),
            custom_fields: vec![
                ("size".into(), CustomValue::Number(12.0)),
                ("motif".into(), CustomValue::Text("parang".into())),
            ],
        },
    );
    assert_eq!(
        d,
        doc! {
            "tenant_id": tenant.to_string(),
            "deleted_at": Bson::Null,
            "customer_type": "individual",
            "status": "active",
            "owner_id": owner.to_string(),
            "tags": { "$all": ["vip", "batik"] },
            "customer.custom_fields.size.type": "number",
            "customer.custom_fields.size.value": 12.0,
            "customer.custom_fields.motif.type": "text",
            "customer.custom_fields.motif.value": "parang",
        }
    );
    let search = search_filter(tenant, &["bat".into(), "kil".into()], &Filter::default());
    assert_eq!(search.get_str("tenant_id").unwrap(), tenant.to_string());
    assert_eq!(
        search.get_array("$and").unwrap(),
        &vec![
            Bson::Document(doc! { "words": "bat" }),
            Bson::Document(doc! { "words": { "$regex": "^kil" } }),
        ],
        "the last word a prefix, the others whole"
    );
}

#[test]
fn lists_page_after_the_cursor_in_their_order() {
    let tenant = TenantId::new();
    let id = Uuid::now_v7();
    let cursor = Cursor {
        key: "siti aminah".into(),
        id,
    };
    let (f, sort) = list_query(tenant, &Filter::default(), Order::Created, Some(&cursor));
    assert_eq!(
        f.get_document("_id").unwrap(),
        &doc! { "$gt": id.to_string() }
    );
    assert_eq!(sort, doc! { "_id": 1 });
    let (f, sort) = list_query(
        tenant,
        &Filter::default(),
        Order::CreatedDesc,
        Some(&cursor),
    );
    assert_eq!(
        f.get_document("_id").unwrap(),
        &doc! { "$lt": id.to_string() }
    );
    assert_eq!(sort, doc! { "_id": -1 });
    let (f, sort) = list_query(tenant, &Filter::default(), Order::Name, Some(&cursor));
    assert_eq!(
        f.get_array("$or").unwrap(),
        &vec![
            Bson::Document(doc! { "sort_name": { "$gt": "siti aminah" } }),
            Bson::Document(doc! { "sort_name": "siti aminah", "_id": { "$gt": id.to_string() } }),
        ]
    );
    assert_eq!(sort, doc! { "sort_name": 1, "_id": 1 });
    let (f, _) = list_query(tenant, &Filter::default(), Order::Name, None);
    assert!(
        f.get("$or").is_none() && f.get("_id").is_none(),
        "the first page"
    );
}

#[test]
fn a_query_word_is_matched_literally() {
    assert_eq!(escape("batik"), "batik");
    assert_eq!(escape("a.b*c"), "a\\.b\\*c");
    assert_eq!(escape("kopi"), "kopi");
}

#[test]
fn whole_words_rank_above_prefixes_and_ties_keep_the_oldest_first() {
    let tenant = TenantId::new();
    let named = |name: &str| {
        let input = CustomerInput {
            customer_type: Some(CustomerType::Individual),
            individual: Individual {
                given_name: name.into(),
                family_name: String::new(),
            },
            ..CustomerInput::default()
        };
        Customer::create(tenant, input, UserId::new(), 1_000).unwrap()
    };
    let (batiks, bat, batik) = (named("Batiks"), named("Bat"), named("Batik"));
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let ranked = rank(
        &words(&["bat"]),
        vec![
            (batik.clone(), words(&["batik"])),
            (bat.clone(), words(&["bat"])),
            (batiks.clone(), words(&["batiks"])),
        ],
    );
    let names: Vec<&str> = ranked.iter().map(|c| c.display_name.as_str()).collect();
    assert_eq!(names, ["Bat", "Batiks", "Batik"]);
}

#[test]
fn the_email_index_is_unique_per_tenant_and_holds_only_documents_with_a_key() {
    let all = indexes();
    let email = all
        .iter()
        .find(|i| {
            i.options.as_ref().and_then(|o| o.name.as_deref()) == Some("customers_tenant_email_key")
        })
        .unwrap();
    assert_eq!(email.keys, doc! { "tenant_id": 1, "email_key": 1 });
    let options = email.options.as_ref().unwrap();
    assert_eq!(options.unique, Some(true));
    assert_eq!(
        options.partial_filter_expression,
        Some(doc! { "email_key": { "$type": "string" } })
    );
    // Every other index leads with the tenant, as every read filters on it.
    assert!(
        all.iter()
            .all(|i| i.keys.keys().next().map(String::as_str) == Some("tenant_id"))
    );
    assert!(
        all.iter()
            .any(|i| i.keys == doc! { "tenant_id": 1, "words": 1 })
    );
}
