//! The storage helpers' contract, run against SQLite always and against PostgreSQL when
//! `DATABASE_URL` is set (a set but unreachable URL fails the suite).

use crm_core::config::{Config, Secret};
use crm_core::storage::{Database, Engine, Migrations, UniqueConstraint, map_db_error};
use crm_core::{ErrorKind, TenantId};
use uuid::Uuid;

static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("tests/fixtures/migrations/sqlite"),
    postgres: sqlx::migrate!("tests/fixtures/migrations/postgres"),
};

const WIDGET_NAME: UniqueConstraint = UniqueConstraint {
    name: "widgets_tenant_name_key",
    sqlite_columns: "widgets.tenant_id, widgets.name",
    field: "widget.name",
    message: "a widget with this name already exists",
};

async fn insert_widget(
    db: &Database,
    tenant: TenantId,
    name: &str,
) -> Result<Uuid, crm_core::Error> {
    let id = Uuid::now_v7();
    sqlx::query("insert into widgets (id, tenant_id, name) values ($1, $2, $3)")
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(name)
        .execute(db.pool())
        .await
        .map(|_| id)
        .map_err(|e| map_db_error(e, &[WIDGET_NAME], "creating a widget"))
}

async fn insert_part(db: &Database, widget: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("insert into widget_parts (id, widget_id) values ($1, $2)")
        .bind(Uuid::now_v7().to_string())
        .bind(widget.to_string())
        .execute(db.pool())
        .await
        .map(drop)
}

/// The contract every engine keeps.
async fn storage_contract(config: Config) {
    let context = format!("storage_test_{}", Uuid::now_v7().simple());
    let db = Database::open(&config, &context).await.expect("open");
    db.migrate(&context, &MIGRATIONS)
        .await
        .expect("first migration");
    db.migrate(&context, &MIGRATIONS)
        .await
        .expect("migrating twice is a no-op");
    db.ping().await.expect("ping");

    let (tenant, other_tenant) = (TenantId::new(), TenantId::new());
    let widget = insert_widget(&db, tenant, "canting")
        .await
        .expect("first widget");

    let err = insert_widget(&db, tenant, "canting")
        .await
        .expect_err("duplicate name in one tenant");
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(err.field_violations()[0].0, "widget.name");
    assert_eq!(err.message(), "a widget with this name already exists");

    insert_widget(&db, other_tenant, "canting")
        .await
        .expect("the same name in another tenant is fine");

    insert_part(&db, widget)
        .await
        .expect("a part of an existing widget");
    let orphan = insert_part(&db, Uuid::now_v7())
        .await
        .expect_err("foreign keys are enforced");
    let mapped = map_db_error(orphan, &[WIDGET_NAME], "adding a part");
    assert_eq!(
        mapped.kind(),
        ErrorKind::Internal,
        "an unnamed constraint is not a client error"
    );
    assert_eq!(
        mapped.message(),
        "adding a part failed",
        "driver text stays out of the message"
    );

    // `in_tenant` commits what its work wrote when the work succeeds, and nothing of it when
    // the work fails, whose error comes back as it was.
    let third_tenant = TenantId::new();
    let insert = async |conn: &mut crm_core::storage::Conn, name: &str| {
        sqlx::query("insert into widgets (id, tenant_id, name) values ($1, $2, $3)")
            .bind(Uuid::now_v7().to_string())
            .bind(third_tenant.to_string())
            .bind(name.to_owned())
            .execute(conn)
            .await
            .map(drop)
            .map_err(|e| map_db_error(e, &[WIDGET_NAME], "creating a widget"))
    };
    db.in_tenant(third_tenant, "creating a widget", async |tx| {
        insert(tx, "tjap").await
    })
    .await
    .expect("the work succeeds and is committed");
    let refused = db
        .in_tenant(third_tenant, "creating widgets", async |tx| {
            insert(tx, "songket").await?;
            insert(tx, "tjap").await
        })
        .await
        .expect_err("the second insert takes a name already taken");
    assert_eq!(refused.kind(), ErrorKind::AlreadyExists);
    assert_eq!(refused.field_violations()[0].0, "widget.name");
    let names: Vec<(String,)> =
        sqlx::query_as("select name from widgets where tenant_id = $1 order by name")
            .bind(third_tenant.to_string())
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(
        names,
        vec![("tjap".to_owned(),)],
        "the failed work's first insert was rolled back"
    );

    if db.engine() == Engine::Postgres {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop schema {context} cascade"
        )))
        .execute(db.pool())
        .await
        .unwrap();
    }
    db.close().await;
}

