//! Custom fields in the use cases: who defines them, what they ask of customers' values on
//! every way in (create, update, import), and how a list filters on them.

use crm_core::ErrorKind;
use crm_customer::application::bulk::{Duplicates, ImportOptions};
use crm_customer::domain::custom_field::{FieldInput, FieldType};
use crm_customer::domain::customer::CustomerInput;
use crm_customer::domain::ports::{Filter, Order};
use crm_customer::domain::values::{CustomValue, RawValue};

use super::{World, field, manager, person, rep, user, world};

fn owner(w: &World) -> crm_customer::application::Caller {
    user(
        w,
        &[
            "customers.read",
            "customers.write",
            "customers.import",
            "custom_fields.manage",
        ],
    )
}

fn motif() -> FieldInput {
    FieldInput {
        key: "motif".into(),
        label: "Preferred motif".into(),
        field_type: Some(FieldType::Choice),
        options: vec!["parang".into(), "bunga tanjung".into()],
        required: true,
    }
}

fn size() -> FieldInput {
    FieldInput {
        key: "size".into(),
        label: "Order size".into(),
        field_type: Some(FieldType::Number),
        ..FieldInput::default()
    }
}

fn with(mut input: CustomerInput, values: &[(&str, RawValue)]) -> CustomerInput {
    for (k, v) in values {
        input.custom_fields.insert((*k).to_owned(), v.clone());
    }
    input
}

fn text(s: &str) -> RawValue {
    RawValue::Text(s.into())
}

#[tokio::test]
async fn only_who_manages_them_defines_custom_fields_and_every_reader_reads_them() {
    let w = world().await;
    let (boss, siti, owner) = (manager(&w), rep(&w), owner(&w));
    for caller in [&boss, &siti] {
        let err = w
            .customers
            .create_custom_field(caller, motif())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    }
    let defined = w
        .customers
        .create_custom_field(&owner, motif())
        .await
        .unwrap();
    assert_eq!(defined.options, ["parang", "bunga tanjung"]);
    for caller in [&boss, &siti] {
        let read = w.customers.custom_fields(caller).await.unwrap();
        assert_eq!(read, std::slice::from_ref(&defined));
        let err = w
            .customers
            .delete_custom_field(caller, "motif", "")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    }
    let nobody = user(&w, &[]);
    let err = w.customers.custom_fields(&nobody).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);

    let err = w
        .customers
        .update_custom_field(&owner, "motif", "7", motif(), vec!["label".into()])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Aborted, "a stale etag: {err:?}");
    let renamed = w
        .customers
        .update_custom_field(
            &owner,
            "motif",
            "1",
            FieldInput {
                label: "Motif".into(),
                options: vec!["parang".into(), "geometri".into()],
                ..FieldInput::default()
            },
            vec!["label".into(), "options".into()],
        )
        .await
        .unwrap();
    assert_eq!(renamed.label, "Motif");
    assert_eq!(renamed.options, ["parang", "geometri"]);
    assert!(renamed.required, "what the mask leaves out stays as it was");
}

