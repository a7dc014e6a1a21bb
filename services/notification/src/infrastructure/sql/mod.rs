//! The notification store on SQLite and PostgreSQL, written once (ids as UUIDv7 text, times as
//! epoch milliseconds, `$n` parameters, each aggregate whole as JSON in `doc` beside the columns
//! it is found by). On PostgreSQL every transaction runs as `crm_app` with `app.tenant_id` set,
//! so row-level security backs the `tenant_id` filter of every statement. The statements take a
//! connection, so the event consumer writes in its own transaction with the same code.

use async_trait::async_trait;
use crm_core::storage::{Conn, Database, Engine, UniqueConstraint, from_doc, map_db_error, to_doc};
use crm_core::{Error, Result, TenantId};
use crm_events::outbox::append_events;
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::notification::Notification;
use crate::domain::ports::{
    Attempt, NotificationChange, NotificationFilter, NotificationStore, NotificationWrite,
    TemplateChange, TemplateFilter,
};
use crate::domain::template::{Channel, Template};

mod flows;

pub use flows::DEFAULT_LOCALE;

const UNIQUES: &[UniqueConstraint] = &[
    UniqueConstraint {
        name: "templates_name",
        sqlite_columns: "templates.tenant_id, templates.name",
        field: "template.name",
        message: "another template of the tenant has this name; choose another",
    },
    UniqueConstraint {
        name: "notifications_trigger",
        sqlite_columns: "notifications.tenant_id, notifications.trigger_event_id, \
                         notifications.channel, notifications.recipient_address",
        field: "id",
        message: "this event already made this notification",
    },
];

pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// Adds a template.
pub async fn insert_template(tx: &mut Conn, t: &Template) -> Result<()> {
    write_template(tx, t, "").await
}

pub(super) async fn write_template(tx: &mut Conn, t: &Template, on_conflict: &str) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into templates (id, tenant_id, name, channel, event_type, locale, enabled, doc, \
         version) values ($1, $2, $3, $4, $5, $6, $7, $8, $9){on_conflict}"
    )))
    .bind(t.id.to_string())
    .bind(t.tenant_id.to_string())
    .bind(&t.name)
    .bind(t.channel.as_str())
    .bind(&t.event_type)
    .bind(&t.locale)
    .bind(i64::from(t.enabled))
    .bind(to_doc(t))
    .bind(t.version)
    .execute(tx)
    .await
    .map_err(db("creating a template"))
    .map(drop)
}

/// The notification store on either engine.
#[derive(Clone)]
pub struct SqlNotificationStore {
    db: Database,
}

impl SqlNotificationStore {
    /// A store on `db` (migrated).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn begin(&self, tenant: TenantId) -> Result<crm_core::storage::Tx> {
        self.db
            .begin_for(tenant)
            .await
            .map_err(db("starting a transaction scoped to its tenant"))
    }
}

#[async_trait]
impl NotificationStore for SqlNotificationStore {
    async fn insert_template(&self, t: &Template) -> Result<()> {
        self.db
            .in_tenant(t.tenant_id, "creating a template", async |tx| {
                insert_template(tx, t).await
            })
            .await
    }

