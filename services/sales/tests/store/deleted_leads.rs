//! Deleted leads in the store (run by `store.rs` on every engine): a deleted lead leaves every
//! read, is listed (most recently deleted first, its owner's or all) and restored in its tenant
//! only; the purge removes those past their window with an event each, and a restore racing the
//! purge leaves one outcome.

use crm_core::storage::Database;
use crm_core::{ErrorKind, TenantId, UserId};
use crm_sales::domain::events::lead_purged;
use crm_sales::domain::lead::{Lead, LeadInput};
use crm_sales::domain::ports::{LeadFilter, SalesStore};

async fn new_lead(store: &dyn SalesStore, tenant: TenantId, name: &str, owner: UserId) -> Lead {
    let input = LeadInput {
        contact_name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        ..LeadInput::default()
    };
    let lead = Lead::new(tenant, &input, Some(owner), 1).unwrap();
    store.insert_lead(&lead, Vec::new()).await.unwrap();
    lead
}

async fn delete(store: &dyn SalesStore, lead: &Lead, at: i64) {
    store
        .update_lead(
            lead.tenant_id,
            lead.id,
            Box::new(move |l: &mut Lead| {
                l.delete(at).unwrap();
                Ok(Some(Vec::new()))
            }),
        )
        .await
        .unwrap();
}

async fn restore(store: &dyn SalesStore, lead: &Lead, at: i64) -> crm_core::Result<Lead> {
    store
        .restore_lead(
            lead.tenant_id,
            lead.id,
            Box::new(move |l: &mut Lead| {
                l.restore(at).unwrap();
                Ok(Some(Vec::new()))
            }),
        )
        .await
}

async fn deleted(store: &dyn SalesStore, tenant: TenantId, owner: Option<UserId>) -> Vec<String> {
    store
        .list_deleted_leads(tenant, owner, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.contact_name)
        .collect()
}

async fn outbox_rows(db: &Database, tenant: TenantId, event: &str) -> i64 {
    let mut tx = db.begin_for(tenant).await.unwrap();
    let n: i64 =
        sqlx::query_scalar("select count(*) from outbox where tenant_id = $1 and event_type = $2")
            .bind(tenant.to_string())
            .bind(event)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    n
}

pub(crate) async fn a_deleted_lead_leaves_every_read_and_comes_back_in_its_tenant(
    store: &dyn SalesStore,
    _: &Database,
) {
    let (tenant, other) = (TenantId::new(), TenantId::new());
    let (siti, ali) = (UserId::new(), UserId::new());
    let aminah = new_lead(store, tenant, "Aminah", siti).await;
    let farid = new_lead(store, tenant, "Farid", ali).await;
    let theirs = new_lead(store, other, "Zainab", siti).await;

    delete(store, &aminah, 100).await;
    assert_eq!(store.get_lead(tenant, aminah.id).await.unwrap(), None);
    let live = store
        .list_leads(tenant, &LeadFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(live.iter().map(|l| l.id).collect::<Vec<_>>(), [farid.id]);
    let again = store
        .update_lead(
            tenant,
            aminah.id,
            Box::new(|_: &mut Lead| Ok(Some(Vec::new()))),
        )
        .await
        .unwrap_err();
    assert_eq!(
        again.kind(),
        ErrorKind::NotFound,
        "a deleted lead changes no more"
    );

    let listed = store
        .list_deleted_leads(tenant, None, None, 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].deleted_at, Some(100));
    assert_eq!(deleted(store, tenant, Some(siti)).await, ["Aminah"]);
    assert!(deleted(store, tenant, Some(ali)).await.is_empty());
    assert!(deleted(store, other, None).await.is_empty());
    // Another tenant's deleted lead is not found, nor a live one.
    let foreign = Lead {
        tenant_id: other,
        ..aminah.clone()
    };
    assert_eq!(
        restore(store, &foreign, 150).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        restore(store, &farid, 150).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let back = restore(store, &aminah, 200).await.unwrap();
    assert_eq!(back.deleted_at, None);
    assert_eq!(store.get_lead(tenant, aminah.id).await.unwrap(), Some(back));
    assert!(deleted(store, tenant, None).await.is_empty());
    assert_eq!(
        restore(store, &aminah, 300).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(store.get_lead(other, theirs.id).await.unwrap().is_some());

    // Pages: most recently deleted first, ties by id, the next page after the last.
    let names = ["Badrul", "Chong", "Devi"];
    let mut made = Vec::new();
    for name in names {
        made.push(new_lead(store, tenant, name, siti).await);
    }
    delete(store, &made[0], 10).await;
    delete(store, &made[1], 20).await;
    delete(store, &made[2], 20).await;
    let first = store
        .list_deleted_leads(tenant, None, None, 2)
        .await
        .unwrap();
    let mut tied = [made[1].id, made[2].id];
    tied.sort();
    tied.reverse();
    assert_eq!(first.iter().map(|l| l.id).collect::<Vec<_>>(), tied);
    let last = first.last().unwrap();
    let rest = store
        .list_deleted_leads(tenant, None, Some((20, last.id)), 2)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|l| l.id).collect::<Vec<_>>(), [made[0].id]);
}