#[tokio::test]
async fn sqlite_keeps_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    storage_contract(config).await;
}

#[tokio::test]
async fn sqlite_pools_use_wal_foreign_keys_and_a_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = crm_core::storage::open_sqlite(&dir.path().join("pragmas.db"))
        .await
        .unwrap();
    let pool = db.pool();
    let journal: String = sqlx::query_scalar("pragma journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    let foreign_keys: i64 = sqlx::query_scalar("pragma foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    let busy: i64 = sqlx::query_scalar("pragma busy_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(foreign_keys, 1);
    assert_eq!(busy, 5000);
}

#[tokio::test]
async fn an_unwritable_data_dir_fails_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let config = Config {
        data_dir: file,
        ..Config::default()
    };
    let err = Database::open(&config, "iam")
        .await
        .expect_err("a file is not a directory");
    assert!(err.to_string().contains("--data-dir"), "{err}");
}

#[tokio::test]
#[ignore = "needs DATABASE_URL (PostgreSQL): run with --include-ignored"]
async fn postgres_keeps_the_storage_contract() {
    let url = crm_core::testing::backend("DATABASE_URL");
    let mut config = Config::default();
    config.database.url = Some(Secret::new(url));
    storage_contract(config).await;
}

#[tokio::test]
async fn sqlite_files_open_under_paths_with_url_characters() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data 100% #1?x=y");
    std::fs::create_dir_all(&data_dir).unwrap();
    let config = Config {
        data_dir: data_dir.clone(),
        ..Config::default()
    };
    let db = Database::open(&config, "iam").await.expect("open");
    db.ping().await.expect("ping");
    db.close().await;
    assert!(
        data_dir.join("iam.db").exists(),
        "the file is where the data dir says, not cut at a URL character"
    );
}

/// A database that went away is `UNAVAILABLE` with a retry delay, not `INTERNAL`: its
/// connections ended by the server (SQLSTATE 57P01) and new ones refused while it is closed
/// to connections (55000), as in a failover.
#[tokio::test]
#[ignore = "needs DATABASE_URL (PostgreSQL): run with --include-ignored"]
async fn a_database_cut_is_unavailable_with_a_retry_delay() {
    use sqlx::Connection as _;
    let url = crm_core::testing::backend("DATABASE_URL");
    let base = url.rsplit_once('/').map(|(server, _)| server).unwrap();
    let name = format!("crm_cut_{}", Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let db = crm_core::storage::open_postgres(&format!("{base}/{name}"), "cut", 2, "")
        .await
        .unwrap();
    db.ping().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "alter database {name} allow_connections false"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1")
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();
    // The pool's connection was ended under it, and no new one is let in.
    for attempt in 0..2 {
        let err = db.ping().await.unwrap_err();
        let mapped = map_db_error(err, &[], "reading");
        assert_eq!(
            mapped.kind(),
            ErrorKind::Unavailable,
            "attempt {attempt}: {mapped:?}"
        );
        assert!(
            mapped.message().contains("the database is unavailable"),
            "{mapped:?}"
        );
        let status = tonic::Status::from(mapped);
        assert_eq!(status.code(), tonic::Code::Unavailable);
        use tonic_types::StatusExt as _;
        assert!(
            status.get_details_retry_info().is_some(),
            "a retry delay: {status:?}"
        );
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "alter database {name} allow_connections true"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    db.ping()
        .await
        .expect("the database answers again once it is back");
    db.pool().close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database {name} with (force)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}
