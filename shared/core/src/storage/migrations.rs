//! Migrations: a context's own, the tables every store carries (each set with a history of its
//! own), applying them in embedded mode and checking them on PostgreSQL.

use sqlx::migrate::Migrator;

use super::*;

/// A context's migrations for both engines, embedded with `sqlx::migrate!`.
pub struct Migrations {
    /// `migrations/<context>/sqlite`.
    pub sqlite: Migrator,
    /// `migrations/<context>/postgres`.
    pub postgres: Migrator,
}

/// Tables every context's store carries, owned by the crate that uses them (the outbox and
/// inbox by `crm-events`, idempotency keys by [`crate::idempotency`]). The launcher applies them
/// to every context's store after the context's own migrations, each set with a migration
/// history of its own (`_<owner>_migrations`), so a context's migrations hold only its tables.
/// Their statements are idempotent (`if not exists`): stores that got the tables otherwise keep
/// them as they are.
pub struct SharedTables {
    /// The owner, e.g. `crm_events`; names the history table.
    pub owner: &'static str,
    /// The migrations per engine.
    pub migrations: &'static Migrations,
}

impl Database {
    /// Applies the migrations of this engine that are not applied yet.
    pub async fn migrate(
        &self,
        context: &str,
        migrations: &Migrations,
    ) -> Result<(), StorageError> {
        self.migrator(migrations)
            .run(&self.pool)
            .await
            .map_err(|source| StorageError::Migrate {
                context: context.to_owned(),
                source,
            })
    }

    /// Applies `shared` tables (after the context's own migrations).
    pub async fn migrate_shared(
        &self,
        context: &str,
        shared: &SharedTables,
    ) -> Result<(), StorageError> {
        let mut migrator =
            Migrator::with_migrations(self.migrator(shared.migrations).iter().cloned().collect());
        migrator.dangerous_set_table_name(history_table(shared));
        migrator
            .run(&self.pool)
            .await
            .map_err(|source| StorageError::Migrate {
                context: format!("{context} ({})", shared.owner),
                source,
            })
    }

    fn migrator<'m>(&self, migrations: &'m Migrations) -> &'m Migrator {
        match self.engine {
            Engine::Sqlite => &migrations.sqlite,
            Engine::Postgres => &migrations.postgres,
        }
    }

    /// Fails unless every migration of this engine is applied: services on PostgreSQL do not
    /// migrate on their own (an operator runs `crm migrate`), so they refuse a stale schema.
    pub async fn ensure_migrated(
        &self,
        context: &str,
        migrations: &Migrations,
    ) -> Result<(), StorageError> {
        self.ensure_applied(context, migrations, "_sqlx_migrations")
            .await
    }

    /// [`Database::ensure_migrated`] for `shared` tables.
    pub async fn ensure_shared_migrated(
        &self,
        context: &str,
        shared: &SharedTables,
    ) -> Result<(), StorageError> {
        self.ensure_applied(context, shared.migrations, &history_table(shared))
            .await
    }

    async fn ensure_applied(
        &self,
        context: &str,
        migrations: &Migrations,
        history: &str,
    ) -> Result<(), StorageError> {
        // `history` is `_sqlx_migrations` or built from an owner's static name.
        let applied: Result<Option<i64>, _> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select max(version) from {history} where success"
        )))
        .fetch_one(&self.pool)
        .await;
        let latest = self
            .migrator(migrations)
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        match applied.ok().flatten() {
            Some(version) if version >= latest => Ok(()),
            _ => Err(StorageError::NotMigrated {
                context: context.to_owned(),
                latest,
            }),
        }
    }
}

fn history_table(shared: &SharedTables) -> String {
    format!("_{}_migrations", shared.owner)
}