pub(crate) async fn the_purge_removes_only_leads_past_their_window(
    store: &dyn SalesStore,
    db: &Database,
) {
    let (a, b) = (TenantId::new(), TenantId::new());
    let owner = UserId::new();
    let old_a = new_lead(store, a, "Old", owner).await;
    let old_b = new_lead(store, b, "Older", owner).await;
    let recent = new_lead(store, a, "Recent", owner).await;
    let live = new_lead(store, a, "Live", owner).await;
    delete(store, &old_a, 100).await;
    delete(store, &old_b, 90).await;
    delete(store, &recent, 500).await;

    let purged = |lead: &Lead| lead_purged(lead, 1_000);
    // Before 200: the two old ones, each in its tenant, with its event.
    assert_eq!(store.purge_leads(200, 10, &purged).await.unwrap(), 2);
    assert_eq!(deleted(store, a, None).await, ["Recent"]);
    assert!(deleted(store, b, None).await.is_empty());
    let event = "crm.sales.events.v1.LeadPurged";
    assert_eq!(outbox_rows(db, a, event).await, 1);
    assert_eq!(outbox_rows(db, b, event).await, 1);
    assert_eq!(
        restore(store, &old_a, 150).await.unwrap_err().kind(),
        ErrorKind::NotFound,
        "purged for good"
    );
    assert!(store.get_lead(a, live.id).await.unwrap().is_some());
    // Nothing more is due: a second run purges nothing.
    assert_eq!(store.purge_leads(200, 10, &purged).await.unwrap(), 0);
    assert_eq!(deleted(store, a, None).await, ["Recent"]);
}

pub(crate) async fn a_restore_racing_the_purge_leaves_one_outcome(
    store: &dyn SalesStore,
    db: &Database,
) {
    let tenant = TenantId::new();
    let owner = UserId::new();
    let purged = |lead: &Lead| lead_purged(lead, 1_000);
    for round in 0..10 {
        let lead = new_lead(store, tenant, &format!("Round{round}"), owner).await;
        delete(store, &lead, 100).await;
        let before = outbox_rows(db, tenant, "crm.sales.events.v1.LeadPurged").await;
        let (restored, purge) = tokio::join!(
            restore(store, &lead, 150),
            store.purge_leads(200, 10, &purged)
        );
        let after = outbox_rows(db, tenant, "crm.sales.events.v1.LeadPurged").await;
        let there = store.get_lead(tenant, lead.id).await.unwrap();
        match restored {
            Ok(_) => {
                assert!(there.is_some(), "round {round}: restored, so kept");
                assert_eq!(purge.unwrap(), 0, "round {round}");
                assert_eq!(after, before, "round {round}: no purge event");
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::NotFound, "round {round}");
                assert!(there.is_none(), "round {round}: purged, so gone");
                assert_eq!(purge.unwrap(), 1, "round {round}");
                assert_eq!(after, before + 1, "round {round}");
            }
        }
    }
}
