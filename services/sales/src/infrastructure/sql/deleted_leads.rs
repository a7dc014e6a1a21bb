//! Deleted leads: the list of those still restorable, the restore, and the purge that removes
//! them for good once their window has closed.

use crm_core::storage::{Conn, Database, Engine, from_doc};
use crm_core::{Result, TenantId, UserId};
use crm_events::outbox::append_events;
use uuid::Uuid;

use super::db;
use super::leads::{decide_and_save, get_deleted_to_change};
use crate::domain::Millis;
use crate::domain::lead::Lead;
use crate::domain::ports::{LeadChange, LeadPurged};

/// A page of `tenant`'s deleted leads (`owner`: theirs only), most recently deleted first.
pub async fn list(
    tx: &mut Conn,
    tenant: TenantId,
    owner: Option<UserId>,
    after: Option<(Millis, Uuid)>,
    limit: u32,
) -> Result<Vec<Lead>> {
    let (at, id) = after.map_or((i64::MAX, String::new()), |(at, id)| (at, id.to_string()));
    let rows: Vec<(String,)> = sqlx::query_as(
        "select doc from leads where tenant_id = $1 and deleted_at is not null \
         and ($2 = '' or owner_id = $2) \
         and (deleted_at < $3 or (deleted_at = $3 and id < $4) or $4 = '') \
         order by deleted_at desc, id desc limit $5",
    )
    .bind(tenant.to_string())
    .bind(owner.map(|o| o.to_string()).unwrap_or_default())
    .bind(at)
    .bind(id)
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await
    .map_err(db("listing deleted leads"))?;
    rows.iter().map(|(d,)| from_doc("leads.doc", d)).collect()
}

const PURGING: &str = "purging deleted leads";

/// Removes up to `limit` leads deleted before `before`, of every tenant, in one transaction,
/// each with its `purged` event. On PostgreSQL the due leads are found under the purge's own
/// policy (`app.lead_purge`), and each is removed inside its tenant's scope; the delete is
/// conditional on the deletion time, so a lead restored in between stays.
pub async fn purge(
    database: &Database,
    before: Millis,
    limit: u32,
    purged: &LeadPurged,
) -> Result<u32> {
    let mut tx = match database.engine() {
        // In this process's queue of writers, as every SQLite write.
        Engine::Sqlite => {
            let mut write = database
                .begin_write(TenantId::new())
                .await
                .map_err(db(PURGING))?;
            let done = purge_in(database, &mut write, before, limit, purged).await?;
            write.commit().await.map_err(db(PURGING))?;
            return Ok(done);
        }
        Engine::Postgres => database
            .begin_scoped("app.lead_purge", "on")
            .await
            .map_err(db(PURGING))?,
    };
    let done = purge_in(database, &mut tx, before, limit, purged).await?;
    tx.commit().await.map_err(db(PURGING))?;
    Ok(done)
}

async fn purge_in(
    database: &Database,
    tx: &mut Conn,
    before: Millis,
    limit: u32,
    purged: &LeadPurged,
) -> Result<u32> {
    let due: Vec<(String, String)> = sqlx::query_as(
        "select tenant_id, doc from leads where deleted_at is not null and deleted_at < $1 \
         order by deleted_at limit $2",
    )
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db(PURGING))?;
    let mut done = 0;
    let mut scope = String::new();
    for (tenant, doc) in due {
        let lead: Lead = from_doc("leads.doc", &doc)?;
        if tenant != scope {
            database
                .scope(tx, "app.tenant_id", &tenant)
                .await
                .map_err(db(PURGING))?;
            scope = tenant;
        }
        let removed = sqlx::query(
            "delete from leads where tenant_id = $1 and id = $2 and deleted_at is not null \
             and deleted_at < $3",
        )
        .bind(lead.tenant_id.to_string())
        .bind(lead.id.to_string())
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(db(PURGING))?;
        if removed.rows_affected() == 1 {
            append_events(tx, &[purged(&lead)]).await?;
            done += 1;
        }
    }
    Ok(done)
}

/// Lets `change` restore the deleted lead `id` read under the write lock (`NOT_FOUND` unless
/// the tenant has one deleted with that id), saved with its events.
pub async fn restore(
    database: &Database,
    tenant: TenantId,
    id: Uuid,
    mut change: LeadChange<'_>,
) -> Result<Lead> {
    database
        .in_tenant_write(tenant, "restoring a lead", async |tx| {
            let found = get_deleted_to_change(tx, tenant, id).await?;
            decide_and_save(tx, found, id, &mut change).await
        })
        .await
}
