use super::*;

#[test]
fn cells_a_spreadsheet_would_run_are_written_as_text_and_read_back_unchanged() {
    for formula in [
        "=HYPERLINK(\"http://evil.example\")",
        "+60123456789",
        "-5",
        "@SUM(A1)",
        "\tx",
        "\rx",
    ] {
        let written = neutralised(formula);
        assert!(written.starts_with('\''), "{written:?}");
        assert_eq!(restored(&written), formula);
    }
    assert_eq!(neutralised("Kedai Batik"), "Kedai Batik");
    assert_eq!(restored("'quoted, not a formula"), "'quoted, not a formula");
    // An exported row imports back as it was.
    let mut record = Map::new();
    record.insert("display_name".into(), Value::String("=1+1".into()));
    record.insert(
        "phones".into(),
        Value::Array(vec![Value::String("+60123456789".into())]),
    );
    let cells = csv_cells(&record);
    let headers: Vec<String> = COLUMNS.iter().map(|(c, _)| c.to_string()).collect();
    let back = csv_record(&headers, &csv::StringRecord::from(cells));
    assert_eq!(back["display_name"], Value::String("=1+1".into()));
    assert_eq!(back["phones"], Value::String("+60123456789".into()));
}

#[test]
fn headers_are_canonical_or_refused_with_the_list() {
    assert_eq!(canonical(" Company ").unwrap(), "legal_name");
    assert_eq!(canonical("custom.since").unwrap(), "custom.since");
    let err = canonical("fax").unwrap_err();
    assert!(
        err.contains("unknown column \"fax\"") && err.contains("given_name"),
        "{err}"
    );
    assert!(canonical("custom.").is_err());
}

#[test]
fn an_exported_record_imports_back_as_the_same_customer() {
    let headers: Vec<String> = [
        "company",
        "email",
        "phone",
        "tags",
        "city",
        "country",
        "custom.since",
        "custom.vip",
    ]
    .iter()
    .map(|h| canonical(h).unwrap())
    .collect();
    let row = csv::StringRecord::from(vec![
        "Kedai Batik",
        "a@kedai.example",
        "+60123456789;+6561234567",
        "batik; vip",
        "Ipoh",
        "MY",
        "2024-01-31",
        "true",
    ]);
    let c = customer(&csv_record(&headers, &row));
    assert_eq!(c.r#type, pb::CustomerType::Business as i32);
    assert_eq!(c.phones.len(), 2);
    assert_eq!(c.tags, ["batik", "vip"]);
    assert_eq!(c.addresses[0].locality, "Ipoh");
    assert_eq!(value_json(&c.custom_fields["vip"]), Value::Bool(true));

    // As the server would give it back, through a CSV row and in again.
    let served = pb::Customer {
        business: Some(pb::BusinessDetails {
            legal_name: "Kedai Batik".into(),
            ..Default::default()
        }),
        contacts: vec![pb::Contact {
            given_name: "Nur".into(),
            ..Default::default()
        }],
        ..c.clone()
    };
    let cells = csv_cells(&record(&served));
    let all: Vec<String> = COLUMNS.iter().map(|(c, _)| c.to_string()).collect();
    let again = customer(&csv_record(&all, &csv::StringRecord::from(cells)));
    assert_eq!(again.business.unwrap().legal_name, "Kedai Batik");
    assert_eq!(again.phones, c.phones);
    assert_eq!(again.tags, c.tags);
    assert_eq!(again.custom_fields, c.custom_fields);
    assert_eq!(again.contacts[0].given_name, "Nur");
    assert_eq!(again.addresses[0].region_code, "MY");
}
