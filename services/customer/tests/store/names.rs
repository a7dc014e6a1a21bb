//! Lists by name in the order people read names ("Borong Kain 2" before "Borong Kain 10"), on
//! every engine, paged by the key the use case puts in its cursor; and keys written by an
//! earlier version (the name lower-cased) rewritten once when the store starts.

use crm_core::TenantId;
use crm_core::text::sort_key;
use crm_customer::domain::customer::Customer;
use crm_customer::domain::ports::{Cursor, Filter, Order};

use super::{Store, business};

const NAMES: [&str; 7] = [
    "Borong Kain 10",
    "Borong Kain 2",
    "Anggun 1",
    "Borong Kain 100",
    "Borong Kain 9",
    "Borong Kain",
    "borong kain 3",
];

const READ_ORDER: [&str; 7] = [
    "Anggun 1",
    "Borong Kain",
    "Borong Kain 2",
    "borong kain 3",
    "Borong Kain 9",
    "Borong Kain 10",
    "Borong Kain 100",
];

async fn insert_all(s: &Store, tenant: TenantId) {
    for name in NAMES {
        s.store
            .insert(&business(tenant, name, &[]), Vec::new())
            .await
            .unwrap();
    }
}

/// Every page of a list by `order`, `size` at a time, as ListCustomers pages it.
async fn paged(s: &Store, tenant: TenantId, order: Order, size: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page: Vec<Customer> = s
            .store
            .list(tenant, &Filter::default(), order, after.as_ref(), size)
            .await
            .unwrap();
        out.extend(page.iter().map(|c| c.display_name.clone()));
        match page.last() {
            Some(last) if page.len() as u32 == size => {
                after = Some(Cursor {
                    key: sort_key(&last.display_name),
                    id: last.id,
                })
            }
            _ => return out,
        }
    }
}

pub async fn names_are_listed_as_people_read_them(s: &Store) {
    let tenant = TenantId::new();
    insert_all(s, tenant).await;
    assert_eq!(paged(s, tenant, Order::Name, 50).await, READ_ORDER);
    assert_eq!(paged(s, tenant, Order::Name, 2).await, READ_ORDER);
    let mut backwards = READ_ORDER;
    backwards.reverse();
    assert_eq!(paged(s, tenant, Order::NameDesc, 3).await, backwards);
}

/// Sets every stored key back to what the version before natural order wrote, and the state
/// to that version; the list then shows the old order (which proves the rewrite is needed).
pub async fn sql_keys_of_an_earlier_version_are_rewritten_at_start(s: &Store) {
    let tenant = TenantId::new();
    let other = TenantId::new();
    insert_all(s, tenant).await;
    s.store
        .insert(&business(other, "Kedai 10", &[]), Vec::new())
        .await
        .unwrap();
    s.store
        .insert(&business(other, "Kedai 9", &[]), Vec::new())
        .await
        .unwrap();
    // Irrefutable without the `mongodb` feature, which adds the other variant.
    #[allow(irrefutable_let_patterns)]
    let super::Backend::Sql(test) = &s.backend else {
        unreachable!("SQL stores only")
    };
    let db = &test.db;
    for statement in [
        "update customers set sort_name = lower(display_name)",
        "update customer_sort_state set version = 1",
    ] {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
    let old = paged(s, tenant, Order::Name, 50).await;
    assert_eq!(
        old[..3],
        ["Anggun 1", "Borong Kain", "Borong Kain 10"],
        "the old keys put 10 before 2"
    );

    crm_customer::infrastructure::sql::rekey_names(db)
        .await
        .unwrap();
    assert_eq!(paged(s, tenant, Order::Name, 2).await, READ_ORDER);
    assert_eq!(
        paged(s, other, Order::Name, 1).await,
        ["Kedai 9", "Kedai 10"]
    );
    let version: i64 =
        sqlx::query_scalar("select cast(version as bigint) from customer_sort_state")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(version, 2);
    // Done once: a later start leaves the keys alone.
    sqlx::query("update customers set sort_name = 'a' where display_name = 'Kedai 10'")
        .execute(db.pool())
        .await
        .unwrap();
    crm_customer::infrastructure::sql::rekey_names(db)
        .await
        .unwrap();
    assert_eq!(
        paged(s, other, Order::Name, 50).await,
        ["Kedai 10", "Kedai 9"]
    );
}

/// As [`sql_keys_of_an_earlier_version_are_rewritten_at_start`], on MongoDB: the documents'
/// keys set back and the state removed (as a store of the earlier version left it), then the
/// store connects again.
#[cfg(feature = "mongodb")]
pub async fn mongodb_keys_of_an_earlier_version_are_rewritten_at_connect(s: &Store) {
    use mongodb::bson::{Document, doc};
    let tenant = TenantId::new();
    insert_all(s, tenant).await;
    let super::Backend::Mongo(db) = &s.backend else {
        unreachable!("MongoDB only")
    };
    let customers = db.collection::<Document>(crm_customer::infrastructure::mongo::CUSTOMERS);
    for name in NAMES {
        customers
            .update_one(
                doc! { "customer.display_name": name },
                doc! { "$set": { "sort_name": name.to_lowercase() } },
            )
            .await
            .unwrap();
    }
    db.collection::<Document>("customer_store_state")
        .drop()
        .await
        .unwrap();
    let old = paged(s, tenant, Order::Name, 50).await;
    assert_eq!(old[2], "Borong Kain 10", "the old keys put 10 before 2");

    let url = crm_core::testing::backend("MONGODB_URL");
    let again = crm_customer::infrastructure::mongo::MongoCustomerStore::connect(&url, db.name())
        .await
        .unwrap();
    let s = Store {
        store: std::sync::Arc::new(again),
        backend: super::Backend::Mongo(db.clone()),
    };
    assert_eq!(paged(&s, tenant, Order::Name, 2).await, READ_ORDER);
}
