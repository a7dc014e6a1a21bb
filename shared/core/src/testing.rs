//! For test suites that need a real backend (PostgreSQL, Redis, Kafka, MongoDB).
//!
//! Such a test is `#[ignore = "needs DATABASE_URL ..."]`, so `cargo test` lists it as ignored,
//! with its reason, instead of passing without running. `cargo test -- --include-ignored` (what
//! CI and `just test` run) runs it, and then the backend is required: a missing or unreachable one
//! fails the test, never skips it.

/// The value of `var`, or a panic saying what the suite needs and how to start it.
pub fn backend(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{var} is not set, and this test needs it ({}). Start the local backends with `just up` \
             and set {var}, or run `cargo test --workspace` without --include-ignored to leave it out",
            what(var)
        ),
    }
}

fn what(var: &str) -> &'static str {
    match var {
        "DATABASE_URL" => "PostgreSQL, e.g. postgres://postgres@127.0.0.1:5432/test",
        "REDIS_URL" => "Redis, e.g. redis://127.0.0.1:6379",
        "KAFKA_BROKERS" => "a Kafka broker, e.g. 127.0.0.1:9092",
        "MONGODB_URL" => "a MongoDB replica set, e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0",
        "OIDC_PROVIDER_MODULES" => {
            "an npm prefix holding oauth2-mock-server, e.g. ~/.cache/kilang-crm/npm after `npm install --prefix ~/.cache/kilang-crm/npm oauth2-mock-server@8`"
        }
        _ => "a backend",
    }
}

/// Runs each store contract test on every engine: a module per engine (`sqlite_engine`,
/// `postgres_engine`, …) holding one `#[tokio::test]` per test function, which makes the
/// engine's fixture with the suite's own constructor, calls the test with the arguments `each`
/// takes from it, then drops the fixture's schema (`drop_schema(self)`). An engine that needs a
/// backend carries its `ignore` reason, so a plain `cargo test` lists it as ignored and
/// `--include-ignored` runs it (with [`backend`] failing when the variable is missing).
///
/// ```ignore
/// crm_core::on_every_engine! {
///     engines {
///         sqlite_engine = sqlite;
///         postgres_engine = postgres, ignore "needs DATABASE_URL (PostgreSQL): run with --include-ignored";
///         #[cfg(feature = "mongodb")]
///         mongodb_engine = mongodb, ignore "needs MONGODB_URL (a MongoDB replica set): run with --include-ignored";
///     }
///     flavor "multi_thread",
///     each |s| (&s),
///     tests { customers_are_read_back_whole, lists_filter_order_and_page }
/// }
/// ```
#[macro_export]
macro_rules! on_every_engine {
    (
        engines { $( $(#[$cfg:meta])* $module:ident = $make:ident $(, ignore $why:literal)? ; )* }
        flavor $flavor:literal,
        each |$e:ident| $args:tt,
        tests $tests:tt
    ) => {
        $(
            $crate::on_every_engine!(@engine [$(#[$cfg])*] $module $make [$($why)?] $flavor $e $args $tests);
        )*
    };
    (@engine [$(#[$cfg:meta])*] $module:ident $make:ident $why:tt $flavor:literal $e:ident $args:tt { $($name:ident),* $(,)? }) => {
        $(#[$cfg])*
        mod $module {
            $( $crate::on_every_engine!(@test $make $why $flavor $e $args $name); )*
        }
    };
    (@test $make:ident [$($why:literal)?] $flavor:literal $e:ident ($($arg:tt)*) $name:ident) => {
        #[tokio::test(flavor = $flavor)]
        $(#[ignore = $why])?
        async fn $name() {
            let $e = super::$make().await;
            super::$name($($arg)*).await;
            $e.drop_schema().await;
        }
    };
}

/// A context's migrated store for its store contract suite: SQLite in a temporary directory, or
/// on PostgreSQL (`DATABASE_URL`, required) a schema of its own, so tests running in parallel
/// never see each other; scoped transactions there run as the application role, under
/// row-level security. [`TestDb::drop`] drops that schema.
pub struct TestDb {
    /// The store.
    pub db: crate::storage::Database,
    /// Its name: the context's on SQLite, `<context>_test_<id>` on PostgreSQL.
    pub context: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// `context`'s store on SQLite, with its `migrations` and the `shared` tables after them.
    pub async fn sqlite(
        context: &str,
        migrations: &crate::storage::Migrations,
        shared: &[&crate::storage::SharedTables],
    ) -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = crate::Config {
            data_dir: dir.path().to_owned(),
            ..crate::Config::default()
        };
        let db = crate::storage::Database::open(&config, context)
            .await
            .expect("SQLite opens in a temporary directory");
        Self::migrated(db, context.to_owned(), migrations, shared, Some(dir)).await
    }

    /// `context`'s store in a fresh schema on PostgreSQL (`DATABASE_URL`).
    pub async fn postgres(
        context: &str,
        migrations: &crate::storage::Migrations,
        shared: &[&crate::storage::SharedTables],
    ) -> TestDb {
        let mut config = crate::Config::default();
        config.database.url = Some(crate::config::Secret::new(backend("DATABASE_URL")));
        let context = format!("{context}_test_{}", uuid::Uuid::now_v7().simple());
        let db = crate::storage::Database::open(&config, &context)
            .await
            .expect("DATABASE_URL is set but PostgreSQL is unreachable");
        Self::migrated(db, context, migrations, shared, None).await
    }

    async fn migrated(
        db: crate::storage::Database,
        context: String,
        migrations: &crate::storage::Migrations,
        shared: &[&crate::storage::SharedTables],
        dir: Option<tempfile::TempDir>,
    ) -> TestDb {
        db.migrate(&context, migrations)
            .await
            .expect("the migrations apply");
        for tables in shared {
            db.migrate_shared(&context, tables)
                .await
                .expect("the shared tables apply");
        }
        TestDb {
            db,
            context,
            _dir: dir,
        }
    }

    /// [`TestDb::drop`], under the name [`on_every_engine!`] calls after each test.
    pub async fn drop_schema(self) {
        self.drop().await
    }

    /// Drops the PostgreSQL schema (nothing to drop on SQLite: its directory goes with it) and
    /// closes the pool.
    pub async fn drop(self) {
        if self.db.engine() == crate::storage::Engine::Postgres {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop schema {} cascade",
                self.context
            )))
            .execute(self.db.pool())
            .await
            .expect("the test's schema drops");
        }
        self.db.close().await;
    }
}

/// Polls `probe` until it returns `Some`, for a condition that becomes true asynchronously (an
/// event delivered, a relay caught up, a health status changed). The probe may borrow what the
/// test holds (`async || …`, a client it calls). The bound, about a minute, only turns a hang
/// into a failure naming `what`; no test waits a fixed time. A probe is asked again 10 ms after
/// it answers, however long it took.
pub async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("still not so after a minute: {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The `p` quantile (0 to 1) of samples sorted ascending, for benches.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50 and p99 of `n` sequential runs of `f` (given the run's number), for benches.
pub async fn p50_p99<F, Fut>(n: usize, mut f: F) -> (std::time::Duration, std::time::Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let started = std::time::Instant::now();
        f(i).await;
        samples.push(started.elapsed());
    }
    samples.sort();
    (percentile(&samples, 0.50), percentile(&samples, 0.99))
}
