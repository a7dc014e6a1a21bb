//! The key lists by name are ordered by (`sort_name`, [`sort_key`]): keys written by an
//! earlier version (the name lower-cased, so "Borong Kain 10" came before "Borong Kain 2") are
//! rewritten from the names once, when the customer service starts.

use crm_core::storage::{Database, Engine};
use crm_core::text::sort_key;
use crm_core::{Result, TenantId};

use super::query::Sql;
use super::{db, state};

/// The version of the keys [`sort_key`] writes (migrations `customer/*/…_natural_sort`).
const SORT_KEY_VERSION: i64 = 2;

/// Customers rekeyed in one transaction.
const BATCH: i64 = 500;

/// Rewrites the `sort_name` of every customer (deleted ones too: they may come back) when the
/// stored keys are of an earlier version, tenant by tenant, in batches; then records the
/// version, so a later start does nothing. A batch is a write transaction of its tenant (row
/// security on PostgreSQL, this process's writer queue on SQLite); a customer saved in between
/// writes the same key. Interrupted, it starts over at the next start (rewriting a key is
/// idempotent).
pub async fn rekey_if_needed(database: &Database) -> Result<()> {
    if state::version(database, "customer_sort_state").await? >= SORT_KEY_VERSION {
        return Ok(());
    }
    let tenants: Vec<String> = {
        // Every tenant's customers are visible under the purge's read policy on PostgreSQL.
        let mut tx = match database.engine() {
            Engine::Postgres => database.begin_scoped("app.customer_purge", "on").await,
            Engine::Sqlite => database.begin().await,
        }
        .map_err(db("listing the tenants to reorder"))?;
        let tenants = sqlx::query_scalar("select distinct tenant_id from customers")
            .fetch_all(&mut *tx)
            .await
            .map_err(db("listing the tenants to reorder"))?;
        tx.commit()
            .await
            .map_err(db("listing the tenants to reorder"))?;
        tenants
    };
    if !tenants.is_empty() {
        tracing::info!(
            tenants = tenants.len(),
            "ordering the customers' names as people read them (numbers by their value)"
        );
    }
    let mut done = 0u64;
    for tenant in &tenants {
        done += rekey_tenant(database, state::tenant("customers.tenant_id", tenant)?).await?;
    }
    state::record(database, "customer_sort_state", SORT_KEY_VERSION).await?;
    if done > 0 {
        tracing::info!(customers = done, "the customers' names are in order");
    }
    Ok(())
}

/// Rekeys one tenant's customers; how many.
async fn rekey_tenant(database: &Database, tenant: TenantId) -> Result<u64> {
    const DOING: &str = "reordering customers' names";
    let mut after = 0i64;
    let mut done = 0u64;
    loop {
        let mut tx = database.begin_write(tenant).await.map_err(db(DOING))?;
        let mut read = Sql::new("select seq, display_name from customers where");
        read.text(" tenant_id = ?", tenant.to_string())
            .int(" and seq > ?", after)
            .int(" order by seq limit ?", BATCH);
        let rows: Vec<(i64, String)> = read
            .query_as::<(i64, String)>()
            .fetch_all(&mut *tx)
            .await
            .map_err(db(DOING))?;
        let Some(&(last, _)) = rows.last() else {
            break;
        };
        let mut write = Sql::new("with v (seq, sort_name) as (values ");
        for (i, (seq, name)) in rows.iter().enumerate() {
            write
                .int(
                    if i == 0 {
                        "(cast(? as bigint)"
                    } else {
                        ", (cast(? as bigint)"
                    },
                    *seq,
                )
                .text(", ?)", sort_key(name));
        }
        write
            .push(
                ") update customers set sort_name = v.sort_name from v",
                None,
            )
            .text(
                " where customers.seq = v.seq and customers.tenant_id = ?",
                tenant.to_string(),
            );
        write.query().execute(&mut *tx).await.map_err(db(DOING))?;
        tx.commit().await.map_err(db(DOING))?;
        done += rows.len() as u64;
        after = last;
    }
    Ok(done)
}
