//! `just bench`: what the one SQL path (`sqlx::Any`, which every store uses so its SQL is written
//! once for SQLite and PostgreSQL) costs against a typed pool of the same engine, measured in the
//! same run on the same file or database: a read by key, a page of 50 rows, and an update in a
//! transaction, as stores run them. PostgreSQL too when `DATABASE_URL` is set. Prints figures and
//! ratios, never fails on a time.

use std::time::Duration;

use crm_core::testing::p50_p99;

use sqlx::{Any, AnyPool, Database, Executor, IntoArguments, Pool, Postgres, Sqlite};

const ROWS: usize = 2_000;
const READS: usize = 5_000;
const PAGES: usize = 1_000;
const WRITES: usize = 1_000;

struct Figures {
    read: (Duration, Duration),
    page: (Duration, Duration),
    write: (Duration, Duration),
}

const READ: &str = "select id, tenant_id, email, display_name, status, created_at, updated_at, version \
                    from bench_users where tenant_id = $1 and id = $2";
const PAGE: &str = "select id, tenant_id, email, display_name, status, created_at, updated_at, version \
                    from bench_users where tenant_id = $1 and id > $2 order by id limit 50";
const WRITE: &str = "update bench_users set display_name = $3, updated_at = $4, version = version + 1 \
                     where tenant_id = $1 and id = $2";

type Row = (String, String, String, String, String, i64, i64, i64);

/// The same three workloads through any pool type (typed or `Any`).
async fn measure<DB>(pool: &Pool<DB>, ids: &[String]) -> Figures
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments: IntoArguments<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'r> Row: sqlx::FromRow<'r, DB::Row>,
{
    let tenant = "t".to_owned();
    let read = p50_p99(READS, |i| {
        let id = ids[i % ids.len()].clone();
        let tenant = tenant.clone();
        async move {
            let mut conn = pool.acquire().await.unwrap();
            let row: Option<Row> = sqlx::query_as(READ)
                .bind(tenant)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .unwrap();
            assert!(row.is_some());
        }
    })
    .await;
    let page = p50_p99(PAGES, |i| {
        let after = ids[(i * 37) % (ids.len() - 50)].clone();
        let tenant = tenant.clone();
        async move {
            let mut conn = pool.acquire().await.unwrap();
            let rows: Vec<Row> = sqlx::query_as(PAGE)
                .bind(tenant)
                .bind(after)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            assert_eq!(rows.len(), 50);
        }
    })
    .await;
    let write = p50_p99(WRITES, |i| {
        let id = ids[i % ids.len()].clone();
        let tenant = tenant.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let done = sqlx::query(WRITE)
                .bind(tenant)
                .bind(id)
                .bind(format!("name {i}"))
                .bind(i as i64)
                .execute(&mut *tx)
                .await
                .unwrap();
            drop(done);
            tx.commit().await.unwrap();
        }
    })
    .await;
    Figures { read, page, write }
}

async fn seed(pool: &AnyPool) -> Vec<String> {
    pool.execute(
        "drop table if exists bench_users; create table bench_users (id text not null, tenant_id text not null, \
         email text not null, display_name text not null, status text not null, created_at bigint not null, \
         updated_at bigint not null, version bigint not null, primary key (tenant_id, id))",
    )
    .await
    .unwrap();
    let mut ids = Vec::with_capacity(ROWS);
    let mut tx = pool.begin().await.unwrap();
    for i in 0..ROWS {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query("insert into bench_users values ($1, 't', $2, $3, 'active', 1, 1, 1)")
            .bind(&id)
            .bind(format!("user{i}@example.com"))
            .bind(format!("User {i}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    ids
}

/// Both pools in alternating rounds (so neither always runs on the warmer cache or the longer
/// write-ahead log), each figure the median of its rounds.
async fn rounds<DB>(typed: &Pool<DB>, any: &AnyPool, ids: &[String]) -> (Figures, Figures)
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments: IntoArguments<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'r> Row: sqlx::FromRow<'r, DB::Row>,
{
    const ROUNDS: usize = 5;
    let _warm_up = measure(typed, ids).await;
    let mut t = Vec::with_capacity(ROUNDS);
    let mut a = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            t.push(measure(typed, ids).await);
            a.push(measure::<Any>(any, ids).await);
        } else {
            a.push(measure::<Any>(any, ids).await);
            t.push(measure(typed, ids).await);
        }
    }
    (median(t), median(a))
}

fn median(mut rounds: Vec<Figures>) -> Figures {
    let mid = rounds.len() / 2;
    let pick = |rounds: &mut Vec<Figures>, f: fn(&Figures) -> (Duration, Duration)| {
        rounds.sort_by_key(|r| f(r).0);
        f(&rounds[mid])
    };
    Figures {
        read: pick(&mut rounds, |r| r.read),
        page: pick(&mut rounds, |r| r.page),
        write: pick(&mut rounds, |r| r.write),
    }
}

fn report(engine: &str, typed: &Figures, any: &Figures) {
    println!(
        "{engine}: typed pool vs sqlx::Any (median of 5 alternating rounds; p50 / p99, ratio of p50s)"
    );
    for (what, t, a) in [
        ("read by key", typed.read, any.read),
        ("page of 50", typed.page, any.page),
        ("update in a transaction", typed.write, any.write),
    ] {
        println!(
            "  {what:<24} typed {:>8.1} / {:>8.1} µs   any {:>8.1} / {:>8.1} µs   ratio {:.2}",
            t.0.as_secs_f64() * 1e6,
            t.1.as_secs_f64() * 1e6,
            a.0.as_secs_f64() * 1e6,
            a.1.as_secs_f64() * 1e6,
            a.0.as_secs_f64() / t.0.as_secs_f64(),
        );
    }
}

#[tokio::main]
async fn main() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let any = crm_core::storage::open_sqlite(&path).await.unwrap();
    let ids = seed(any.pool()).await;
    let typed: Pool<Sqlite> = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(crm_core::storage::sqlite_options(&path))
        .await
        .unwrap();
    let (typed_figures, any_figures) = rounds(&typed, any.pool(), &ids).await;
    report("SQLite", &typed_figures, &any_figures);

    if let Ok(url) = std::env::var("DATABASE_URL") {
        let any = crm_core::storage::open_postgres(&url, "bench", 8, "")
            .await
            .unwrap();
        let ids = seed(any.pool()).await;
        let typed: Pool<Postgres> = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect_with(
                url.parse::<sqlx::postgres::PgConnectOptions>()
                    .unwrap()
                    .options([("search_path", "bench")]),
            )
            .await
            .unwrap();
        let (typed_figures, any_figures) = rounds(&typed, any.pool(), &ids).await;
        report("PostgreSQL", &typed_figures, &any_figures);
    } else {
        println!("PostgreSQL: not measured (set DATABASE_URL)");
    }
}