    async fn get_template(&self, tenant: TenantId, id: Uuid) -> Result<Option<Template>> {
        let mut tx = self.begin(tenant).await?;
        let row: Option<(String,)> =
            sqlx::query_as("select doc from templates where tenant_id = $1 and id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a template"))?;
        tx.commit().await.map_err(db("reading a template"))?;
        row.map(|(d,)| from_doc("templates.doc", &d)).transpose()
    }

    async fn list_templates(
        &self,
        tenant: TenantId,
        filter: &TemplateFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Template>> {
        let mut tx = self.begin(tenant).await?;
        let rows: Vec<(String,)> = sqlx::query_as(
            "select doc from templates where tenant_id = $1 and ($2 = '' or id > $2) \
             and ($3 = '' or channel = $3) and ($4 = '' or event_type = $4) \
             order by id limit $5",
        )
        .bind(tenant.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(filter.channel.map_or("", Channel::as_str))
        .bind(filter.event_type.clone().unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("listing templates"))?;
        tx.commit().await.map_err(db("listing templates"))?;
        rows.iter()
            .map(|(d,)| from_doc("templates.doc", d))
            .collect()
    }

    async fn update_template(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: TemplateChange<'_>,
    ) -> Result<Template> {
        self.db
            .in_tenant_write(tenant, "saving a template", async |tx| {
                let lock = crm_core::storage::Engine::of(tx).row_lock();
                let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "select doc from templates where tenant_id = $1 and id = $2{lock}"
                )))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a template"))?;
                let mut t: Template = row
                    .map(|(d,)| from_doc("templates.doc", &d))
                    .transpose()?
                    .ok_or_else(|| Error::not_found("template", id))?;
                let expected = t.version;
                if !change(&mut t)? {
                    return Ok(t);
                }
                // Read under the write lock: no other writer can have moved it on.
                let done = sqlx::query(
                    "update templates set name = $3, channel = $4, event_type = $5, locale = $6, \
                     enabled = $7, doc = $8, version = $9 where tenant_id = $1 and id = $2 and version = $10",
                )
                .bind(t.tenant_id.to_string())
                .bind(t.id.to_string())
                .bind(&t.name)
                .bind(t.channel.as_str())
                .bind(&t.event_type)
                .bind(&t.locale)
                .bind(i64::from(t.enabled))
                .bind(to_doc(&t))
                .bind(t.version)
                .bind(expected)
                .execute(&mut *tx)
                .await
                .map_err(db("saving a template"))?;
                if done.rows_affected() == 0 {
                    return Err(Error::etag_mismatch("template").with_metadata("id", id.to_string()));
                }
                Ok(t)
            })
            .await
    }

    async fn delete_template(&self, tenant: TenantId, id: Uuid) -> Result<bool> {
        let mut tx = self.begin(tenant).await?;
        let done = sqlx::query("delete from templates where tenant_id = $1 and id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a template"))?;
        tx.commit().await.map_err(db("deleting a template"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_notification(&self, tenant: TenantId, id: Uuid) -> Result<Option<Notification>> {
        let mut tx = self.begin(tenant).await?;
        let row: Option<(String,)> =
            sqlx::query_as("select doc from notifications where tenant_id = $1 and id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a notification"))?;
        tx.commit().await.map_err(db("reading a notification"))?;
        row.map(|(d,)| from_doc("notifications.doc", &d))
            .transpose()
    }

    async fn list_notifications(
        &self,
        tenant: TenantId,
        filter: &NotificationFilter,
        before_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let mut tx = self.begin(tenant).await?;
        let rows: Vec<(String,)> = sqlx::query_as(
            "select doc from notifications where tenant_id = $1 and ($2 = '' or id < $2) \
             and ($3 = '' or recipient_user_id = $3) and ($4 = '' or channel = $4) \
             and ($5 = '' or status = $5) \
             and ($6 = 0 or (channel = 'in_app' and read_at is null)) \
             and created_at >= $7 and created_at < $8 \
             order by id desc limit $9",
        )
        .bind(tenant.to_string())
        .bind(before_id.map(|b| b.to_string()).unwrap_or_default())
        .bind(filter.recipient.map(|r| r.to_string()).unwrap_or_default())
        .bind(filter.channel.map_or("", Channel::as_str))
        .bind(filter.status.map_or("", |s| s.as_str()))
        .bind(i64::from(filter.unread_only))
        .bind(filter.from.unwrap_or(i64::MIN))
        .bind(filter.before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("listing notifications"))?;
        tx.commit().await.map_err(db("listing notifications"))?;
        rows.iter()
            .map(|(d,)| from_doc("notifications.doc", d))
            .collect()
    }

    async fn update_notification(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: NotificationChange<'_>,
    ) -> Result<Notification> {
        // In this process's queue for SQLite's write lock, as the worker's claims are: not in
        // SQLite's busy handler, which sleeps up to 100 ms between tries.
        self.db
            .in_tenant_write(tenant, "saving a notification", async |tx| {
                let lock = crm_core::storage::Engine::of(tx).row_lock();
                let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "select doc from notifications where tenant_id = $1 and id = $2{lock}"
                )))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a notification"))?;
                let mut n: Notification = row
                    .map(|(d,)| from_doc("notifications.doc", &d))
                    .transpose()?
                    .ok_or_else(|| Error::not_found("notification", id))?;
                let expected = n.version;
                let Some(NotificationWrite { events, attempt }) = change(&mut n)? else {
                    return Ok(n);
                };
                // Read under the write lock: no other writer can have moved it on.
                if !update_notification(tx, &n, expected).await? {
                    return Err(
                        Error::etag_mismatch("notification").with_metadata("id", id.to_string())
                    );
                }
                if let Some(a) = attempt {
                    sqlx::query(
                        "insert into delivery_log (notification_id, attempt, tenant_id, at, provider, \
                         answer, error) values ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(n.id.to_string())
                    .bind(i64::from(a.attempt))
                    .bind(n.tenant_id.to_string())
                    .bind(a.at)
                    .bind(&a.provider)
                    .bind(&a.answer)
                    .bind(&a.error)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("logging a delivery attempt"))?;
                }
                append_events(tx, &events).await?;
                Ok(n)
            })
            .await
    }

    async fn attempts(&self, tenant: TenantId, id: Uuid) -> Result<Vec<Attempt>> {
        let mut tx = self.begin(tenant).await?;
        let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
            "select attempt, at, provider, answer, error from delivery_log \
             where tenant_id = $1 and notification_id = $2 order by attempt",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading the delivery log"))?;
        tx.commit().await.map_err(db("reading the delivery log"))?;
        Ok(rows
            .into_iter()
            .map(|(attempt, at, provider, answer, error)| Attempt {
                attempt: attempt as u32,
                at,
                provider,
                answer,
                error,
            })
            .collect())
    }

    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let failed = || db("claiming due notifications");
        // SQLite: the write lock first (a read, then writes), in this process's queue.
        // PostgreSQL: reading across tenants, writing inside each one's scope.
        match self.db.engine() {
            Engine::Sqlite => {
                let mut tx = self
                    .db
                    .begin_write(TenantId::new())
                    .await
                    .map_err(failed())?;
                let claimed = claim(&self.db, &mut tx, now, lease_until, limit).await?;
                tx.commit().await.map_err(failed())?;
                Ok(claimed)
            }
            Engine::Postgres => {
                let mut tx = self
                    .db
                    .begin_scoped("app.delivery_worker", "on")
                    .await
                    .map_err(failed())?;
                let claimed = claim(&self.db, &mut tx, now, lease_until, limit).await?;
                tx.commit().await.map_err(failed())?;
                Ok(claimed)
            }
        }
    }
}

