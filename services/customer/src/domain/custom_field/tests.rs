//! The rules of a custom field's definition, and what it asks of values and filters.

use super::*;

fn tenant() -> TenantId {
    uuid::Uuid::now_v7().into()
}

fn choice() -> CustomField {
    CustomField::create(
        tenant(),
        FieldInput {
            key: "motif".into(),
            label: " Preferred motif ".into(),
            field_type: Some(FieldType::Choice),
            options: vec!["parang".into(), "bunga tanjung".into()],
            required: true,
        },
        5,
    )
    .unwrap()
}

#[test]
fn a_definition_is_checked_whole() {
    let field = choice();
    assert_eq!(field.label, "Preferred motif");
    assert_eq!((field.version, field.created_at), (1, 5));
    let problems = CustomField::create(
        tenant(),
        FieldInput {
            key: "Motif".into(),
            label: "".into(),
            field_type: Some(FieldType::Number),
            options: vec!["x".into()],
            required: false,
        },
        5,
    )
    .unwrap_err();
    let paths: Vec<_> = problems.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["key", "label", "options"]);
    let twice = CustomField::create(
        tenant(),
        FieldInput {
            key: "size".into(),
            label: "Size".into(),
            field_type: Some(FieldType::Choice),
            options: vec!["S".into(), " S".into()],
            required: false,
        },
        5,
    )
    .unwrap_err();
    assert_eq!(twice[0].0, "options");
    let untyped = CustomField::create(
        tenant(),
        FieldInput {
            key: "size".into(),
            label: "Size".into(),
            ..FieldInput::default()
        },
        5,
    )
    .unwrap_err();
    assert_eq!(untyped[0].0, "type");
}

#[test]
fn an_update_changes_what_its_mask_names_and_never_the_key_or_type() {
    let mut field = choice();
    let changed = field
        .apply(
            FieldInput {
                label: "Motif".into(),
                required: false,
                ..FieldInput::default()
            },
            &["label".into(), "required".into()],
            9,
        )
        .unwrap();
    assert!(changed);
    assert_eq!((field.label.as_str(), field.required), ("Motif", false));
    assert_eq!((field.version, field.updated_at), (2, 9));
    let same = field
        .apply(
            FieldInput {
                label: "Motif".into(),
                ..FieldInput::default()
            },
            &["label".into()],
            10,
        )
        .unwrap();
    assert!(!same, "nothing new: no new version");
    assert_eq!(field.version, 2);
    let refused = field
        .apply(FieldInput::default(), &["type".into()], 11)
        .unwrap_err();
    assert_eq!(refused[0].0, "update_mask");
}

#[test]
fn values_hold_their_fields_types() {
    let motif = choice();
    let mut since = motif.clone();
    since.key = "since".into();
    since.label = "Customer since".into();
    since.field_type = FieldType::Date;
    since.options.clear();
    since.required = false;
    let mut note = since.clone();
    note.key = "note".into();
    note.field_type = FieldType::Text;
    let fields = [motif, since, note];

    let mut values = BTreeMap::from([
        ("motif".to_owned(), CustomValue::Text("parang".into())),
        ("note".to_owned(), CustomValue::Date("2024-01-02".into())),
        ("free".to_owned(), CustomValue::Number(3.0)),
    ]);
    assert!(conform(&fields, &mut values, true).is_empty());
    assert_eq!(
        values["note"],
        CustomValue::Text("2024-01-02".into()),
        "a text field keeps a date-shaped text as text"
    );

    let mut wrong = BTreeMap::from([
        ("motif".to_owned(), CustomValue::Text("songket".into())),
        ("since".to_owned(), CustomValue::Text("soon".into())),
    ]);
    let problems = conform(&fields, &mut wrong, true);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].1.contains("parang, bunga tanjung"));

    let mut missing = BTreeMap::new();
    let problems = conform(&fields, &mut missing, true);
    assert_eq!(
        problems,
        [(
            "custom_fields.motif".into(),
            "Preferred motif is required".into()
        )]
    );
    assert!(conform(&fields, &mut missing, false).is_empty());
}

#[test]
fn filters_are_read_as_their_fields_type() {
    let mut size = choice();
    size.key = "size".into();
    size.field_type = FieldType::Number;
    let fields = [choice(), size];
    assert_eq!(
        filter_value(&fields, "motif", "bunga tanjung").unwrap(),
        ("motif".into(), CustomValue::Text("bunga tanjung".into()))
    );
    assert_eq!(
        filter_value(&fields, "size", "12").unwrap().1,
        CustomValue::Number(12.0)
    );
    assert!(filter_value(&fields, "size", "many").is_err());
    assert!(filter_value(&fields, "motif", "songket").is_err());
    assert!(filter_value(&fields, "colour", "red").is_err());
}
