//! Deleted customers: the list of those still restorable, and the purge that removes them for
//! good once their window has closed.

use crm_core::storage::{Conn, Database, Engine};
use crm_core::{Error, Result, TenantId, UserId};
use crm_events::outbox::append_events;

use super::query::Sql;
use super::{Row, db, search};
use crate::domain::Millis;
use crate::domain::customer::Customer;
use crate::domain::ports::{Cursor, Purged};

/// The statement of a page of `tenant`'s deleted customers, most recently deleted first.
pub(super) fn list(
    tenant: TenantId,
    owner: Option<UserId>,
    after: Option<&Cursor>,
    limit: u32,
) -> Result<Sql> {
    let mut sql = Sql::new("select c.seq, c.doc, c.deleted_at from customers c where");
    sql.text(
        " c.tenant_id = ? and c.deleted_at is not null",
        tenant.to_string(),
    );
    if let Some(owner) = owner {
        sql.text(" and c.owner_id = ?", owner.to_string());
    }
    if let Some(after) = after {
        let at: i64 = after
            .key
            .parse()
            .map_err(|_| Error::invalid_field("page_token", "is not a page token of this list"))?;
        sql.int(" and (c.deleted_at < ?", at)
            .int(" or (c.deleted_at = ?", at)
            .text(" and c.id < ?))", after.id.to_string());
    }
    sql.push(" order by c.deleted_at desc, c.id desc", None);
    sql.int(" limit ?", i64::from(limit));
    Ok(sql)
}

/// Removes up to `limit` customers deleted before `before`, of every tenant, in one
/// transaction: each with its tags, any search entry, and its `purged` event. On PostgreSQL the
/// due customers are found under the purge's own policy (`app.customer_purge`), and each is
/// removed inside its tenant's scope; the delete is conditional on the deletion time read, so a
/// customer restored in between stays.
pub(super) async fn purge(
    database: &Database,
    before: Millis,
    limit: u32,
    purged: &Purged,
) -> Result<u32> {
    match database.engine() {
        // In this process's queue of writers, as every SQLite write.
        Engine::Sqlite => {
            let mut tx = database
                .begin_write(TenantId::new())
                .await
                .map_err(db(DOING))?;
            let done = purge_in(database, &mut tx, before, limit, purged).await?;
            tx.commit().await.map_err(db(DOING))?;
            Ok(done)
        }
        Engine::Postgres => {
            let mut tx = database
                .begin_scoped("app.customer_purge", "on")
                .await
                .map_err(db(DOING))?;
            let done = purge_in(database, &mut tx, before, limit, purged).await?;
            tx.commit().await.map_err(db(DOING))?;
            Ok(done)
        }
    }
}

const DOING: &str = "purging deleted customers";

async fn purge_in(
    database: &Database,
    tx: &mut Conn,
    before: Millis,
    limit: u32,
    purged: &Purged,
) -> Result<u32> {
    let due: Vec<(String, i64, String, i64)> = sqlx::query_as(
        "select tenant_id, seq, doc, deleted_at from customers \
         where deleted_at is not null and deleted_at < $1 order by deleted_at limit $2",
    )
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db(DOING))?;
    let mut done = 0;
    let mut scope = String::new();
    for (tenant, seq, doc, deleted_at) in due {
        let customer = Customer::try_from(Row {
            seq,
            doc,
            deleted_at: Some(deleted_at),
        })?;
        if tenant != scope {
            database
                .scope(tx, "app.tenant_id", &tenant)
                .await
                .map_err(db(DOING))?;
            scope = tenant;
        }
        sqlx::query("delete from customer_tags where customer_seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db(DOING))?;
        search::remove(tx, seq).await?;
        let removed = sqlx::query(
            "delete from customers where seq = $1 and deleted_at is not null and deleted_at < $2",
        )
        .bind(seq)
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(db(DOING))?;
        if removed.rows_affected() == 1 {
            append_events(tx, &[purged(&customer)]).await?;
            done += 1;
        }
    }
    Ok(done)
}
