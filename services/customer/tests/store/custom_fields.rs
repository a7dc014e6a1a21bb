//! Custom fields in the stores: customers filtered by their values (every engine, MongoDB
//! included), and the definitions' store (SQLite and PostgreSQL, where it lives whatever holds
//! the customers): unique keys and the workspace's cap, with writes at once.

use std::sync::Arc;

use crm_core::testing::TestDb;
use crm_core::{ErrorKind, TenantId};
use crm_customer::domain::custom_field::{CustomField, FieldInput, FieldType};
use crm_customer::domain::ports::{CustomFieldStore, Filter, Order};
use crm_customer::domain::values::CustomValue;
use crm_customer::infrastructure::sql::SqlCustomFieldStore;

use super::{Store, business};

/// Lists `filter`'s names, A to Z, and checks the count agrees.
async fn names(s: &Store, tenant: TenantId, filter: Filter) -> Vec<String> {
    let found: Vec<String> = s
        .store
        .list(tenant, &filter, Order::Name, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    let count = s.store.count(tenant, &filter).await.unwrap();
    assert_eq!(count, found.len() as i64, "{filter:?}");
    found
}

fn on(fields: &[(&str, CustomValue)]) -> Filter {
    Filter {
        custom_fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        ..Filter::default()
    }
}

pub(super) async fn customers_are_filtered_by_custom_field_type_and_value(s: &Store) {
    let tenant = TenantId::new();
    let text = |t: &str| CustomValue::Text(t.into());
    let rows: [(&str, Vec<(&str, CustomValue)>); 5] = [
        (
            "Anggun Songket",
            vec![
                ("motif", text("parang")),
                ("size", CustomValue::Number(12.0)),
                ("vip", CustomValue::Bool(true)),
                ("since", CustomValue::Date("2024-02-29".into())),
            ],
        ),
        (
            "Bunga Tekstil",
            vec![
                ("motif", text("bunga tanjung")),
                ("size", CustomValue::Number(12.5)),
                ("vip", CustomValue::Bool(false)),
            ],
        ),
        // The same words as another type: a date where a text is asked for does not match.
        (
            "Cahaya Batik",
            vec![
                ("motif", CustomValue::Date("2024-02-29".into())),
                ("size", text("12")),
            ],
        ),
        ("Dahlia Kain", vec![("motif", text("Parang"))]),
        ("Embun Batik", vec![]),
    ];
    for (name, values) in rows {
        let mut c = business(tenant, name, &[]);
        c.custom_fields = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        s.store.insert(&c, Vec::new()).await.unwrap();
    }
    let mut other = business(TenantId::new(), "Other Tenant", &[]);
    other.custom_fields.insert("motif".into(), text("parang"));
    s.store.insert(&other, Vec::new()).await.unwrap();

    assert_eq!(
        names(s, tenant, on(&[("motif", text("parang"))])).await,
        ["Anggun Songket"],
        "a text matches whole, as written, in its tenant only"
    );
    assert_eq!(
        names(s, tenant, on(&[("size", CustomValue::Number(12.0))])).await,
        ["Anggun Songket"],
        "a number as a number, never the text 12"
    );
    assert_eq!(
        names(s, tenant, on(&[("size", CustomValue::Number(12.5))])).await,
        ["Bunga Tekstil"]
    );
    assert_eq!(
        names(s, tenant, on(&[("vip", CustomValue::Bool(false))])).await,
        ["Bunga Tekstil"]
    );
    assert_eq!(
        names(s, tenant, on(&[("vip", CustomValue::Bool(true))])).await,
        ["Anggun Songket"]
    );
    assert_eq!(
        names(
            s,
            tenant,
            on(&[("since", CustomValue::Date("2024-02-29".into()))])
        )
        .await,
        ["Anggun Songket"]
    );
    assert_eq!(
        names(
            s,
            tenant,
            on(&[("motif", CustomValue::Date("2024-02-29".into()))])
        )
        .await,
        ["Cahaya Batik"]
    );
    assert!(
        names(
            s,
            tenant,
            on(&[("motif", text("parang")), ("vip", CustomValue::Bool(false))])
        )
        .await
        .is_empty(),
        "every filter holds"
    );
    assert!(
        names(s, tenant, on(&[("colour", text("merah"))]))
            .await
            .is_empty()
    );
    let words = crm_customer::domain::values::search_words("batik");
    let found: Vec<String> = s
        .store
        .search(tenant, &words, &on(&[("size", text("12"))]), 0, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    assert_eq!(found, ["Cahaya Batik"], "search filters the same way");
}

/// The definitions' store beside its database.
struct Fields {
    store: Arc<SqlCustomFieldStore>,
    test: TestDb,
}

impl Fields {
    async fn drop_schema(self) {
        self.test.drop().await
    }
}

async fn sqlite() -> Fields {
    fields(TestDb::sqlite("customer", &crm_customer::MIGRATIONS, super::SHARED).await)
}

async fn postgres() -> Fields {
    fields(TestDb::postgres("customer", &crm_customer::MIGRATIONS, super::SHARED).await)
}

fn fields(test: TestDb) -> Fields {
    Fields {
        store: Arc::new(SqlCustomFieldStore::new(test.db.clone())),
        test,
    }
}

fn define(tenant: TenantId, key: &str, at: i64) -> CustomField {
    CustomField::create(
        tenant,
        FieldInput {
            key: key.into(),
            label: format!("Label of {key}"),
            field_type: Some(FieldType::Choice),
            options: vec!["parang".into(), "geometri".into()],
            required: false,
        },
        at,
    )
    .unwrap()
}

async fn definitions_are_kept_whole_in_order_and_in_their_tenant(f: &Fields) {
    let tenant = TenantId::new();
    let other = TenantId::new();
    f.store
        .insert_field(&define(tenant, "motif", 1), 50)
        .await
        .unwrap();
    f.store
        .insert_field(&define(tenant, "grade", 2), 50)
        .await
        .unwrap();
    f.store
        .insert_field(&define(other, "motif", 3), 50)
        .await
        .unwrap();
    let listed = f.store.list_fields(tenant).await.unwrap();
    assert_eq!(
        listed,
        [define(tenant, "motif", 1), define(tenant, "grade", 2)]
    );

    let taken = f
        .store
        .insert_field(&define(tenant, "motif", 4), 50)
        .await
        .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        taken.field_violations()[0].0,
        "custom_field.key",
        "{taken:?}"
    );

    let changed = f
        .store
        .update_field(
            tenant,
            "motif",
            Box::new(|field| {
                field.label = "Preferred motif".into();
                field.version += 1;
                Ok(true)
            }),
        )
        .await
        .unwrap();
    assert_eq!(changed.version, 2);
    assert_eq!(
        f.store.list_fields(tenant).await.unwrap()[0].label,
        "Preferred motif"
    );
    let refused = f
        .store
        .update_field(
            tenant,
            "motif",
            Box::new(|field| {
                field.label = "lost".into();
                Err(crm_core::Error::invalid_field("label", "no"))
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        f.store.list_fields(tenant).await.unwrap()[0].label,
        "Preferred motif",
        "a refused change saves nothing"
    );

    // Another tenant's field is not there to change or delete.
    let unseen = f
        .store
        .update_field(other, "grade", Box::new(|_| Ok(true)))
        .await
        .unwrap_err();
    assert_eq!(unseen.kind(), ErrorKind::NotFound);
    let unseen = f
        .store
        .delete_field(other, "grade", Box::new(|_| Ok(true)))
        .await
        .unwrap_err();
    assert_eq!(unseen.kind(), ErrorKind::NotFound);

    f.store
        .delete_field(tenant, "motif", Box::new(|_| Ok(true)))
        .await
        .unwrap();
    let keys: Vec<String> = f
        .store
        .list_fields(tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys, ["grade"]);
    assert_eq!(f.store.list_fields(other).await.unwrap().len(), 1);
}

async fn of_two_definitions_of_one_key_at_once_exactly_one_is_kept(f: &Fields) {
    for round in 0..10 {
        let tenant = TenantId::new();
        let key = format!("motif_{round}");
        let (first, second) = (define(tenant, &key, 1), define(tenant, &key, 2));
        let (a, b) = tokio::join!(
            f.store.insert_field(&first, 50),
            f.store.insert_field(&second, 50),
        );
        let refused: Vec<_> = [a, b].into_iter().filter_map(Result::err).collect();
        assert_eq!(refused.len(), 1, "round {round}: {refused:?}");
        assert_eq!(refused[0].kind(), ErrorKind::AlreadyExists);
        assert_eq!(f.store.list_fields(tenant).await.unwrap().len(), 1);
    }
}

async fn definitions_added_at_once_stop_at_the_cap(f: &Fields) {
    for round in 0..5 {
        let tenant = TenantId::new();
        let store = f.store.clone();
        let tries = (0..8).map(|i| {
            let store = store.clone();
            async move {
                store
                    .insert_field(&define(tenant, &format!("field_{i}"), i), 4)
                    .await
            }
        });
        let results = futures::future::join_all(tries).await;
        let kept = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(kept, 4, "round {round}: {results:?}");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(refused.kind(), ErrorKind::FailedPrecondition);
            assert_eq!(refused.reason(), Some("TOO_MANY_CUSTOM_FIELDS"));
        }
        assert_eq!(f.store.list_fields(tenant).await.unwrap().len(), 4);
    }
}

crm_core::on_every_engine! {
    engines {
        sqlite_engine = sqlite;
        postgres_engine = postgres, ignore "needs DATABASE_URL (PostgreSQL): run with --include-ignored";
    }
    flavor "multi_thread",
    each |f| (&f),
    tests {
    definitions_are_kept_whole_in_order_and_in_their_tenant,
    of_two_definitions_of_one_key_at_once_exactly_one_is_kept,
    definitions_added_at_once_stop_at_the_cap,
    }
}
