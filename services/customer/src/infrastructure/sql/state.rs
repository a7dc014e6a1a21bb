//! What the store's one-time rewrites at start share: the version each records in its state
//! table (`customer_search_state`, `customer_sort_state`: one row, `version`), and the tenant
//! ids they read back from a column.

use crm_core::storage::Database;
use crm_core::{Error, Result, TenantId};

use super::db;

/// The version `table` records.
pub(super) async fn version(database: &Database, table: &'static str) -> Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select cast(version as bigint) from {table}"
    )))
    .fetch_one(database.pool())
    .await
    .map_err(db("reading a rewrite's version"))
}

/// Records `version` in `table`: the rewrite is done.
pub(super) async fn record(database: &Database, table: &'static str, version: i64) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {table} set version = {version}"
    )))
    .execute(database.pool())
    .await
    .map_err(db("recording a rewrite's version"))?;
    Ok(())
}

/// A tenant id read from `column`; one that does not parse is stored data that cannot be read.
pub(super) fn tenant(column: &str, raw: &str) -> Result<TenantId> {
    TenantId::parse(raw).map_err(|_| {
        Error::internal(
            "stored data could not be read",
            anyhow::anyhow!("{column} {raw:?} is not a tenant id"),
        )
    })
}
