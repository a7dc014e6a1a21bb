//! Tasks in SQL: the rows, the records each is about, and the reminders' claims.

use async_trait::async_trait;
use crm_core::storage::{Change, Conn, Engine, from_doc, to_doc};
use crm_core::{Error, Result, TenantId};
use crm_events::OutboxEvent;
use crm_events::outbox::append_events;
use uuid::Uuid;

use super::query::Sql;
use super::{SqlStore, db, reach};
use crate::domain::Millis;
use crate::domain::ports::{TaskQuery, TaskStore, TaskWrite};
use crate::domain::task::Task;

async fn write_task(tx: &mut Conn, t: &Task, insert: bool) -> Result<()> {
    let sql = if insert {
        "insert into tasks (tenant_id, id, assignee_id, created_by, status, due_at, remind_at, version, doc) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    } else {
        "update tasks set assignee_id = $3, created_by = $4, status = $5, due_at = $6, remind_at = $7, \
         version = $8, doc = $9 where tenant_id = $1 and id = $2"
    };
    sqlx::query(sql)
        .bind(t.tenant_id.to_string())
        .bind(t.id.to_string())
        .bind(t.assignee_id.to_string())
        .bind(t.created_by.to_string())
        .bind(t.status.as_str())
        .bind(t.due_at)
        .bind(t.remind_at())
        .bind(t.version)
        .bind(to_doc(t))
        .execute(&mut *tx)
        .await
        .map_err(db("saving a task"))?;
    sqlx::query("delete from task_records where tenant_id = $1 and task_id = $2")
        .bind(t.tenant_id.to_string())
        .bind(t.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("saving a task's records"))?;
    for r in &t.related {
        sqlx::query(
            "insert into task_records (tenant_id, task_id, record_type, record_id, due_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(t.tenant_id.to_string())
        .bind(t.id.to_string())
        .bind(r.record_type.as_str())
        .bind(r.id.to_string())
        .bind(t.due_at)
        .execute(&mut *tx)
        .await
        .map_err(db("saving a task's records"))?;
    }
    Ok(())
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn insert_task(&self, task: &Task, events: Vec<OutboxEvent>) -> Result<()> {
        self.database()
            .in_tenant(task.tenant_id, "creating a task", async |tx| {
                write_task(tx, task, true).await?;
                append_events(tx, &events).await
            })
            .await
    }

    async fn task(&self, tenant: TenantId, id: Uuid) -> Result<Option<Task>> {
        self.database()
            .in_tenant(tenant, "reading a task", async |tx| {
                let row: Option<(String,)> =
                    sqlx::query_as("select doc from tasks where tenant_id = $1 and id = $2")
                        .bind(tenant.to_string())
                        .bind(id.to_string())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db("reading a task"))?;
                row.map(|(d,)| from_doc("tasks.doc", &d)).transpose()
            })
            .await
    }

    async fn update_task(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: Change<'_, Task, TaskWrite>,
    ) -> Result<Task> {
        self.database()
            .in_tenant_write(tenant, "changing a task", async |tx| {
                let lock = Engine::of(tx).row_lock();
                let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "select doc from tasks where tenant_id = $1 and id = $2{lock}"
                )))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a task"))?;
                let mut task: Task = row
                    .map(|(d,)| from_doc("tasks.doc", &d))
                    .transpose()?
                    .ok_or_else(|| Error::not_found("task", id))?;
                let version = task.version;
                let Some(write) = change(&mut task)? else {
                    return Ok(task);
                };
                task.version = version + 1;
                write_task(tx, &task, false).await?;
                if let Some(next) = &write.insert {
                    write_task(tx, next, true).await?;
                }
                append_events(tx, &write.events).await?;
                Ok(task)
            })
            .await
    }

    async fn tasks(&self, tenant: TenantId, q: &TaskQuery) -> Result<Vec<Task>> {
        let mut sql = Sql::new("select t.doc from tasks t");
        if q.record.is_some() {
            sql.raw(" join task_records x on x.tenant_id = t.tenant_id and x.task_id = t.id");
        }
        sql.text(" where t.tenant_id = ?", tenant.to_string());
        if let Some(r) = &q.record {
            sql.text(" and x.record_type = ?", r.record_type.as_str())
                .text(" and x.record_id = ?", r.id.to_string());
        }
        if let Some(a) = q.assignee {
            sql.text(" and t.assignee_id = ?", a.to_string());
        }
        if let Some(s) = q.status {
            sql.text(" and t.status = ?", s.as_str());
        }
        if let Some(from) = q.due_from {
            sql.int(" and t.due_at >= ?", from);
        }
        if let Some(before) = q.due_before {
            sql.int(" and t.due_at < ?", before);
        }
        if let Some(r) = &q.reach {
            reach(
                &mut sql,
                r,
                &["t.assignee_id", "t.created_by"],
                "task_records",
                "task_id",
                "t",
            );
        }
        if let Some(c) = &q.after {
            sql.int(" and (t.due_at > ?", c.at)
                .int(" or (t.due_at = ?", c.at)
                .text(" and t.id > ?))", c.id.to_string());
        }
        sql.int(" order by t.due_at, t.id limit ?", i64::from(q.limit));
        self.database()
            .in_tenant(tenant, "listing tasks", async |tx| {
                let rows: Vec<(String,)> = sql
                    .query_as()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("listing tasks"))?;
                rows.iter().map(|(d,)| from_doc("tasks.doc", d)).collect()
            })
            .await
    }

    async fn fire_reminders(
        &self,
        now: Millis,
        limit: u32,
        fire: crate::domain::ports::Fire,
    ) -> Result<usize> {
        let failed = || db("firing reminders");
        // SQLite: the write lock first, in this process's queue. PostgreSQL: reading across
        // tenants (the worker's policy), each claim inside its tenant's scope; a replica that
        // claims the same row waits for this one's transaction, then finds it claimed.
        let mut tx = match self.database().engine() {
            Engine::Sqlite => {
                let tx = self
                    .db
                    .begin_write(TenantId::new())
                    .await
                    .map_err(failed())?;
                Tx::Write(tx)
            }
            Engine::Postgres => Tx::Plain(
                self.database()
                    .begin_scoped("app.reminder_worker", "on")
                    .await
                    .map_err(failed())?,
            ),
        };
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "select tenant_id, doc, remind_at from tasks \
             where remind_at is not null and remind_at <= $1 order by remind_at limit $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(tx.conn())
        .await
        .map_err(failed())?;
        let mut fired = 0;
        let mut scope = String::new();
        for (tenant, doc, at) in rows {
            let mut task: Task = from_doc("tasks.doc", &doc)?;
            if tenant != scope {
                self.database()
                    .scope(tx.conn(), "app.tenant_id", &tenant)
                    .await
                    .map_err(failed())?;
                scope = tenant.clone();
            }
            task.reminded_at = Some(now);
            task.version += 1;
            let claimed = sqlx::query(
                "update tasks set remind_at = null, version = $3, doc = $4 \
                 where tenant_id = $1 and id = $2 and remind_at = $5",
            )
            .bind(&tenant)
            .bind(task.id.to_string())
            .bind(task.version)
            .bind(to_doc(&task))
            .bind(at)
            .execute(tx.conn())
            .await
            .map_err(failed())?;
            if claimed.rows_affected() == 1 {
                append_events(tx.conn(), &fire(&task, at)).await?;
                fired += 1;
            }
        }
        tx.commit().await.map_err(failed())?;
        Ok(fired)
    }

    async fn next_reminder(&self) -> Result<Option<Millis>> {
        let mut tx = match self.database().engine() {
            Engine::Sqlite => self.database().begin().await,
            Engine::Postgres => {
                self.database()
                    .begin_scoped("app.reminder_worker", "on")
                    .await
            }
        }
        .map_err(db("finding the next reminder"))?;
        let (next,): (Option<i64>,) =
            sqlx::query_as("select min(remind_at) from tasks where remind_at is not null")
                .fetch_one(&mut *tx)
                .await
                .map_err(db("finding the next reminder"))?;
        tx.commit().await.map_err(db("finding the next reminder"))?;
        Ok(next)
    }
}

/// A transaction of either kind.
enum Tx {
    Write(crm_core::storage::WriteTx),
    Plain(crm_core::storage::Tx),
}

impl Tx {
    fn conn(&mut self) -> &mut Conn {
        match self {
            Tx::Write(t) => t,
            Tx::Plain(t) => t,
        }
    }

    async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        match self {
            Tx::Write(t) => t.commit().await,
            Tx::Plain(t) => t.commit().await,
        }
    }
}