#[tokio::test]
async fn values_hold_their_definitions_on_create_update_and_import() {
    let w = world().await;
    let owner = owner(&w);
    w.customers
        .create_custom_field(&owner, motif())
        .await
        .unwrap();
    w.customers
        .create_custom_field(&owner, size())
        .await
        .unwrap();

    let err = w
        .customers
        .create(&owner, person("Aminah", "", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(field(&err), ["customer.custom_fields.motif"], "required");
    let err = w
        .customers
        .create(
            &owner,
            with(
                person("Aminah", "", None),
                &[("motif", text("songket")), ("size", text("many"))],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(
        field(&err),
        [
            "customer.custom_fields.motif",
            "customer.custom_fields.size"
        ]
    );
    let aminah = w
        .customers
        .create(
            &owner,
            with(
                person("Aminah", "aminah@kilang.example", None),
                &[
                    ("motif", text("parang")),
                    ("size", RawValue::Number(12.0)),
                    ("legacy", RawValue::Bool(true)),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        aminah.custom_fields["legacy"],
        CustomValue::Bool(true),
        "undefined keys stay"
    );

    // A lead converted by sales (a service) becomes a customer without the required field; a
    // value it sends still holds its type.
    let mut sales = owner.clone();
    sales.principal.service = Some("sales".into());
    let converted = w
        .customers
        .create(&sales, person("Che Siti", "", None))
        .await
        .unwrap();
    assert!(converted.custom_fields.is_empty());
    let err = w
        .customers
        .create(
            &sales,
            with(person("Che Siti", "", None), &[("size", text("many"))]),
        )
        .await
        .unwrap_err();
    assert_eq!(field(&err), ["customer.custom_fields.size"]);

    // Changing other fields never asks for the custom ones; changing them checks them all.
    let err = w
        .customers
        .update(
            &owner,
            aminah.id,
            "",
            with(CustomerInput::default(), &[("size", RawValue::Number(3.0))]),
            vec!["custom_fields".into()],
        )
        .await
        .unwrap_err();
    assert_eq!(field(&err), ["customer.custom_fields.motif"]);
    let stored = w.customers.get(&owner, aminah.id).await.unwrap();
    assert_eq!(stored.custom_fields, aminah.custom_fields, "nothing lost");
    let changed = w
        .customers
        .update(
            &owner,
            aminah.id,
            "",
            CustomerInput {
                notes: "Suka warna biru".into(),
                ..CustomerInput::default()
            },
            vec!["notes".into()],
        )
        .await
        .unwrap();
    assert_eq!(changed.notes, "Suka warna biru");

    // An import rejects the rows that break a definition, and imports the rest.
    let mut import = w
        .customers
        .importer(
            &owner,
            ImportOptions {
                duplicates: Duplicates::Skip,
                dry_run: false,
            },
        )
        .unwrap();
    let rows = [
        with(
            person("Badriah", "", None),
            &[("motif", text("bunga tanjung"))],
        ),
        with(person("Che", "", None), &[("motif", text("songket"))]),
        person("Dahlia", "", None),
    ];
    for (i, row) in rows.into_iter().enumerate() {
        import.row(i as i64 + 1, Ok(row), Vec::new()).await.unwrap();
    }
    let report = import.finish().await.unwrap();
    assert_eq!((report.created, report.failed), (1, 2), "{report:?}");
    let rejected: Vec<(i64, &str)> = report
        .errors
        .iter()
        .map(|e| (e.row, e.violations[0].0.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "customer.custom_fields.motif"),
            (3, "customer.custom_fields.motif")
        ]
    );
}

#[tokio::test]
async fn a_list_filters_on_a_custom_field_read_as_its_type() {
    let w = world().await;
    let owner = owner(&w);
    w.customers
        .create_custom_field(&owner, motif())
        .await
        .unwrap();
    w.customers
        .create_custom_field(&owner, size())
        .await
        .unwrap();
    for (name, motif, size) in [
        ("Aminah", "parang", 12.0),
        ("Badriah", "bunga tanjung", 12.5),
    ] {
        w.customers
            .create(
                &owner,
                with(
                    person(name, "", None),
                    &[("motif", text(motif)), ("size", RawValue::Number(size))],
                ),
            )
            .await
            .unwrap();
    }
    let list = |pairs: &[(&str, &str)]| {
        let filter = Filter {
            custom_fields: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), CustomValue::Text((*v).to_owned())))
                .collect(),
            ..Filter::default()
        };
        let (customers, owner) = (w.customers.clone(), owner.clone());
        async move {
            customers
                .list(&owner, filter, Order::Name, None, 50)
                .await
                .map(|page| {
                    (
                        page.total,
                        page.customers
                            .into_iter()
                            .map(|c| c.individual.given_name)
                            .collect::<Vec<_>>(),
                    )
                })
        }
    };
    assert_eq!(
        list(&[("size", "12")]).await.unwrap(),
        (Some(1), vec!["Aminah".to_owned()]),
        "12 read as a number"
    );
    assert_eq!(
        list(&[("motif", "bunga tanjung")]).await.unwrap().1,
        ["Badriah"]
    );
    for bad in [
        &[("size", "many")][..],
        &[("colour", "merah")],
        &[("motif", "songket")],
    ] {
        let err = list(bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        assert_eq!(field(&err), ["custom_fields"]);
    }
}
