//! The customer use cases on fakes: IAM's answer about who may own customers comes from a map,
//! the time from a clock that moves only when told, over the SQLite store. What they check is
//! the application's part: who reaches which customer (`:own`), who may own one, what a
//! duplicate refusal tells whom, and that changes are stamped by the clock and guarded by etags.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use crm_core::clock::ManualClock;
use crm_core::config::Config;
use crm_core::idempotency::Idempotency;
use crm_core::storage::Database;
use crm_core::{Error, ErrorKind, Principal, Result, TenantId, UserId};
use crm_customer::application::{Caller, Customers};
use crm_customer::domain::customer::{CustomerInput, CustomerType, Individual};
use crm_customer::domain::ports::{Credential, Members, Membership, OpenOpportunities};
use crm_customer::infrastructure::sql::{SqlCustomFieldStore, SqlCustomerStore};

const START: i64 = 1_764_000_000_000;

/// IAM as a map: users not in it are nobody of the tenant; `refuse` answers every question
/// with PERMISSION_DENIED (a caller without `users.read`).
#[derive(Default)]
struct FakeMembers {
    known: Mutex<HashMap<UserId, Membership>>,
    refuse: Mutex<bool>,
}

#[async_trait]
impl Members for FakeMembers {
    async fn membership(&self, _credential: &Credential, user: UserId) -> Result<Membership> {
        if *self.refuse.lock().unwrap() {
            return Err(Error::permission_denied(
                "your roles do not grant users.read",
            ));
        }
        Ok(self
            .known
            .lock()
            .unwrap()
            .get(&user)
            .copied()
            .unwrap_or(Membership::Unknown))
    }
}

/// Sales' open opportunities per customer, as a map: the owners of each customer's.
#[derive(Default)]
struct FakeOpportunities(Mutex<HashMap<uuid::Uuid, Vec<Option<UserId>>>>);

#[async_trait]
impl OpenOpportunities for FakeOpportunities {
    async fn owners(&self, _tenant: TenantId, customer: uuid::Uuid) -> Result<Vec<Option<UserId>>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(&customer)
            .cloned()
            .unwrap_or_default())
    }
}

struct World {
    customers: Customers,
    members: Arc<FakeMembers>,
    opportunities: Arc<FakeOpportunities>,
    clock: ManualClock,
    tenant: TenantId,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let db = Database::open(&config, "customer").await.unwrap();
    db.migrate("customer", &crm_customer::MIGRATIONS)
        .await
        .unwrap();
    db.migrate_shared("customer", &crm_events::TABLES)
        .await
        .unwrap();
    db.migrate_shared("customer", &crm_core::idempotency::TABLES)
        .await
        .unwrap();
    let clock = ManualClock::at(START);
    let members = Arc::new(FakeMembers::default());
    let opportunities = Arc::new(FakeOpportunities::default());
    let customers = Customers::new(
        Arc::new(SqlCustomerStore::new(db.clone())),
        Arc::new(SqlCustomFieldStore::new(db.clone())),
        members.clone(),
        opportunities.clone(),
        Arc::new(clock.clone()),
        Idempotency::new(db),
    );
    World {
        customers,
        members,
        opportunities,
        clock,
        tenant: TenantId::new(),
        _dir: dir,
    }
}

