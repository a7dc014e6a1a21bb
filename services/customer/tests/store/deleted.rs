//! The way back from a delete, on every engine: deleted customers are listed most recently
//! deleted first, restored whole (search, email and tags again), never over an email taken
//! since, and purged for good with an event once their window has closed.

use crm_core::{ErrorKind, TenantId, UserId};
use crm_customer::domain::customer::Customer;
use crm_customer::domain::ports::{Cursor, Filter, Order};

use super::{Store, business, event, individual, names};

async fn delete_at(s: &Store, c: &Customer, at: i64) {
    s.store
        .delete(
            c.tenant_id,
            c.id,
            Box::new(move |c| {
                c.delete(at);
                Ok(vec![event(c)])
            }),
        )
        .await
        .unwrap();
}

async fn restore_at(s: &Store, c: &Customer, at: i64) -> crm_core::Result<Customer> {
    s.store
        .restore(
            c.tenant_id,
            c.id,
            Box::new(move |c| {
                c.restore(at).expect("within its window");
                Ok(vec![event(c)])
            }),
        )
        .await
}

fn ids(customers: &[Customer]) -> Vec<uuid::Uuid> {
    customers.iter().map(|c| c.id).collect()
}

pub async fn deleted_customers_are_listed_restored_whole_and_purged(s: &Store) {
    let tenant = TenantId::new();
    let other = TenantId::new();
    let owner = UserId::new();
    let mut siti = individual(tenant, "Siti", "Aminah", "siti@kilang.example");
    siti.owner_id = Some(owner);
    let seri = business(tenant, "Kilang Batik Seri", &["wholesale"]);
    let live = individual(tenant, "Ahmad", "Hidup", "ahmad@kilang.example");
    let elsewhere = individual(other, "Siti", "Lain", "siti@kilang.example");
    for c in [&siti, &seri, &live, &elsewhere] {
        s.store.insert(c, Vec::new()).await.unwrap();
    }
    delete_at(s, &siti, 2_000).await;
    delete_at(s, &elsewhere, 2_500).await;
    delete_at(s, &seri, 3_000).await;

    let deleted = s.store.list_deleted(tenant, None, None, 10).await.unwrap();
    assert_eq!(
        ids(&deleted),
        [seri.id, siti.id],
        "most recently deleted first"
    );
    assert_eq!(deleted[0].deleted_at, Some(3_000));
    assert_eq!(deleted[0].tags, ["wholesale"], "read back whole");
    let page = s.store.list_deleted(tenant, None, None, 1).await.unwrap();
    assert_eq!(ids(&page), [seri.id]);
    let after = Cursor {
        key: "3000".into(),
        id: seri.id,
    };
    let rest = s
        .store
        .list_deleted(tenant, None, Some(&after), 1)
        .await
        .unwrap();
    assert_eq!(ids(&rest), [siti.id], "the next page");
    let owned = s
        .store
        .list_deleted(tenant, Some(owner), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&owned), [siti.id], "only the owner's");
    let theirs = s.store.list_deleted(other, None, None, 10).await.unwrap();
    assert_eq!(ids(&theirs), [elsewhere.id], "only the tenant's");

    // Restored: every read finds it again, with its email and its tags.
    let back = restore_at(s, &siti, 4_000).await.unwrap();
    assert_eq!((back.deleted_at, back.updated_at), (None, 4_000));
    assert_eq!(s.store.get(tenant, siti.id).await.unwrap(), Some(back));
    assert_eq!(
        s.store
            .by_email(tenant, "siti@kilang.example")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(siti.id)
    );
    assert_eq!(
        names(s.store.as_ref(), tenant, "sit").await,
        ["Siti Aminah"]
    );
    assert_eq!(
        ids(&s.store.list_deleted(tenant, None, None, 10).await.unwrap()),
        [seri.id]
    );
    let tagged = Filter {
        tags: vec!["wholesale".into()],
        ..Filter::default()
    };
    assert!(
        s.store
            .list(tenant, &tagged, Order::Created, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "a deleted customer's tags find nothing"
    );
    // Only a deleted customer of the tenant is restored.
    for (tenant, c) in [(tenant, &siti), (tenant, &live), (tenant, &elsewhere)] {
        let err = s
            .store
            .restore(tenant, c.id, Box::new(|_| Ok(Vec::new())))
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::NotFound,
            "{}: {err:?}",
            c.display_name
        );
    }

    // The purge removes what was deleted before its time, of every tenant, with an event each,
    // and nothing else.
    let events = s.outbox_count().await;
    let purged = |c: &Customer| event(c);
    assert_eq!(s.store.purge(2_999, 10, &purged).await.unwrap(), 1);
    assert_eq!(s.outbox_count().await, events + 1);
    assert!(
        s.store
            .list_deleted(other, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.store.purge(10_000, 10, &purged).await.unwrap(), 1);
    assert_eq!(s.outbox_count().await, events + 2);
    assert!(
        s.store
            .list_deleted(tenant, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let err = restore_at(s, &seri, 5_000).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "purged: {err:?}");
    assert_eq!(s.store.purge(10_000, 10, &purged).await.unwrap(), 0);
    for c in [&siti, &live] {
        assert!(
            s.store.get(tenant, c.id).await.unwrap().is_some(),
            "live ones stay"
        );
    }
}

pub async fn a_restore_whose_email_was_taken_since_changes_nothing(s: &Store) {
    let tenant = TenantId::new();
    let first = individual(tenant, "Siti", "Aminah", "siti@kilang.example");
    s.store.insert(&first, Vec::new()).await.unwrap();
    delete_at(s, &first, 2_000).await;
    let second = individual(tenant, "Siti", "Baru", "siti@kilang.example");
    s.store.insert(&second, Vec::new()).await.unwrap();
    let before = s.store.list_deleted(tenant, None, None, 10).await.unwrap();
    let events = s.outbox_count().await;

    let err = restore_at(s, &first, 3_000).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err:?}");
    assert_eq!(err.field_violations()[0].0, "customer.email");
    assert_eq!(
        err.metadata("customer_id"),
        Some(second.id.to_string().as_str())
    );
    assert_eq!(
        s.store.list_deleted(tenant, None, None, 10).await.unwrap(),
        before
    );
    assert_eq!(s.outbox_count().await, events, "no event");
    assert_eq!(s.store.get(tenant, first.id).await.unwrap(), None);
    assert_eq!(
        names(s.store.as_ref(), tenant, "aminah").await,
        Vec::<String>::new()
    );
}

pub async fn of_two_concurrent_restores_with_one_email_exactly_one_wins(s: &Store) {
    for round in 0..8 {
        let tenant = TenantId::new();
        let email = format!("race{round}@kilang.example");
        let mut deleted = Vec::new();
        for i in 0..2 {
            let c = individual(tenant, &format!("Racer {i}"), "", &email);
            s.store.insert(&c, Vec::new()).await.unwrap();
            delete_at(s, &c, 2_000 + i).await;
            deleted.push(c);
        }
        let tasks: Vec<_> = deleted
            .into_iter()
            .map(|c| {
                let store = s.store.clone();
                tokio::spawn(async move {
                    store
                        .restore(
                            c.tenant_id,
                            c.id,
                            Box::new(|c| {
                                c.restore(3_000).unwrap();
                                Ok(Vec::new())
                            }),
                        )
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        let lost = outcomes.into_iter().find_map(Result::err).unwrap();
        assert_eq!(
            lost.kind(),
            ErrorKind::AlreadyExists,
            "round {round}: {lost:?}"
        );
        assert_eq!(
            s.store
                .list_deleted(tenant, None, None, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