/// Writes `n` over the stored row if that is still at version `expected`: whether it was.
pub(super) async fn update_notification(
    conn: &mut Conn,
    n: &Notification,
    expected: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "update notifications set status = $3, attempts = $4, next_attempt_at = $5, \
         read_at = $6, doc = $7, version = $8 where tenant_id = $1 and id = $2 and version = $9",
    )
    .bind(n.tenant_id.to_string())
    .bind(n.id.to_string())
    .bind(n.status.as_str())
    .bind(i64::from(n.attempts))
    .bind(n.next_attempt_at)
    .bind(n.read_at)
    .bind(to_doc(n))
    .bind(n.version)
    .bind(expected)
    .execute(&mut *conn)
    .await
    .map_err(db("saving a notification"))?;
    Ok(done.rows_affected() == 1)
}

/// [`NotificationStore::claim_due`] inside `conn`'s transaction.
async fn claim(
    store: &Database,
    conn: &mut Conn,
    now: Millis,
    lease_until: Millis,
    limit: u32,
) -> Result<Vec<Notification>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select tenant_id, doc from notifications \
         where next_attempt_at is not null and next_attempt_at <= $1 \
         order by next_attempt_at limit $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db("finding due notifications"))?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut scope = String::new();
    for (tenant, doc) in rows {
        let mut n: Notification = from_doc("notifications.doc", &doc)?;
        if !n.status.is_due() {
            continue;
        }
        if tenant != scope {
            store
                .scope(&mut *conn, "app.tenant_id", &tenant)
                .await
                .map_err(db("claiming due notifications"))?;
            scope = tenant;
        }
        let expected = n.version;
        n.put_off(lease_until);
        if update_notification(&mut *conn, &n, expected).await? {
            claimed.push(n);
        }
    }
    Ok(claimed)
}