/// A user of the world's tenant holding `permissions`, known to IAM as active.
fn user(w: &World, permissions: &[&str]) -> Caller {
    let id = UserId::new();
    w.members
        .known
        .lock()
        .unwrap()
        .insert(id, Membership::Active);
    Caller {
        principal: Principal {
            tenant_id: w.tenant,
            user_id: id,
            roles: Vec::new(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            team: None,
            token_id: format!("token-{id}"),
            issued_at: START,
            expires_at: None,
            api_key_id: None,
            service: None,
        },
        causation: crm_events::Causation::default(),
        credential: Some(Credential {
            name: "authorization",
            value: format!("Bearer token-{id}"),
        }),
    }
}

fn manager(w: &World) -> Caller {
    user(
        w,
        &["customers.read", "customers.write", "customers.delete"],
    )
}

fn rep(w: &World) -> Caller {
    user(w, &["customers.read:own", "customers.write:own"])
}

fn person(name: &str, email: &str, owner: Option<UserId>) -> CustomerInput {
    CustomerInput {
        customer_type: Some(CustomerType::Individual),
        individual: Individual {
            given_name: name.into(),
            family_name: "binti Ali".into(),
        },
        email: email.into(),
        owner_id: owner,
        ..CustomerInput::default()
    }
}

fn field(e: &Error) -> Vec<&str> {
    e.field_violations()
        .iter()
        .map(|(f, _)| f.as_str())
        .collect()
}

#[tokio::test]
async fn a_rep_creates_customers_for_themselves_and_reaches_only_their_own() {
    let w = world().await;
    let (boss, siti) = (manager(&w), rep(&w));

    let err = w
        .customers
        .create(&siti, person("Aminah", "", Some(boss.principal.user_id)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(err.reason(), Some("NOT_OWNER"));

    let own = w
        .customers
        .create(&siti, person("Aminah", "", None))
        .await
        .unwrap();
    assert_eq!(
        own.owner_id,
        Some(siti.principal.user_id),
        "the creator owns it"
    );
    let theirs = w
        .customers
        .create(&boss, person("Zainab", "", None))
        .await
        .unwrap();

    // Another's customer does not exist for the rep; the manager reads both.
    let err = w.customers.get(&siti, theirs.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    assert_eq!(w.customers.get(&siti, own.id).await.unwrap().id, own.id);
    assert_eq!(w.customers.get(&boss, own.id).await.unwrap().id, own.id);
    let err = w
        .customers
        .delete(&siti, own.id, "", false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
}

#[tokio::test]
async fn an_owner_must_be_an_active_user_of_the_tenant_as_iam_knows_them() {
    let w = world().await;
    let boss = manager(&w);
    let gone = UserId::new();
    w.members
        .known
        .lock()
        .unwrap()
        .insert(gone, Membership::Inactive);

    for (owner, what) in [(gone, "deactivated"), (UserId::new(), "not a user")] {
        let err = w
            .customers
            .create(&boss, person("Aminah", "", Some(owner)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{what}: {err:?}");
        assert_eq!(field(&err), vec!["customer.owner_id"], "{what}");
        assert!(err.message().contains(what), "{what}: {}", err.message());
    }

    // Who may not see the tenant's users cannot give customers away.
    let colleague = rep(&w).principal.user_id;
    *w.members.refuse.lock().unwrap() = true;
    let err = w
        .customers
        .create(&boss, person("Aminah", "", Some(colleague)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(err.metadata("permission"), Some("users.read"));
    *w.members.refuse.lock().unwrap() = false;

    let given = w
        .customers
        .create(&boss, person("Aminah", "", Some(colleague)))
        .await
        .unwrap();
    assert_eq!(given.owner_id, Some(colleague));
}

#[tokio::test]
async fn a_duplicate_email_names_its_holder_only_to_who_may_read_it() {
    let w = world().await;
    let (boss, siti) = (manager(&w), rep(&w));
    let holder = w
        .customers
        .create(&boss, person("Aminah", "aminah@kedai.example", None))
        .await
        .unwrap();

    let err = w
        .customers
        .create(&siti, person("Aminah", "Aminah@Kedai.example", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err:?}");
    assert_eq!(err.metadata("customer_id"), None, "the rep may not read it");

    let err = w
        .customers
        .create(&boss, person("Aminah", "aminah@kedai.example", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err:?}");
    let named = holder.id.to_string();
    assert_eq!(err.metadata("customer_id"), Some(named.as_str()));
}

#[tokio::test]
async fn changes_are_stamped_by_the_clock_and_a_stale_etag_changes_nothing() {
    let w = world().await;
    let boss = manager(&w);
    let made = w
        .customers
        .create(&boss, person("Aminah", "", None))
        .await
        .unwrap();
    assert_eq!((made.created_at, made.updated_at), (START, START));
    let stale = made.version.to_string();

    w.clock.advance(Duration::from_secs(5));
    let changed = w
        .customers
        .update(
            &boss,
            made.id,
            &stale,
            CustomerInput {
                notes: "prefers songket".into(),
                ..CustomerInput::default()
            },
            vec!["notes".into()],
        )
        .await
        .unwrap();
    assert_eq!(changed.updated_at, START + 5_000);
    assert_eq!(changed.created_at, START);
    assert_eq!(changed.version, made.version + 1);

    let err = w
        .customers
        .update(
            &boss,
            made.id,
            &stale,
            CustomerInput {
                notes: "lost".into(),
                ..CustomerInput::default()
            },
            vec!["notes".into()],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Aborted, "{err:?}");
    let err = w
        .customers
        .delete(&boss, made.id, &stale, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Aborted, "{err:?}");
    let kept = w.customers.get(&boss, made.id).await.unwrap();
    assert_eq!(kept.notes, "prefers songket");

    w.customers
        .delete(&boss, made.id, &kept.version.to_string(), false)
        .await
        .unwrap();
    let err = w.customers.get(&boss, made.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}

/// A customer with open opportunities is not deleted: the refusal counts them, in words. Closing
/// them in the same request needs `opportunities.close` reaching every one; our own services
/// (the saga undoing its customer) are not asked.
#[tokio::test]
async fn a_customer_with_open_opportunities_is_deleted_only_by_closing_them_with_the_right_to() {
    let w = world().await;
    let boss = manager(&w);
    let made = w
        .customers
        .create(&boss, person("Hotel Seri Malaysia", "", None))
        .await
        .unwrap();
    let rep_id = UserId::new();
    w.opportunities
        .0
        .lock()
        .unwrap()
        .insert(made.id, vec![Some(rep_id), Some(boss.principal.user_id)]);

    let err = w
        .customers
        .delete(&boss, made.id, "", false)
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        (ErrorKind::FailedPrecondition, Some("OPEN_OPPORTUNITIES"))
    );
    assert_eq!(
        err.message(),
        format!(
            "{} has 2 open opportunities: win or lose them first, or delete the customer closing them as lost",
            made.display_name
        )
    );
    // Closing them needs the right to close each: not without it, not only one's own.
    let err = w
        .customers
        .delete(&boss, made.id, "", true)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    let mut own_closer = boss.clone();
    own_closer
        .principal
        .permissions
        .push("opportunities.close:own".into());
    let err = w
        .customers
        .delete(&own_closer, made.id, "", true)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    assert!(err.message().contains("not yours to close"), "{err:?}");
    assert_eq!(
        w.customers.get(&boss, made.id).await.unwrap().id,
        made.id,
        "still there"
    );

    let mut closer = boss.clone();
    closer
        .principal
        .permissions
        .push("opportunities.close".into());
    w.customers
        .delete(&closer, made.id, "", true)
        .await
        .unwrap();
    let err = w.customers.get(&boss, made.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");

    // A service (the saga undoing the customer it made) is not asked.
    let other = w
        .customers
        .create(&boss, person("Galeri Songket", "", None))
        .await
        .unwrap();
    w.opportunities
        .0
        .lock()
        .unwrap()
        .insert(other.id, vec![Some(rep_id)]);
    let mut saga = boss.clone();
    saga.principal.service = Some("sales".into());
    w.customers
        .delete(&saga, other.id, "", false)
        .await
        .unwrap();
}

#[tokio::test]
async fn whoever_may_delete_a_customer_restores_it_within_thirty_days_then_it_is_purged() {
    let w = world().await;
    let boss = manager(&w);
    let own_deleter = user(
        &w,
        &[
            "customers.read:own",
            "customers.write:own",
            "customers.delete:own",
        ],
    );
    let mine = w
        .customers
        .create(
            &own_deleter,
            person("Aminah", "aminah@kilang.example", None),
        )
        .await
        .unwrap();
    let theirs = w
        .customers
        .create(&boss, person("Zainab", "zainab@kilang.example", None))
        .await
        .unwrap();
    w.customers
        .delete(&own_deleter, mine.id, "", false)
        .await
        .unwrap();
    w.customers
        .delete(&boss, theirs.id, "", false)
        .await
        .unwrap();

    // Authority first: without customers.delete nothing is read or changed.
    let err = w.customers.restore(&rep(&w), mine.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    let err = w
        .customers
        .list_deleted(&rep(&w), None, 10)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    // An :own grant sees and restores its own deleted customers only.
    let listed = w
        .customers
        .list_deleted(&own_deleter, None, 10)
        .await
        .unwrap();
    assert_eq!(
        listed.customers.iter().map(|c| c.id).collect::<Vec<_>>(),
        [mine.id]
    );
    let err = w
        .customers
        .restore(&own_deleter, theirs.id)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "another's is not there: {err:?}"
    );
    let listed = w.customers.list_deleted(&boss, None, 10).await.unwrap();
    assert_eq!(
        listed.customers.iter().map(|c| c.id).collect::<Vec<_>>(),
        [theirs.id, mine.id]
    );
    assert_eq!(
        listed.customers[0].purge_at(),
        Some(START + 30 * 86_400_000)
    );

    w.clock.advance(Duration::from_secs(60));
    let back = w.customers.restore(&own_deleter, mine.id).await.unwrap();
    assert_eq!((back.deleted_at, back.updated_at), (None, START + 60_000));
    assert_eq!(
        w.customers.get(&own_deleter, mine.id).await.unwrap().id,
        mine.id
    );

    // The email taken since: said in words, the holder named to who may read it.
    w.customers
        .delete(&own_deleter, mine.id, "", false)
        .await
        .unwrap();
    let taker = w
        .customers
        .create(&boss, person("Aminah Baru", "aminah@kilang.example", None))
        .await
        .unwrap();
    let err = w.customers.restore(&boss, mine.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err:?}");
    assert_eq!(field(&err), ["customer.email"]);
    assert!(
        err.message().contains("belongs to another customer now"),
        "{err:?}"
    );
    assert_eq!(
        err.metadata("customer_id"),
        Some(taker.id.to_string().as_str())
    );
    let err = w
        .customers
        .restore(&own_deleter, mine.id)
        .await
        .unwrap_err();
    assert_eq!(
        err.metadata("customer_id"),
        None,
        "not readable to them: {err:?}"
    );

    // After thirty days: refused in words, then purged.
    w.clock.advance(Duration::from_secs(30 * 86_400));
    let err = w.customers.restore(&boss, theirs.id).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        (ErrorKind::FailedPrecondition, Some("RESTORE_WINDOW_PASSED"))
    );
    assert!(err.message().contains("more than 30 days ago"), "{err:?}");
    assert_eq!(
        w.customers.purge_due().await.unwrap(),
        1,
        "theirs; mine was deleted later"
    );
    w.clock.advance(Duration::from_secs(120));
    assert_eq!(w.customers.purge_due().await.unwrap(), 1);
    assert!(
        w.customers
            .list_deleted(&boss, None, 10)
            .await
            .unwrap()
            .customers
            .is_empty()
    );
    let err = w.customers.restore(&boss, theirs.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}

#[path = "use_cases/custom_fields.rs"]
mod custom_fields;
