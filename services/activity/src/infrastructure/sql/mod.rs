//! Tasks, activities and the timeline in SQL, on SQLite and PostgreSQL alike (statements in the
//! common dialect, `$n` parameters; row-level security on PostgreSQL as a second wall). Each
//! aggregate is a JSON document (`doc`) with the columns reads filter and order by beside it;
//! the records each relates to are rows of their own, and an activity's search words are
//! written in the same transaction (read-your-writes).

mod query;
pub mod timeline;

use async_trait::async_trait;
use crm_core::storage::{
    Change, Conn, Database, Engine, UniqueConstraint, from_doc, map_db_error, to_doc,
};
use crm_core::{Error, Result, TenantId, UserId};
use crm_events::OutboxEvent;
use crm_events::outbox::append_events;
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::activity::Activity;
use crate::domain::ports::{
    ActivityChange, ActivityQuery, ActivityStore, ActivityWrite, Reach, TaskQuery, TaskStore,
    TaskWrite,
};
use crate::domain::task::Task;
use query::Sql;

const UNIQUES: &[UniqueConstraint] = &[];

pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// The activity context's store.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: Database,
}

impl SqlStore {
    /// On a migrated database.
    pub fn new(db: Database) -> SqlStore {
        SqlStore { db }
    }

    /// Its database.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

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

async fn write_activity(tx: &mut Conn, a: &Activity, insert: bool) -> Result<()> {
    let sql = if insert {
        "insert into activities (tenant_id, id, kind, author_id, occurred_at, deleted_at, version, doc) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)"
    } else {
        "update activities set kind = $3, author_id = $4, occurred_at = $5, deleted_at = $6, \
         version = $7, doc = $8 where tenant_id = $1 and id = $2"
    };
    sqlx::query(sql)
        .bind(a.tenant_id.to_string())
        .bind(a.id.to_string())
        .bind(a.kind.as_str())
        .bind(a.author_id.to_string())
        .bind(a.occurred_at)
        .bind(a.deleted_at)
        .bind(a.version)
        .bind(to_doc(a))
        .execute(&mut *tx)
        .await
        .map_err(db("saving an activity"))?;
    let (seq,): (i64,) =
        sqlx::query_as("select seq from activities where tenant_id = $1 and id = $2")
            .bind(a.tenant_id.to_string())
            .bind(a.id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db("saving an activity"))?;
    sqlx::query("delete from activity_records where tenant_id = $1 and activity_id = $2")
        .bind(a.tenant_id.to_string())
        .bind(a.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("saving an activity's records"))?;
    sqlx::query(match Engine::of(tx) {
        Engine::Sqlite => "delete from activity_search where rowid = $1",
        Engine::Postgres => "delete from activity_search where seq = $1",
    })
    .bind(seq)
    .execute(&mut *tx)
    .await
    .map_err(db("indexing an activity"))?;
    if a.deleted_at.is_some() {
        return Ok(());
    }
    for r in &a.related {
        sqlx::query(
            "insert into activity_records (tenant_id, activity_id, record_type, record_id, occurred_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(a.tenant_id.to_string())
        .bind(a.id.to_string())
        .bind(r.record_type.as_str())
        .bind(r.id.to_string())
        .bind(a.occurred_at)
        .execute(&mut *tx)
        .await
        .map_err(db("saving an activity's records"))?;
    }
    let words = a.search_text();
    match Engine::of(tx) {
        Engine::Sqlite => sqlx::query("insert into activity_search (rowid, body) values ($1, $2)")
            .bind(seq)
            .bind(words),
        Engine::Postgres => sqlx::query(
            "insert into activity_search (seq, tenant_id, search) \
             values ($1, $2, array_to_tsvector(string_to_array($3, ' ')))",
        )
        .bind(seq)
        .bind(a.tenant_id.to_string())
        .bind(words),
    }
    .execute(&mut *tx)
    .await
    .map_err(db("indexing an activity"))?;
    Ok(())
}

async fn record_change(
    tx: &mut Conn,
    tenant: TenantId,
    id: Uuid,
    c: &ActivityChange,
) -> Result<()> {
    sqlx::query(
        "insert into activity_changes (tenant_id, activity_id, user_id, changed_at, action, changed_fields, before_doc) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .bind(c.user_id.to_string())
    .bind(c.at)
    .bind(&c.action)
    .bind(c.changed_fields.join(","))
    .bind(c.before.as_ref().map(to_doc))
    .execute(&mut *tx)
    .await
    .map_err(db("recording an activity's change"))?;
    Ok(())
}

/// ` and (<who> ...)`: what a caller with an `:own` grant reaches: rows `mine` names them in
/// (as assignee, creator or author), or rows about records they read (`links`: the link table,
/// `key`: its column naming the row).
fn reach(sql: &mut Sql, r: &Reach, mine: &[&str], links: &str, key: &str, row: &str) {
    let me = r.me.to_string();
    sql.raw(" and (");
    for (i, column) in mine.iter().enumerate() {
        if i > 0 {
            sql.raw(" or ");
        }
        sql.text(&format!("{column} = ?"), me.clone());
    }
    if !r.every.is_empty() || !r.own.is_empty() {
        sql.raw(&format!(
            " or exists (select 1 from {links} l left join timeline_records o \
             on o.tenant_id = l.tenant_id and o.record_type = l.record_type and o.record_id = l.record_id \
             where l.tenant_id = {row}.tenant_id and l.{key} = {row}.id and ("
        ));
        let every: Vec<&str> = r.every.iter().map(|t| t.as_str()).collect();
        let own: Vec<&str> = r.own.iter().map(|t| t.as_str()).collect();
        if !every.is_empty() {
            sql.raw("l.record_type").in_list(&every);
        } else {
            sql.raw("1 = 0");
        }
        if !own.is_empty() {
            sql.raw(" or (l.record_type").in_list(&own);
            sql.text(" and o.owner_id = ?)", me);
        }
        sql.raw("))");
    }
    sql.raw(")");
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn insert_task(&self, task: &Task, events: Vec<OutboxEvent>) -> Result<()> {
        self.db
            .in_tenant(task.tenant_id, "creating a task", async |tx| {
                write_task(tx, task, true).await?;
                append_events(tx, &events).await
            })
            .await
    }

    async fn task(&self, tenant: TenantId, id: Uuid) -> Result<Option<Task>> {
        self.db
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
        self.db
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
        self.db
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
        let mut tx = match self.db.engine() {
            Engine::Sqlite => {
                let tx = self
                    .db
                    .begin_write(TenantId::new())
                    .await
                    .map_err(failed())?;
                Tx::Write(tx)
            }
            Engine::Postgres => Tx::Plain(
                self.db
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
                self.db
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
        let mut tx = match self.db.engine() {
            Engine::Sqlite => self.db.begin().await,
            Engine::Postgres => self.db.begin_scoped("app.reminder_worker", "on").await,
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

#[async_trait]
impl ActivityStore for SqlStore {
    async fn insert_activity(&self, activity: &Activity, write: ActivityWrite) -> Result<()> {
        self.db
            .in_tenant(activity.tenant_id, "logging an activity", async |tx| {
                write_activity(tx, activity, true).await?;
                record_change(tx, activity.tenant_id, activity.id, &write.change).await?;
                append_events(tx, &write.events).await
            })
            .await
    }

    async fn activity(&self, tenant: TenantId, id: Uuid) -> Result<Option<Activity>> {
        self.db
            .in_tenant(tenant, "reading an activity", async |tx| {
                let row: Option<(String,)> =
                    sqlx::query_as("select doc from activities where tenant_id = $1 and id = $2")
                        .bind(tenant.to_string())
                        .bind(id.to_string())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db("reading an activity"))?;
                row.map(|(d,)| from_doc("activities.doc", &d)).transpose()
            })
            .await
    }

    async fn update_activity(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: Change<'_, Activity, ActivityWrite>,
    ) -> Result<Activity> {
        self.db
            .in_tenant_write(tenant, "changing an activity", async |tx| {
                let lock = Engine::of(tx).row_lock();
                let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "select doc from activities where tenant_id = $1 and id = $2{lock}"
                )))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading an activity"))?;
                let mut activity: Activity = row
                    .map(|(d,)| from_doc("activities.doc", &d))
                    .transpose()?
                    .ok_or_else(|| Error::not_found("activity", id))?;
                let version = activity.version;
                let Some(write) = change(&mut activity)? else {
                    return Ok(activity);
                };
                activity.version = version + 1;
                write_activity(tx, &activity, false).await?;
                record_change(tx, tenant, id, &write.change).await?;
                append_events(tx, &write.events).await?;
                Ok(activity)
            })
            .await
    }

    async fn activities(&self, tenant: TenantId, q: &ActivityQuery) -> Result<Vec<Activity>> {
        let engine = self.db.engine();
        let mut sql = Sql::new("select a.doc from activities a");
        if q.record.is_some() {
            sql.raw(
                " join activity_records x on x.tenant_id = a.tenant_id and x.activity_id = a.id",
            );
        }
        if !q.words.is_empty() {
            let terms = search_terms(&q.words);
            match engine {
                Engine::Sqlite => {
                    sql.text(
                        " join (select rowid as seq from activity_search where activity_search match ?) s on s.seq = a.seq",
                        terms.0,
                    );
                }
                Engine::Postgres => {
                    sql.text(
                        " join activity_search s on s.seq = a.seq and s.search @@ cast(? as tsquery)",
                        terms.1,
                    );
                    sql.text(" and s.tenant_id = ?", tenant.to_string());
                }
            }
        }
        sql.text(
            " where a.tenant_id = ? and a.deleted_at is null",
            tenant.to_string(),
        );
        if let Some(r) = &q.record {
            sql.text(" and x.record_type = ?", r.record_type.as_str())
                .text(" and x.record_id = ?", r.id.to_string());
        }
        if !q.kinds.is_empty() {
            let kinds: Vec<&str> = q.kinds.iter().map(|k| k.as_str()).collect();
            sql.raw(" and a.kind").in_list(&kinds);
        }
        if let Some(a) = q.author {
            sql.text(" and a.author_id = ?", a.to_string());
        }
        if let Some(r) = &q.reach {
            reach(
                &mut sql,
                r,
                &["a.author_id"],
                "activity_records",
                "activity_id",
                "a",
            );
        }
        if let Some(c) = &q.before {
            sql.int(" and (a.occurred_at < ?", c.at)
                .int(" or (a.occurred_at = ?", c.at)
                .text(" and a.id < ?))", c.id.to_string());
        }
        sql.int(
            " order by a.occurred_at desc, a.id desc limit ?",
            i64::from(q.limit),
        );
        self.db
            .in_tenant(tenant, "listing activities", async |tx| {
                let rows: Vec<(String,)> = sql
                    .query_as()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("listing activities"))?;
                rows.iter()
                    .map(|(d,)| from_doc("activities.doc", d))
                    .collect()
            })
            .await
    }

    async fn activity_changes(&self, tenant: TenantId, id: Uuid) -> Result<Vec<ActivityChange>> {
        self.db
            .in_tenant(tenant, "reading an activity's changes", async |tx| {
                let rows: Vec<(String, i64, String, String, Option<String>)> = sqlx::query_as(
                    "select user_id, changed_at, action, changed_fields, before_doc from activity_changes \
                     where tenant_id = $1 and activity_id = $2 order by seq",
                )
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err(db("reading an activity's changes"))?;
                rows.into_iter()
                    .map(|(user, at, action, fields, before)| {
                        Ok(ActivityChange {
                            user_id: UserId::parse(&user).map_err(|_| {
                                crm_core::storage::corrupt("activity_changes.user_id", &user)
                            })?,
                            at,
                            action,
                            changed_fields: fields
                                .split(',')
                                .filter(|f| !f.is_empty())
                                .map(str::to_owned)
                                .collect(),
                            before: before
                                .map(|d| from_doc("activity_changes.before_doc", &d))
                                .transpose()?,
                        })
                    })
                    .collect()
            })
            .await
    }
}

/// The words as an FTS5 query and as a `tsquery` literal: every word, the last a prefix. The
/// words are letters and digits only (see `search_words`), so quoting them is enough.
fn search_terms(words: &[String]) -> (String, String) {
    let last = words.len() - 1;
    let fts = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == last {
                format!("\"{w}\"*")
            } else {
                format!("\"{w}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let ts = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == last {
                format!("'{w}':*")
            } else {
                format!("'{w}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" & ");
    (fts, ts)
}
