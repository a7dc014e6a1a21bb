//! Sales' consumer of IAM's events, on its own store: a new tenant gets one default pipeline
//! however often `TenantCreated` is delivered, and users' roles follow `UserCreated` and
//! `UserRoleChanged`, even when delivered out of order.

use crm_core::config::Config;
use crm_core::storage::Database;
use crm_core::{TenantId, UserId};
use crm_events::consumer::deliver;
use crm_events::{Causation, Consumer, Delivery, Envelope, Inbox};
use crm_proto::crm::iam::events::v1::{
    TenantCreated, UserCreated, UserRoleChanged, UserStatusChanged,
};
use crm_sales::domain::ports::{PipelineStore, TeamStore};
use crm_sales::infrastructure::consumer::{GROUP, IamEvents};
use crm_sales::infrastructure::sql::SqlSalesStore;

const TOPIC: &str = "crm.iam.events.v1";

async fn store() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let db = Database::open(&config, "sales").await.unwrap();
    db.migrate("sales", &crm_sales::MIGRATIONS).await.unwrap();
    db.migrate_shared("sales", &crm_events::TABLES)
        .await
        .unwrap();
    (db, dir)
}

fn envelope<M: prost::Message + prost::Name>(tenant: TenantId, message: &M, time: i64) -> Envelope {
    let mut e = Envelope::new("crm.iam", tenant, tenant, message, &Causation::default());
    e.time = time;
    e
}

#[tokio::test]
async fn a_redelivered_tenant_created_seeds_one_default_pipeline() {
    let (db, _dir) = store().await;
    let consumer = Consumer::new(GROUP, IamEvents, Inbox::new(db.clone()));
    let tenant = TenantId::new();
    let created = envelope(
        tenant,
        &TenantCreated {
            tenant_id: tenant.to_string(),
            name: "Kilang".into(),
            slug: "kilang".into(),
            ..Default::default()
        },
        1_000,
    );
    let outcomes = [
        deliver(&consumer, TOPIC, &created).await.unwrap(),
        deliver(&consumer, TOPIC, &created).await.unwrap(),
    ];
    assert!(matches!(outcomes[0], Delivery::Handled), "{outcomes:?}");
    assert!(matches!(outcomes[1], Delivery::Duplicate), "{outcomes:?}");
    // The same fact in another event (a replay from another source): still one pipeline.
    let again = envelope(
        tenant,
        &TenantCreated {
            tenant_id: tenant.to_string(),
            ..Default::default()
        },
        2_000,
    );
    let outcome = deliver(&consumer, TOPIC, &again).await.unwrap();
    assert!(matches!(outcome, Delivery::Handled), "{outcome:?}");
    let store = SqlSalesStore::new(db.clone());
    let pipelines = store.list_pipelines(tenant, None, 10).await.unwrap();
    assert_eq!(pipelines.len(), 1);
    assert!(pipelines[0].is_default);
    assert_eq!(pipelines[0].currency_code, "MYR");
    assert_eq!(pipelines[0].stages.len(), 5);
    assert!(
        store
            .list_pipelines(TenantId::new(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_workspace_created_in_malay_gets_its_pipeline_in_malay_and_its_currency() {
    let (db, _dir) = store().await;
    let consumer = Consumer::new(GROUP, IamEvents, Inbox::new(db.clone()));
    let tenant = TenantId::new();
    let created = envelope(
        tenant,
        &TenantCreated {
            tenant_id: tenant.to_string(),
            name: "Kedai Songket".into(),
            locale: "ms-MY".into(),
            default_currency_code: "BND".into(),
            ..Default::default()
        },
        1_000,
    );
    deliver(&consumer, TOPIC, &created).await.unwrap();
    let pipelines = SqlSalesStore::new(db.clone())
        .list_pipelines(tenant, None, 10)
        .await
        .unwrap();
    assert_eq!(pipelines.len(), 1);
    let p = &pipelines[0];
    assert_eq!(
        (p.name.as_str(), p.currency_code.as_str()),
        ("Jualan", "BND")
    );
    let stages: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        stages,
        [
            "Baharu",
            "Layak",
            "Sampel dihantar",
            "Sebut harga",
            "Rundingan"
        ]
    );
}

#[tokio::test]
async fn users_roles_follow_iams_events_whatever_their_order() {
    let (db, _dir) = store().await;
    let consumer = Consumer::new(GROUP, IamEvents, Inbox::new(db.clone()));
    let (tenant, ali) = (TenantId::new(), UserId::new());
    let created = envelope(
        tenant,
        &UserCreated {
            user_id: ali.to_string(),
            email: "ali@kilang.example".into(),
            roles: vec!["viewer".into()],
            ..Default::default()
        },
        1_000,
    );
    let promoted = envelope(
        tenant,
        &UserRoleChanged {
            user_id: ali.to_string(),
            email: "ali@kilang.example".into(),
            roles: vec!["sales_rep".into()],
            roles_added: vec!["sales_rep".into()],
            roles_removed: vec!["viewer".into()],
            ..Default::default()
        },
        2_000,
    );
    // The change arrives first, the creation late: the newer roles stay.
    deliver(&consumer, TOPIC, &promoted).await.unwrap();
    deliver(&consumer, TOPIC, &created).await.unwrap();
    let store = SqlSalesStore::new(db.clone());
    let known = store.sales_user(tenant, ali).await.unwrap().unwrap();
    assert_eq!(known.roles, ["sales_rep"]);
    assert!(known.active);
    assert_eq!(store.sales_user(TenantId::new(), ali).await.unwrap(), None);
    // Deactivated in IAM: no longer handed work.
    let deactivated = envelope(
        tenant,
        &UserStatusChanged {
            user_id: ali.to_string(),
            email: "ali@kilang.example".into(),
            status: crm_proto::crm::iam::v1::UserStatus::Deactivated as i32,
            ..Default::default()
        },
        3_000,
    );
    deliver(&consumer, TOPIC, &deactivated).await.unwrap();
    assert!(!store.sales_user(tenant, ali).await.unwrap().unwrap().active);
}
