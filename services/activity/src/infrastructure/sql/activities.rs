//! Activities in SQL: the rows, the records each is about, their search words (in the same
//! transaction: read-your-writes) and their recorded changes.

use async_trait::async_trait;
use crm_core::storage::{Change, Conn, Engine, from_doc, to_doc};
use crm_core::{Error, Result, TenantId, UserId};
use crm_events::outbox::append_events;
use uuid::Uuid;

use super::query::Sql;
use super::{SqlStore, db, reach};
use crate::domain::activity::Activity;
use crate::domain::ports::{ActivityChange, ActivityQuery, ActivityStore, ActivityWrite};

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

#[async_trait]
impl ActivityStore for SqlStore {
    async fn insert_activity(&self, activity: &Activity, write: ActivityWrite) -> Result<()> {
        self.database()
            .in_tenant(activity.tenant_id, "logging an activity", async |tx| {
                write_activity(tx, activity, true).await?;
                record_change(tx, activity.tenant_id, activity.id, &write.change).await?;
                append_events(tx, &write.events).await
            })
            .await
    }

    async fn activity(&self, tenant: TenantId, id: Uuid) -> Result<Option<Activity>> {
        self.database()
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
        self.database()
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
        let engine = self.database().engine();
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
        self.database()
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
        self.database()
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
